"""The charm pane after the close: its horizon is the next session's close, days away,
and the pane said "Charm to 16:00" over an axis reading "16:44 16:56 16:24 16:00"."""

from __future__ import annotations

import re
from pathlib import Path

from hedgeflow.feeds.sim import SimFeed
from hedgeflow.tui.panes import CharmPane
from tests.tui.conftest import SEED, make_app, rendered, wait_for_analyses

DAY_TIME = re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d:\d\d\b")


def _axis(pane: CharmPane) -> str:
    """The time axis' labels: the pane's last line with a clock time in it."""
    return [line for line in rendered(pane).splitlines() if re.search(r"\d\d:\d\d", line)][-1]


async def test_a_horizon_days_away_names_its_days(tmp_path: Path) -> None:
    friday_evening = SimFeed(seed=SEED, start="2026-12-04T16:30:00-05:00", speed=0.0)
    app = make_app(friday_evening, ["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        await pilot.pause()
        pane = app.screen.query_one(CharmPane)
        assert "Charm to Mon 16:00:" in str(pane.border_title), pane.border_title
        axis = _axis(pane)
        labels = DAY_TIME.findall(axis)
        assert len(labels) >= 2 and labels[0] == "Fri" and labels[-1] == "Mon", axis
        assert len(re.findall(r"\d\d:\d\d", axis)) == len(labels), axis  # every one


async def test_a_horizon_today_keeps_the_clock_alone(tmp_path: Path) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path)  # Tuesday 10:30
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        await pilot.pause()
        pane = app.screen.query_one(CharmPane)
        assert "Charm to 16:00:" in str(pane.border_title), pane.border_title
        axis = _axis(pane)
        assert "16:00" in axis and not DAY_TIME.search(axis), axis
