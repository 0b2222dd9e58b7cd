"""Second pass of engine speed-ups against the plain computations they replaced.

Each replaced routine is written out here in its former, straightforward form, and the
fast one must give the same bits (the speed-ups only regroup work: one pass where there
were two, a buffer reused, a step skipped when it has nothing to do).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgeflow.engine import smoothing
from hedgeflow.engine.butterfly import chord_violations, far_anchor, hull_repair, segment_ends
from hedgeflow.engine.smoothing import (
    LOG10_LAMBDA_RANGE,
    LOG_F_TOL,
    MAX_INTERVALS,
    MAX_ITERATIONS,
    POINTS_PER_INTERVAL,
    _design,
    _third_derivative,
    smoothing_spline,
)

# --------------------------------------------------------------------------- references


def reference_penalized_fit(
    x: np.ndarray, wt: np.ndarray, yw: np.ndarray, n_int: int, target: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The penalized fit as first written: its own design matrix, G + lambda P anew at
    every lambda."""
    n = x.size
    u = x[np.linspace(0, n - 1, n_int + 1).round().astype(np.intp)]
    t = np.concatenate((np.full(3, u[0]), u, np.full(3, u[-1])))
    m = n_int + 3
    bw = _design(u, t, x) * wt[:, None]
    gram = np.einsum("ki,kj->ij", bw, bw)
    rhs = np.einsum("ki,k->i", bw, yw)
    jumps = np.diff(_third_derivative(t, m), axis=0)
    pen = np.einsum("ki,kj->ij", jumps, jumps)
    tr_pen = float(np.trace(pen))
    scale = float(np.trace(gram)) / tr_pen if tr_pen > 0 else 1.0

    def fit(log_lam: float) -> tuple[np.ndarray, float]:
        a = gram + (10.0**log_lam * scale) * pen
        try:
            cc = np.linalg.solve(a, rhs)
        except np.linalg.LinAlgError:
            cc = np.linalg.lstsq(a, rhs, rcond=None)[0]
        rr = yw - np.einsum("ij,j->i", bw, cc)
        return cc, float(np.einsum("i,i->", rr, rr))

    lo, hi = LOG10_LAMBDA_RANGE
    coef, f = fit(lo)
    if f < target:
        f_lo = max(f, 1e-300)
        coef, f = fit(hi)
        if f > target:
            g_lo, g_hi = float(np.log(f_lo / target)), float(np.log(f / target))
            side = 0
            for _ in range(MAX_ITERATIONS):
                mid = (lo * g_hi - hi * g_lo) / (g_hi - g_lo)
                coef, f = fit(mid)
                g = float(np.log(f / target))
                if abs(g) < LOG_F_TOL:
                    break
                if g > 0:
                    hi, g_hi = mid, g
                    if side == -1:
                        g_lo /= 2
                    side = -1
                else:
                    lo, g_lo = mid, g
                    if side == 1:
                        g_hi /= 2
                    side = 1
    return u, t, coef, f


