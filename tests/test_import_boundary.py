"""Dependencies point one way (docs/ARCHITECTURE.md): engine <- feeds <- app <- tui <- cli."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "hedgeflow"


def _modules(layer: str) -> list[str]:
    """Every module of a layer, enumerated from the source tree (a new module is checked
    without editing this file)."""
    base = ROOT / layer
    return sorted(
        "hedgeflow." + ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in base.rglob("*.py")
    )


#: layer -> top-level packages and hedgeflow layers it must never load
FORBIDDEN = {
    "engine": ("textual", "httpx", "hedgeflow.feeds", "hedgeflow.app", "hedgeflow.tui"),
    "feeds": ("textual", "hedgeflow.app", "hedgeflow.tui"),
    "app": ("textual", "hedgeflow.tui"),
}


def _loaded_after(imports: list[str]) -> set[str]:
    """Every module name (top-level and dotted hedgeflow ones) loaded by `imports`."""
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in imports)
        + "print('\\n'.join(sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names = set(out.stdout.split())
    return {n.split(".")[0] for n in names} | {
        ".".join(n.split(".")[:2]) for n in names if n.startswith("hedgeflow.")
    }


@pytest.mark.parametrize(
    ("layer", "module"),
    [(layer, m) for layer in FORBIDDEN for m in _modules(layer)],
)
def test_layers_import_only_downwards(layer: str, module: str) -> None:
    loaded = _loaded_after([module])
    assert not loaded & set(FORBIDDEN[layer]), sorted(loaded & set(FORBIDDEN[layer]))


def test_the_package_root_imports_no_ui() -> None:
    assert not _loaded_after(["hedgeflow"]) & {"textual", "httpx", "hedgeflow.tui"}


def test_engine_never_reads_the_clock() -> None:
    """`now` is an argument: no module of the engine asks the system clock."""
    root = ROOT / "engine"
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
    for light in (
        ["hedgeflow"],
        ["hedgeflow.engine.chain", "hedgeflow.engine.clock", "hedgeflow.feeds.base"],
    ):
        assert "scipy" not in _loaded_after(light), light
    code = (
        "import hedgeflow\n"
        "from hedgeflow import *  # noqa: F403\n"
        "missing = [n for n in hedgeflow.__all__ if getattr(hedgeflow, n, None) is None]\n"
        "assert set(hedgeflow.__all__) <= set(dir(hedgeflow))\n"
        "from hedgeflow import analyze_chain\n"
        "from hedgeflow.engine.pipeline import analyze_chain as direct\n"
        "assert analyze_chain is direct\n"
        "print(missing)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    import hedgeflow

    with pytest.raises(AttributeError):
        hedgeflow.no_such_name  # noqa: B018
