"""Recording feed snapshots to a SQLite file that survives a crash, for `replay`.

File format (schema version 2, `PRAGMA user_version`; version 0/1 files hold only
`snapshots` and still replay):

    snapshots(id INTEGER PRIMARY KEY, symbol TEXT, as_of REAL, fetched_at REAL,
              feed TEXT, payload BLOB)
    index snapshots_symbol_as_of ON snapshots(symbol, as_of)
    history(id INTEGER PRIMARY KEY, symbol TEXT, time REAL, clock REAL, row TEXT,
            curves BLOB)
    index history_symbol_clock ON history(symbol, clock)

`history` (version 2) holds the monitor's level history, one row an applied analysis:
`time` its data time and `clock` the feed's clock when its run was submitted (what a
replay's tape is compared with; epoch seconds UTC), `row` the history row as JSON text, `curves` its
curve sample as a blob (NULL for none). The feeds layer stores them opaque: their encoding
is `hedgeflow.app.history_store`'s (docs/HISTORY.md). `hedgeflow record` runs no engine
and writes no history. A reader that predates version 2 ignores the extra table.

`as_of` and `fetched_at` are epoch seconds (UTC); `payload` is the zlib-compressed UTF-8
normalized chain JSON (`hedgeflow.engine.chain.chain_to_dict`). Only the normalized chain is
stored, never a request, header or credential.

Durability: WAL journal with `synchronous=FULL`, one transaction a snapshot. Each commit
is fsynced before `write` returns, so a kill -9 (or a power cut) loses at most the
snapshot being written; readers can open the file while the recorder writes
(`hedgeflow.feeds.replay` opens it read-only). The WAL is checkpointed into the main file
every `CHECKPOINT_SNAPSHOTS` snapshots or `CHECKPOINT_SECONDS` seconds, and fully on
close, so after a crash the data is in the `.sqlite` file itself, not only in its `-wal`.

One recorder a file: a `Recorder` holds an exclusive advisory lock (`flock`) on the
sidecar `<file>.lock` while it is open; a second recorder is refused with one line. The
kernel drops the lock when the process dies, so a crashed recorder never blocks the next.

Failures are `RecordingError` (a `FeedError` and a `ValueError`) with one line naming the
file and the problem: "disk is full", "recorded by another process", a file that is not a
recording. `record` is the polling loop behind `hedgeflow record` (see its docstring for
how it backs off).
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import logging
import math
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from hedgeflow.engine.chain import OptionChain, chain_from_dict, chain_to_dict
from hedgeflow.feeds.base import Feed
from hedgeflow.feeds.errors import FeedAuthError, FeedError

log = logging.getLogger(__name__)
# A library logger: records reach the handlers the application configured (the monitor's
# log file), never Python's last-resort stderr handler, which would print a second copy of
# the one-line error a command prints.
log.addHandler(logging.NullHandler())

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY,
    symbol TEXT NOT NULL,
    as_of REAL NOT NULL,
    fetched_at REAL NOT NULL,
    feed TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_symbol_as_of ON snapshots(symbol, as_of);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY,
    symbol TEXT NOT NULL,
    time REAL NOT NULL,
    clock REAL NOT NULL,
    row TEXT NOT NULL,
    curves BLOB
);
CREATE INDEX IF NOT EXISTS history_symbol_clock ON history(symbol, clock);
"""

#: `PRAGMA user_version` of a file this module writes: 2 added the `history` table (files
#: of version 0, the first recorder, hold snapshots only and are upgraded when appended to).
SCHEMA_VERSION = 2

#: Columns of the `history` table, in order.
HISTORY_COLUMNS = ("id", "symbol", "time", "clock", "row", "curves")

#: Columns of the `snapshots` table, in order (what a reader checks).
COLUMNS = ("id", "symbol", "as_of", "fetched_at", "feed", "payload")

