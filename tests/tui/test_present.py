"""The status line's words for the feed's clock: simulated or recorded time never looks live."""

from __future__ import annotations

import pytest

from hedgeflow.tui.present import clock_words


@pytest.mark.parametrize(
    ("feed", "speed", "expected"),
    [
        ("sim", 1.0, ("SIMULATED", "sim clock")),
        ("sim", 30.0, ("SIMULATED", "sim clock ×30")),
        ("sim", 0.0, ("SIMULATED", "sim clock frozen")),
        ("replay", 1.0, ("REPLAY", "recorded")),
        ("replay", 60.0, ("REPLAY", "recorded ×60")),
        ("replay", 0.0, ("REPLAY", "recorded, a snapshot a poll")),
        ("file", 1.0, ("FILE", "file snapshot")),
        ("file", 0.0, ("FILE", "file snapshot")),
        ("cboe", 1.0, ("", "")),
        ("tradier", 1.0, ("", "")),
        ("schwab", 1.0, ("", "")),
    ],
)
def test_clock_words(feed: str, speed: float, expected: tuple[str, str]) -> None:
    assert clock_words(feed, speed) == expected


@pytest.mark.parametrize("feed", ["cboe", "tradier", "schwab", "sim", "file", "replay"])
def test_every_feed_shows_the_datas_date(feed: str) -> None:
    """A live vendor's chain from a Friday, seen on a Monday, says its date; so does every
    not-live feed (with its badge and clock words)."""
    from datetime import datetime, timedelta

    from hedgeflow.feeds.sim import SimFeed
    from hedgeflow.tui.present import status_view
    from hedgeflow.tui.state import SymbolState

    friday = datetime.fromisoformat("2026-11-20T15:59:00-05:00")
    chain = SimFeed(seed=7, speed=0.0, start=friday).chain_at("SPX", friday)
    st = SymbolState("SPX")
    st.chain = chain
    view = status_view(
        st, False, feed_name=feed, data_now=friday + timedelta(days=3), mono=0.0,
        paused=False, recording=False,
    )  # fmt: skip
    assert view.as_of == "2026-11-20 15:59:00 ET"
    assert view.age == "3d00h"
    assert (view.badge != "") == (feed in ("sim", "file", "replay"))
