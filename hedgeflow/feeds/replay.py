"""Replaying a recording made by `hedgeflow.feeds.recorder`, at recorded or accelerated speed.

The replay timeline is the recorded `fetched_at` (when the recording monitor received
each snapshot), so data age on the replayed screen is what it was live (a 15-minute
delayed feed stays 15 minutes old). The replay clock is

    clock = first fetched_at + speed * (wall seconds since start) + advance(...)

(speed 1 = as recorded, 60 = sixty times faster) and `snapshot(symbol)` returns the
latest snapshot of the symbol fetched at or before the clock; before the symbol's first
snapshot it returns that first one. Past the end the last snapshot stays (and ages on
screen) unless `loop` is set, which wraps the clock to the start. Speed 0 steps instead:
each `snapshot(symbol)` returns the symbol's next recorded snapshot, as fast as polled,
and the clock is the fetched_at of the snapshot last returned.

The file is opened read-only and re-indexed on every poll, so a recording that another
process is still writing can be replayed (WAL readers see every committed snapshot).

Bad recordings are refused when the feed is built (`check_recording`): a missing,
unreadable, zero-byte, truncated, corrupted, non-SQLite or other-schema file, or one with
no snapshot, raises `RecordingError` (a ValueError and a FeedError) with one line naming the
file and the problem. `symbols` names the underlyings recorded, sorted. A file that goes
bad during a replay (deleted, truncated, replaced, a damaged snapshot) raises
`RecordingError` from `snapshot`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hedgeflow.engine.chain import OptionChain
from hedgeflow.feeds.errors import FeedError
from hedgeflow.feeds.recorder import COLUMNS, RecordingError, decode_chain, sqlite_problem

log = logging.getLogger(__name__)

_CONFIG_KEYS = ("path", "speed", "loop")

#: The first 16 bytes of every SQLite 3 database file.
SQLITE_MAGIC = b"SQLite format 3\x00"


def _header_problem(path: Path) -> str | None:
    """What is wrong with the file before SQLite opens it (None: looks like a database)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "no such recording"
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    if path.is_dir():
        return "is a directory, not a recording"
    if st.st_size == 0:
        return "empty file (0 bytes), not a recording"
    try:
        with path.open("rb") as f:
            head = f.read(100)
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    if not head.startswith(SQLITE_MAGIC[: len(head)]) or len(head) < len(SQLITE_MAGIC):
        if head.startswith(SQLITE_MAGIC[: len(head)]):
            return f"truncated ({st.st_size} bytes, not even a SQLite header)"
        return "not a SQLite file, so not a hedgeflow recording"
    if len(head) < 100:
        return f"truncated ({st.st_size} bytes, shorter than the SQLite header)"
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    # The page count is valid when the change counter matches "version-valid-for", and
    # final unless a WAL is being checkpointed into the file (a live or crashed recorder):
    # then SQLite's own check below judges.
    try:
        settled = path.with_name(path.name + "-wal").stat().st_size == 0
    except OSError:
        settled = True  # no WAL beside it
    if settled and head[24:28] == head[92:96] and pages and st.st_size < pages * page_size:
        return (
            f"truncated ({st.st_size} bytes; its header says {pages} pages of {page_size} = "
            f"{pages * page_size} bytes)"
        )
    return None