#: The WAL is copied into the main file after this many snapshots ...
CHECKPOINT_SNAPSHOTS = 32
#: ... or this many seconds (monotonic), whichever comes first.
CHECKPOINT_SECONDS = 10.0

#: `record`: the first retry of a failing symbol waits max(interval, MIN_BACKOFF) seconds,
#: each further failure doubles the wait, up to MAX_BACKOFF (a vendor's Retry-After wins
#: when longer).
MIN_BACKOFF = 1.0
MAX_BACKOFF = 60.0


class RecordingError(FeedError, ValueError):
    """A recording that cannot be written or read. `str(exc)` is one line:
    "<path>: <problem>"."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = " ".join(problem.split())  # one line, whatever sqlite said
        super().__init__(f"{self.path}: {self.problem}")


def sqlite_problem(exc: sqlite3.Error) -> str:
    """One line for a SQLite error: SQLITE_FULL reads "disk is full", a damaged file
    "corrupted", whatever the message (and a masking "cannot rollback") said."""
    code = getattr(exc, "sqlite_errorcode", None)
    text = " ".join(str(exc).split())
    if code == sqlite3.SQLITE_FULL or "disk is full" in text:
        return "disk is full"
    if code == sqlite3.SQLITE_CORRUPT or "malformed" in text:
        return "corrupted (the database image is malformed)"
    if code == sqlite3.SQLITE_NOTADB or "not a database" in text:
        return "not a SQLite file"
    if code == sqlite3.SQLITE_READONLY or "readonly" in text:
        return "read-only (cannot write)"
    return text or type(exc).__name__


def encode_chain(chain: OptionChain) -> bytes:
    """zlib-compressed normalized chain JSON (NaN as null, strict JSON)."""
    text = json.dumps(chain_to_dict(chain), separators=(",", ":"), allow_nan=False)
    return zlib.compress(text.encode("utf-8"), 6)


def decode_chain(payload: bytes) -> OptionChain:
    """Inverse of `encode_chain`; raises ValueError on a corrupt or foreign payload."""
    try:
        data = json.loads(zlib.decompress(payload).decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"corrupt snapshot payload: {exc}") from None
    return chain_from_dict(data)


class _FileLock:
    """An exclusive, non-blocking `flock` on `path` (created if missing), removed on release.

    After locking, the path must still name the locked file: a holder that released (and
    unlinked) it between our open and our lock would otherwise leave two holders."""

    def __init__(self, path: Path) -> None:
        self.path = path
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise BlockingIOError(exc.errno, "locked") from None
                raise
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd: int | None = fd
                return
            os.close(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None


class Recorder:
    """Append-only SQLite recording of snapshots; a context manager.

    `write(chain, feed=..., fetched_at=...)` stores one snapshot in its own committed
    transaction and returns its row id. Raises `RecordingError` (one line) when the file
    cannot be created, is locked by another recorder, is not a recording, or a write fails
    (the disk is full): the failure is logged, and the rows committed before it stay.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.count = 0
        self._db: sqlite3.Connection | None = None
        # One statement sequence at a time: `close` (an event loop cancelled by Ctrl-C) must
        # wait for a `write` still running in a worker thread, or SQLite crashes the process.
        self._mutex = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = _FileLock(self.path.with_name(self.path.name + ".lock"))
        except BlockingIOError:
            raise self._fail("another recorder is writing this file") from None
        except OSError as exc:
            raise self._fail(f"cannot create ({exc.strerror or exc})") from None
        try:
            self._db = self._open()
        except BaseException:
            self.close()
            raise
        self._since_checkpoint = 0
        self._checkpointed_at = time.monotonic()

    def _fail(self, problem: str) -> RecordingError:
        err = RecordingError(self.path, problem)
        log.error("recording %s", err)
        return err

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: autocommit; each write is an explicit BEGIN/COMMIT.
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._fail(f"cannot open: {sqlite_problem(exc)}") from None
        try:
            # Someone else's database is refused before anything in it changes.
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables - {"snapshots", "history"}:
                raise self._fail("a SQLite database but not a hedgeflow recording")
            columns = tuple(r[1] for r in db.execute("PRAGMA table_info(snapshots)"))
            if tables and columns != COLUMNS:
                raise self._fail(
                    "not a hedgeflow recording (its `snapshots` table has other columns)"
                )
            hcols = tuple(r[1] for r in db.execute("PRAGMA table_info(history)"))
            if "history" in tables and hcols != HISTORY_COLUMNS:
                raise self._fail(
                    "not a hedgeflow recording (its `history` table has other columns)"
                )
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise self._fail(
                    f"written by a newer hedgeflow (schema version {version}, this one "
                    f"writes {SCHEMA_VERSION}): record to a new file"
                )
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise self._fail(f"cannot switch the journal to WAL (got {mode!r})")
            # FULL: the WAL is fsynced at every commit, so a committed snapshot survives
            # kill -9 and power loss; NORMAL would survive kill -9 but could lose the last
            # commits on a power cut. One fsync per snapshot is cheap at polling rates.
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            # The schema into the main file now: after a crash it is a recording on its own.
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            db.close()
            raise self._fail(sqlite_problem(exc)) from None
        except BaseException:
            db.close()
            raise
        return db

    def write(self, chain: OptionChain, *, feed: str, fetched_at: datetime | float) -> int:
        fetched = fetched_at.timestamp() if isinstance(fetched_at, datetime) else float(fetched_at)
        payload = encode_chain(chain)
        with self._mutex:
            return self._insert(chain, feed, fetched, payload)

    def _insert(self, chain: OptionChain, feed: str, fetched: float, payload: bytes) -> int:
        if self._db is None:
            raise self._fail("the recording is closed")
        cur = self._db.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            cur.execute(
                "INSERT INTO snapshots(symbol, as_of, fetched_at, feed, payload) VALUES (?, ?, ?, ?, ?)",
                (chain.symbol, chain.as_of_epoch, fetched, feed, payload),
            )
            row = int(cur.lastrowid or 0)
            cur.execute("COMMIT")
        except sqlite3.Error as exc:
            # SQLite may already have rolled back (SQLITE_FULL does): a ROLLBACK then fails
            # with "cannot rollback" and would hide the real error.
            self._rollback()
            raise self._fail(
                f"{sqlite_problem(exc)} (snapshot {self.count + 1} of {chain.symbol} not written)"
            ) from None
        except BaseException:
            self._rollback()
            raise
        self.count += 1
        self._counted()
        return row

    def _counted(self) -> None:
        """One more committed transaction: checkpoint when one is due."""
        self._since_checkpoint += 1
        if (
            self._since_checkpoint >= CHECKPOINT_SNAPSHOTS
            or time.monotonic() - self._checkpointed_at >= CHECKPOINT_SECONDS
        ):
            self.checkpoint()

    def write_history(
        self, symbol: str, data_time: float, clock: float, row: str, curves: bytes | None
    ) -> int:
        """Store one level-history row (opaque here: `row` JSON text, `curves` a blob or
        None; `data_time` and `clock` epoch seconds UTC, see the module docstring) in its own committed transaction, durable as a
        snapshot is; returns its row id. Raises `RecordingError` as `write` does."""
        with self._mutex:
            if self._db is None:
                raise self._fail("the recording is closed")
            cur = self._db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                cur.execute(
                    "INSERT INTO history(symbol, time, clock, row, curves) VALUES (?, ?, ?, ?, ?)",
                    (symbol.upper(), float(data_time), float(clock), row, curves),
                )
                row_id = int(cur.lastrowid or 0)
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise self._fail(
                    f"{sqlite_problem(exc)} (history row of {symbol} not written)"
                ) from None
            except BaseException:
                self._rollback()
                raise
            self._counted()
            return row_id

    def _rollback(self) -> None:
        if self._db is not None and self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the connection is closed or SQLite rolled back itself

    def checkpoint(self, mode: str = "PASSIVE") -> None:
        """Copy committed WAL frames into the main file. PASSIVE never waits for readers (a
        replay reading an old snapshot keeps its frames for the next checkpoint); TRUNCATE
        (on close) waits briefly and empties the WAL. A failed checkpoint is logged, not
        raised: the WAL still holds every committed snapshot."""
        with self._mutex:
            if self._db is None:
                return
            try:
                self._db.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            except sqlite3.Error as exc:
                log.warning("recording %s: checkpoint failed: %s", self.path, sqlite_problem(exc))
            self._since_checkpoint = 0
            self._checkpointed_at = time.monotonic()

    def close(self) -> None:
        with self._mutex:
            if self._db is not None:
                try:
                    self._db.execute("PRAGMA busy_timeout=2000")
                    self.checkpoint("TRUNCATE")
                finally:
                    self._db.close()
                    self._db = None
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.release()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_rows(
    path: str | Path, symbol: str | None = None
) -> Iterator[tuple[int, str, float, float, str, bytes]]:
    """(id, symbol, as_of, fetched_at, feed, payload) rows in recording order, read-only.
    Works while another process writes (WAL readers see the last committed state)."""
    uri = f"file:{Path(path).resolve()}?mode=ro"
    db = sqlite3.connect(uri, uri=True)
    try:
        sql = "SELECT id, symbol, as_of, fetched_at, feed, payload FROM snapshots"
        args: tuple[Any, ...] = ()
        if symbol is not None:
            sql += " WHERE symbol = ?"
            args = (symbol.upper(),)
        yield from db.execute(sql + " ORDER BY id", args)
    finally:
        db.close()


