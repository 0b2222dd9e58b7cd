"""The SQLite recorder: format, durability under SIGKILL, the polling loop, no secrets."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from hedgeflow.engine.chain import ARRAY_FIELDS, OptionChain
from hedgeflow.feeds import recorder
from hedgeflow.feeds.errors import FeedUnavailable
from hedgeflow.feeds.recorder import (
    CHECKPOINT_SNAPSHOTS,
    Recorder,
    RecordingError,
    decode_chain,
    encode_chain,
    read_rows,
    record,
)
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


def test_a_recording_keeps_what_the_reader_dropped(tmp_path: Path) -> None:
    """The rows a reader dropped and the open interest they carried are part of the
    snapshot: a replay shows the same "left out" note as the live session did."""
    from dataclasses import replace

    chain = replace(
        sim().chain_at("SPY", START),
        dropped={"duplicate": 2, "nonstandard root": 1},
        dropped_open_interest={"duplicate": 27_622.0, "nonstandard root": 77_508.0},
    )
    path = tmp_path / "dropped.sqlite"
    with Recorder(path) as rec:
        rec.write(chain, feed="sim", fetched_at=START)
    (back,) = iter_snapshots(path)
    assert back.dropped == chain.dropped
    assert back.dropped_open_interest == chain.dropped_open_interest


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


def _sim_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[feeds.sim]\nseed = 11\nstart = "{START.isoformat()}"\nspeed = 60.0\n', encoding="utf-8"
    )
    return cfg


def _record_cmd(cfg: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hedgeflow.cli",
        "record",
        "--config",
        str(cfg),
        "--feed",
        "sim",
        "--symbols",
        "SPX,SPY",
        "--interval",
        "0.05",
        "--out",
        str(out),
        *extra,
    ]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(tmp_path)}


def test_recorder_kill_9_loses_at_most_the_snapshot_being_written(tmp_path: Path) -> None:
    """A real `hedgeflow record` process writing a WAL file is SIGKILLed mid-run: every
    committed snapshot reads back intact and equals what the deterministic sim gives at its
    as-of; a second recorder on the file is refused while the first runs, and the crash
    releases the lock.

    The main file without its -wal is not checked here: a kill that lands inside a checkpoint
    leaves pages of the main file half copied from the WAL, and SQLite repairs that only with
    the WAL beside it (main and WAL together are the durable pair, asserted below). That the
    main file alone holds every checkpointed snapshot between checkpoints is checked
    deterministically by `test_checkpoint_cadence_and_on_close`."""
    out = tmp_path / "killed.sqlite"
    cfg = _sim_config(tmp_path)
    proc = subprocess.Popen(
        _record_cmd(cfg, out),
        cwd=REPO,
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    want = 2 * CHECKPOINT_SNAPSHOTS + 8
    seen = 0
    try:
        deadline = time.monotonic() + 120.0
        while time.monotonic() < deadline and seen < want:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            if out.exists():
                try:
                    seen = sum(1 for _ in read_rows(out))  # a reader while the writer writes
                except sqlite3.OperationalError:
                    seen = 0  # schema not created yet
            time.sleep(0.05)
        assert seen >= want, f"the recorder wrote {seen} < {want} snapshots in time"
        second = subprocess.run(
            _record_cmd(cfg, out),
            cwd=REPO,
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"hedgeflow: error: {out}: another recorder is writing this file"
        ]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    # With the WAL left behind un-checkpointed, as after a crash: everything committed.
    db = sqlite3.connect(out)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    chains = list(iter_snapshots(out))
    # Nothing the reader saw committed was lost (the writer went on writing while the
    # second recorder was refused, so there may be more).
    assert len(chains) >= seen
    assert [c.as_of for c in chains] == sorted(c.as_of for c in chains)
    reference = SimFeed(seed=11, start=START, speed=0.0)
    for chain in chains:
        assert_same_chain(chain, reference.chain_at(chain.symbol, chain.as_of))
    # The replay feed reads the same file.
    replay = ReplayFeed(out, speed=0.0)
    first = replay.snapshot_now("SPX")
    assert_same_chain(first, next(c for c in chains if c.symbol == "SPX"))
    replay.close()
    # The dead process's lock went with it: a new recorder appends.
    with Recorder(out) as rec:
        rec.write(chains[0], feed="sim", fetched_at=START)
    assert sum(1 for _ in read_rows(out)) == len(chains) + 1


def test_checkpoint_cadence_and_on_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The main file alone holds every CHECKPOINT_SNAPSHOTS-th snapshot while recording, and
    everything after close (the WAL is emptied)."""
    monkeypatch.setattr(recorder, "CHECKPOINT_SECONDS", 1e9)  # count-driven only here
    path = tmp_path / "cp.sqlite"
    f = sim()
    rec = Recorder(path)
    chain = f.chain_at("SPY", START)

    copies = iter(range(1000))

    def rows_in_main_file() -> int:
        copy = tmp_path / f"copy{next(copies)}" / "main.sqlite"  # no -wal beside it
        copy.parent.mkdir()
        shutil.copy(path, copy)
        db = sqlite3.connect(copy)
        try:
            return int(db.execute("SELECT count(*) FROM snapshots").fetchone()[0])
        finally:
            db.close()

    for _ in range(CHECKPOINT_SNAPSHOTS - 1):
        rec.write(chain, feed="sim", fetched_at=START)
    assert rows_in_main_file() == 0  # still only in the WAL
    rec.write(chain, feed="sim", fetched_at=START)
    assert rows_in_main_file() == CHECKPOINT_SNAPSHOTS
    for _ in range(5):
        rec.write(chain, feed="sim", fetched_at=START)
    assert rows_in_main_file() == CHECKPOINT_SNAPSHOTS
    rec.close()
    assert rows_in_main_file() == CHECKPOINT_SNAPSHOTS + 5
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert not path.with_name(path.name + ".lock").exists()


