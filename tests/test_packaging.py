"""The package as a user installs it: one top-level name, and every command working from
the wheel alone (no checkout on the path).

The wheel is built from this checkout with the environment's setuptools (no network),
unpacked into a folder of its own, and run from a folder outside the checkout with only
the test environment's dependencies besides it.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_CSV = ROOT / "tests" / "data" / "real" / "spy_quotedata_2023-09-14.csv"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("setuptools")
    out = tmp_path_factory.mktemp("wheel")
    # A copy of the sources: building in place would leave build/ and *.egg-info behind.
    src = out / "src"
    _copy_tree(ROOT, src)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (whl,) = out.glob("hedgeflow-*.whl")
    return whl


def _copy_tree(src: Path, dst: Path) -> None:
    """The files git tracks (what a clean checkout holds), not caches or the venv."""
    listed = subprocess.run(
        ["git", "-C", str(src), "ls-files", "-z"], capture_output=True, check=True
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        path = src / rel
        if path.is_file():
            target = dst / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())


def test_the_wheel_installs_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"hedgeflow"}, sorted(top)
    # what the running app reads besides Python modules
    assert "hedgeflow/tui/app.tcss" in names
    assert "hedgeflow/py.typed" in names
    (info,) = dist_info
    entry_points = zipfile.ZipFile(wheel).read(f"{info}/entry_points.txt").decode()
    assert "hedgeflow = hedgeflow.cli:main" in entry_points


def test_every_command_runs_from_the_wheel(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(site), PYTHONSAFEPATH="1")
    for name in ("cache", "state", "config", "data"):
        env[f"XDG_{name.upper()}_HOME"] = str(tmp_path / name)

    def run(*args: str, module: str = "hedgeflow.cli") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    probe = subprocess.run(
        [sys.executable, "-c", "import hedgeflow, sys; print(hedgeflow.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip().startswith(str(site)), probe.stdout  # not the checkout
    assert run("--help").returncode == 0
    for sub in ("monitor", "analyze", "record", "replay", "doctor"):
        shown = run(sub, "--help")
        assert shown.returncode == 0, (sub, shown.stderr)
        assert f"hedgeflow {sub}" in shown.stdout, shown.stdout
    analyzed = run("analyze", str(REAL_CSV))
    assert analyzed.returncode == 0, analyzed.stderr
    assert analyzed.stdout.startswith("SPY")
    refused = run("analyze", str(tmp_path / "missing.csv"))
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1
    # The monitor itself, headless on the simulated market, with the packaged stylesheet.
    svg = tmp_path / "monitor.svg"
    shot = run("--out", str(svg), module="hedgeflow.tui.screenshot")
    assert shot.returncode == 0, shot.stderr
    text = html.unescape(svg.read_text()).replace("\xa0", " ")
    for shown in ("SPX", "Impulse H(S)", "Regime", "Charm", "next poll"):
        assert shown in text, shown