HistoryRecord = tuple[str, float, str, bytes | None]


def read_history(
    path: str | Path, symbol: str | None = None, until: float | None = None
) -> list[HistoryRecord]:
    """The stored level-history rows (symbol, time, row JSON text, curves blob or None) in
    recording order (the order the monitor added them), of `symbol` or all, with clock <=
    `until` (epoch seconds: a replay's tape) when given; [] for a recording without a `history` table (schema
    version < 2). Read-only, safe while a recorder writes. Raises `RecordingError` (one
    line) when the file cannot be read."""
    uri = f"file:{Path(path).resolve()}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise RecordingError(path, f"cannot open: {sqlite_problem(exc)}") from None
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "history" not in tables:
            return []
        columns = tuple(r[1] for r in db.execute("PRAGMA table_info(history)"))
        if columns != HISTORY_COLUMNS:
            raise RecordingError(
                path, f"not a hedgeflow recording: table `history` has columns {', '.join(columns)}"
            )
        sql = "SELECT symbol, time, row, curves FROM history WHERE 1"
        args: list[Any] = []
        if symbol is not None:
            sql += " AND symbol = ?"
            args.append(symbol.upper())
        if until is not None:
            sql += " AND clock <= ?"
            args.append(float(until))
        return [
            (str(s), float(t), str(r), None if c is None else bytes(c))
            for s, t, r, c in db.execute(sql + " ORDER BY id", args)
        ]
    except sqlite3.Error as exc:
        raise RecordingError(path, sqlite_problem(exc)) from None
    finally:
        db.close()


