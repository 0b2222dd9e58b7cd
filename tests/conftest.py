"""Suite-wide settings.

Property tests are derandomized by default, so `make test` and CI run the same
examples every time (a failure is reproducible, never a flake). For a wider,
random search run `HYPOTHESIS_PROFILE=explore make test`.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(autouse=True)
def private_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests never read or write the user's own config, cache, state or log directories
    (the calendar cache, logs and exports of the real command go to a per-run folder)."""
    root = tmp_path_factory.getbasetemp() / "xdg"
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        path = root / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(path))
