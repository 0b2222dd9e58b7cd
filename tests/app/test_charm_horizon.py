"""The charm horizon says its day when it is not the data's day: after the close the
integral runs to the next session's close, and "to 16:00" read as today's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from hedgeflow.app.config import default_settings
from hedgeflow.app.fmt import fmt_clock_from
from hedgeflow.app.summary import summary_text
from hedgeflow.engine.pipeline import analyze_chain
from hedgeflow.feeds.sim import SimFeed

SIM = SimFeed(seed=7, start="2026-11-24T10:30:00-05:00", speed=0.0)


def _charm_line(when: str) -> str:
    chain = SIM.chain_at("SPX", datetime.fromisoformat(when))
    a = analyze_chain(chain, config=replace(default_settings().engine_config("SPX")))
    return next(x for x in summary_text(a).splitlines() if x.startswith("charm"))


@pytest.mark.parametrize(
    ("when", "words"),
    [
        ("2026-11-24T10:30:00-05:00", "charm    to 16:00 EST: "),  # in the session: today
        ("2026-11-24T18:30:00-05:00", "charm    to Wed 16:00 EST: "),  # after the close
        ("2026-12-04T16:30:00-05:00", "charm    to Mon 16:00 EST: "),  # Friday evening
    ],
)
def test_the_summary_names_the_charm_horizons_day(when: str, words: str) -> None:
    assert _charm_line(when).startswith(words)


def test_fmt_clock_from() -> None:
    now = datetime(2026, 12, 4, 21, 30, tzinfo=UTC)  # Friday 16:30 New York
    assert fmt_clock_from(datetime(2026, 12, 4, 21, 0, tzinfo=UTC), now) == "16:00"
    assert fmt_clock_from(datetime(2026, 12, 7, 21, 0, tzinfo=UTC), now) == "Mon 16:00"
    # the New York day counts, not UTC's: 19:30 New York is already Saturday in UTC
    late = datetime(2026, 12, 5, 0, 30, tzinfo=UTC)
    assert fmt_clock_from(late, now, "%H:%M %Z") == "19:30 EST"
