"""Engine runs for the monitor: jobs submitted to `hedgeflow.app.scheduler.EngineScheduler`,
run in thread workers (group `engine:<SYM>`), their results applied on the event loop.

A changed snapshot, an expiry choice or a zoom past the configured range submits a job;
the scheduler decides when it runs (one run per symbol, a bound across symbols, the
visible symbol first). When a run ends, by result, error or cancellation, the App's one
`Worker.StateChanged` handler calls `EngineDispatch.done`, which frees the slot, starts
what the scheduler picks next and applies the outcome. A result is always applied: runs
of one symbol end in the order they were submitted, so it is the newest analysis there is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.worker import Worker, WorkerState

from hedgeflow.app.engine_pool import AnalysisRequest, EnginePool, run_analysis
from hedgeflow.app.history import curve_sample, history_row
from hedgeflow.app.regime import advance
from hedgeflow.app.scheduler import EngineScheduler
from hedgeflow.engine.chain import OptionChain
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import PositionSource
from hedgeflow.engine.expiry_scope import ExpiryScope, ScopeKind
from hedgeflow.engine.types import ExpiryAnalysis
from hedgeflow.tui.state import SymbolState

if TYPE_CHECKING:
    from hedgeflow.tui.app import HedgeflowApp

log = logging.getLogger("hedgeflow.tui")

#: The error log's "feed" for engine failures (a condition apart from the data feed's).
ENGINE = "engine"

Analyzer = Callable[..., ExpiryAnalysis]


@dataclass(frozen=True, eq=False)
class EngineJob:
    """One engine run: the inputs, fixed when the snapshot (or expiry, or zoom) changed.

    state : the symbol's state when submitted (a symbol removed and added again gets a
        new one, so a run of the old one is not applied to the new one)
    snapshot : `state.snapshot_seq` of `chain`; arrived : its monotonic arrival time
    now : feed clock when submitted (the engine never reads the clock)"""

    state: SymbolState
    snapshot: int
    arrived: float
    chain: OptionChain
    now: datetime
    config: EngineConfig
    expiry: float | None
    positions: Any
    #: a scope that sums several expiries (None: one expiry, `expiry` or the nearest)
    scope: ExpiryScope | None = None


class Outcome:
    """An engine run's result, handed over once. A finished thread worker can outlive its
    run (an executor thread's context keeps the last worker it ran), so the analysis is
    taken out of it rather than left on the worker."""

    def __init__(self, analysis: ExpiryAnalysis) -> None:
        self._analysis: ExpiryAnalysis | None = analysis

    def take(self) -> ExpiryAnalysis:
        analysis, self._analysis = self._analysis, None
        assert analysis is not None, "an outcome is taken once"
        return analysis


def run_job(analyze: Analyzer | None, job: EngineJob, pool: EnginePool | None = None) -> Outcome:
    """In an engine thread: the job's run (`hedgeflow.app.engine_pool.run_analysis`), here
    or, with a `pool`, in a worker process while this thread waits (without the GIL)."""
    request = AnalysisRequest(
        chain=job.chain,
        now=job.now,
        config=job.config,
        expiry=job.expiry,
        positions=job.positions,
        scope=job.scope,
    )
    if pool is not None and analyze is None:
        return Outcome(pool.run(request))
    return Outcome(run_analysis(request, analyze))


class EngineDispatch:
    """Submits, starts and finishes engine runs for `app` (see the module docstring)."""

    def __init__(
        self, app: HedgeflowApp, analyze: Analyzer | None, pool: EnginePool | None = None
    ) -> None:
        self.app = app
        self.analyze = analyze
        self.pool = pool
        # With worker processes, as many runs in flight as workers: a run queued inside the
        # pool could not be overtaken by the visible symbol's.
        self.scheduler: EngineScheduler[EngineJob] = EngineScheduler(
            pool.workers if pool is not None else None
        )
        self._jobs: dict[Worker[Any], EngineJob] = {}
        self._closing = False

    def close(self) -> None:
        """The app is closing: start no more runs (those in flight are cancelled by
        Textual; their threads finish on their own, a worker process's run is abandoned)."""
        self._closing = True
        if self.pool is not None:
            self.pool.close()

    def submit(self, st: SymbolState, config: EngineConfig, now: datetime) -> None:
        """Analyze `st`'s current chain with `config` (replacing a job still waiting)."""
        if st.chain is None:
            return
        positions = None
        if config.positions is PositionSource.LIVE:
            positions = st.session.positions(config, chain=st.chain)
        job = EngineJob(
            state=st,
            snapshot=st.snapshot_seq,
            arrived=st.snapshot_mono,
            chain=st.chain,
            now=now,
            config=config,
            expiry=st.expiry,
            positions=positions,
            scope=None
            if st.expiry is not None or st.scope.kind in (ScopeKind.NEAREST, ScopeKind.EXPIRY)
            else st.scope,
        )
        self._start(self.scheduler.submit(st.symbol, job))
        st.busy = True

    def show(self, symbol: str) -> None:
        """`symbol` is on screen: its runs go first."""
        self._start(self.scheduler.show(symbol))

    def remove(self, symbol: str) -> None:
        """Drop `symbol`'s waiting job. A run in flight finishes on its thread (it keeps its
        slot until then) and its result is dropped."""
        self.scheduler.remove(symbol)

    def _start(self, starts: list[tuple[str, EngineJob]]) -> None:
        if self._closing:
            return
        for symbol, job in starts:
            worker = self.app.run_worker(
                partial(run_job, self.analyze, job, self.pool),
                name=f"analyze {symbol}",
                group=f"engine:{symbol}",
                description=f"engine on {symbol}",
                exit_on_error=False,
                thread=True,
            )
            self._jobs[worker] = job

    def done(self, worker: Worker[Any], state: WorkerState) -> bool:
        """A run ended (SUCCESS, ERROR or CANCELLED). Returns True when an analysis was
        applied."""
        job = self._jobs.pop(worker, None)
        if job is None:
            return False
        symbol = job.state.symbol
        self._start(self.scheduler.finished(symbol))
        st = self.app.states.get(symbol)
        if st is not job.state:
            return False  # removed while its run was in flight
        st.busy = self.scheduler.busy(symbol)
        if state == WorkerState.SUCCESS:
            outcome = worker.result
            assert isinstance(outcome, Outcome)
            self._apply(st, job, outcome.take())
            return True
        if state == WorkerState.ERROR:
            self._failed(st, job, worker.error)
        return False  # cancelled (the app is closing): the pending job, if any, runs next

    def _apply(self, st: SymbolState, job: EngineJob, analysis: ExpiryAnalysis) -> None:
        st.engine_error = ""
        for notice in self.app.errors.recovered(ENGINE, st.symbol):
            self.app.notify(notice.message, title=notice.title, timeout=4)
        prev, before = st.analysis, st.regime
        if prev is not None and prev.scope != analysis.scope:
            # another expiry scope: a fresh regime track, and no alert across the switch
            # (its nearest expiry can be the same, its sums are not)
            prev, before = None, None
        # The regime held with hysteresis (the engine classified this analysis alone).
        analysis, st.regime = advance(before, analysis)
        st.analysis = analysis
        st.analyzed_snapshot, st.analyzed_mono = job.snapshot, job.arrived
        row, sample = history_row(analysis), curve_sample(analysis)
        st.history.add(row, sample)
        app = self.app
        if app.recording is not None:
            app.recording.put_history(row, sample, job.now)
        # the alert rules, log and delivery (hedgeflow.app.alert_center): what it returns
        # is shown; the cooldown's are only logged; hook and webhook run on their threads
        for rec in app.alerts.step(prev, analysis, before, st.regime):
            alert = rec.alert
            log.info("alert: %s", alert.message)
            app.notify(
                alert.message, title=f"Alert · {alert.kind.value}", severity="warning", timeout=8
            )
            if app.bell_enabled:
                app.bell()

    def _failed(self, st: SymbolState, job: EngineJob, err: BaseException | None) -> None:
        message = f"engine: {err}"
        log.warning("engine failed on %s: %r", st.symbol, err)
        app = self.app
        notice = app.errors.failed(
            app.data_clock(),
            ENGINE,
            st.symbol,
            err or RuntimeError("engine run failed"),
            app.poll_interval,  # the next snapshot is analyzed again
            advice="analysis failed; the last analysis stays on screen, marked STALE; "
            "the next snapshot is analyzed again",
        )
        if notice is not None:  # once per condition, not every poll or every symbol
            app.notify(
                f"{st.symbol}: analysis failed: {err}", title="Engine", severity="error", timeout=8
            )
        st.engine_error = message
        st.failed_snapshot = max(st.failed_snapshot, job.snapshot)
