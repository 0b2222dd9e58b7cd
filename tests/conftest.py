"""Suite-wide settings.

Property tests are derandomized by default, so `make test` and CI run the same
examples every time (a failure is reproducible, never a flake). For a wider,
random search run `HYPOTHESIS_PROFILE=explore make test`.

Derandomized is not enough for "the same examples every time": Hypothesis also draws
from the literal constants of the project's modules already imported (sys.modules),
so a test run alone saw other examples than in the full suite (a corrupted-chain
example reached only when run alone). Every project module is imported here, before
any test, so each run sees the same constants whichever tests are selected.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import signal

import pytest
from hypothesis import settings

import bench
import hedgeflow

# A suite started with SIGINT ignored (a job put in the background by a non-interactive
# shell, as a CI runner may do) hands SIG_IGN to every child it starts: the `record`
# processes the tests stop with Ctrl-C (SIGINT) would then never stop. An ignored signal
# stays ignored across exec, a handled one is reset to the default: handle it here.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _import_project_modules() -> None:
    """Every module of `hedgeflow` and `bench` (the local code Hypothesis reads constants
    from; test files are not read), except entry points that run on import."""
    for package in (hedgeflow, bench):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)


_import_project_modules()

# No deadline: a test's verdict never depends on how loaded the machine is (speed targets
# live in the benchmarks); a 200 ms deadline failed a charm test on a busy 2-core host.
settings.register_profile(
    "deterministic", derandomize=True, database=None, deadline=None, print_blob=True
)
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
