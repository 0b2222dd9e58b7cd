"""The replay transport's pure parts: the speed ladder, the time a jump names, and what the
transport bar shows (`TapeView`). The clock itself is the replay feed's
(`hedgeflow.feeds.tape.TapeClock`); nothing here reads a clock.

Times typed by the user are America/New_York (the exchange's clock), on the date the tape
clock is on, so "10:30" means the same moment in winter (EST) and summer (EDT).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from hedgeflow.app.fmt import NY

#: Replay speeds (recorded seconds per wall second) that `<` and `>` step through.
SPEEDS: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
#: Seconds of recorded time `[`/`]` and `{`/`}` seek by.
SEEK_SHORT = 5 * 60.0
SEEK_LONG = 30 * 60.0


def next_speed(speed: float, step: int) -> float:
    """The ladder's next speed up (`step` > 0) or down (< 0) from `speed`. A speed between
    rungs (`--speed 7`) goes to the nearest rung in that direction; the ends hold. Speed 0
    (a snapshot a poll) goes up to the first rung and stays 0 going down."""
    if step > 0:
        i = bisect.bisect_right(SPEEDS, speed)
        return SPEEDS[min(i, len(SPEEDS) - 1)]
    if speed == 0.0:
        return 0.0
    i = bisect.bisect_left(SPEEDS, speed) - 1
    return SPEEDS[max(i, 0)]


class JumpError(ValueError):
    """A jump the user typed that names no time; `str(exc)` is one line for the dialog."""


_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _ny(day: date, hh: int, mm: int, ss: int) -> datetime:
    """`day` at hh:mm:ss New York time, aware. A time the clocks skip (the spring-forward
    hour) is refused rather than silently moved; a time that happens twice (the fall-back
    hour) is its first occurrence (EDT)."""
    local = datetime.combine(day, time(hh, mm, ss), tzinfo=NY)
    if local.astimezone(UTC).astimezone(NY).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise JumpError(f"{hh:02d}:{mm:02d} does not exist in New York on {day} (clocks skip it)")
    return local


def parse_jump(text: str, tape_day: date) -> datetime:
    """The moment `text` names, aware UTC. `HH:MM` or `HH:MM:SS` is New York time on
    `tape_day` (the date the tape clock is on, in New York); anything else is read as an ISO
    time (`2026-11-18T10:30`, `2026-11-18 10:30:00-05:00`), New York time when it has no
    offset. Raises `JumpError` (one line) for anything else."""
    s = text.strip()
    if not s:
        raise JumpError("type a time: HH:MM[:SS] (New York) or an ISO time")
    m = _CLOCK.match(s)
    if m:
        hh, mm, ss = int(m[1]), int(m[2]), int(m[3] or 0)
        if hh > 23 or mm > 59 or ss > 59:
            raise JumpError(f"{s!r} is not a time of day (HH:MM[:SS], 24-hour)")
        return _ny(tape_day, hh, mm, ss).astimezone(UTC)
    try:
        when = datetime.fromisoformat(s)
    except ValueError:
        raise JumpError(
            f"{s!r} is not a time: HH:MM[:SS] (New York) or ISO, e.g. 2026-11-18T10:30"
        ) from None
    if when.tzinfo is None:
        when = _ny(when.date(), when.hour, when.minute, when.second) + timedelta(
            microseconds=when.microsecond
        )
    return when.astimezone(UTC)


@dataclass(frozen=True)
class TapeView:
    """What the transport bar shows. Times are aware; `clock` is the tape's recorded time
    (never the wall clock); `speed` recorded seconds per wall second (0: a snapshot a
    poll)."""

    clock: datetime
    start: datetime
    end: datetime
    speed: float
    paused: bool
    reels: int = 1

    @property
    def position(self) -> float:
        """Where the clock is on the tape, 0..1 (clamped: a clock run past the end is 1)."""
        span = (self.end - self.start).total_seconds()
        if span <= 0:
            return 1.0
        done = (self.clock - self.start).total_seconds() / span
        return min(max(done, 0.0), 1.0)

    @property
    def at_end(self) -> bool:
        return self.clock >= self.end

    @property
    def tape_day(self) -> date:
        """The New York date the clock is on (the day `HH:MM` jumps to)."""
        return min(self.clock, self.end).astimezone(NY).date()

    @property
    def multi_day(self) -> bool:
        return self.start.astimezone(NY).date() != self.end.astimezone(NY).date()
