"""`SimFeed`: the simulated market as a `Feed`, with its own clock and its config table."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from hedgeflow.engine import clock as xclock
from hedgeflow.engine.chain import OptionChain
from hedgeflow.feeds.sim.market import SimMarket
from hedgeflow.feeds.sim.paths import NY

_CONFIG_KEYS = (
    "seed",
    "start",
    "speed",
    "symbols",
    "jump_intensity",
    "skew_stickiness",
    "rate",
    "activity",
    "delay_seconds",
)


# --------------------------------------------------------------------------- the feed


def _parse_start(value: Any, wall_now: datetime) -> datetime:
    """ "now", "auto" (now during a session, else 10:30 New York on the latest session), an
    ISO-8601 string or a datetime; a time without offset is New York time."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str) and value.strip().lower() == "now":
        return wall_now
    elif isinstance(value, str) and value.strip().lower() == "auto":
        d = wall_now.astimezone(NY).date()
        if xclock.is_session(d):
            o, c = xclock.session_open(d), xclock.session_close(d)
            assert o is not None and c is not None
            if o <= wall_now < c:
                return wall_now
            if wall_now < o:
                d = xclock.previous_session(d)
        else:
            d = xclock.previous_session(d)
        return datetime(d.year, d.month, d.day, 10, 30, tzinfo=NY)
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"`start`: {value!r} is not 'now', 'auto' or an ISO-8601 time"
            ) from None
    else:
        raise ValueError(f"`start` must be 'now', 'auto' or an ISO-8601 time, not {value!r}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=NY)
    return when


class SimFeed:
    """The simulated market as a `Feed`.

    The clock is `start + speed * (wall seconds since start or the last `at`)`, plus any
    `advance`; speed 0 freezes it so tests drive it explicitly. `clock()` is what the
    monitor measures data age against. `chain_at(symbol, when)` is the deterministic core.
    """

    name = "sim"

    def __init__(
        self,
        *,
        seed: int = 7,
        start: Any = "auto",
        speed: float = 1.0,
        symbols: Iterable[str] | None = None,
        jump_intensity: float = 1.0,
        skew_stickiness: float = 1.5,
        rate: float = 0.045,
        activity: float = 1.0,
        delay_seconds: float = 0.0,
        wall: Callable[[], float] = time.monotonic,
        wall_now: datetime | None = None,
    ) -> None:
        if speed < 0:
            raise ValueError("`speed` must be >= 0 (0 freezes the simulated clock)")
        if delay_seconds < 0:
            raise ValueError("`delay_seconds` must be >= 0")
        self.market = SimMarket(
            seed=seed,
            symbols=symbols,
            jump_intensity=jump_intensity,
            skew_stickiness=skew_stickiness,
            rate=rate,
            activity=activity,
        )
        #: The underlyings this sim serves, as configured; None (the default): any ticker.
        self.symbols: tuple[str, ...] | None = self.market.symbols
        self.speed = float(speed)
        self.delay_seconds = float(delay_seconds)
        self._wall = wall
        start_dt = _parse_start(start, wall_now or datetime.now(UTC))
        self._t0 = round(start_dt.timestamp(), 6)
        self._w0 = wall()

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> SimFeed:
        """Build from a `[feeds.sim]` table: seed, start, speed, symbols (list or comma string;
        empty: any ticker), jump_intensity (jumps per session), skew_stickiness (R), rate,
        activity (trade rate multiplier), delay_seconds. Unknown keys and bad values raise ValueError naming them."""
        unknown = sorted(set(section) - set(_CONFIG_KEYS))
        if unknown:
            raise ValueError(
                f"unknown key `feeds.sim.{unknown[0]}` (known: {', '.join(_CONFIG_KEYS)})"
            )
        kw: dict[str, Any] = {}
        for key in (
            "speed",
            "jump_intensity",
            "skew_stickiness",
            "rate",
            "activity",
            "delay_seconds",
        ):
            if key in section:
                value = section[key]
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int | float)
                    or not np.isfinite(value)
                ):
                    raise ValueError(f"`feeds.sim.{key}` must be a number, not {value!r}")
                if key != "rate" and value < 0:
                    raise ValueError(f"`feeds.sim.{key}` must be >= 0")
                kw[key] = float(value)
        if "skew_stickiness" in kw and not 0.0 <= kw["skew_stickiness"] <= 3.0:
            raise ValueError("`feeds.sim.skew_stickiness` must be in [0, 3]")
        if "seed" in section:
            seed = section["seed"]
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ValueError(f"`feeds.sim.seed` must be a non-negative integer, not {seed!r}")
            kw["seed"] = seed
        if "start" in section:
            kw["start"] = section["start"]
        if "symbols" in section:
            raw = section["symbols"]
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            listed = [str(x).strip().upper() for x in items if str(x).strip()]
            kw["symbols"] = listed or None
        try:
            return cls(**kw)
        except ValueError as exc:
            msg = str(exc)
            raise ValueError(msg if "feeds.sim" in msg else f"`feeds.sim`: {msg}") from None

    # -- clock ------------------------------------------------------------------------------

    def _now(self) -> float:
        return round(self._t0 + self.speed * (self._wall() - self._w0), 6)

    def clock(self) -> datetime:
        """The simulated now (aware, UTC), microsecond resolution."""
        return datetime.fromtimestamp(self._now(), UTC)

    def advance(self, seconds: float) -> datetime:
        """Move the simulated clock forward (or back, if negative) by `seconds`."""
        self._t0 = round(self._t0 + float(seconds), 6)
        return self.clock()

    def at(self, when: datetime) -> datetime:
        """Set the simulated clock to `when` (aware); it runs on from there at `speed`."""
        if when.tzinfo is None:
            raise ValueError("`when` must be timezone-aware")
        self._t0 = round(when.timestamp(), 6)
        self._w0 = self._wall()
        return self.clock()

    # -- Feed protocol ----------------------------------------------------------------------

    async def __aenter__(self) -> SimFeed:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def chain_at(self, symbol: str, when: datetime) -> OptionChain:
        """Deterministic snapshot of `symbol` at clock time `when` (quotes as of when - delay)."""
        as_of = when - timedelta(seconds=self.delay_seconds) if self.delay_seconds else when
        return self.market.chain_at(symbol, as_of, source="sim", delay=self.delay_seconds)

    async def snapshot(self, symbol: str) -> OptionChain:
        # A poll is ~1 ms, but the first one of a simulated day builds the day (tens of ms;
        # the exchange calendar on first use, ~0.3 s): off the event loop.
        return await asyncio.to_thread(self.chain_at, symbol, self.clock())

    async def expirations(self, symbol: str) -> list[datetime]:
        chain = await asyncio.to_thread(self.chain_at, symbol, self.clock())
        return [datetime.fromtimestamp(float(e), UTC) for e in chain.expiries()]
