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
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hedgeflow.engine.chain import OptionChain
from hedgeflow.feeds.errors import FeedError, FeedUnavailable
from hedgeflow.feeds.recorder import decode_chain, read_rows

log = logging.getLogger(__name__)

_CONFIG_KEYS = ("path", "speed", "loop")


def iter_snapshots(path: str | Path, symbol: str | None = None) -> Iterator[OptionChain]:
    """Every recorded snapshot (of `symbol`, or all) in recording order, decoded. A payload
    that does not decode is logged and skipped (SQLite never exposes a half-written row, so
    this only happens to a file damaged by other means)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such recording")
    for row_id, _sym, _as_of, _fetched, _feed, payload in read_rows(path, symbol):
        try:
            yield decode_chain(payload)
        except ValueError as exc:
            log.warning("%s: snapshot %d skipped: %s", path, row_id, exc)


def recorded_symbols(path: str | Path) -> list[str]:
    """Symbols present in a recording, sorted."""
    uri = f"file:{Path(path).resolve()}?mode=ro"
    db = sqlite3.connect(uri, uri=True)
    try:
        return [r[0] for r in db.execute("SELECT DISTINCT symbol FROM snapshots ORDER BY symbol")]
    finally:
        db.close()


class ReplayFeed:
    """A recording as a `Feed` (see the module docstring for the clock)."""

    name = "replay"

    def __init__(
        self,
        path: str | Path,
        *,
        speed: float = 1.0,
        loop: bool = False,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError("`speed` must be >= 0 (0 = one recorded snapshot per poll)")
        self.path = Path(path)
        self.speed = float(speed)
        self.loop = bool(loop)
        self.delay_seconds = 0.0
        self._wall = wall
        self._db: sqlite3.Connection | None = None
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

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> ReplayFeed:
        """From a `[feeds.replay]` table: path (required), speed (>= 0), loop (bool)."""
        unknown = sorted(set(section) - set(_CONFIG_KEYS))
        if unknown:
            raise ValueError(
                f"unknown key `feeds.replay.{unknown[0]}` (known: {', '.join(_CONFIG_KEYS)})"
            )
        path = section.get("path")
        if not path:
            raise ValueError("`feeds.replay.path` must name a recording")
        speed = section.get("speed", 1.0)
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not speed >= 0:
            raise ValueError(f"`feeds.replay.speed` must be a number >= 0, not {speed!r}")
        loop = section.get("loop", False)
        if not isinstance(loop, bool):
            raise ValueError(f"`feeds.replay.loop` must be true or false, not {loop!r}")
        return cls(path, speed=float(speed), loop=loop)

    # -- index ------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            if not self.path.is_file():
                raise FeedUnavailable(f"{self.path}: no such recording", vendor="replay")
            try:
                self._db = sqlite3.connect(f"file:{self.path.resolve()}?mode=ro", uri=True)
            except sqlite3.Error as exc:
                raise FeedUnavailable(
                    f"{self.path}: cannot open ({exc})", vendor="replay"
                ) from None
        return self._db

    def refresh(self) -> int:
        """Index snapshots committed since the last call; returns how many were new."""
        db = self._connect()
        try:
            rows = db.execute(
                "SELECT id, symbol, fetched_at FROM snapshots WHERE id > ? ORDER BY id",
                (self._last_id,),
            ).fetchall()
        except sqlite3.Error as exc:
            raise FeedUnavailable(
                f"{self.path}: not a readable recording ({exc})", vendor="replay"
            ) from None
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
                raise FeedUnavailable(f"{self.path}: the recording is empty", vendor="replay")
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
        row = db.execute("SELECT payload FROM snapshots WHERE id = ?", (row_id,)).fetchone()
        try:
            chain = decode_chain(row[0])
        except ValueError as exc:
            raise FeedError(
                f"{self.path.name}: snapshot {row_id}: {exc}", vendor="replay"
            ) from None
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
