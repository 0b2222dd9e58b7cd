"""Replay: the clock at recorded and accelerated speed, stepping, looping, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hedgeflow.feeds.base import Feed, open_feed
from hedgeflow.feeds.errors import FeedError, FeedUnavailable
from hedgeflow.feeds.recorder import Recorder
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
    with pytest.raises(FeedUnavailable, match="no such recording"):
        ReplayFeed(tmp_path / "missing.sqlite").snapshot_now("SPY")
    with pytest.raises(FileNotFoundError):
        list(iter_snapshots(tmp_path / "missing.sqlite"))
    empty = tmp_path / "empty.sqlite"
    Recorder(empty).close()
    with pytest.raises(FeedUnavailable, match="empty"):
        ReplayFeed(empty).clock()


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
