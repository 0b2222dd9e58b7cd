"""The replay tape: several recordings as one timeline in time order, refused when they
overlap; the transport on it (pause, seek clamped to the tape, steps that land exactly on
recorded snapshots, speed changes without a jump) against an injected wall clock."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.chains import spx_like_chain
from hedgeflow.feeds.base import open_feed
from hedgeflow.feeds.errors import FeedError
from hedgeflow.feeds.recorder import Recorder, RecordingError
from hedgeflow.feeds.replay import ReplayFeed
from hedgeflow.feeds.tape import TapeClock

DAY1 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 10:00 New York, Monday
DAY2 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday


class FakeWall:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


_BASE = spx_like_chain(n_expiries=1, seed=5)


def record(path: Path, start: datetime, minutes: list[float], symbols: tuple[str, ...]) -> Path:
    """Snapshots of `symbols` fetched `minutes` after `start`, each 0.5 s after its as-of;
    spot = 6000 + the minute, so the served snapshot says which one it is."""
    with Recorder(path) as rec:
        for m in minutes:
            when = start + timedelta(minutes=m)
            for sym in symbols:
                snap = replace(_BASE, symbol=sym, spot=6000.0 + m, as_of=when)
                rec.write(snap, feed="test", fetched_at=when + timedelta(seconds=0.5))
    return path


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Monday 10:00-11:00 every 5 min (SPY, QQQ); Tuesday 10:00-10:30 every 10 min (SPY
    only), QQQ at 10:15 and ETF at 10:01."""
    d = tmp_path_factory.mktemp("tape")
    mon = record(d / "mon.sqlite", DAY1, [5.0 * i for i in range(13)], ("SPY", "QQQ"))
    tue = record(d / "tue.sqlite", DAY2, [0.0, 10.0, 20.0, 30.0], ("SPY",))
    with Recorder(tue) as rec:
        when = DAY2 + timedelta(minutes=15)
        rec.write(
            replace(_BASE, symbol="QQQ", spot=7015.0, as_of=when), feed="test", fetched_at=when
        )
        when = DAY2 + timedelta(minutes=1)  # a symbol first recorded on Tuesday
        rec.write(replace(_BASE, symbol="ETF", as_of=when), feed="test", fetched_at=when)
    return mon, tue


def fetch(minute: float, day: datetime = DAY1) -> datetime:
    return day + timedelta(minutes=minute, seconds=0.5)


def test_several_recordings_play_as_one_tape_in_time_order(days: tuple[Path, Path]) -> None:
    mon, tue = days
    wall = FakeWall()
    r = ReplayFeed([tue, mon], speed=60.0, wall=wall)  # given out of order
    assert r.paths == (mon, tue) and r.path == mon
    assert r.symbols == ("ETF", "QQQ", "SPY")
    start, end = r.bounds()
    assert start == fetch(0) and end == fetch(30, DAY2)
    assert r.clock() == start
    assert r.snapshot_now("SPY").spot == 6000.0
    wall.t += 60.0  # an hour of tape: Monday's last snapshot
    assert r.snapshot_now("SPY").spot == 6060.0
    wall.t += 600.0  # into the night: Monday's last one stays
    assert r.snapshot_now("SPY").as_of == DAY1 + timedelta(minutes=60)
    fresh = ReplayFeed([mon, tue], speed=1.0, wall=wall)
    with pytest.raises(FeedError, match="ETF not recorded yet.*tue.sqlite"):
        fresh.snapshot_now("ETF")  # first recorded on Tuesday: not shown on Monday
    fresh.seek_to(DAY2 + timedelta(minutes=2))
    assert fresh.snapshot_now("ETF").as_of == DAY2 + timedelta(minutes=1)
    fresh.close()
    r.seek_to(DAY2 + timedelta(minutes=12))
    assert r.snapshot_now("SPY").as_of == DAY2 + timedelta(minutes=10)
    assert r.snapshot_now("QQQ").as_of == DAY1 + timedelta(minutes=60)  # Tuesday's not yet
    r.seek(5 * 60)
    assert r.snapshot_now("QQQ").spot == 7015.0