def test_checkpoint_after_seconds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cp.sqlite"
    rec = Recorder(path)
    chain = sim().chain_at("SPY", START)
    rec.write(chain, feed="sim", fetched_at=START)
    monkeypatch.setattr(recorder, "CHECKPOINT_SECONDS", 0.0)
    rec.write(chain, feed="sim", fetched_at=START)
    copy = tmp_path / "copy.sqlite"
    shutil.copy(path, copy)
    assert sqlite3.connect(copy).execute("SELECT count(*) FROM snapshots").fetchone()[0] == 2
    rec.close()


def test_two_recorders_on_one_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "one.sqlite"
    chain = sim().chain_at("SPY", START)
    with Recorder(path) as first:
        with pytest.raises(RecordingError) as info:
            Recorder(path)
        assert str(info.value) == f"{path}: another recorder is writing this file"
        assert isinstance(info.value, ValueError)
        first.write(chain, feed="sim", fetched_at=START)
    with Recorder(path) as again:  # released on close
        again.write(chain, feed="sim", fetched_at=START)
    assert sum(1 for _ in read_rows(path)) == 2


def test_recorder_refuses_a_file_that_is_not_a_recording(tmp_path: Path) -> None:
    text = tmp_path / "notes.sqlite"
    text.write_text("hello\n" * 100)
    with pytest.raises(RecordingError, match="not a SQLite file"):
        Recorder(text)
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE snapshots (id INTEGER PRIMARY KEY, blob BLOB)")
    db.close()
    with pytest.raises(RecordingError, match="has other columns"):
        Recorder(other)
    prices = tmp_path / "prices.sqlite"
    db = sqlite3.connect(prices)
    db.execute("CREATE TABLE prices (t REAL, px REAL)")
    db.commit()
    db.close()
    before = prices.read_bytes()
    with pytest.raises(RecordingError, match="a SQLite database but not a hedgeflow recording"):
        Recorder(prices)
    assert text.read_text() == "hello\n" * 100  # untouched
    assert prices.read_bytes() == before


