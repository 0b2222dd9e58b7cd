"""The heatmap's grid: each cell is the curve (or the strikes) it came from, recomputed here
by plain loops from the samples, and its sign is the curve's."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from hedgeflow.app.heatmap import (
    NO_DATA,
    Lens,
    build_grid,
    price_rows,
    quantize,
    robust_scale,
)
from hedgeflow.app.history import CurveSample, curve_sample
from hedgeflow.engine.scope import analyze_scope
from tests.tui.conftest import START, shared_sim


@pytest.fixture(scope="module")
def samples() -> list[CurveSample]:
    """Real curves: the sim analyzed every 7 minutes for 40 minutes."""
    sim = shared_sim()
    out = []
    for m in range(0, 42, 7):
        when = START + timedelta(minutes=m)
        out.append(curve_sample(analyze_scope(sim.chain_at("SPX", when), now=when)))
    return out


def _chosen(samples: list[CurveSample], n_time: int) -> list[int]:
    """The latest sample per equal time bin, by a loop; a bin without one repeats the
    latest before it if that is less than 3 median intervals older than the bin's start."""
    times = [s.time for s in samples]
    gaps = sorted(b - a for a, b in zip(times, times[1:], strict=False))
    mid = len(gaps) // 2
    median = gaps[mid] if len(gaps) % 2 else 0.5 * (gaps[mid - 1] + gaps[mid])
    t0, t1 = times[0], times[-1]
    w = (t1 - t0) / n_time
    out = []
    for b in range(n_time):
        lo, hi = t0 + b * w, (t1 if b == n_time - 1 else t0 + (b + 1) * w)
        before = [i for i, t in enumerate(times) if t <= hi]
        inside = [i for i in before if times[i] > lo or (b == 0 and times[i] == lo)]
        if inside:
            out.append(inside[-1])
        elif before and times[before[-1]] > lo - 3.0 * median:
            out.append(before[-1])
        else:
            out.append(-1)
    return out


def _interp_by_hand(x: list[float], y: list[float], p: float) -> float:
    if p < x[0] or p > x[-1]:
        return float("nan")
    for j in range(len(x) - 1):
        if x[j] <= p <= x[j + 1]:
            if x[j + 1] == x[j]:
                return y[j]
            return y[j] + (y[j + 1] - y[j]) * (p - x[j]) / (x[j + 1] - x[j])
    return y[-1]


def test_impulse_cells_equal_the_curves_they_came_from(samples: list[CurveSample]) -> None:
    n_time, n_price = 9, 37
    g = build_grid(samples, Lens.IMPULSE, n_time, n_price)
    assert g.shape == (n_price, n_time)
    chosen = _chosen(samples, n_time)
    assert g.sample.tolist() == chosen
    lo = min(float(s.price[0]) for s in samples)
    hi = max(float(s.price[-1]) for s in samples)
    step = (hi - lo) / n_price
    checked = 0
    for col, i in enumerate(chosen):
        if i < 0:
            assert np.isnan(g.values[:, col]).all() and np.isnan(g.spot[col])
            continue
        s = samples[i]
        assert g.spot[col] == s.spot and g.time[col] == s.time
        x, y = s.price.astype(float).tolist(), s.impulse.astype(float).tolist()
        for row in range(n_price):
            p = lo + (row + 0.5) * step
            want = _interp_by_hand(x, y, p)
            got = g.values[row, col]
            if np.isnan(want):
                assert np.isnan(got)
            else:
                assert got == pytest.approx(want, rel=1e-9, abs=1e-9 * max(map(abs, y)))
                checked += 1
    assert checked > n_price * 3  # most cells hold a value


def test_strike_cells_are_the_strikes_summed_in_their_price_bin(
    samples: list[CurveSample],
) -> None:
    n_time, n_price = 6, 23
    for lens, field in ((Lens.GEX, "gex"), (Lens.CHARM, "charm")):
        g = build_grid(samples, lens, n_time, n_price)
        edges = g.price_edges.tolist()
        for col, i in enumerate(g.sample.tolist()):
            if i < 0:
                continue
            s = samples[i]
            ks, vs = s.strikes.astype(float).tolist(), getattr(s, field).astype(float).tolist()
            assert any(v != 0 for v in vs)
            for row in range(n_price):
                lo_e, hi_e = edges[row], edges[row + 1]
                top = row == n_price - 1
                inside = [
                    v
                    for k, v in zip(ks, vs, strict=True)
                    if lo_e <= k < hi_e or (top and k == hi_e)
                ]
                if lo_e > max(ks) or hi_e <= min(ks):
                    assert np.isnan(g.values[row, col])
                else:
                    assert g.values[row, col] == pytest.approx(sum(inside), rel=1e-9, abs=1e-6)


def _synthetic(t: float, spot: float, slope: float) -> CurveSample:
    price = np.linspace(90.0, 110.0, 41, dtype=np.float32)
    strikes = np.arange(90.0, 111.0, 5.0, dtype=np.float32)
    return CurveSample(
        time=t,
        spot=spot,
        price=price,
        impulse=(slope * (price - 100.0)).astype(np.float32),
        strikes=strikes,
        gex=(slope * (strikes - 100.0)).astype(np.float32),
        charm=-(strikes - 100.0).astype(np.float32),
    )