def history_counts(path: str | Path) -> dict[str, int]:
    """Stored level-history rows per symbol ({} for a recording without the table).
    Raises `RecordingError` when the file cannot be read."""
    uri = f"file:{Path(path).resolve()}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise RecordingError(path, f"cannot open: {sqlite_problem(exc)}") from None
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "history" not in tables:
            return {}
        sql = "SELECT symbol, count(*) FROM history GROUP BY symbol"
        return {str(s): int(n) for s, n in db.execute(sql)}
    except sqlite3.Error as exc:
        raise RecordingError(path, sqlite_problem(exc)) from None
    finally:
        db.close()


def retry_wait(failures: int, interval: float, error: FeedError) -> float:
    """Seconds before polling a symbol again after its `failures`-th consecutive failure
    (>= 1): base = max(interval, MIN_BACKOFF), doubled per further failure and capped at
    MAX_BACKOFF (but never below base: a failing vendor is not polled faster than a healthy
    one), and never shorter than the feed's `retry_after` (a vendor's Retry-After is
    honoured in full, however long)."""
    if failures < 1:
        raise ValueError("`failures` counts from 1")
    base = max(interval, MIN_BACKOFF)
    wait = max(min(base * 2.0 ** min(failures - 1, 30), MAX_BACKOFF), base)
    suggested = error.retry_after
    if suggested is not None and math.isfinite(suggested):
        wait = max(wait, float(suggested))
    return wait