def test_a_full_database_says_disk_is_full_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLITE_FULL (here from `max_page_count`, as from a full disk) surfaces as "disk is
    full" in one line, not as the "cannot rollback" a blind ROLLBACK would raise; it is
    logged, and every snapshot committed before it reads back."""
    path = tmp_path / "full.sqlite"
    f = sim()
    rec = Recorder(path)
    assert rec._db is not None
    pages = rec._db.execute("PRAGMA page_count").fetchone()[0]
    rec._db.execute(f"PRAGMA max_page_count = {pages + 40}")
    written: list[datetime] = []
    with pytest.raises(RecordingError) as info:
        for i in range(200):
            when = START + timedelta(seconds=10 * i)
            rec.write(f.chain_at("SPY", when), feed="sim", fetched_at=when)
            written.append(when)
    rec.close()
    n = len(written)
    assert 0 < n < 200
    assert str(info.value) == f"{path}: disk is full (snapshot {n + 1} of SPY not written)"
    assert "rollback" not in str(info.value)
    assert any(r.levelname == "ERROR" and "disk is full" in r.getMessage() for r in caplog.records)
    assert [c.as_of for c in iter_snapshots(path)] == written


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs mounted for the test (root on Linux); skipped where mounting is not
    permitted."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if not sys.platform.startswith("linux") or shutil.which("mount") is None:
        pytest.skip("needs Linux mount")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_record_command_on_a_full_disk_says_so_in_one_line(tmp_path: Path, tiny_disk: Path) -> None:
    out = tiny_disk / "rec.sqlite"
    proc = subprocess.run(
        _record_cmd(_sim_config(tmp_path), out),
        cwd=REPO,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"hedgeflow: error: {out}: disk is full (snapshot ")
    assert "Traceback" not in proc.stderr
    # What was committed before the disk filled reads back.
    assert sum(1 for _ in read_rows(out)) >= 1


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
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder, "MIN_BACKOFF", 0.01)  # the backoff has its own tests
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


def test_history_rows_are_committed_when_written_and_read_back_opaque(tmp_path: Path) -> None:
    """A history row is its own committed transaction: a read-only reader sees it while the
    recorder is still open (as it sees a snapshot), bytes and text unchanged."""
    from hedgeflow.feeds.recorder import SCHEMA_VERSION, history_counts, read_history

    path = tmp_path / "h.sqlite"
    with Recorder(path) as rec:
        rec.write_history("spx", 100.0, 101.5, '{"a":1}', b"\x00\x01blob")
        rec.write_history("SPX", 100.0, 102.0, '{"a":2}', None)  # the same data time again
        rec.write_history("SPY", 99.0, 99.5, "{}", b"")
        assert read_history(path) == [
            ("SPX", 100.0, '{"a":1}', b"\x00\x01blob"),
            ("SPX", 100.0, '{"a":2}', None),
            ("SPY", 99.0, "{}", b""),
        ]
        assert read_history(path, "spx", until=101.9) == [
            ("SPX", 100.0, '{"a":1}', b"\x00\x01blob")
        ]
        assert history_counts(path) == {"SPX": 2, "SPY": 1}
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_history_table_of_other_columns_is_refused(tmp_path: Path) -> None:
    from hedgeflow.feeds.recorder import read_history

    path = tmp_path / "other.sqlite"
    Recorder(path).close()
    with sqlite3.connect(path) as db:
        db.executescript(
            "DROP TABLE history; CREATE TABLE history (id INTEGER PRIMARY KEY, x TEXT)"
        )
    with pytest.raises(RecordingError, match="`history` table has other columns"):
        Recorder(path)
    with pytest.raises(RecordingError, match="table `history` has columns id, x"):
        read_history(path)


async def test_a_stop_during_a_write_counts_the_snapshot_the_file_gets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C cancels `record` while a snapshot is being written on its thread: the thread
    commits it anyway, so the progress (and the command's summary) counts it too; the
    summary said one fewer than the file held."""
    import threading

    writing, release = threading.Event(), threading.Event()
    real_write = Recorder.write

    def slow_write(self: Recorder, *a: object, **kw: object) -> int:
        if self.count == 1:  # the second snapshot: hold it in the thread
            writing.set()
            release.wait(30)
        return real_write(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Recorder, "write", slow_write)
    out = tmp_path / "rec.sqlite"
    seen: list[int] = []
    task = asyncio.create_task(
        record(sim(), ["SPX"], interval=0.01, out=out, progress=lambda n, s, e: seen.append(n))
    )
    assert await asyncio.to_thread(writing.wait, 30)
    task.cancel()
    await asyncio.sleep(0.05)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    with sqlite3.connect(out) as db:
        rows = db.execute("select count(*) from snapshots").fetchone()[0]
    assert rows == 2 and seen[-1] == rows
