"""Engine runs in worker processes give the same analysis as in the monitor's threads."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import CancelledError
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from hedgeflow.app.engine_pool import AnalysisRequest, EnginePool, default_workers, run_analysis
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.expiry_scope import ExpiryScope, ScopeKind
from hedgeflow.engine.pipeline import AnalysisError
from tests.tui.conftest import START, make_app, shared_sim, wait_for_analyses, wait_until


@pytest.fixture(scope="module")
def pool():
    p = EnginePool(1)
    yield p
    p.close()


def _same(a, b) -> None:
    assert a.symbol == b.symbol and a.expiration == b.expiration and a.scope == b.scope
    np.testing.assert_array_equal(a.exposure.gamma, b.exposure.gamma)
    np.testing.assert_array_equal(
        a.hedge_flow.impulse_curve.impulse, b.hedge_flow.impulse_curve.impulse
    )
    assert (
        a.hedge_flow.charm_integral.total_charm_to_close
        == b.hedge_flow.charm_integral.total_charm_to_close
    )
    assert a.notes == b.notes


def test_a_worker_process_gives_the_same_numbers(pool: EnginePool) -> None:
    chain = shared_sim().chain_at("SPX", START)
    for scope in (None, ExpiryScope(ScopeKind.ALL)):
        req = AnalysisRequest(chain=chain, now=START, config=EngineConfig(), scope=scope)
        _same(pool.submit(req).result(timeout=120), run_analysis(req))
    assert len(pool.pids()) == 1 and all(p > 0 for p in pool.pids())


def test_fallbacks_and_errors_cross_the_process_boundary(pool: EnginePool) -> None:
    chain = shared_sim().chain_at("SPY", START)
    gone = (START - timedelta(days=3)).timestamp()  # a settled expiry: the nearest instead
    req = AnalysisRequest(chain=chain, now=START, config=EngineConfig(), expiry=gone)
    a = pool.submit(req).result(timeout=120)
    assert a.expiration.timestamp() > START.timestamp()
    _same(a, run_analysis(AnalysisRequest(chain=chain, now=START, config=EngineConfig())))
    # nothing to analyze: the engine's own error, raised here
    empty = chain.take(np.zeros(0, dtype=np.int64))
    bad = AnalysisRequest(chain=empty, now=START, config=EngineConfig())
    with pytest.raises(AnalysisError):
        run_analysis(bad)
    with pytest.raises(AnalysisError):
        pool.submit(bad).result(timeout=120)


def test_a_closed_pool_refuses_and_its_workers_exit() -> None:
    p = EnginePool(1)
    chain = shared_sim().chain_at("SPX", START)
    req = AnalysisRequest(chain=chain, now=START, config=EngineConfig())
    assert p.submit(req).result(timeout=120).symbol == "SPX"
    pids = p.pids()
    assert len(pids) == 1
    late = [p.submit(req) for _ in range(3)]
    p.close()
    with pytest.raises(RuntimeError, match="closed"):
        p.submit(req)
    for f in late:  # each one either ran or was cancelled: none hangs
        try:
            f.result(timeout=120)
        except CancelledError:
            pass
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = [
        pid
        for pid in pids
        if Path(f"/proc/{pid}/stat").exists()
        and Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    ]
    assert alive == []
    assert default_workers() >= 1
    with pytest.raises(ValueError):
        EnginePool(0)


async def test_the_monitor_on_worker_processes(tmp_path: Path) -> None:
    """The real app with an engine pool: every symbol analyzed, the same numbers as the
    engine gives in this process."""
    p = EnginePool(1)
    app = make_app(symbols=["SPX", "QQQ"], export_dir=tmp_path, engine_pool=p)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        for sym in ("SPX", "QQQ"):
            st = app.states[sym]
            ref = run_analysis(
                AnalysisRequest(
                    chain=st.chain,
                    now=st.analysis.as_of if False else app.data_clock(),
                    config=EngineConfig(),
                )
            )
            np.testing.assert_array_equal(st.analysis.exposure.gamma, ref.exposure.gamma)
    assert p._pool is None  # closed with the app


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}/stat").exists() and time.monotonic() < deadline:
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] == "Z":
            break  # dead, not yet reaped by the executor
        time.sleep(0.02)


def test_a_dead_worker_is_replaced_and_the_run_still_done() -> None:
    """A worker killed (as the OOM killer would) breaks the executor; the pool starts new
    workers and the run is done there, once, however the death is noticed."""
    p = EnginePool(1)
    try:
        req = AnalysisRequest(
            chain=shared_sim().chain_at("SPX", START), now=START, config=EngineConfig()
        )
        assert p.run(req).symbol == "SPX"
        (pid,) = p.pids()
        _kill(pid)
        _same(p.run(req), run_analysis(req))
        assert p.respawns == 1
        assert p.pids() and pid not in p.pids()
        assert p.run(req).symbol == "SPX" and p.respawns == 1  # no second respawn
    finally:
        p.close()


async def test_the_monitor_outlives_a_killed_engine_worker(tmp_path: Path) -> None:
    """The real app: its engine worker is killed; the next analysis (another expiry, key
    `e`) still lands, with no engine error on the symbol."""
    p = EnginePool(1)
    app = make_app(symbols=["SPX"], export_dir=tmp_path, engine_pool=p)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        st = app.states["SPX"]
        first = st.analysis.expiration
        (pid,) = p.pids()
        _kill(pid)
        await pilot.press("e")
        await wait_until(pilot, lambda: st.analysis.expiration != first, limit=120)
        assert st.engine_error == ""
        assert p.respawns == 1
