"""`--sim-start` / `--sim-speed` (the simulated feed's clock from the command line) and the
warning `analyze` gives for options its input does not use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hedgeflow.cli import main

REAL = Path(__file__).resolve().parent / "data" / "real" / "spy_quotedata_2023-09-14.csv"
HEDGEFLOW = str(Path(sys.executable).with_name("hedgeflow"))


def _analyze(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[dict, str]:
    assert main(["analyze", *argv, "--json"]) == 0
    out, err = capsys.readouterr()
    return json.loads(out), err


def test_sim_start_sets_the_simulated_clock(capsys) -> None:
    data, err = _analyze(
        capsys, "--feed", "sim", "--symbol", "SPY", "--sim-start", "2025-06-10T11:00"
    )
    assert data["as_of"].startswith("2025-06-10T11:00") and data["as_of"].endswith("-04:00")
    assert err == ""
    # another start, another market: the flag is not ignored
    other, _ = _analyze(capsys, "--feed", "sim", "--symbol", "SPY", "--sim-start", "2025-06-12")
    assert other["as_of"].startswith("2025-06-12T10:30")  # a date alone: 10:30 that day


def test_an_analysis_of_the_simulated_market_says_so_first(capsys) -> None:
    """Its times are the simulation's (today's date, 10:30): never to be read as a
    market's. The header line ends with SIMULATED and the first note says it, in the JSON
    too; a real file's analysis has neither."""
    from hedgeflow.app.export import SIMULATED_NOTE

    data, _ = _analyze(capsys, "--feed", "sim", "--symbol", "SPY")
    assert data["notes"][0] == SIMULATED_NOTE
    assert main(["analyze", "--feed", "sim", "--symbol", "SPY"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith("  SIMULATED")
    assert f"note     {SIMULATED_NOTE}" in out
    real, _ = _analyze(capsys, str(REAL))
    assert SIMULATED_NOTE not in real["notes"]
    assert main(["analyze", str(REAL)]) == 0
    assert "SIMULATED" not in capsys.readouterr().out


def test_sim_flags_override_the_config(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[feeds.sim]\nstart = '2024-03-05T14:00:00-05:00'\nspeed = 0\n")
    data, _ = _analyze(
        capsys, "--config", str(cfg), "--feed", "sim", "--symbol", "SPX",
        "--sim-start", "2025-06-10 11:00",
    )  # fmt: skip
    assert data["as_of"].startswith("2025-06-10T11:00")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--sim-start", "tomorrow"], "--sim-start: not a date/time in New York: 'tomorrow'"),
        (["--sim-start", "2025-13-40"], "--sim-start"),
        (["--sim-start", "1900-01-03T10:00"], "outside the exchange calendar"),
        (["--sim-speed", "0"], "--sim-speed: must be a positive factor, got 0"),
        (["--sim-speed", "-5"], "--sim-speed: must be a positive factor"),
        (["--sim-speed", "nan"], "--sim-speed: must be a positive factor"),
        (["--sim-speed", "fast"], "--sim-speed: not a number: 'fast'"),
    ],
)
@pytest.mark.parametrize("command", ["monitor", "analyze", "record"])
def test_bad_sim_values_are_refused_in_one_line(
    command: str, argv: list[str], words: str, tmp_path: Path
) -> None:
    extra = ["--feed", "sim", "--symbol", "SPX"] if command == "analyze" else ["--feed", "sim"]
    done = subprocess.run(
        [HEDGEFLOW, command, *extra, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert words in lines[0]
    assert done.stdout == ""


def test_sim_flags_on_another_feed_warn(capsys) -> None:
    data, err = _analyze(
        capsys, "--feed", "file", "--symbol", "SPY", "--path", str(REAL), "--sim-speed", "60"
    )
    assert data["symbol"] == "SPY"
    assert err.strip() == ("hedgeflow: warning: --sim-speed: the feed is file, not sim: ignored")


def test_sim_speed_reaches_the_monitor(monkeypatch) -> None:
    """The monitor's feed runs at the given speed (its status line says "sim clock ×60")."""
    import hedgeflow.tui.app as tui_app

    seen = {}

    def fake_run_monitor(**kw):  # the screen itself is the TUI tests' business
        seen.update(kw)
        return 0

    monkeypatch.setattr(tui_app, "run_monitor", fake_run_monitor)
    monkeypatch.setattr("hedgeflow.cli.monitor.start_logging", lambda settings: None)
    assert (
        main(["monitor", "--feed", "sim", "--sim-speed", "60", "--sim-start", "2025-06-10T11:00"])
        == 0
    )
    feed = seen["feed"]
    assert feed.speed == 60.0
    assert feed.clock().isoformat().startswith("2025-06-10T15:00")  # 11:00 New York in UTC


# ------------------------------------------------------------------ analyze: inapplicable options


def test_analyze_warns_about_feed_options_beside_a_file(capsys) -> None:
    data, err = _analyze(capsys, str(REAL), "--feed", "cboe", "--path", "x.json")
    assert data["symbol"] == "SPY"  # still analyzed, exit 0
    lines = err.strip().splitlines()
    assert lines == [
        f"hedgeflow: warning: --feed, --path: not used with a FILE ({REAL} is analyzed): ignored"
    ]


def test_analyze_warns_about_sim_options_beside_a_file(capsys) -> None:
    _, err = _analyze(capsys, str(REAL), "--sim-start", "2025-06-10")
    assert "--sim-start: not used with a FILE" in err


def test_analyze_warns_about_path_for_a_feed_without_files(capsys) -> None:
    data, err = _analyze(
        capsys, "--feed", "sim", "--symbol", "SPY", "--path", "x.csv", "--sim-start", "2025-06-10"
    )
    assert data["symbol"] == "SPY"
    assert err.strip() == "hedgeflow: warning: --path: the sim feed reads no file: ignored"


def test_analyze_says_nothing_when_every_option_applies(capsys) -> None:
    _, err = _analyze(capsys, str(REAL), "--expiry", "next", "--model", "physical")
    assert err == ""
