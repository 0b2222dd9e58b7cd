"""The real `hedgeflow replay FILE [FILE ...]`: several recordings as one tape in time order
(the bar names the files and the tape's span), and one-line refusals (exit 2, nothing drawn)
for a bad file among good ones, overlapping files and one file given twice."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from bench.chains import spx_like_chain
from hedgeflow.app.fmt import NY
from hedgeflow.feeds.recorder import Recorder
from tests.test_cli_monitor import assert_refused, cold_env, run_monitor_until

__all__ = ["cold_env"]  # the fixture, used by name


def _day(path: Path, day: str, minutes: range, symbols: tuple[str, ...] = ("SPX",)) -> Path:
    """A recording of `symbols` on `day` (YYYY-MM-DD) at 10:00 New York + `minutes`."""
    # the bench chain's expiries are in June 2025
    chain = spx_like_chain(n_expiries=4, seed=5)
    start = datetime.fromisoformat(f"{day}T10:00:00").replace(tzinfo=NY)
    with Recorder(path) as rec:
        for m in minutes:
            when = start + timedelta(minutes=m)
            for sym in symbols:
                snap = replace(chain, symbol=sym, spot=chain.spot + m, as_of=when)
                rec.write(snap, feed="test", fetched_at=when.timestamp() + 0.5)
    return path


def test_several_recordings_replay_as_one_tape(tmp_path: Path, cold_env: dict[str, str]) -> None:
    # the bench chain's expiries are in June 2025: a Tuesday and a Wednesday
    tue = _day(tmp_path / "tue.sqlite", "2025-06-10", range(0, 31, 10))
    wed = _day(tmp_path / "wed.sqlite", "2025-06-11", range(0, 31, 10), ("SPX", "QQQ"))
    code, screen = run_monitor_until(
        ["replay", str(wed), str(tue), "--symbols", "SPX", "--interval", "0.5"],
        cold_env,
        "2 files",
    )
    assert code == 0, screen[-2000:]
    # the tape starts with Tuesday's file, whatever the order given, and spans both days
    assert "recorded 2025-06-10 10:00:" in screen, screen[-3000:]
    assert "06-10 10:00–06-11 10:30" in screen
    assert "REPLAY · SPX 0DTE 16:00 · 2025-06-10 10:00:00 ET" in screen
    assert "AnalysisError" not in screen


def test_a_bad_file_among_good_ones(tmp_path: Path, cold_env: dict[str, str]) -> None:
    mon = _day(tmp_path / "mon.sqlite", "2026-11-23", range(0, 31, 10))
    bad = tmp_path / "notes.sqlite"
    bad.write_text("these are my notes, not a recording\n" * 20)
    line = assert_refused(["replay", str(mon), str(bad)], cold_env, "notes.sqlite")
    assert "not a SQLite file" in line
    missing = tmp_path / "gone.sqlite"
    assert_refused(["replay", str(mon), str(missing), str(bad)], cold_env, "gone.sqlite")


def test_overlapping_recordings_are_refused(tmp_path: Path, cold_env: dict[str, str]) -> None:
    morning = _day(tmp_path / "morning.sqlite", "2026-11-23", range(0, 61, 10))
    late = _day(tmp_path / "late.sqlite", "2026-11-23", range(30, 91, 10))
    line = assert_refused(["replay", str(morning), str(late)], cold_env, "late.sqlite")
    assert "overlaps morning.sqlite" in line


def test_one_recording_given_twice(tmp_path: Path, cold_env: dict[str, str]) -> None:
    mon = _day(tmp_path / "mon.sqlite", "2026-11-23", range(0, 31, 10))
    line = assert_refused(["replay", str(mon), str(mon)], cold_env, "mon.sqlite")
    assert "given twice" in line
    copy = tmp_path / "copy.sqlite"
    shutil.copy(mon, copy)
    assert_refused(["replay", str(mon), str(copy)], cold_env, "copy.sqlite", "overlaps")


def test_a_list_of_recordings_in_the_config(tmp_path: Path, cold_env: dict[str, str]) -> None:
    """`[feeds.replay] path` may list a tape; `analyze --feed replay` reads one recording
    and says so in one line instead of failing on the list."""
    import subprocess
    import sys

    from tests.test_cli_monitor import ROOT

    tue = _day(tmp_path / "tue.sqlite", "2025-06-10", range(0, 31, 10))
    wed = _day(tmp_path / "wed.sqlite", "2025-06-11", range(0, 31, 10))
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"[feeds.replay]\npath = [{str(wed)!r}, {str(tue)!r}]\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "hedgeflow.cli", "--config", str(cfg), "analyze"]
        + ["--feed", "replay", "--symbol", "SPX"],
        capture_output=True,
        text=True,
        timeout=120,
        env=cold_env,
        cwd=ROOT,
    )
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "reads one recording" in lines[0] and "2 files" in lines[0]
    code, screen = run_monitor_until(
        ["--config", str(cfg), "monitor", "--feed", "replay", "--interval", "0.5"],
        cold_env,
        "2 files",
    )
    assert code == 0, screen[-2000:]
    assert "recorded 2025-06-10 10:00:" in screen