def test_the_sign_of_a_cell_is_the_curve_sign_at_its_price() -> None:
    # +: positive above 100 (dampening), negative below; the second sample flipped
    samples = [_synthetic(0.0, 101.0, 1e6), _synthetic(60.0, 99.0, -1e6)]
    g = build_grid(samples, Lens.IMPULSE, 2, 20)
    q = quantize(g.values, g.scale)
    above, below = g.price > 100.0, g.price < 100.0
    assert (g.values[above, 0] > 0).all() and (g.values[below, 0] < 0).all()
    assert (g.values[above, 1] < 0).all() and (g.values[below, 1] > 0).all()
    assert (q[above, 0] > 0).all() and (q[below, 0] < 0).all()
    assert (q[above, 1] < 0).all() and (q[below, 1] > 0).all()
    # spot drawn in the row holding it
    assert g.spot_row.tolist() == price_rows(g.price_edges, np.array([101.0, 99.0])).tolist()
    assert g.price_edges[g.spot_row[0]] <= 101.0 < g.price_edges[g.spot_row[0] + 1]
    gx = build_grid(samples, Lens.CHARM, 2, 4)
    # charm = -(K - 100), bins of 5 points from 90: the top bin holds 105 and 110 (its upper
    # edge), the bottom one 90 alone
    assert gx.values[:, 0].tolist() == pytest.approx([10.0, 5.0, 0.0, -15.0])


def test_quantize_and_the_robust_scale() -> None:
    v = np.array([0.0, 0.25, 0.26, 0.5, 0.75, 0.99, 1.0, 7.0, -0.1, -7.0, np.nan])
    assert quantize(v, 1.0).tolist() == [0, 1, 2, 2, 3, 4, 4, 4, -1, -4, NO_DATA]
    rng = np.random.default_rng(0)
    x = rng.normal(size=1000)
    x[0] = 1e9  # one outlier does not set the scale
    assert robust_scale(x) == pytest.approx(np.percentile(np.abs(x), 98))
    assert robust_scale(np.array([np.nan, 0.0])) == 1.0


def test_a_gap_is_held_for_three_polls_then_empty() -> None:
    # polls every 10 s, then nothing for 1,000 s (a feed outage), then polls again
    times = [0.0, 10.0, 20.0, 30.0, 1030.0, 1040.0]
    samples = [_synthetic(t, 100.0, 1.0) for t in times]
    g = build_grid(samples, Lens.IMPULSE, 104, 8)
    assert g.sample.tolist() == _chosen(samples, 104)
    # 10-s columns: held for 30 s past the last poll before the outage, then a gap
    assert g.sample[:7].tolist() == [1, 2, 3, 3, 3, 3, -1]
    assert (g.sample[7:102] == -1).all()
    assert g.sample[-2:].tolist() == [4, 5]
    assert np.isnan(g.values[:, 50]).all() and (quantize(g.values, g.scale)[:, 50] == NO_DATA).all()


def test_thinned_curves_fill_the_columns_where_there_were_analyses() -> None:
    """Older curves thinned (SymbolHistory.max_curves): a column with analyses but no
    curves of its own repeats the latest curves before it; an outage (no analysis) stays a
    gap."""
    grid = np.linspace(5990.0, 6010.0, 5)

    def sample(t: float) -> CurveSample:
        v = np.full(5, t, dtype=np.float32)  # the cell's value says which sample it is
        k = np.array([6000.0], dtype=np.float32)
        return CurveSample(t, 6000.0, grid.astype(np.float32), v, k, k, k)

    t0 = 1.7e9
    kept = [t0 + 80.0 * i for i in range(10)]  # the old part, thinned to one in 16
    kept += [t0 + 800.0 + 5.0 * i for i in range(1, 161)]  # the newest: every analysis
    analyzed = np.array([t0 + 5.0 * i for i in range(int(1600 / 5) + 1)])
    samples_ = [sample(t) for t in kept]
    n_time = 80  # 20 s columns: the old part has a curve every fourth
    plain = build_grid(samples_, Lens.IMPULSE, n_time, 4)
    old = plain.time_edges[1:] <= t0 + 800.0
    assert np.isnan(plain.values[:, old]).all(axis=0).any()  # gaps without the analyses
    filled = build_grid(samples_, Lens.IMPULSE, n_time, 4, analyzed=analyzed)
    assert not np.isnan(filled.values[2]).any()
    # each column shows the latest kept curves at or before its end
    ends = filled.time_edges[1:]
    want = [max(t for t in kept if t <= end + 1e-9) for end in ends]
    np.testing.assert_array_equal(filled.values[2], np.array(want, dtype=np.float32))
    # an outage: no analysis from t0 + 200 to t0 + 500 s stays empty
    out = analyzed[(analyzed <= t0 + 200.0) | (analyzed >= t0 + 500.0)]
    gap = build_grid(samples_, Lens.IMPULSE, n_time, 4, analyzed=out)
    mid = (gap.time_edges[:-1] >= t0 + 260.0) & (gap.time_edges[1:] <= t0 + 440.0)
    cols_without = np.isnan(gap.values[2, mid])
    assert cols_without.any()
    # and every column that stays empty there had no curve of its own
    starts = gap.time_edges[:-1]
    own = np.array([any(a < t <= b for t in kept) for a, b in zip(starts, ends, strict=True)])
    assert not own[mid][cols_without].any()