async def record(
    feed: Feed,
    symbols: Sequence[str],
    *,
    interval: float,
    out: str | Path | Recorder,
    stop: asyncio.Event | None = None,
    max_snapshots: int | None = None,
    progress: Callable[[int, str, FeedError | None], None] | None = None,
) -> int:
    """Poll `feed` for every symbol every `interval` seconds and append each snapshot to the
    SQLite file `out` (a path, or a `Recorder` already open on it: a caller that refuses a bad
    file before it prints anything; it is closed here) until `stop` is set or `max_snapshots`
    were written. Returns the number of snapshots written.

    Errors: an authentication error (`FeedAuthError`) stops the recording and is raised
    (retrying cannot help; its message names what to set). Any other feed error is logged
    and that symbol backs off (`retry_wait`: exponential, a vendor's Retry-After never
    shortened) while the others keep their pace. A write that fails (disk full) raises
    `RecordingError`. The snapshots written before a failure stay in the file.

    `fetched_at` is the feed's clock at the fetch (the sim's or replay's own clock; the wall
    clock for real feeds), so a replay reproduces the recorded pacing.

    `progress(written, symbol, error)` is called after each snapshot written (error None)
    and after each feed error that is retried (`written` is the count so far): what the
    `record` command shows while it runs.
    """
    if not interval >= 0:
        raise ValueError("`interval` must be >= 0 seconds")
    symbols = [s.upper() for s in symbols]
    if not symbols:
        raise ValueError("`symbols`: nothing to record")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    due = dict.fromkeys(symbols, loop.time())
    failures = dict.fromkeys(symbols, 0)
    with out if isinstance(out, Recorder) else Recorder(out) as rec:
        async with feed:
            while not stop.is_set():
                for symbol in symbols:
                    started = loop.time()
                    if due[symbol] > started or stop.is_set():
                        continue
                    try:
                        chain = await feed.snapshot(symbol)
                    except FeedAuthError as exc:
                        log.error("record %s: %s (recording stopped)", symbol, exc)
                        raise
                    except FeedError as exc:
                        failures[symbol] += 1
                        wait = retry_wait(failures[symbol], interval, exc)
                        due[symbol] = loop.time() + wait
                        log.warning("record %s: %s (next try in %.3g s)", symbol, exc, wait)
                        if progress is not None:
                            progress(rec.count, symbol, exc)
                        continue
                    failures[symbol] = 0
                    due[symbol] = started + interval
                    fetched = feed.clock()
                    # The SQLite write is a few ms (compress + fsync): off the event loop.
                    write = asyncio.ensure_future(
                        asyncio.to_thread(rec.write, chain, feed=feed.name, fetched_at=fetched)
                    )
                    try:
                        await asyncio.shield(write)
                    except asyncio.CancelledError:
                        # Ctrl-C during a write: the thread commits it regardless, so it is
                        # counted before stopping (the summary says what the file holds).
                        await write
                        if progress is not None:
                            progress(rec.count, symbol, None)
                        raise
                    if progress is not None:
                        progress(rec.count, symbol, None)
                    if max_snapshots is not None and rec.count >= max_snapshots:
                        return rec.count
                wait = max(0.0, min(due.values()) - loop.time())
                try:
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                except TimeoutError:
                    pass
        return rec.count
