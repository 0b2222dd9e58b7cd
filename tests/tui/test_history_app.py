"""The monitor keeps every analysis it applies in the symbol's level history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hedgeflow.app.history import history_row
from hedgeflow.feeds.sim import SimFeed
from tests.tui.conftest import SEED, START, make_app, wait_until


async def test_the_history_is_the_sequence_of_applied_analyses(tmp_path: Path) -> None:
    feed = SimFeed(seed=SEED, start=START.isoformat(), speed=120.0)
    app = make_app(feed, ["SPX", "SPY"], export_dir=tmp_path, poll_interval=0.1, frozen=False)
    applied: dict[str, list[Any]] = {"SPX": [], "SPY": []}
    original = app.engine._apply

    def spy(st: Any, job: Any, analysis: Any) -> None:
        original(st, job, analysis)
        applied[st.symbol].append(st.analysis)  # after the regime was folded in

    app.engine._apply = spy  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: all(len(v) >= 4 for v in applied.values()), 60.0)
        await pilot.pause()
        for sym, seq in applied.items():
            rows = app.states[sym].history.rows()
            assert rows == tuple(history_row(a) for a in seq)
            assert [r.time for r in rows] == sorted({r.time for r in rows})
            assert len(app.states[sym].history.samples()) == len(seq)