def _connect_ro(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise RecordingError(path, f"cannot open: {sqlite_problem(exc)}") from None


def check_recording(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to the recording `path` after checking that it is one: the
    file exists and is readable, is a whole SQLite database that passes SQLite's
    `quick_check` (reads every page once), has the recorder's `snapshots` table and at
    least one snapshot whose payload decodes. Raises `RecordingError` (one line)."""
    p = Path(path)
    problem = _header_problem(p)
    if problem is not None:
        raise RecordingError(p, problem)
    db = _connect_ro(p)
    try:
        try:
            check = [str(r[0]) for r in db.execute("PRAGMA quick_check(1)")]
            if check != ["ok"]:
                # "*** in database main ***\nOn tree page 7 cell 0: ..." -> its first finding
                lines = [ln for ln in "\n".join(check).splitlines() if "***" not in ln]
                first = lines[0].strip() if lines else "failed"
                raise RecordingError(p, f"corrupted (SQLite integrity check: {first})")
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "snapshots" not in tables:
                shown = ", ".join(sorted(tables)[:5]) or "no tables"
                raise RecordingError(
                    p, f"a SQLite database but not a hedgeflow recording (it has {shown})"
                )
            columns = tuple(r[1] for r in db.execute("PRAGMA table_info(snapshots)"))
            if columns != COLUMNS:
                raise RecordingError(
                    p,
                    "not a hedgeflow recording: table `snapshots` has columns "
                    f"{', '.join(columns)} (expected {', '.join(COLUMNS)})",
                )
            first = db.execute("SELECT id, payload FROM snapshots ORDER BY id LIMIT 1").fetchone()
        except sqlite3.Error as exc:
            raise RecordingError(p, sqlite_problem(exc)) from None
        if first is None:
            raise RecordingError(p, "holds no snapshots (an empty recording)")
        try:
            decode_chain(first[1])
        except (ValueError, TypeError, KeyError) as exc:
            raise RecordingError(p, f"corrupted: snapshot {first[0]}: {exc}") from None
    except BaseException:
        db.close()
        raise
    return db


def iter_snapshots(path: str | Path, symbol: str | None = None) -> Iterator[OptionChain]:
    """Every recorded snapshot (of `symbol`, or all) in recording order, decoded. The file
    is checked first (`check_recording`); a payload that does not decode raises
    `RecordingError` (SQLite never exposes a half-written row, so the file was damaged by
    other means, and a session folded over a gap would be wrong)."""
    db = check_recording(path)
    try:
        sql = "SELECT id, payload FROM snapshots"
        args: tuple[Any, ...] = ()
        if symbol is not None:
            sql += " WHERE symbol = ?"
            args = (symbol.upper(),)
        try:
            rows = db.execute(sql + " ORDER BY id", args)
            for row_id, payload in rows:
                try:
                    chain = decode_chain(payload)
                except (ValueError, TypeError, KeyError) as exc:
                    raise RecordingError(path, f"corrupted: snapshot {row_id}: {exc}") from None
                yield chain
        except sqlite3.Error as exc:
            raise RecordingError(path, sqlite_problem(exc)) from None
    finally:
        db.close()


def recorded_symbols(path: str | Path) -> list[str]:
    """Symbols present in a recording, sorted (the file is checked first)."""
    db = check_recording(path)
    try:
        return [r[0] for r in db.execute("SELECT DISTINCT symbol FROM snapshots ORDER BY symbol")]
    except sqlite3.Error as exc:
        raise RecordingError(path, sqlite_problem(exc)) from None
    finally:
        db.close()


class ReplayFeed:
    """A recording as a `Feed` (see the module docstring for the clock). Building one checks
    the file (`check_recording`) and indexes it; `symbols` are the recorded underlyings."""

    name = "replay"

    def __init__(
        self,
        path: str | Path,
        *,
        speed: float = 1.0,
        loop: bool = False,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        if not speed >= 0:
            raise ValueError("`speed` must be >= 0 (0 = one recorded snapshot per poll)")
        self.path = Path(path)
        self.speed = float(speed)
        self.loop = bool(loop)
        self.delay_seconds = 0.0
        self._wall = wall
        self._last_id = 0
        self._ids: dict[str, list[int]] = {}
        self._times: dict[str, list[float]] = {}
        self._first = np.nan
        self._end = np.nan
        self._t0 = np.nan
        self._w0 = wall()
        self._step_pos: dict[str, int] = {}
        self._step_clock = np.nan
        self._cache: dict[str, tuple[int, OptionChain]] = {}
        self._db: sqlite3.Connection | None = check_recording(self.path)
        self._stat = self._identity()
        self.refresh()
        #: The underlyings the recording holds, sorted.
        self.symbols: tuple[str, ...] = tuple(sorted(self._ids))

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> ReplayFeed:
        """From a `[feeds.replay]` table: path (required), speed (>= 0), loop (bool). Checks
        the recording now: raises ValueError (`RecordingError` for the file), one line."""
        unknown = sorted(set(section) - set(_CONFIG_KEYS))
        if unknown:
            raise ValueError(
                f"unknown key `feeds.replay.{unknown[0]}` (known: {', '.join(_CONFIG_KEYS)})"
            )
        path = section.get("path")
        if not path:
            raise ValueError("`feeds.replay.path` must name a recording")
        if not isinstance(path, str | os.PathLike):
            raise ValueError(f"`feeds.replay.path` must be a file name, not {path!r}")
        speed = section.get("speed", 1.0)
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not speed >= 0:
            raise ValueError(f"`feeds.replay.speed` must be a number >= 0, not {speed!r}")
        loop = section.get("loop", False)
        if not isinstance(loop, bool):
            raise ValueError(f"`feeds.replay.loop` must be true or false, not {loop!r}")
        return cls(os.path.expanduser(path), speed=float(speed), loop=loop)

    # -- index ------------------------------------------------------------------------------

    def _identity(self) -> tuple[int, int, int]:
        """(device, inode, size) of the file; a recording only grows."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise RecordingError(self.path, "deleted during the replay") from None
        except OSError as exc:
            raise RecordingError(self.path, f"cannot read ({exc.strerror or exc})") from None
        return st.st_dev, st.st_ino, st.st_size

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = _connect_ro(self.path)
        return self._db

    def refresh(self) -> int:
        """Index snapshots committed since the last call; returns how many were new. Raises
        `RecordingError` when the file was deleted, replaced or truncated since it was
        opened, or cannot be read."""
        now = self._identity()
        if now[:2] != self._stat[:2]:
            raise RecordingError(self.path, "replaced by another file during the replay")
        if now[2] < self._stat[2]:
            raise RecordingError(
                self.path, f"truncated during the replay ({self._stat[2]} -> {now[2]} bytes)"
            )
        self._stat = now
        db = self._connect()
        try:
            rows = db.execute(
                "SELECT id, symbol, fetched_at FROM snapshots WHERE id > ? ORDER BY id",
                (self._last_id,),
            ).fetchall()
        except sqlite3.Error as exc:
            raise RecordingError(self.path, sqlite_problem(exc)) from None
        for row_id, symbol, fetched in rows:
            ids = self._ids.setdefault(symbol, [])
            times = self._times.setdefault(symbol, [])
            # A clock that stepped back during recording must not break the search order.
            ids.append(int(row_id))
            times.append(max(float(fetched), times[-1]) if times else float(fetched))
            self._last_id = int(row_id)
            self._first = (
                float(fetched) if np.isnan(self._first) else min(self._first, float(fetched))
            )
            self._end = float(fetched) if np.isnan(self._end) else max(self._end, float(fetched))
        if np.isnan(self._t0) and not np.isnan(self._first):
            self._t0 = self._first  # the wall anchor stays: construction or entering
        return len(rows)

    # -- clock ------------------------------------------------------------------------------

    def _now(self) -> float:
        if np.isnan(self._t0):
            self.refresh()
            if np.isnan(self._t0):
                raise RecordingError(self.path, "holds no snapshots (an empty recording)")
        if self.speed == 0.0:
            return self._step_clock if not np.isnan(self._step_clock) else self._t0
        t = self._t0 + self.speed * (self._wall() - self._w0)
        if self.loop and t > self._end and self._end > self._first:
            t = self._first + (t - self._first) % (self._end - self._first)
        return t

    def clock(self) -> datetime:
        """Replay time (aware, UTC): the recorded fetch time now being shown."""
        return datetime.fromtimestamp(self._now(), UTC)

    def advance(self, seconds: float) -> datetime:
        """Move the replay clock by `seconds` of recorded time."""
        self._now()  # index the file so the clock has an origin
        if self.speed == 0.0:
            self._step_clock = self._now() + float(seconds)
        else:
            self._t0 += float(seconds)
        return self.clock()

    def at(self, when: datetime) -> datetime:
        """Set the replay clock to `when` (aware)."""
        if when.tzinfo is None:
            raise ValueError("`when` must be timezone-aware")
        self._now()
        if self.speed == 0.0:
            self._step_clock = when.timestamp()
        else:
            self._t0 = when.timestamp()
            self._w0 = self._wall()
        return self.clock()

    # -- Feed protocol ----------------------------------------------------------------------

    async def __aenter__(self) -> ReplayFeed:
        # The replay starts when the feed is entered (or, used without `async with`, when it
        # was constructed).
        self._w0 = self._wall()
        self.refresh()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _row_for(self, symbol: str) -> int:
        self.refresh()
        ids = self._ids.get(symbol)
        if not ids:
            known = ", ".join(sorted(self._ids)) or "none"
            raise FeedError(
                f"no snapshot of {symbol} in {self.path.name} (recorded: {known})", vendor="replay"
            )
        if self.speed == 0.0:
            pos = self._step_pos.get(symbol, -1) + 1
            if pos >= len(ids):
                pos = 0 if self.loop else len(ids) - 1
            self._step_pos[symbol] = pos
            self._step_clock = self._times[symbol][pos]
            return ids[pos]
        t = self._now()
        pos = int(np.searchsorted(np.asarray(self._times[symbol]), t, side="right")) - 1
        return ids[max(pos, 0)]

    def _load(self, symbol: str, row_id: int) -> OptionChain:
        cached = self._cache.get(symbol)
        if cached is not None and cached[0] == row_id:
            return cached[1]
        db = self._connect()
        try:
            row = db.execute("SELECT payload FROM snapshots WHERE id = ?", (row_id,)).fetchone()
        except sqlite3.Error as exc:
            raise RecordingError(self.path, sqlite_problem(exc)) from None
        if row is None:
            raise RecordingError(self.path, f"snapshot {row_id} disappeared during the replay")
        try:
            chain = decode_chain(row[0])
        except (ValueError, TypeError, KeyError) as exc:
            raise RecordingError(self.path, f"corrupted: snapshot {row_id}: {exc}") from None
        self._cache[symbol] = (row_id, chain)
        self.delay_seconds = chain.delay_seconds
        return chain

    def snapshot_now(self, symbol: str) -> OptionChain:
        """Synchronous `snapshot`."""
        symbol = symbol.upper()
        return self._load(symbol, self._row_for(symbol))

    async def snapshot(self, symbol: str) -> OptionChain:
        return self.snapshot_now(symbol)

    async def expirations(self, symbol: str) -> list[datetime]:
        symbol = symbol.upper()
        cached = self._cache.get(symbol)
        chain = cached[1] if cached is not None else self.snapshot_now(symbol)
        live = chain.expiries()
        live = live[live > chain.as_of_epoch]
        return [datetime.fromtimestamp(float(e), UTC) for e in live]
