"""The replay tape's clock and the order of its reels (recordings), without any I/O.

A tape is one or more recordings read as one timeline in time order (`order_reels`).
`TapeClock` is the recorded time now shown, in epoch seconds:

    clock = anchor + speed * (wall seconds since the anchor was set)      (playing)
    clock = anchor                                                        (paused, speed 0)

Every transport move (pause, resume, a speed change, a seek) re-anchors at the clock's
current value, so the clock never jumps when the speed changes and stands still while
paused, whatever the wall clock does. Speed 0 is the step mode of `ReplayFeed`: the anchor
is moved to each snapshot served.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class ReelSpan:
    """One recording's place on the tape: its first and last recorded fetch times (epoch
    seconds) and its (device, inode), to refuse one file given twice."""

    path: Path
    first: float
    last: float
    identity: tuple[int, int]


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def reel_order_problem(spans: Sequence[ReelSpan]) -> tuple[Path, str] | None:
    """None when `spans` (any order) make one tape; else (the file to name, the problem):
    the same file twice, or a recording that starts before the previous one (in time
    order) ends: two overlapping recordings would interleave two sessions' snapshots."""
    seen: dict[tuple[int, int], Path] = {}
    for s in spans:
        if s.identity in seen:
            return s.path, f"given twice (also as {seen[s.identity]})"
        seen[s.identity] = s.path
    ordered = sorted(spans, key=lambda s: (s.first, s.last))
    for prev, nxt in zip(ordered, ordered[1:], strict=False):
        if nxt.first < prev.last:
            return nxt.path, (
                f"overlaps {prev.path.name} (that one runs {_when(prev.first)} to "
                f"{_when(prev.last)}, this one starts {_when(nxt.first)}); "
                "a tape is recordings that follow one another"
            )
    return None


def order_reels(spans: Sequence[ReelSpan]) -> list[int]:
    """Indices of `spans` in tape order (by first snapshot time)."""
    return sorted(range(len(spans)), key=lambda i: (spans[i].first, spans[i].last))


class TapeClock:
    """The replay clock (see the module docstring). `wall` is a monotonic clock in seconds;
    `speed` is recorded seconds per wall second (0 = step mode). Times are epoch seconds;
    NaN until `origin` gives the tape's start."""

    def __init__(self, wall: Callable[[], float], speed: float = 1.0, loop: bool = False) -> None:
        if not speed >= 0:
            raise ValueError("`speed` must be >= 0 (0 = one recorded snapshot per poll)")
        self.wall = wall
        self.speed = float(speed)
        self.loop = bool(loop)
        self.paused = False
        self.anchor = math.nan
        self.w0 = wall()

    def origin(self, start: float) -> None:
        """The tape's start, once known; the wall anchor stays (construction or entering)."""
        if math.isnan(self.anchor):
            self.anchor = float(start)

    def restart_wall(self) -> None:
        """Play from the anchor as of now (the feed was entered)."""
        self.w0 = self.wall()

    def now(self, start: float, end: float) -> float:
        """The clock, epoch seconds. Past `end` it runs on (the last snapshot ages), unless
        `loop`, which wraps it into [start, end)."""
        if self.paused or self.speed == 0.0:
            return self.anchor
        t = self.anchor + self.speed * (self.wall() - self.w0)
        if self.loop and t > end > start:
            t = start + (t - start) % (end - start)
        return t

    def set(self, t: float) -> None:
        """Put the clock at `t` (a seek); playing or paused as before."""
        self.anchor = float(t)
        self.w0 = self.wall()

    def pause(self, start: float, end: float) -> None:
        if not self.paused:
            self.set(self.now(start, end))
            self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self.w0 = self.wall()

    def set_speed(self, speed: float, start: float, end: float) -> None:
        """A new speed from the clock's current value (no jump)."""
        if not speed >= 0:
            raise ValueError("`speed` must be >= 0")
        self.set(self.now(start, end))
        self.speed = float(speed)