def test_config_takes_a_list_of_recordings(days: tuple[Path, Path]) -> None:
    mon, tue = days
    feed = open_feed("replay", {"path": [str(tue), str(mon)], "speed": 0})
    assert isinstance(feed, ReplayFeed) and feed.paths == (mon, tue)
    feed.close()
    with pytest.raises(ValueError, match="must be a file name"):
        ReplayFeed.from_config({"path": [str(mon), 3]})


def test_overlapping_recordings_are_refused_naming_the_file(
    days: tuple[Path, Path], tmp_path: Path
) -> None:
    mon, tue = days
    late = record(tmp_path / "late.sqlite", DAY1, [50.0, 70.0], ("SPY",))  # 10:50-11:10 Monday
    with pytest.raises(RecordingError) as err:
        ReplayFeed([mon, tue, late])
    line = str(err.value)
    assert "\n" not in line and "late.sqlite" in line and "overlaps mon.sqlite" in line
    inside = record(tmp_path / "inside.sqlite", DAY1, [20.0], ("SPY",))  # within Monday
    with pytest.raises(RecordingError, match="inside.sqlite: overlaps mon.sqlite"):
        ReplayFeed([inside, mon])


def test_the_same_recording_twice_is_refused(days: tuple[Path, Path], tmp_path: Path) -> None:
    mon, _ = days
    link = tmp_path / "again.sqlite"
    link.symlink_to(mon)
    with pytest.raises(RecordingError, match="again.sqlite: given twice"):
        ReplayFeed([mon, link])
    copy = tmp_path / "copy.sqlite"
    shutil.copy(mon, copy)  # another file, the same times: overlaps
    with pytest.raises(RecordingError, match="overlaps"):
        ReplayFeed([mon, copy])


def test_a_bad_file_among_good_ones_is_named(days: tuple[Path, Path], tmp_path: Path) -> None:
    mon, tue = days
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a recording at all, just text" * 10)
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    with pytest.raises(RecordingError, match=r"bad.sqlite: not a SQLite file"):
        ReplayFeed([mon, bad, tue, empty])  # the first bad one on the command line
    with pytest.raises(RecordingError, match=r"empty.sqlite: empty file"):
        ReplayFeed([mon, empty, bad])


def test_pause_stops_the_clock_and_resume_goes_on_from_there(days: tuple[Path, Path]) -> None:
    mon, _ = days
    wall = FakeWall()
    r = ReplayFeed(mon, speed=10.0, wall=wall)
    wall.t += 30.0
    assert r.clock() == fetch(5)
    r.pause()
    assert r.paused
    wall.t += 1000.0
    assert r.clock() == fetch(5)
    assert r.snapshot_now("SPY").spot == 6005.0
    r.resume()
    assert r.clock() == fetch(5)
    wall.t += 30.0
    assert r.clock() == fetch(10)


def test_pause_past_the_end_stops_at_the_end(days: tuple[Path, Path]) -> None:
    mon, _ = days
    wall = FakeWall()
    r = ReplayFeed(mon, speed=60.0, wall=wall)
    wall.t += 3600.0
    assert r.clock() > fetch(60)  # the last snapshot ages, as before
    r.pause()
    assert r.clock() == fetch(60)


