"""The simulated market (see `hedgeflow.feeds.sim.market`)."""

from hedgeflow.feeds.sim.market import (
    _ANCHOR_SECONDS,
    _EMA_BLOCK,
    NY,
    UNDERLYINGS,
    SimFeed,
    SimMarket,
    Underlying,
    _smile,
    ema,
)

__all__ = [
    "NY",
    "UNDERLYINGS",
    "_ANCHOR_SECONDS",
    "_EMA_BLOCK",
    "SimFeed",
    "SimMarket",
    "Underlying",
    "_smile",
    "ema",
]
