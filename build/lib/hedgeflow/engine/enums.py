"""Conventions as enums: never bare strings in the engine."""

from __future__ import annotations

from enum import StrEnum


class EngineModel(StrEnum):
    """Which formulas compute the hedge-flow layer.

    PHYSICAL is the corrected engine (docs/METHOD.md); FLOE reproduces the original
    TypeScript library number by number, quirks included.
    """

    PHYSICAL = "physical"
    FLOE = "floe"


class PositioningModel(StrEnum):
    """Dealer's signed position per contract of open interest.

    STANDARD: dealers long calls, short puts (call +OI, put -OI).
    FLOE: dealers short calls, long puts (call -OI, put +OI).
    SHORT_ALL: dealers short every option (call -OI, put -OI).
    """

    STANDARD = "standard"
    FLOE = "floe"
    SHORT_ALL = "short-all"


class MarketRegime(StrEnum):
    """Volatility regime from ATM IV (bins [0.15, 0.20, 0.35), half-open)."""

    CALM = "calm"
    NORMAL = "normal"
    STRESSED = "stressed"
    CRISIS = "crisis"


class ImpulseRegime(StrEnum):
    PINNED = "pinned"
    EXPANSION = "expansion"
    SQUEEZE_UP = "squeeze-up"
    SQUEEZE_DOWN = "squeeze-down"
    NEUTRAL = "neutral"


class CrossingDirection(StrEnum):
    """Direction of H(S') as price rises through a zero crossing."""

    RISING = "rising"
    FALLING = "falling"


class ExtremumKind(StrEnum):
    BASIN = "basin"  # positive local maximum of H: stability, attractor
    PEAK = "peak"  # negative local minimum of H: acceleration


class Bias(StrEnum):
    UP = "up"
    DOWN = "down"
    NEUTRAL = "neutral"


class Side(StrEnum):
    ABOVE = "above-spot"
    BELOW = "below-spot"


class PositionSource(StrEnum):
    """Which dealer positions an analysis used."""

    START_OF_DAY = "start-of-day"  # positioning model applied to the session's first OI
    LIVE = "live"  # start-of-day minus cumulative signed customer volume
