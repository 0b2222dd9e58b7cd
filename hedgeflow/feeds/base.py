"""The one protocol every feed implements, and the feed registry.

A feed is an async context manager that returns normalized `OptionChain`
snapshots for one underlying at a time. Real feeds use the wall clock; the
simulated and replay feeds have their own clock, so `clock()` is the time the
monitor should measure data age against.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from hedgeflow.engine.chain import OptionChain


@runtime_checkable
class Feed(Protocol):
    name: str
    #: The vendor's own quote delay in seconds (900 for 15-minute delayed data).
    delay_seconds: float

    async def __aenter__(self) -> Feed: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def snapshot(self, symbol: str) -> OptionChain:
        """The current chain of `symbol`. Raises a `hedgeflow.feeds.errors.FeedError` subclass."""
        ...

    async def expirations(self, symbol: str) -> list[datetime]:
        """Settlement times (timezone-aware) of the live expiries of `symbol`, ascending."""
        ...

    def clock(self) -> datetime:
        """The feed's notion of now (timezone-aware)."""
        ...


# name -> "module:Class"; each class has `from_config(section: Mapping[str, Any]) -> Feed`.
FEEDS: dict[str, str] = {
    "sim": "hedgeflow.feeds.sim:SimFeed",
    "cboe": "hedgeflow.feeds.cboe:CboeFeed",
    "tradier": "hedgeflow.feeds.tradier:TradierFeed",
    "schwab": "hedgeflow.feeds.schwab:SchwabFeed",
    "file": "hedgeflow.feeds.files:FileFeed",
    "replay": "hedgeflow.feeds.replay:ReplayFeed",
}


def open_feed(name: str, section: Mapping[str, Any] | None = None) -> Feed:
    """Build the feed called `name` from its config section (not yet entered)."""
    try:
        target = FEEDS[name]
    except KeyError:
        raise ValueError(f"unknown feed {name!r}; choose one of {', '.join(FEEDS)}") from None
    module_name, _, cls_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    feed: Feed = cls.from_config(dict(section or {}))
    return feed
