"""What the monitor does when data goes bad (issue 8, items 6 and 7, the app side):
the analysis on screen that is not of the latest snapshot is marked STALE with the engine
error; polls back off exponentially, honour a server's Retry-After without ever
shortening the wait, and stop for an auth error until the user acts."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hedgeflow.engine.chain import OptionChain
from hedgeflow.feeds.errors import FeedAuthError, FeedError, FeedUnavailable, RateLimited
from hedgeflow.feeds.sim import SimFeed
from hedgeflow.tui.app import MAX_BACKOFF, MAX_RETRY_AFTER, poll_backoff
from hedgeflow.tui.panes import ImpulsePane, RegimePane, StatusLine, SymbolBar
from tests.tui.conftest import (
    make_app,
    record_notices,
    wait_for_analyses,
    wait_for_notice,
    wait_until,
)

# ------------------------------------------------------------------ the backoff rule


def test_backoff_doubles_from_the_poll_interval_up_to_the_cap() -> None:
    delays = [poll_backoff(n, 2.0, None) for n in range(1, 12)]
    assert delays[:5] == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert delays[5:] == [MAX_BACKOFF] * 6
    assert poll_backoff(10_000, 2.0, None) == MAX_BACKOFF  # no overflow after a long outage
    assert poll_backoff(1, 90.0, None) == 90.0  # never faster than the poll interval


def test_retry_after_is_honoured_and_never_shortens_the_wait() -> None:
    assert poll_backoff(1, 2.0, 30.0) == 30.0  # the server asks for longer: honoured
    assert poll_backoff(1, 2.0, 600.0) == 600.0  # even past the app's own cap
    assert poll_backoff(4, 2.0, 1.0) == 16.0  # a short Retry-After never shortens it
    assert poll_backoff(1, 2.0, 1e12) == MAX_RETRY_AFTER
    for junk in (math.nan, math.inf, -5.0, 0.0):
        assert poll_backoff(3, 2.0, junk) == 8.0


# ------------------------------------------------------------------ the real app


class ScriptedFeed:
    """Wraps the sim; each poll pops the next entry of `script` (an exception to raise,
    or None for a real snapshot); an empty script means real snapshots. Records, at each
    poll, the backoff the app had scheduled before it."""

    def __init__(self, inner: SimFeed, script: list[BaseException | None]) -> None:
        self.inner = inner
        self.name = "scripted"
        self.delay_seconds = 0.0
        self.script = list(script)
        self.calls = 0
        self.seen_backoff: list[tuple[int, float]] = []  # (failures so far, backoff)
        self.app: Any = None

    async def __aenter__(self) -> ScriptedFeed:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.inner.__aexit__(*exc)

    async def snapshot(self, symbol: str) -> OptionChain:
        self.calls += 1
        st = self.app.states[symbol]
        self.seen_backoff.append((st.failures, st.backoff))
        step = self.script.pop(0) if self.script else None
        if step is not None:
            raise step
        return await self.inner.snapshot(symbol)

    async def expirations(self, symbol: str) -> list:
        return await self.inner.expirations(symbol)

    def clock(self):
        return self.inner.clock()


async def test_repeated_failures_back_off_and_retry_after_is_never_shortened(
    tmp_path: Path, sim: SimFeed
) -> None:
    interval = 0.02
    outage = FeedUnavailable("HTTP 500", vendor="scripted", status=500, retry_after=0.001)
    script: list[BaseException | None] = [None, *[outage] * 5, None]
    script += [RateLimited("slow down", vendor="scripted", status=429, retry_after=0.5), None]
    feed = ScriptedFeed(sim, script)
    app = make_app(feed, ["SPX"], export_dir=tmp_path, poll_interval=interval)
    feed.app = app
    posted = record_notices(app)  # every notice, also those expired before they are read
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_notice(pilot, posted, lambda n: "unavailable" in n.title)  # on screen
        await wait_until(pilot, lambda: feed.calls >= 10, limit=30)
        # The delay scheduled after k consecutive failures, as seen by the next poll.
        # Polls 2-6 follow the five 500s, whose short Retry-After (0.001 s, as the HTTP
        # layer hands it over) does not shorten the exponential backoff.
        assert feed.seen_backoff[2:7] == [(k + 1, interval * 2**k) for k in range(5)]
        # Poll 7 succeeds after the recovery (failures reset), poll 8 follows a 429 that
        # asked for 0.5 s: honoured.
        assert feed.seen_backoff[7:9] == [(0, 0.0), (1, 0.5)]
        await pilot.pause()
        assert app.states["SPX"].error is None and app.states["SPX"].failures == 0
        outage_notes = [n for n in posted if "unavailable" in n.title]
        assert len(outage_notes) == 1  # one notice for the outage, not five


async def test_auth_error_is_not_retried_and_says_what_to_set(tmp_path: Path, sim: SimFeed) -> None:
    interval = 0.02
    denied = FeedAuthError("token rejected", vendor="tradier", status=401, env_var="TRADIER_TOKEN")
    feed = ScriptedFeed(sim, [denied])
    app = make_app(feed, ["SPX"], export_dir=tmp_path, poll_interval=interval)
    feed.app = app
    posted = record_notices(app)  # every notice, also those expired before they are read
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_notice(pilot, posted, lambda n: "token rejected" in n.message)
        await wait_until(pilot, lambda: app.states["SPX"].error is not None)
        await pilot.pause(30 * interval)  # thirty intervals: no retry
        st = app.states["SPX"]
        assert feed.calls == 1
        assert st.timer is None and st.next_poll_mono is None and not st.polling
        await wait_until(
            pilot, lambda: "TRADIER_TOKEN" in app.screen.query_one(StatusLine).view.error
        )
        status = app.screen.query_one(StatusLine).view
        assert "not retried" in status.error and status.next_poll == "stopped"
        notes = [n.message for n in posted if "token rejected" in n.message]
        assert len(notes) == 1 and "TRADIER_TOKEN" in notes[0]
        # The user acts (space pauses, space resumes): polling starts again.
        await pilot.press("space", "space")
        await wait_until(pilot, lambda: app.states["SPX"].analysis is not None)
        assert feed.calls >= 2 and app.states["SPX"].error is None


@pytest.mark.parametrize(
    "error",
    [
        FeedUnavailable("HTTP 503", vendor="scripted", status=503),
        RateLimited("HTTP 429", vendor="scripted", status=429, retry_after=0.3),
        FeedError("unexpected", vendor="scripted"),
    ],
    ids=["unavailable", "rate-limited", "other"],
)
async def test_every_retryable_error_is_retried_after_its_backoff(
    tmp_path: Path, sim: SimFeed, error: FeedError
) -> None:
    interval = 0.05
    feed = ScriptedFeed(sim, [error, error])
    app = make_app(feed, ["SPX"], export_dir=tmp_path, poll_interval=interval)
    feed.app = app
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        expected = [poll_backoff(k, interval, error.retry_after) for k in (1, 2)]
        assert [b for k, b in feed.seen_backoff if k > 0] == expected
        assert app.states["SPX"].error is None


def _all_zero(chain: OptionChain) -> bool:
    return bool(np.all(np.nan_to_num(chain.bid) == 0) and np.all(np.nan_to_num(chain.ask) == 0))


class ZeroingFeed(ScriptedFeed):
    """While `zero` is set, every snapshot arrives with all quotes zero."""

    zero = False

    async def snapshot(self, symbol: str) -> OptionChain:
        chain = await super().snapshot(symbol)
        if not self.zero:
            return chain
        z = np.zeros(len(chain))
        return dataclasses.replace(chain, bid=z, ask=z, last=z)


async def test_engine_failure_on_new_data_marks_the_old_analysis_stale(
    tmp_path: Path, sim: SimFeed
) -> None:
    from hedgeflow.engine.pipeline import AnalysisError, analyze_chain

    def analyze(chain: OptionChain, **kw: Any):  # the real pipeline, refusing zero quotes
        if _all_zero(chain):
            raise AnalysisError("no usable quotes: every bid and ask is zero")
        return analyze_chain(chain, **kw)

    feed = ZeroingFeed(sim, [])
    # A frozen scheduling clock: nothing goes stale by time, only by the failed analysis.
    app = make_app(feed, ["SPX"], export_dir=tmp_path, poll_interval=0.05, analyze=analyze)
    feed.app = app
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        good = app.states["SPX"].analysis
        status = app.screen.query_one(StatusLine)
        assert not status.view.stale
        feed.zero = True
        await wait_until(pilot, lambda: app.states["SPX"].engine_error != "")
        await pilot.pause()
        assert app.states["SPX"].analysis is good  # the old analysis stays ...
        assert status.view.stale and "no usable quotes" in status.view.error  # ... marked
        for pane_type in (ImpulsePane, RegimePane):
            pane = app.screen.query_one(pane_type)
            assert pane.view.analysis is good and "STALE" in str(pane.border_subtitle)
        assert app.screen.query_one(SymbolBar).view.tabs[0].state == "stale"
        # Good data again (and the market moved): a new analysis, no longer stale.
        feed.zero = False
        sim.advance(60.0)
        await wait_until(pilot, lambda: app.states["SPX"].analysis is not good)
        await pilot.pause()
        assert not status.view.stale and status.view.error == ""
        assert "STALE" not in str(app.screen.query_one(ImpulsePane).border_subtitle)
