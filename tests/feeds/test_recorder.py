"""The SQLite recorder: format, durability under SIGKILL, the polling loop, no secrets."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from hedgeflow.engine.chain import ARRAY_FIELDS, OptionChain
from hedgeflow.feeds.errors import FeedUnavailable
from hedgeflow.feeds.recorder import Recorder, decode_chain, encode_chain, read_rows, record
from hedgeflow.feeds.replay import ReplayFeed, iter_snapshots
from hedgeflow.feeds.sim import NY, SimFeed

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 18, 10, 30, tzinfo=NY)  # a Wednesday session


def assert_same_chain(a: OptionChain, b: OptionChain) -> None:
    assert (a.symbol, a.as_of, a.spot, a.spot_note, a.source) == (
        b.symbol,
        b.as_of,
        b.spot,
        b.spot_note,
        b.source,
    )
    for name in ARRAY_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert np.array_equal(x, y), name


def sim(seed: int = 5) -> SimFeed:
    return SimFeed(seed=seed, start=START, speed=0.0)


def test_payload_round_trip_is_exact() -> None:
    chain = sim().chain_at("SPY", START + timedelta(minutes=30))
    blob = encode_chain(chain)
    assert len(blob) < len(chain) * 120  # compressed: ~ well under the JSON size
    assert_same_chain(decode_chain(blob), chain)
    with pytest.raises(ValueError, match="corrupt"):
        decode_chain(b"not zlib")


def test_schema_wal_and_one_row_per_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "rec.sqlite"
    f = sim()
    with Recorder(path) as rec:
        assert rec._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert rec._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        for i, sym in enumerate(["SPX", "SPY", "SPX"]):
            when = START + timedelta(seconds=10 * i)
            rec.write(f.chain_at(sym, when), feed="sim", fetched_at=when + timedelta(seconds=0.25))
    db = sqlite3.connect(path)
    cols = [r[1] for r in db.execute("PRAGMA table_info(snapshots)")]
    assert cols == ["id", "symbol", "as_of", "fetched_at", "feed", "payload"]
    index_cols = [r[2] for r in db.execute("PRAGMA index_info(snapshots_symbol_as_of)")]
    assert index_cols == ["symbol", "as_of"]
    rows = list(read_rows(path))
    assert [r[1] for r in rows] == ["SPX", "SPY", "SPX"]
    assert rows[1][2] == (START + timedelta(seconds=10)).timestamp()
    assert rows[1][3] == pytest.approx(rows[1][2] + 0.25)
    assert [r[1] for r in read_rows(path, "spx")] == ["SPX", "SPX"]


def test_recorder_kill_9_loses_at_most_the_snapshot_being_written(tmp_path: Path) -> None:
    """A real recorder process writing a WAL file is SIGKILLed mid-run; every committed
    snapshot reads back intact and equals what the deterministic sim gives at its as-of."""
    out = tmp_path / "killed.sqlite"
    cmd = [
        sys.executable,
        "-m",
        "hedgeflow.feeds.recorder",
        "--feed",
        "sim",
        "--symbols",
        "SPX,SPY",
        "--interval",
        "0.05",
        "--out",
        str(out),
        "--seed",
        "11",
        "--start",
        START.isoformat(),
        "--speed",
        "60",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    seen = 0
    try:
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline and seen < 8:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            if out.exists():
                try:
                    seen = sum(1 for _ in read_rows(out))  # a reader while the writer writes
                except sqlite3.OperationalError:
                    seen = 0  # schema not created yet
            time.sleep(0.05)
        assert seen >= 8, "the recorder did not write 8 snapshots in time"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    # The WAL file is left behind un-checkpointed, as after a crash.
    db = sqlite3.connect(out)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    chains = list(iter_snapshots(out))
    assert len(chains) >= seen  # nothing the reader saw committed was lost
    reference = SimFeed(seed=11, start=START, speed=0.0)
    for chain in chains:
        assert_same_chain(chain, reference.chain_at(chain.symbol, chain.as_of))
    # The replay feed reads the same file.
    replay = ReplayFeed(out, speed=0.0)
    first = replay.snapshot_now("SPX")
    assert_same_chain(first, next(c for c in chains if c.symbol == "SPX"))
    replay.close()


class FlakyFeed:
    """Wraps a sim feed; every other snapshot fails. Carries a secret that must never be
    written to a recording."""

    name = "flaky"
    delay_seconds = 0.0
    token = "sekret-token-0123456789"

    def __init__(self) -> None:
        self.inner = sim()
        self.calls = 0

    async def __aenter__(self) -> FlakyFeed:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def snapshot(self, symbol: str) -> OptionChain:
        self.calls += 1
        self.inner.advance(5)
        if self.calls % 2 == 0:
            raise FeedUnavailable(
                f"upstream 503 with Authorization: Bearer {self.token}", vendor="flaky", status=503
            )
        return await self.inner.snapshot(symbol)

    async def expirations(self, symbol: str) -> list[datetime]:
        return await self.inner.expirations(symbol)

    def clock(self) -> datetime:
        return self.inner.clock()


async def test_record_loop_survives_feed_errors_and_never_records_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "flaky.sqlite"
    feed = FlakyFeed()
    n = await record(feed, ["spx"], interval=0.0, out=out, max_snapshots=4)
    assert n == 4
    assert feed.calls == 7  # 4 good, 3 failures logged in between
    assert sum("record SPX" in r.getMessage() for r in caplog.records) == 3
    rows = list(read_rows(out))
    assert [r[4] for r in rows] == ["flaky"] * 4
    # Each row's fetched_at is the feed's clock, as_of the chain's.
    for r in rows:
        assert r[3] >= r[2]
    data = out.read_bytes() + (
        out.with_name(out.name + "-wal").read_bytes()
        if out.with_name(out.name + "-wal").exists()
        else b""
    )
    assert FlakyFeed.token.encode() not in data
    for chain in iter_snapshots(out):
        assert FlakyFeed.token not in repr(chain)


async def test_record_stops_on_event(tmp_path: Path) -> None:
    out = tmp_path / "stop.sqlite"
    stop = asyncio.Event()
    feed = sim()

    async def stopper() -> None:
        for _ in range(3000):
            if out.exists() and sum(1 for _ in read_rows(out)) >= 2:
                break
            await asyncio.sleep(0.01)
        stop.set()

    task = asyncio.create_task(stopper())
    n = await asyncio.wait_for(record(feed, ["SPY"], interval=0.01, out=out, stop=stop), timeout=30)
    await task
    assert n >= 2
    assert len(list(iter_snapshots(out, "SPY"))) == n


async def test_record_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="interval"):
        await record(sim(), ["SPX"], interval=-1, out=tmp_path / "x.sqlite")
    with pytest.raises(ValueError, match="symbols"):
        await record(sim(), [], interval=1, out=tmp_path / "x.sqlite")
