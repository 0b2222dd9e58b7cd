"""Replay: the clock at recorded and accelerated speed, stepping, looping, errors."""

from __future__ import annotations

import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hedgeflow.feeds.base import Feed, open_feed
from hedgeflow.feeds.errors import FeedError
from hedgeflow.feeds.recorder import SCHEMA, Recorder, RecordingError
from hedgeflow.feeds.replay import ReplayFeed, iter_snapshots, recorded_symbols
from hedgeflow.feeds.sim import NY, SimFeed

START = datetime(2026, 11, 18, 10, 30, tzinfo=NY)
STEP = 10.0  # seconds between recorded polls
N = 6  # polls recorded per symbol


class FakeWall:
    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SPY and QQQ polled every 10 s; each fetched 0.5 s after its as-of."""
    path = tmp_path_factory.mktemp("replay") / "session.sqlite"
    f = SimFeed(seed=3, start=START, speed=0.0, symbols=["SPY", "QQQ"])
    with Recorder(path) as rec:
        for i in range(N):
            when = START + timedelta(seconds=STEP * i)
            for sym in ("SPY", "QQQ"):
                rec.write(
                    f.chain_at(sym, when), feed="sim", fetched_at=when + timedelta(seconds=0.5)
                )
    return path


def as_of_index(chain_as_of: datetime) -> int:
    return round((chain_as_of - START).total_seconds() / STEP)


def test_recorded_speed(recording: Path) -> None:
    wall = FakeWall()
    r = ReplayFeed(recording, speed=1.0, wall=wall)
    first_fetch = START + timedelta(seconds=0.5)
    assert r.clock() == first_fetch
    assert as_of_index(r.snapshot_now("SPY").as_of) == 0
    wall.t += 9.0  # recorded 10.5 s not reached yet
    assert as_of_index(r.snapshot_now("SPY").as_of) == 0
    wall.t += 1.0
    assert r.clock() == first_fetch + timedelta(seconds=10)
    assert as_of_index(r.snapshot_now("SPY").as_of) == 1
    assert as_of_index(r.snapshot_now("QQQ").as_of) == 1
    wall.t += 1000.0  # past the end: the last snapshot stays and ages
    last = r.snapshot_now("SPY")
    assert as_of_index(last.as_of) == N - 1
    assert (r.clock() - last.as_of).total_seconds() > 900


def test_accelerated_speed(recording: Path) -> None:
    wall = FakeWall()
    r = ReplayFeed(recording, speed=20.0, wall=wall)
    wall.t += 1.0  # 20 recorded seconds
    assert as_of_index(r.snapshot_now("SPY").as_of) == 2
    wall.t += 0.49  # 29.8 s
    assert as_of_index(r.snapshot_now("SPY").as_of) == 2
    wall.t += 0.02  # 30.2 s
    assert as_of_index(r.snapshot_now("SPY").as_of) == 3


def test_snapshots_equal_what_was_recorded(recording: Path) -> None:
    recorded = list(iter_snapshots(recording, "QQQ"))
    assert len(recorded) == N
    wall = FakeWall()
    r = ReplayFeed(recording, speed=1.0, wall=wall)
    for i in range(N):
        r.at(START + timedelta(seconds=STEP * i + 0.5))
        chain = r.snapshot_now("QQQ")
        assert chain.as_of == recorded[i].as_of
        assert (chain.volume == recorded[i].volume).all()


def test_step_mode_and_loop(recording: Path) -> None:
    r = ReplayFeed(recording, speed=0.0)
    got = [as_of_index(r.snapshot_now("SPY").as_of) for _ in range(N + 2)]
    assert got == [*range(N), N - 1, N - 1]
    assert r.clock() == START + timedelta(seconds=STEP * (N - 1) + 0.5)
    looped = ReplayFeed(recording, speed=0.0, loop=True)
    got = [as_of_index(looped.snapshot_now("SPY").as_of) for _ in range(N + 2)]
    assert got == [*range(N), 0, 1]
    wall = FakeWall()
    timed = ReplayFeed(recording, speed=1.0, loop=True, wall=wall)
    wall.t += STEP * (N - 1) + 12.0  # the span is 50 s: 62 s wraps to 12 s
    assert as_of_index(timed.snapshot_now("SPY").as_of) == 1


def test_advance_and_at(recording: Path) -> None:
    r = ReplayFeed(recording, speed=1.0, wall=FakeWall())
    r.advance(25.0)
    assert as_of_index(r.snapshot_now("QQQ").as_of) == 2
    r.at(START + timedelta(seconds=41))
    assert as_of_index(r.snapshot_now("QQQ").as_of) == 4


async def test_feed_protocol_and_config(recording: Path) -> None:
    feed = open_feed("replay", {"path": str(recording), "speed": 0})
    assert isinstance(feed, ReplayFeed) and isinstance(feed, Feed)
    async with feed:
        chain = await feed.snapshot("spy")
        exps = await feed.expirations("SPY")
    assert chain.symbol == "SPY"
    assert exps and all(e.tzinfo is not None and e > chain.as_of for e in exps)
    assert recorded_symbols(recording) == ["QQQ", "SPY"]
    with pytest.raises(ValueError, match="feeds.replay.path"):
        ReplayFeed.from_config({})
    with pytest.raises(ValueError, match="feeds.replay.speed"):
        ReplayFeed.from_config({"path": "x", "speed": -2})
    with pytest.raises(ValueError, match="feeds.replay.nope"):
        ReplayFeed.from_config({"path": "x", "nope": 1})


def test_errors(recording: Path, tmp_path: Path) -> None:
    r = ReplayFeed(recording)
    with pytest.raises(FeedError, match="no snapshot of SPX"):
        r.snapshot_now("SPX")
    with pytest.raises(RecordingError, match="no such recording"):
        ReplayFeed(tmp_path / "missing.sqlite")
    with pytest.raises(RecordingError, match="no such recording"):
        list(iter_snapshots(tmp_path / "missing.sqlite"))
    empty = tmp_path / "empty.sqlite"
    Recorder(empty).close()
    with pytest.raises(RecordingError, match="holds no snapshots"):
        ReplayFeed(empty)


def test_symbols_are_the_recorded_ones(recording: Path) -> None:
    assert ReplayFeed(recording).symbols == ("QQQ", "SPY")
    assert open_feed("replay", {"path": str(recording)}).symbols == ("QQQ", "SPY")


# --- bad recordings: refused when the feed is built, one line naming the problem ---------


def _corrupt_middle(src: Path, dst: Path) -> Path:
    """A copy of `src` with 4 KiB of (seeded) random bytes written over its middle."""
    data = bytearray(src.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 4096] = random.Random(7).randbytes(4096)
    dst.write_bytes(bytes(data))
    return dst


def _bad_recording(kind: str, recording: Path, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.sqlite"
    if kind == "missing":
        return path
    if kind == "directory":
        path.mkdir()
    elif kind == "zero-byte":
        path.write_bytes(b"")
    elif kind == "truncated":
        data = recording.read_bytes()
        path.write_bytes(data[: len(data) // 2 + 100])
    elif kind == "truncated-header":
        path.write_bytes(recording.read_bytes()[:40])
    elif kind == "corrupted":
        _corrupt_middle(recording, path)
    elif kind == "not-sqlite":
        path.write_text("Expiration Date,Calls,Last Sale\n" * 200, encoding="utf-8")
    elif kind == "other-schema":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE prices (t REAL, px REAL)")
            db.execute("INSERT INTO prices VALUES (1, 2)")
        db.close()
    elif kind == "other-columns":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE snapshots (id INTEGER PRIMARY KEY, blob BLOB)")
            db.execute("INSERT INTO snapshots(blob) VALUES (x'00')")
        db.close()
    elif kind == "bad-payload":
        with sqlite3.connect(path) as db:
            db.executescript(SCHEMA)
            db.execute(
                "INSERT INTO snapshots(symbol, as_of, fetched_at, feed, payload) "
                "VALUES ('SPY', 1, 1, 'sim', x'DEADBEEF')"
            )
        db.close()
    elif kind == "unreadable":
        shutil.copy(recording, path)
        path.chmod(0)
    return path


BAD = {
    "missing": "no such recording",
    "directory": "is a directory",
    "zero-byte": r"empty file \(0 bytes\)",
    "truncated": r"truncated \(\d+ bytes; its header says",
    "truncated-header": "truncated",
    "corrupted": r"corrupted \(SQLite integrity check: ",
    "not-sqlite": "not a SQLite file",
    "other-schema": r"not a hedgeflow recording \(it has prices\)",
    "other-columns": "table `snapshots` has columns id, blob",
    "bad-payload": "corrupted: snapshot 1: corrupt snapshot payload",
    "unreadable": r"cannot read \(Permission denied\)",
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_recording_is_refused_in_one_line(kind: str, recording: Path, tmp_path: Path) -> None:
    path = _bad_recording(kind, recording, tmp_path)
    if kind == "unreadable" and os.access(path, os.R_OK):
        pytest.skip("running as a user who reads any file (root)")
    for build in (
        lambda: ReplayFeed(path),
        lambda: open_feed("replay", {"path": str(path)}),
        lambda: list(iter_snapshots(path)),
        lambda: recorded_symbols(path),
    ):
        with pytest.raises(RecordingError) as info:
            build()
        err = info.value
        assert isinstance(err, ValueError) and isinstance(err, FeedError)
        text = str(err)
        assert "\n" not in text and "Traceback" not in text
        assert text.startswith(f"{path}: ")
        assert re.search(BAD[kind], text), text


def test_unreadable_recording_as_an_ordinary_user(recording: Path, tmp_path: Path) -> None:
    """Root reads any file: drop to `nobody` in a subprocess to see the permission error."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch user")
    path = tmp_path / "private.sqlite"
    shutil.copy(recording, path)
    path.chmod(0o600)
    code = (
        "import os, sys\n"
        "from hedgeflow.feeds.replay import ReplayFeed\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "try:\n    ReplayFeed(sys.argv[1])\n"
        "except ValueError as exc:\n    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120
    )
    assert out.stdout.strip() == f"{path}: cannot read (Permission denied)", out.stderr


