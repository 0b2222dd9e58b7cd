"""Tickers on the command line: any valid ticker on the simulated market (a synthetic
underlying), a bad one refused in one line with exit 2 by every command and feed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hedgeflow.cli import main
from tests.test_cli_monitor import assert_refused, cold_env, run_monitor_until

__all__ = ["cold_env"]  # the fixture, shared with test_cli_monitor

HEDGEFLOW = str(Path(sys.executable).with_name("hedgeflow"))
START = "2026-11-18T11:00"


def test_analyze_a_synthetic_symbol(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["analyze", "--feed", "sim", "--symbol", "zzzz", "--sim-start", START, "--json"])
    assert code == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["symbol"] == "ZZZZ" and err == ""
    assert data["as_of"].startswith("2026-11-18T11:00")
    levels = data["levels"]
    assert levels["call_wall"] is not None and levels["put_wall"] is not None
    # the same ticker again: the same market
    assert (
        main(["analyze", "--feed", "sim", "--symbol", "ZZZZ", "--sim-start", START, "--json"]) == 0
    )
    again = json.loads(capsys.readouterr().out)
    assert again["spot"] == data["spot"]
    for key in ("call_wall", "put_wall", "abs_gamma", "max_pain"):  # listed strikes
        assert again["levels"][key] == levels[key]


@pytest.mark.parametrize(
    ("argv", "bad"),
    [
        (["analyze", "--feed", "sim", "--symbol", "12AB"], "12AB"),
        (["analyze", "--feed", "sim", "--symbol", "BRK.BBB"], "BRK.BBB"),
        (["analyze", "--feed", "cboe", "--symbol", "TOOLONGX"], "TOOLONGX"),
        (["record", "--feed", "sim", "--symbols", "SPX,X-Y"], "X-Y"),
    ],
)
def test_a_bad_ticker_is_refused_in_one_line(argv: list[str], bad: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [HEDGEFLOW, *argv], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"'{bad}' is not a ticker" in lines[0] and "BRK.B" in lines[0], lines[0]
    assert done.stdout == ""
    assert not list(tmp_path.iterdir())  # nothing recorded


def test_monitor_refuses_a_bad_ticker_before_the_screen(cold_env: dict[str, str]) -> None:
    assert_refused(["monitor", "--feed", "sim", "--symbols", "AAPL,9XY"], cold_env, "'9XY'")


def test_monitor_watches_synthetic_symbols(tmp_path: Path, cold_env: dict[str, str]) -> None:
    """`--symbols AAPL,xyz` on the sim: both tabs, AAPL's analysis drawn."""
    code, screen = run_monitor_until(
        [
            "monitor", "--feed", "sim", "--symbols", "AAPL,xyz", "--sim-start", START,
            "--sim-speed", "1", "--interval", "0.5",
        ],
        cold_env,
        "Regime · AAPL",
    )  # fmt: skip
    assert code == 0, screen[-2000:]
    assert "AAPL" in screen and "XYZ" in screen
    assert "not a ticker" not in screen and "unknown symbol" not in screen


def test_symbols_from_a_ticker_file(tmp_path: Path, cold_env: dict[str, str]) -> None:
    """`--symbols @FILE`: the tickers of a plain text file; a bad file is one line, exit 2,
    before the screen, naming the file and line."""
    good = tmp_path / "desk.txt"
    good.write_text("# my desk\nAAPL, xyz\n", encoding="utf-8")
    code, screen = run_monitor_until(
        [
            "monitor", "--feed", "sim", "--symbols", f"@{good}", "--sim-start", START,
            "--sim-speed", "1", "--interval", "0.5",
        ],
        cold_env,
        "Regime · AAPL",
    )  # fmt: skip
    assert code == 0, screen[-2000:]
    assert "AAPL" in screen and "XYZ" in screen
    bad = tmp_path / "bad.txt"
    bad.write_text("SPX\nSP-X\n", encoding="utf-8")
    line = assert_refused(
        ["monitor", "--feed", "sim", "--symbols", f"@{bad}"], cold_env, "bad.txt:2"
    )
    assert "'SP-X' is not a ticker" in line
    assert_refused(
        ["monitor", "--feed", "sim", "--symbols", f"@{tmp_path / 'none.txt'}"],
        cold_env,
        "no such ticker file",
    )