def test_seek_is_clamped_to_the_tape(days: tuple[Path, Path]) -> None:
    mon, tue = days
    wall = FakeWall()
    r = ReplayFeed([mon, tue], speed=1.0, wall=wall)
    assert r.seek(-300) == fetch(0)
    assert r.seek(300) == fetch(5)
    assert r.seek(1800) == fetch(35)
    assert r.seek(-1800) == fetch(5)
    assert r.seek(10 * 86400) == fetch(30, DAY2)
    assert r.seek(-10 * 86400) == fetch(0)
    assert r.seek_to(DAY2 + timedelta(days=3)) == fetch(30, DAY2)
    assert r.seek_to(DAY1 - timedelta(days=3)) == fetch(0)
    with pytest.raises(ValueError, match="aware"):
        r.seek_to(datetime(2026, 11, 23, 10, 0))
    # seeking keeps it playing
    r.seek(300)
    wall.t += 60.0
    assert r.clock() == fetch(6)


def test_steps_land_exactly_on_recorded_snapshots(days: tuple[Path, Path]) -> None:
    mon, tue = days
    wall = FakeWall()
    r = ReplayFeed([mon, tue], speed=5.0, wall=wall)
    wall.t += 100.0  # 10:08:20.5 Monday, between snapshots
    assert r.step("SPY", 1) == fetch(10)
    assert r.paused
    assert r.snapshot_now("SPY").spot == 6010.0
    assert r.step("SPY", -1) == fetch(5)
    assert r.step("SPY", -1) == fetch(0)
    assert r.step("SPY", -1) == fetch(0)  # the first snapshot holds
    r.seek_to(fetch(60))
    assert r.step("SPY", 1) == fetch(0, DAY2)  # across the files
    assert r.snapshot_now("SPY").as_of == DAY2
    assert r.step("SPY", -1) == fetch(60)
    # a symbol's own snapshots: QQQ's next after Monday's last is Tuesday 10:15
    assert r.step("QQQ", 1) == DAY2 + timedelta(minutes=15)
    r.seek_to(fetch(30, DAY2))
    assert r.step("SPY", 1) == fetch(30, DAY2)  # the last holds
    wall.t += 1000.0
    assert r.clock() == fetch(30, DAY2)  # still paused


def test_speed_changes_without_a_jump(days: tuple[Path, Path]) -> None:
    mon, _ = days
    wall = FakeWall()
    r = ReplayFeed(mon, speed=1.0, wall=wall)
    wall.t += 60.0
    r.set_speed(60.0)
    assert r.clock() == fetch(1)
    wall.t += 4.0
    assert r.clock() == fetch(5)
    r.pause()
    r.set_speed(2.0)
    assert r.paused and r.clock() == fetch(5)
    r.resume()
    wall.t += 30.0
    assert r.clock() == fetch(6)


def test_step_mode_serves_from_the_new_position(days: tuple[Path, Path]) -> None:
    mon, _ = days
    r = ReplayFeed(mon, speed=0.0, wall=FakeWall())
    assert [r.snapshot_now("SPY").spot for _ in range(3)] == [6000.0, 6005.0, 6010.0]
    r.seek(30 * 60)  # from 10:10:00.5
    assert [r.snapshot_now("SPY").spot for _ in range(2)] == [6040.0, 6045.0]
    r.pause()
    assert [r.snapshot_now("SPY").spot for _ in range(2)] == [6045.0, 6045.0]
    r.resume()
    assert r.snapshot_now("SPY").spot == 6050.0
    r.set_speed(60.0)
    assert r.clock() == fetch(50)


def test_tape_clock_alone() -> None:
    wall = FakeWall()
    c = TapeClock(wall, speed=2.0)
    assert math.isnan(c.now(0.0, 10.0))
    c.origin(1000.0)
    c.origin(5.0)  # the first origin stays
    wall.t += 3.0
    assert c.now(1000.0, 2000.0) == 1006.0
    c.pause(1000.0, 2000.0)
    wall.t += 50.0
    assert c.now(1000.0, 2000.0) == 1006.0
    looped = TapeClock(wall, speed=1.0, loop=True)
    looped.set(1000.0)
    wall.t += 150.0
    assert looped.now(1000.0, 1100.0) == 1050.0
    with pytest.raises(ValueError):
        TapeClock(wall, speed=-1.0)
