"""The history pane's model: every point is a row's own numbers, of the scope on screen."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest

from hedgeflow.app.history import HistoryRow, SymbolHistory
from hedgeflow.app.history_view import LEVELS, history_series, latest_in_bins, y_range
from hedgeflow.engine.scope import analyze_scope
from tests.tui.conftest import START, shared_sim


@pytest.fixture(scope="module")
def rows() -> list[HistoryRow]:
    """Real rows: the sim analyzed every 10 minutes for an hour."""
    sim = shared_sim()
    h = SymbolHistory("SPX")
    for m in range(0, 70, 10):
        when = START + timedelta(minutes=m)
        h.add_analysis(analyze_scope(sim.chain_at("SPX", when), now=when))
    return list(h.rows())


def _history(rows: list[HistoryRow]) -> SymbolHistory:
    h = SymbolHistory("SPX")
    for r in rows:
        h.add(r)
    return h


def _latest_by_loop(times: list[float], n: int) -> list[int]:
    """The latest index per equal bin, by a plain loop (the rule written out again)."""
    t0, t1 = times[0], times[-1]
    width = (t1 - t0) / n
    out = []
    for b in range(n):
        lo, hi = t0 + b * width, t0 + (b + 1) * width
        if b == n - 1:
            hi = t1
        inside = [i for i, t in enumerate(times) if (lo < t <= hi) or (b == 0 and t == lo)]
        out.append(inside[-1] if inside else -1)
    return out


def test_latest_in_bins_by_hand() -> None:
    idx, edges = latest_in_bins(np.array([0.0, 1.0, 2.0, 10.0]), 5)
    assert edges.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert idx.tolist() == [2, -1, -1, -1, 3]
    one, _ = latest_in_bins(np.array([5.0, 5.0]), 3)
    assert one.tolist() == [1]
    empty, _ = latest_in_bins(np.array([]), 3)
    assert empty.size == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_latest_in_bins_equals_a_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0, 1000, 300))
    for n in (1, 7, 50, 400):
        idx, _ = latest_in_bins(times, n)
        assert idx.tolist() == _latest_by_loop(times.tolist(), n)


def test_the_series_is_the_rows_of_the_scope(rows: list[HistoryRow]) -> None:
    # another scope's rows interleaved (the user pressed `o` and back): left out
    other = [replace(r, scope="all", time=r.time + 1.0, spot=r.spot + 500.0) for r in rows]
    mixed = sorted([*rows, *other], key=lambda r: r.time)
    s = history_series(_history(mixed), "nearest", n_bins=200)
    assert s.scope == "nearest" and s.rows == len(rows)
    assert s.since == rows[0].time
    assert s.time.tolist() == [r.time for r in rows]
    for label, col in LEVELS:
        want = np.array([getattr(r, col) for r in rows])
        np.testing.assert_array_equal(s.level(label), want)
    assert s.flip_count.tolist() == [len(r.flip_levels) for r in rows]
    assert s.charm.tolist() == [r.charm_total for r in rows]
    # a real session's rows carry levels: not a vacuous comparison
    assert np.isfinite(s.level("flip")).any() and np.isfinite(s.level("call wall")).all()


def test_a_long_session_is_thinned_to_the_latest_row_of_each_bin(
    rows: list[HistoryRow],
) -> None:
    rng = np.random.default_rng(4)
    many = [
        replace(rows[i % len(rows)], time=rows[0].time + 5.0 * i, charm_total=float(v))
        for i, v in enumerate(rng.normal(0, 1e8, 4680))
    ]
    s = history_series(_history(many), "nearest", n_bins=113)
    want = [i for i in _latest_by_loop([r.time for r in many], 113) if i >= 0]
    assert s.index.tolist() == want and len(want) == 113
    assert s.charm.tolist() == [many[i].charm_total for i in want]
    assert s.level("spot").tolist() == [many[i].spot for i in want]
    assert s.time[-1] == many[-1].time  # the newest row is always the last point


def test_y_range_keeps_levels_near_spot_and_leaves_far_ones(rows: list[HistoryRow]) -> None:
    r0 = rows[0]
    near = [
        replace(r, time=r0.time + i, spot=100.0 + i, call_wall=102.0, put_wall=50.0)
        for i, r in enumerate(rows[:3])
    ]
    lo, hi = y_range(history_series(_history(near), "nearest", 10), band_percent=3.0)
    assert (lo, hi) == (100.0, 102.0)  # the put wall at 50 is 50 % away: left out
