"""Engine runs: what one run does (`run_analysis`) and where it runs (`EnginePool`).

`run_analysis` is the monitor's one engine run: a chain, `now`, a config and the expiry or
scope asked, with the fallbacks a live screen needs (no expiry in the scope: the nearest,
saying why; the chosen expiry settled: the nearest). It runs in the monitor's engine
threads, or, through `EnginePool`, in worker processes.

Why processes (docs/SCALING.md): the engine is thousands of small numpy calls that hold
the GIL, so engine threads compete with the event loop for the interpreter. In worker
processes the event loop keeps its interpreter and the operating system shares the cores:
at 50 symbols an analysis took 17 ms (median) in a worker against 41 ms in a thread beside
the screen (`python -m bench.scale`). The pool
holds `workers` processes (default: one fewer than the machine's cores, at least one, so
one core stays with the screen); each imports the engine once, forked from a server that
already loaded it. A chain goes to the worker pickled (~1-2 MB for a full SPX chain, a
millisecond) and the analysis comes back the same way.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.expiry_scope import ExpiryScope
from hedgeflow.engine.types import ExpiryAnalysis

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class AnalysisRequest:
    """The inputs of one engine run (picklable: it crosses to a worker process).

    now : the feed clock at submission (the engine never reads the clock); expiry : the
    chosen settlement epoch (None: the nearest live one); scope : a scope that sums several
    expiries (None: one expiry); positions : dealers' positions per row (None: start of
    day)."""

    chain: Any
    now: datetime
    config: EngineConfig
    expiry: float | None = None
    positions: Any = None
    scope: ExpiryScope | None = None


def run_analysis(request: AnalysisRequest, analyze: Any = None) -> ExpiryAnalysis:
    """One engine run (see the module docstring). `analyze` defaults to
    `hedgeflow.engine.scope.analyze_scope`; tests pass their own."""
    from hedgeflow.engine.pipeline import AnalysisError
    from hedgeflow.engine.scope import analyze_scope

    fn = analyze or analyze_scope
    r = request
    kw = {"now": r.now, "config": r.config, "positions": r.positions}
    if r.scope is not None:
        try:
            result: ExpiryAnalysis = fn(r.chain, scope=r.scope, **kw)
            return result
        except AnalysisError as exc:
            # No expiry in the scope (no 0DTE today): the nearest one, saying why; its
            # title then reads "nearest", not the scope asked for.
            a: ExpiryAnalysis = fn(r.chain, expiry=None, **kw)
            return replace(a, notes=(*a.notes, f"{exc}: the nearest expiry shown"))
    try:
        result = fn(r.chain, expiry=r.expiry, **kw)
        return result
    except AnalysisError:
        if r.expiry is None:
            raise
        # The chosen expiry is gone (settled): fall back to the nearest live one.
        result = fn(r.chain, expiry=None, **kw)
        return result


def default_workers() -> int:
    """One fewer than the machine's cores (the screen keeps one), at least one."""
    return max(1, (os.cpu_count() or 1) - 1)


def _worker_start() -> None:
    """In each worker process: the calendar table from the cache, as the monitor has it
    (a worker must not rebuild it from exchange_calendars on its first clock lookup)."""
    from hedgeflow.app.runtime import install_cached_calendar

    try:
        install_cached_calendar()
    except Exception:  # noqa: BLE001 - the engine builds it itself on first use
        log.warning("engine worker: no calendar cache", exc_info=True)


class EnginePool:
    """Engine runs in `workers` worker processes (see the module docstring).

    `submit(request)` returns a `Future` of the analysis, `run(request)` waits for it and
    survives a dead worker; `close()` stops the workers (runs in flight are abandoned).
    Workers start on first use, forked from a forkserver that preloaded the engine."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = default_workers() if workers is None else int(workers)
        if self.workers < 1:
            raise ValueError(f"`workers` must be at least 1, got {self.workers}")
        self._ctx = multiprocessing.get_context("forkserver")
        # The forkserver imports these once; every worker forks from it with them loaded.
        self._ctx.set_forkserver_preload(["hedgeflow.engine.scope", "hedgeflow.app.engine_pool"])
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = self._executor()
        #: Executors replaced after a worker died (`run`).
        self.respawns = 0

    def _executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=self._ctx, initializer=_worker_start
        )

    def warm(self) -> None:
        """Start the workers now (their imports overlap the screen's start-up)."""
        if self._pool is not None:
            for _ in range(self.workers):
                self._pool.submit(os.getpid)

    def submit(self, request: AnalysisRequest) -> Future[ExpiryAnalysis]:
        if self._pool is None:
            raise RuntimeError("the engine pool is closed")
        return self._pool.submit(run_analysis, request)

    def run(self, request: AnalysisRequest) -> ExpiryAnalysis:
        """`submit(request)` and wait for the analysis (from an engine thread).

        A worker that dies (the kernel's OOM killer, a crash in a native library) breaks
        the whole executor, and every later run would fail with it: the monitor would show
        stale data until restarted. So a broken executor is replaced by a new one (once
        however many engine threads find it broken) and the run tried once more there."""
        pool = self._pool
        try:
            return self.submit(request).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool and pool is not None:
                    log.warning("an engine worker died: starting new engine workers")
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._executor()
                    self.respawns += 1
            return self.submit(request).result()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def pids(self) -> list[int]:
        """The worker processes' ids (empty before the first run)."""
        procs = getattr(self._pool, "_processes", None) or {}
        return [int(p) for p in procs]