def reference_smoothing_spline(
    x: np.ndarray, y: np.ndarray, err: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, float]:
    """The spline as first written: the design at the data and at z in two passes."""
    n = x.size
    target = float(n)
    wt = 1.0 / err
    yw = y * wt
    x0, span = x[0], x[-1] - x[0]
    sx = (x - x0) / span
    vw = np.stack((np.ones_like(sx), sx, sx * sx, sx * sx * sx), axis=1) * wt[:, None]
    c, *_ = np.linalg.lstsq(vw, yw, rcond=None)
    r = yw - np.einsum("ij,j->i", vw, c)
    f = float(np.einsum("i,i->", r, r))
    if f <= target or n < 2 * POINTS_PER_INTERVAL:
        sz = (z - x0) / span
        return ((c[3] * sz + c[2]) * sz + c[1]) * sz + c[0], f
    n_int = int(min(MAX_INTERVALS, n // POINTS_PER_INTERVAL))
    while True:
        u, t, coef, f = reference_penalized_fit(x, wt, yw, n_int, target)
        if f <= target * (1.0 + 2.0 * LOG_F_TOL) or n_int >= n - 3:
            break
        n_int = min(2 * n_int, n - 3)
    return np.einsum("ij,j->i", _design(u, t, z), coef), f


# --------------------------------------------------------------------------- tests


def _noisy_smile(seed: int, n: int, noise: float) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-0.5, 0.3, n))
    x = x[np.concatenate(([True], np.diff(x) > 1e-9))]
    err = rng.uniform(1e-4, 6e-4, x.size)
    y = 0.04 + 0.02 * x + 0.3 * x * x + 0.5 * np.maximum(0.0, -x) ** 3
    y = y + noise * err * rng.standard_normal(x.size)
    return x, y, err


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(5, 400),
    noise=st.sampled_from([0.0, 1.0, 3.0, 30.0]),
    beyond=st.booleans(),
)
def test_smoothing_spline_equals_the_two_pass_reference_bitwise(
    seed: int, n: int, noise: float, beyond: bool
) -> None:
    # noise 30 errors leaves F > n even nearly unpenalized: the knot-doubling loop runs
    x, y, err = _noisy_smile(seed, n, noise)
    z = np.linspace(x[0], x[-1], 97)
    if beyond:  # the clamped evaluation points the smile passes (repeated ends)
        z = np.concatenate(([x[0]] * 3, x, [x[-1]] * 2))
    got, f = smoothing_spline(x, y, err, z)
    want, f_want = reference_smoothing_spline(x, y, err, z)
    assert f == f_want
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("n_int", [1, 2, 7, 40, 150])
def test_penalized_fit_equals_the_reference_bitwise(n_int: int) -> None:
    x, y, err = _noisy_smile(11, 320, 3.0)
    wt = 1.0 / err
    u, t, coef, f = smoothing._penalized_fit(x, wt, y * wt, n_int, float(x.size))
    ref = reference_penalized_fit(x, wt, y * wt, n_int, float(x.size))
    for a, b in zip((u, t, coef), ref[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    assert f == ref[3]


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(4, 700), n_int=st.integers(1, 60))
def test_band_gram_equals_the_dense_product_bitwise(seed: int, n: int, n_int: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.unique(rng.uniform(-0.6, 0.4, n))
    n_int = min(n_int, max(x.size - 3, 1))
    u, t = smoothing._knots(x, n_int)
    j, values = smoothing._band(u, t, x)
    band_w = values * rng.uniform(1.0, 1e5, x.size)[:, None]
    dense = smoothing._dense(j, band_w, n_int + 3)
    np.testing.assert_array_equal(smoothing._dense(j, values, n_int + 3), _design(u, t, x))
    np.testing.assert_array_equal(
        smoothing._band_gram(j, band_w, n_int + 3), np.einsum("ki,kj->ij", dense, dense)
    )


def reference_hull_repair(
    x: np.ndarray, c: np.ndarray, seg: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """`hull_repair` as first written (segment ends recomputed, np.clip)."""
    n = x.size
    _, last_all = segment_ends(seg)
    far = far_anchor(x[last_all])[np.cumsum(segment_ends(seg)[0]) - 1]
    keep = np.ones(n, dtype=bool)
    for _pass in range(n):
        idx = np.flatnonzero(keep)
        first, last = segment_ends(seg[idx])
        viol = chord_violations(x[idx], c[idx], first, last, tol, far[idx])
        if not viol.any():
            break
        keep[idx[viol]] = False
    changed = ~keep
    out = c.copy()
    if changed.any():
        pos = np.arange(n)
        first_all, _ = segment_ends(seg)
        seg_first = np.maximum.accumulate(np.where(first_all, pos, 0))
        seg_last = np.minimum.accumulate(np.where(last_all, pos, n)[::-1])[::-1]
        prev = np.maximum.accumulate(np.where(keep, pos, -1))
        nxt = np.minimum.accumulate(np.where(keep, pos, n)[::-1])[::-1]
        has_prev = prev >= seg_first
        has_next = nxt <= seg_last
        prev_c, next_c = np.clip(prev, 0, n - 1), np.clip(nxt, 0, n - 1)
        px = np.where(has_prev, x[prev_c], 0.0)
        pc = np.where(has_prev, c[prev_c], 1.0)
        nx = np.where(has_next, x[next_c], far)
        nc = np.where(has_next, c[next_c], 0.0)
        lam = (nx[changed] - x[changed]) / (nx[changed] - px[changed])
        out[changed] = lam * pc[changed] + (1.0 - lam) * nc[changed]
    return out, changed


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    sizes=st.lists(st.integers(1, 60), min_size=1, max_size=5),
    noise=st.sampled_from([0.0, 1e-4, 1e-2, 0.2]),
    tol=st.sampled_from([1e-12, -1e-13]),
)
def test_hull_repair_equals_the_former_code_bitwise(
    seed: int, sizes: list, noise: float, tol: float
) -> None:
    # noisy convex calls (violations everywhere at 0.2, none at 0), several segments
    rng = np.random.default_rng(seed)
    xs, cs, segs = [], [], []
    for s, size in enumerate(sizes):
        x = np.sort(rng.uniform(0.5, 1.6, size))
        x = x[np.concatenate(([True], np.diff(x) > 1e-9))]
        c = np.maximum(1.0 - x, 0.0) + 0.05 * np.exp(-4.0 * (x - 1.0) ** 2)
        xs.append(x)
        cs.append(c * (1.0 + noise * rng.standard_normal(x.size)))
        segs.append(np.full(x.size, s, dtype=np.intp))
    x, c, seg = np.concatenate(xs), np.concatenate(cs), np.concatenate(segs)
    got, changed = hull_repair(x, c, seg, tol)
    want, want_changed = reference_hull_repair(x, c, seg, tol)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(changed, want_changed)


@settings(max_examples=60, deadline=None)
@given(
    seg=st.lists(st.integers(0, 4), min_size=1, max_size=60).map(sorted),
    pick=st.lists(st.integers(0, 59), max_size=30),
)
def test_lost_strike_mask_equals_isin(seg: list, pick: list) -> None:
    # the fit's and the repair's lost strikes: a mask indexed per expiry for np.isin
    s = np.asarray(seg, dtype=np.intp)
    idx = np.unique(np.asarray([p for p in pick if p < s.size], dtype=np.intp))
    lost_all = np.zeros(s.size, dtype=bool)
    lost_all[idx] = True
    for j in np.unique(s[idx]).tolist():
        in_j = np.flatnonzero(s == j)
        np.testing.assert_array_equal(lost_all[in_j], np.isin(in_j, idx))


@pytest.mark.parametrize("n_int", [1, 2, 3, 9, 40, 120])
def test_penalty_from_the_band_equals_the_dense_product_bitwise(n_int: int) -> None:
    x = np.sort(np.random.default_rng(n_int).uniform(-0.5, 0.4, 4 * n_int + 8))
    _, t = smoothing._knots(x, n_int)
    m = n_int + 3
    jumps = np.diff(_third_derivative(t, m), axis=0)
    rows = np.arange(jumps.shape[0])
    cols = rows[:, None] + np.arange(5)
    outside = np.ones(jumps.shape, dtype=bool)
    outside[rows[:, None], cols] = False
    assert not jumps[outside].any()  # the band holds every nonzero
    np.testing.assert_array_equal(
        smoothing._band_gram(rows, jumps[rows[:, None], cols], m),
        np.einsum("ki,kj->ij", jumps, jumps),
    )
