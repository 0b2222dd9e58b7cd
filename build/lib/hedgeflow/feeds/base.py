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
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # the registry is read by the CLI's argument parser: no numpy for --help
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


# The one feed registry: name -> "module:Class". Each class has `from_config(section) -> Feed`
# and may declare `config_keys` (the keys its `[feeds.<name>]` section may hold beyond the
# documented ones). The CLI's --feed choices and the configuration's feed names are read
# from here.
FEEDS: dict[str, str] = {
    "sim": "hedgeflow.feeds.sim:SimFeed",
    "cboe": "hedgeflow.feeds.cboe:CboeFeed",
    "tradier": "hedgeflow.feeds.tradier:TradierFeed",
    "schwab": "hedgeflow.feeds.schwab:SchwabFeed",
    "file": "hedgeflow.feeds.files:FileFeed",
    "replay": "hedgeflow.feeds.replay:ReplayFeed",
}


FEED_NAMES: tuple[str, ...] = tuple(FEEDS)


def feed_class(name: str) -> Any:
    """The class registered as `name` (imported on first use)."""
    try:
        target = FEEDS[name]
    except KeyError:
        raise ValueError(f"unknown feed {name!r}; choose one of {', '.join(FEEDS)}") from None
    module_name, _, cls_name = target.partition(":")
    return getattr(importlib.import_module(module_name), cls_name)


def config_keys(name: str) -> frozenset[str] | None:
    """Every key `[feeds.<name>]` may hold: the class's `config_keys`, plus the keys every
    HTTP feed takes (base_url, timeouts, retry settings); None when the class declares none
    (then its documented section in config.toml lists them all)."""
    from hedgeflow.feeds.http import COMMON_KEYS, HttpFeedBase

    cls = feed_class(name)
    declared = getattr(cls, "config_keys", None)
    if declared is None:
        return None
    keys = frozenset(declared)
    return keys | COMMON_KEYS if issubclass(cls, HttpFeedBase) else keys


def open_feed(name: str, section: Mapping[str, Any] | None = None) -> Feed:
    """Build the feed called `name` from its config section (not yet entered)."""
    feed: Feed = feed_class(name).from_config(dict(section or {}))
    return feed