def test_a_recording_that_goes_bad_during_a_replay_raises_feed_errors(
    recording: Path, tmp_path: Path
) -> None:
    path = tmp_path / "live.sqlite"
    shutil.copy(recording, path)
    r = ReplayFeed(path, speed=0.0)
    assert r.snapshot_now("SPY").symbol == "SPY"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(RecordingError, match="truncated during the replay"):
        r.snapshot_now("SPY")
    r.close()

    shutil.copy(recording, path)
    r = ReplayFeed(path, speed=0.0)
    r.snapshot_now("QQQ")
    path.unlink()
    with pytest.raises(FeedError, match="deleted during the replay"):
        r.snapshot_now("QQQ")
    r.close()

    shutil.copy(recording, path)
    r = ReplayFeed(path, speed=0.0)
    r.snapshot_now("QQQ")
    replacement = tmp_path / "other.sqlite"
    shutil.copy(recording, replacement)
    os.replace(replacement, path)
    with pytest.raises(FeedError, match="replaced by another file"):
        r.snapshot_now("QQQ")
    r.close()


@pytest.mark.parametrize(
    "kind", ["zero-byte", "truncated", "corrupted", "not-sqlite", "other-schema"]
)
@pytest.mark.parametrize("command", ["replay", "analyze"])
def test_cli_on_a_bad_recording_is_one_line_and_exit_2(
    command: str, kind: str, recording: Path, tmp_path: Path
) -> None:
    """The real `hedgeflow replay BAD` (before any screen is drawn) and `hedgeflow analyze
    --feed replay --path BAD`: exit 2, one line naming the file and the problem."""
    bad = _bad_recording(kind, recording, tmp_path)
    argv = {
        "replay": ["replay", str(bad)],
        "analyze": ["analyze", "--feed", "replay", "--path", str(bad), "--symbol", "SPY"],
    }[command]
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    proc = subprocess.run(
        [sys.executable, "-m", "hedgeflow.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(bad) in lines[0] and re.search(BAD[kind], lines[0]), lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_replay_follows_a_growing_recording(tmp_path: Path) -> None:
    """Rows committed after the replay opened the file are picked up on the next poll."""
    path = tmp_path / "live.sqlite"
    f = SimFeed(seed=3, start=START, speed=0.0, symbols=["SPY"])
    rec = Recorder(path)
    rec.write(f.chain_at("SPY", START), feed="sim", fetched_at=START)
    r = ReplayFeed(path, speed=0.0)
    assert r.snapshot_now("SPY").as_of == START
    later = START + timedelta(seconds=30)
    rec.write(f.chain_at("SPY", later), feed="sim", fetched_at=later)
    assert r.snapshot_now("SPY").as_of == later.astimezone(UTC)
    rec.close()
    r.close()
