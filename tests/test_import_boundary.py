"""Dependencies point one way: the engine imports neither textual nor httpx, feeds not textual."""

from __future__ import annotations

import subprocess
import sys

import pytest

ENGINE_MODULES = [
    "hedgeflow",
    "hedgeflow.pipeline",
    "hedgeflow.floe",
    "hedgeflow.labels",
    "hedgeflow.flow",
]
FEED_MODULES = [
    "feeds.base",
    "feeds.sim",
    "feeds.files",
    "feeds.cboe",
    "feeds.replay",
    "feeds.recorder",
]


def _loaded_after(imports: list[str]) -> set[str]:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in imports)
        + "print('\\n'.join(sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {line.split(".")[0] for line in out.stdout.split()}


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_engine_imports_no_ui_and_no_http(module: str) -> None:
    loaded = _loaded_after([module])
    assert "textual" not in loaded
    assert "httpx" not in loaded
    assert "tui" not in loaded and "feeds" not in loaded


@pytest.mark.parametrize("module", FEED_MODULES)
def test_feeds_import_without_textual(module: str) -> None:
    loaded = _loaded_after([module])
    assert "textual" not in loaded
    assert "tui" not in loaded


def test_engine_never_reads_the_clock() -> None:
    """`now` is an argument: no module of the engine asks the system clock."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "hedgeflow"
    forbidden = (
        "datetime.now(",
        "datetime.utcnow(",
        "date.today(",
        "time.time(",
        "time.monotonic(",
    )
    offenders = [
        f"{path.name}: {needle}"
        for path in sorted(root.glob("*.py"))
        for needle in forbidden
        if needle in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_package_import_is_light_and_every_public_name_resolves() -> None:
    """`hedgeflow` loads its public names on first use: importing the package, the chain or
    the clock costs no scipy at start-up, and every name in `__all__` still imports."""
    for light in (["hedgeflow"], ["hedgeflow.chain", "hedgeflow.clock", "feeds.base"]):
        assert "scipy" not in _loaded_after(light), light
    code = (
        "import hedgeflow\n"
        "from hedgeflow import *  # noqa: F403\n"
        "missing = [n for n in hedgeflow.__all__ if getattr(hedgeflow, n, None) is None]\n"
        "assert set(hedgeflow.__all__) <= set(dir(hedgeflow))\n"
        "from hedgeflow import analyze_chain\n"
        "from hedgeflow.pipeline import analyze_chain as direct\n"
        "assert analyze_chain is direct\n"
        "print(missing)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    import hedgeflow

    with pytest.raises(AttributeError):
        hedgeflow.no_such_name  # noqa: B018
