"""The real monitor when snapshots arrive faster than the engine can analyze them (issue 8,
item 1): every symbol's first analysis lands within two of its runs, the screen ends on
the analysis of the last snapshot, and fifty symbols never run more engine threads than
the bound. The analyzer is injected: it sleeps longer than the poll interval and counts
the runs in flight under a lock."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from hedgeflow.app.scheduler import EngineScheduler
from hedgeflow.engine.chain import OptionChain
from hedgeflow.engine.types import ExpiryAnalysis
from hedgeflow.tui.app import HedgeflowApp
from tests.tui.conftest import START, wait_until
from tests.tui.fakes import EXPIRY, make_analysis


class TickingFeed:
    """Every poll of a symbol returns a new snapshot (spot moves a cent, the clock a
    second) until `frozen` is set; then the same snapshot again."""

    name = "ticking"
    delay_seconds = 0.0

    def __init__(self) -> None:
        self.frozen = False
        self.polls: dict[str, int] = {}
        self.chains: dict[str, OptionChain] = {}

    async def __aenter__(self) -> TickingFeed:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def clock(self) -> datetime:
        return START + timedelta(seconds=sum(self.polls.values()))

    async def snapshot(self, symbol: str) -> OptionChain:
        if self.frozen and symbol in self.chains:
            return self.chains[symbol]
        n = self.polls[symbol] = self.polls.get(symbol, 0) + 1
        strikes = np.array([95.0, 95.0, 105.0, 105.0])
        ones = np.ones(4)
        chain = OptionChain(
            symbol=symbol,
            spot=100.0 + 0.01 * n,
            as_of=START + timedelta(seconds=n),
            root=np.array([symbol] * 4),
            strike=strikes,
            expiry=np.full(4, EXPIRY.timestamp()),
            is_call=np.array([True, False, True, False]),
            bid=ones,
            ask=ones * 1.1,
            last=ones,
            last_trade_time=np.full(4, np.nan),
            volume=ones * n,
            open_interest=ones * 100,
            multiplier=ones * 100,
            vendor_iv=np.full(4, np.nan),
            source="ticking",
        )
        self.chains[symbol] = chain
        return chain

    async def expirations(self, symbol: str) -> list[datetime]:
        return [EXPIRY]


class SlowAnalyzer:
    """Sleeps `seconds` a run (longer than a poll), counting runs in flight under a lock;
    remembers which analysis it made from which chain."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.completed: dict[str, int] = {}
        self.first_start: dict[str, float] = {}
        self.made: dict[int, ExpiryAnalysis] = {}  # id(chain) -> its analysis
        self.per_symbol_overlap = False
        self._running: set[str] = set()

    def __call__(self, chain: OptionChain, **kw: Any) -> ExpiryAnalysis:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.first_start.setdefault(chain.symbol, time.monotonic())
            if chain.symbol in self._running:
                self.per_symbol_overlap = True
            self._running.add(chain.symbol)
        try:
            time.sleep(self.seconds)
            analysis = make_analysis(symbol=chain.symbol, spot=chain.spot)
        finally:
            with self.lock:
                self.in_flight -= 1
                self._running.discard(chain.symbol)
        with self.lock:
            self.made[id(chain)] = analysis
            self.completed[chain.symbol] = self.completed.get(chain.symbol, 0) + 1
        return analysis


def _app(feed: TickingFeed, symbols: list[str], analyze: SlowAnalyzer, poll: float, tmp: Path):
    return HedgeflowApp(
        feed,  # type: ignore[arg-type]
        symbols,
        poll_interval=poll,
        export_dir=tmp,
        analyze=analyze,
        clock=feed.clock,
    )


async def test_snapshots_faster_than_the_engine_never_starve_it(tmp_path: Path) -> None:
    run = 0.3
    poll = 0.02  # fifteen polls a run: each run is outlasted by many snapshots
    feed = TickingFeed()
    analyze = SlowAnalyzer(run)
    symbols = ["SPX", "SPY", "QQQ"]
    app = _app(feed, symbols, analyze, poll, tmp_path)
    app.scheduler = EngineScheduler(bound=len(symbols))
    async with app.run_test(size=(120, 40)) as pilot:
        runs_before_first: dict[str, int] = {}
        waited: dict[str, float] = {}

        def first_analyses() -> bool:
            for s in symbols:
                if s not in runs_before_first and app.states[s].analysis is not None:
                    runs_before_first[s] = analyze.completed[s]
                    waited[s] = time.monotonic() - analyze.first_start[s]
            return len(runs_before_first) == len(symbols)

        await wait_until(pilot, first_analyses, limit=40 * run)
        # Within two runs: the first run's result is shown, not dropped as "older" (before
        # the fix, every run ended superseded by a newer snapshot and none was shown).
        assert all(n <= 2 for n in runs_before_first.values()), runs_before_first
        assert all(w < 2 * run + 2.0 for w in waited.values()), waited  # generous margin
        # Analyses keep landing while snapshots keep changing.
        seen = {s: app.states[s].analysis for s in symbols}
        await wait_until(
            pilot, lambda: all(app.states[s].analysis is not seen[s] for s in symbols), 40 * run
        )
        # Snapshots really came faster than analyses (a run outlasts fifteen polls; how
        # many polls a busy loop fits in varies, so only the totals are compared).
        assert sum(feed.polls.values()) > sum(analyze.completed.values())
        feed.frozen = True

        def settled() -> bool:
            return all(
                app.states[s].analysis is not None
                and app.states[s].analysis is analyze.made.get(id(app.states[s].chain))
                and not app.states[s].busy
                for s in symbols
            )

        await wait_until(pilot, settled, limit=40 * run)
        await pilot.pause(0.1)
        for s in symbols:
            st = app.states[s]
            assert st.chain is feed.chains[s]  # the last snapshot the feed served
            assert st.analysis is analyze.made[id(st.chain)]
            assert st.analysis.spot == st.chain.spot
        assert not analyze.per_symbol_overlap
        assert analyze.max_in_flight <= len(symbols)


async def test_fifty_symbols_never_run_more_than_the_bound(tmp_path: Path) -> None:
    run = 0.05
    poll = 0.03
    feed = TickingFeed()
    analyze = SlowAnalyzer(run)
    symbols = [f"S{i:02d}" for i in range(50)]
    app = _app(feed, symbols, analyze, poll, tmp_path)
    bound = app.scheduler.bound  # the machine's: os.cpu_count(), at least 1
    assert 1 <= bound
    async with app.run_test(size=(120, 40)) as pilot:
        # Every symbol is analyzed: 50 symbols at `bound` at a time, plus the visible one
        # taking its turn; the limit is generous (ten times that many runs).
        limit = 10 * run * (len(symbols) / bound + 2) + 20
        await wait_until(
            pilot, lambda: all(app.states[s].analysis is not None for s in symbols), limit
        )
        assert analyze.max_in_flight <= bound, (analyze.max_in_flight, bound)
        assert analyze.max_in_flight == bound  # the slots were used, not left idle
        assert not analyze.per_symbol_overlap
        assert sum(feed.polls.values()) > sum(analyze.completed.values())  # polled faster
        await pilot.press("q")
