"""Replaying recordings made by `hedgeflow.feeds.recorder`, at recorded or accelerated speed,
with a transport (pause, step, seek, speed).

Several recordings are one tape: they are ordered by their first snapshot and must not
overlap in time (`hedgeflow.feeds.tape`), so that a week of daily files replays in date order.

The replay timeline is the recorded `fetched_at` (when the recording monitor received
each snapshot), so data age on the replayed screen is what it was live (a 15-minute
delayed feed stays 15 minutes old). The replay clock is

    clock = first fetched_at + speed * (wall seconds since start) + advance(...)

(speed 1 = as recorded, 60 = sixty times faster) and `snapshot(symbol)` returns the
latest snapshot of the symbol fetched at or before the clock; before the symbol's first
snapshot it returns that first one (a symbol first recorded in a later file of the tape
raises `FeedError` instead: that snapshot is in the tape's future). Past the end the last snapshot stays (and ages on
screen) unless `loop` is set, which wraps the clock to the start. Speed 0 steps instead:
each `snapshot(symbol)` returns the symbol's next recorded snapshot, as fast as polled,
and the clock is the fetched_at of the snapshot last returned.

The transport (`pause`/`resume`, `step`, `seek`, `seek_to`, `set_speed`; `bounds` gives
the tape's start and end) moves the clock of `hedgeflow.feeds.tape.TapeClock`: a paused
tape's clock stands still, so what it serves and the data age measured against `clock()`
stand still too. Seeks are kept within the tape; a step lands exactly on a recorded fetch
time of the symbol and pauses.

Each file is opened read-only and re-indexed on every poll, so a recording that another
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hedgeflow.engine.chain import OptionChain
from hedgeflow.feeds.errors import FeedError
from hedgeflow.feeds.recorder import COLUMNS, RecordingError, decode_chain, sqlite_problem
from hedgeflow.feeds.tape import ReelSpan, TapeClock, order_reels, reel_order_problem

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


class Reel:
    """One recording of a tape: its read-only connection and its index (row ids and fetch
    times per symbol), extended by `refresh` as the file grows."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.last_id = 0
        self.ids: dict[str, list[int]] = {}
        self.times: dict[str, list[float]] = {}
        self.first = np.nan
        self.last = np.nan
        self._db: sqlite3.Connection | None = check_recording(self.path)
        self._stat = self._identity()

    def span(self) -> ReelSpan:
        return ReelSpan(self.path, float(self.first), float(self.last), self._stat[:2])

    def _identity(self) -> tuple[int, int, int]:
        """(device, inode, size) of the file; a recording only grows."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise RecordingError(self.path, "deleted during the replay") from None
        except OSError as exc:
            raise RecordingError(self.path, f"cannot read ({exc.strerror or exc})") from None
        return st.st_dev, st.st_ino, st.st_size

    def connect(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = _connect_ro(self.path)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

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
        db = self.connect()
        try:
            rows = db.execute(
                "SELECT id, symbol, fetched_at FROM snapshots WHERE id > ? ORDER BY id",
                (self.last_id,),
            ).fetchall()
        except sqlite3.Error as exc:
            raise RecordingError(self.path, sqlite_problem(exc)) from None
        for row_id, symbol, fetched in rows:
            ids = self.ids.setdefault(symbol, [])
            times = self.times.setdefault(symbol, [])
            # A clock that stepped back during recording must not break the search order.
            ids.append(int(row_id))
            times.append(max(float(fetched), times[-1]) if times else float(fetched))
            self.last_id = int(row_id)
            self.first = float(fetched) if np.isnan(self.first) else min(self.first, fetched)
            self.last = float(fetched) if np.isnan(self.last) else max(self.last, fetched)
        return len(rows)

    def load(self, row_id: int) -> OptionChain:
        db = self.connect()
        try:
            row = db.execute("SELECT payload FROM snapshots WHERE id = ?", (row_id,)).fetchone()
        except sqlite3.Error as exc:
            raise RecordingError(self.path, sqlite_problem(exc)) from None
        if row is None:
            raise RecordingError(self.path, f"snapshot {row_id} disappeared during the replay")
        try:
            return decode_chain(row[0])
        except (ValueError, TypeError, KeyError) as exc:
            raise RecordingError(self.path, f"corrupted: snapshot {row_id}: {exc}") from None


def _paths(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(path, str | os.PathLike):
        return [Path(path)]
    return [Path(p) for p in path]


class ReplayFeed:
    """One or more recordings as a `Feed` (see the module docstring for the clock).
    Building one checks every file (`check_recording`), indexes it and orders the files into
    one tape by their first snapshot (`tape.order_reels`), refusing files that overlap in
    time; `symbols` are the recorded underlyings of all of them."""

    name = "replay"

    def __init__(
        self,
        path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        speed: float = 1.0,
        loop: bool = False,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        paths = _paths(path)
        if not paths:
            raise ValueError("a replay needs at least one recording")
        self._tape = TapeClock(wall, speed, loop)
        self.delay_seconds = 0.0
        self._step_pos: dict[str, int] = {}
        self._cache: dict[str, tuple[tuple[int, int], OptionChain]] = {}
        reels: list[Reel] = []
        try:
            for p in paths:  # command-line order: the first bad file is the one named
                reels.append(Reel(p))
                reels[-1].refresh()
            spans = [r.span() for r in reels]
            problem = reel_order_problem(spans)
            if problem is not None:
                raise RecordingError(*problem)
        except BaseException:
            for r in reels:
                r.close()
            raise
        self.reels: list[Reel] = [reels[i] for i in order_reels(spans)]
        #: The first recording on the tape (time order); `paths` are all of them, in order.
        self.path = self.reels[0].path
        self.paths: tuple[Path, ...] = tuple(r.path for r in self.reels)
        self._times: dict[str, np.ndarray] = {}
        self._intervals: dict[str, float] = {}
        self._refs: dict[str, list[tuple[int, int]]] = {}
        self._first = self._end = np.nan
        self._merge()
        #: The underlyings the recordings hold, sorted.
        self.symbols: tuple[str, ...] = tuple(sorted(self._times))

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> ReplayFeed:
        """From a `[feeds.replay]` table: path (required: a file, or a list of files read as
        one tape), speed (>= 0), loop (bool). Checks the recordings now: raises ValueError
        (`RecordingError` for a file), one line."""
        unknown = sorted(set(section) - set(_CONFIG_KEYS))
        if unknown:
            raise ValueError(
                f"unknown key `feeds.replay.{unknown[0]}` (known: {', '.join(_CONFIG_KEYS)})"
            )
        path = section.get("path")
        if not path:
            raise ValueError("`feeds.replay.path` must name a recording")
        names = path if isinstance(path, list | tuple) else [path]
        for p in names:
            if not p or not isinstance(p, str | os.PathLike):
                raise ValueError(f"`feeds.replay.path` must be a file name, not {p!r}")
        speed = section.get("speed", 1.0)
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not speed >= 0:
            raise ValueError(f"`feeds.replay.speed` must be a number >= 0, not {speed!r}")
        loop = section.get("loop", False)
        if not isinstance(loop, bool):
            raise ValueError(f"`feeds.replay.loop` must be true or false, not {loop!r}")
        return cls([os.path.expanduser(p) for p in names], speed=float(speed), loop=loop)

    # -- index ------------------------------------------------------------------------------

    def _merge(self) -> None:
        """The per-symbol index over every reel, in tape order."""
        times: dict[str, list[float]] = {}
        refs: dict[str, list[tuple[int, int]]] = {}
        for k, reel in enumerate(self.reels):
            for symbol, ids in reel.ids.items():
                times.setdefault(symbol, []).extend(reel.times[symbol])
                refs.setdefault(symbol, []).extend((k, i) for i in ids)
        # Monotone per symbol whatever the files hold (a reel that grew past the next one).
        self._times = {s: np.maximum.accumulate(np.asarray(t)) for s, t in times.items()}
        self._intervals = {}
        self._refs = refs
        firsts = [r.first for r in self.reels if not np.isnan(r.first)]
        lasts = [r.last for r in self.reels if not np.isnan(r.last)]
        self._first = min(firsts) if firsts else np.nan
        self._end = max(lasts) if lasts else np.nan
        if not np.isnan(self._first):
            self._tape.origin(self._first)

    def refresh(self) -> int:
        """Index snapshots committed since the last call to any recording of the tape;
        returns how many were new. Raises `RecordingError` when a file was deleted,
        replaced or truncated since it was opened, or cannot be read."""
        new = sum(reel.refresh() for reel in self.reels)
        if new:
            self._merge()
        return new

    # -- clock ------------------------------------------------------------------------------

    @property
    def speed(self) -> float:
        """Recorded seconds per wall second (0: one recorded snapshot per poll)."""
        return self._tape.speed

    @property
    def loop(self) -> bool:
        return self._tape.loop

    @property
    def paused(self) -> bool:
        """The tape is paused: the clock stands still (polls keep serving its position)."""
        return self._tape.paused

    def bounds(self) -> tuple[datetime, datetime]:
        """(first, last) recorded fetch time of the whole tape, aware UTC."""
        self._now()
        return (
            datetime.fromtimestamp(self._first, UTC),
            datetime.fromtimestamp(self._end, UTC),
        )

    def _now(self) -> float:
        if np.isnan(self._first):
            self.refresh()
            if np.isnan(self._first):
                raise RecordingError(self.path, "holds no snapshots (an empty recording)")
        return self._tape.now(self._first, self._end)

    def clock(self) -> datetime:
        """Replay time (aware, UTC): the recorded fetch time now being shown."""
        return datetime.fromtimestamp(self._now(), UTC)

    def _set(self, t: float) -> datetime:
        self._tape.set(t)
        if self.speed == 0.0:
            # Step mode: each symbol's next poll serves its snapshot at the new clock (a
            # poll of a playing tape moves one on first, a paused one stays).
            behind = 0 if self.paused else 1
            for symbol, times in self._times.items():
                self._step_pos[symbol] = int(np.searchsorted(times, t, side="right")) - 1 - behind
        return self.clock()

    def advance(self, seconds: float) -> datetime:
        """Move the replay clock by `seconds` of recorded time (unclamped)."""
        return self._set(self._now() + float(seconds))

    def at(self, when: datetime) -> datetime:
        """Set the replay clock to `when` (aware; unclamped)."""
        if when.tzinfo is None:
            raise ValueError("`when` must be timezone-aware")
        self._now()
        return self._set(when.timestamp())

    # -- transport --------------------------------------------------------------------------

    def seek(self, seconds: float) -> datetime:
        """Move the clock by `seconds` of recorded time, kept within the tape (a clock that
        ran past the end seeks from the end)."""
        t = min(self._now(), self._end) + float(seconds)
        return self._set(min(max(t, self._first), self._end))

    def seek_to(self, when: datetime) -> datetime:
        """Put the clock at `when` (aware), kept within the tape."""
        if when.tzinfo is None:
            raise ValueError("`when` must be timezone-aware")
        self._now()
        return self._set(min(max(when.timestamp(), self._first), self._end))

    def step(self, symbol: str, n: int) -> datetime:
        """Pause and put the clock on `symbol`'s recorded snapshot `n` away from the one now
        served (n = -1: the one before, +1: the one after), exactly on its fetch time;
        clamped to the symbol's first and last snapshot."""
        self.refresh()
        times = self._times.get(symbol.upper())
        if times is None or not len(times):
            raise FeedError(f"no snapshot of {symbol} on the tape", vendor="replay")
        self.pause()
        pos = int(np.searchsorted(times, self._now(), side="right")) - 1
        target = min(max(pos + n, 0), len(times) - 1)
        if pos < 0 and n > 0:
            target = 0  # before the symbol's first snapshot: the first one is "next"
        return self._set(float(times[target]))

    def pause(self) -> None:
        """Stop the clock where it is (past the end: at the end)."""
        self._now()
        if self._tape.paused:
            return
        self._tape.pause(self._first, self._end)
        if self._tape.anchor > self._end:
            self._set(self._end)

    def resume(self) -> None:
        self._tape.resume()

    def set_speed(self, speed: float) -> None:
        """A new speed from the clock's current value (no jump)."""
        self._now()
        self._tape.set_speed(speed, self._first, self._end)

    # -- Feed protocol ----------------------------------------------------------------------

    async def __aenter__(self) -> ReplayFeed:
        # The replay starts when the feed is entered (or, used without `async with`, when it
        # was constructed).
        self._tape.restart_wall()
        self.refresh()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for reel in self.reels:
            reel.close()

    def _row_for(self, symbol: str) -> tuple[int, int]:
        self.refresh()
        refs = self._refs.get(symbol)
        if not refs:
            known = ", ".join(sorted(self._refs)) or "none"
            names = ", ".join(p.name for p in self.paths)
            raise FeedError(
                f"no snapshot of {symbol} in {names} (recorded: {known})", vendor="replay"
            )
        times = self._times[symbol]
        if self.speed == 0.0:
            pos = self._step_pos.get(symbol, -1)
            if not self.paused:
                pos += 1
            pos = max(pos, 0)
            if pos >= len(refs):
                pos = 0 if self.loop else len(refs) - 1
            self._step_pos[symbol] = pos
            self._tape.anchor = float(times[pos])
            return refs[pos]
        now = self._now()
        pos = int(np.searchsorted(times, now, side="right")) - 1
        if pos < 0 and refs[0][0] > 0:
            # Only in a later recording of the tape: its snapshot lies in the future (days
            # ahead, perhaps), so nothing is shown rather than that.
            first = datetime.fromtimestamp(float(times[0]), UTC)
            raise FeedError(
                f"{symbol} not recorded yet at this point of the tape (its first snapshot, "
                f"{first:%Y-%m-%d %H:%M:%S} UTC, is in {self.reels[refs[0][0]].path.name})",
                vendor="replay",
            )
        return refs[max(pos, 0)]

    def _load(self, symbol: str, ref: tuple[int, int]) -> OptionChain:
        cached = self._cache.get(symbol)
        if cached is not None and cached[0] == ref:
            return cached[1]
        chain = self.reels[ref[0]].load(ref[1])
        self._cache[symbol] = (ref, chain)
        self.delay_seconds = chain.delay_seconds
        return chain

    def interval(self, symbol: str) -> float:
        """The median gap between `symbol`'s recorded snapshots, seconds of data time (0.0
        with fewer than two): how fresh the recording lets its data be."""
        times = self._times.get(symbol.upper())
        if times is None or times.size < 2:
            return 0.0
        # (asked on every repaint for every symbol: kept until the recording grows)
        key = symbol.upper()
        if key not in self._intervals:
            self._intervals[key] = float(np.median(np.diff(times)))
        return self._intervals[key]

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
