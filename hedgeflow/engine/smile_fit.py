"""The smile inside the market and free of butterfly arbitrage by construction.

Step 6 of the chain pipeline (`hedgeflow.engine.smile`, docs/METHOD.md "Smile"). The
smoothing spline's smile is the seed. Prices are undiscounted and over F, at x = K/F, and
written as out-of-the-money prices u (the put below the forward, the call at and above):
the call is u + max(1 - x, 0), so convexity of the calls is a linear condition on u, a
quote's band is [bid, ask] / (e^{-r tau} F) in u directly, and wing prices keep their
precision.

- Fast path, every expiry at once: where the seed's calls are convex and decreasing on
  the strike grid (anchors C(0) = 1, C(1000 x_last) = 0, as `check_butterfly`) and every
  two-sided quote's price lies in [bid, ask] (every zero-bid quote's below its ask), the
  seed is the smile.
- Otherwise, per expiry that needs it, a linear program (scipy's HiGHS) over u at every
  strike of the grid: u >= 0; each call at most the chord of its neighbours (anchors
  included), which makes the calls convex and decreasing with slopes in [-1, 0]; u within
  each two-sided quote's band and below each zero-bid quote's ask; objective the L1
  distance from the seed, each strike's in units of its price error (a quarter of its
  spread; vega times the IV error where there is no quote), so few strikes move and each
  as little as the constraints need. A band is kept BAND_MARGIN of its width inside its
  quotes, so that double-precision round trips (the LP's tolerance, the IV re-implied
  from the price) cannot leave it.
- Where no smile inside every band exists, a first program finds the smallest departures
  from the bands (each in units of its spread; a zero-bid quote's ask, a bound the vendor
  IV rather than a quote gave, weighs ZERO_BID_SLACK_WEIGHT of that), the bands are widened
  by exactly those departures and the second program runs on them: the quotes the
  market's own arbitrage leaves outside are counted.
- The IVs of the strikes that moved are re-implied from their prices (one vectorized
  solve); every other strike keeps the seed's IV exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hedgeflow.engine.butterfly import (
    BUTTERFLY_TOL,
    chord_violations,
    far_anchor,
    normalized_otm,
    segment_ends,
)
from hedgeflow.engine.iv import implied_vol

# Fraction of a two-sided band's width kept clear on each side by the fit (0.1 % of the
# spread: far below any tick, far above double-precision and the LP's tolerance).
BAND_MARGIN = 1e-3
# Largest ratio between two strikes' weights in the fit, centred on the median (HiGHS's
# dual tolerance is absolute: weights spanning more would make the cheap strikes free).
MAX_WEIGHT_RATIO = 1e6
# A zero-bid quote's ask bound against a two-sided band, per unit of spread, when no smile
# satisfies both: the two-sided quote is the market, the ask bound only caps a vendor IV.
ZERO_BID_SLACK_WEIGHT = 1e-3
# A strike "moved" when the fit changes its price by more than this fraction of its
# price error (below it, the seed's IV is kept exactly).
MOVE_TOL = 1e-6
# HiGHS tolerances on the program scaled to unit median price error (see `_program`).
_HIGHS_OPTIONS = {"primal_feasibility_tolerance": 1e-9, "dual_feasibility_tolerance": 1e-9}


@dataclass(frozen=True)
class SmileFit:
    """The fitted smile of many expiries (nodes sorted by segment, then strike).

    sigma : IV per node, decimal; moved : strikes whose price the fit changed, per segment;
    outside : two-sided quotes left outside their band because no arbitrage-free smile
    inside every band exists, per segment; solved : segments the linear program ran on;
    failed : segments where HiGHS gave no solution (the seed is kept; the butterfly
    check after the fit repairs it).
    """

    sigma: NDArray[np.float64]
    moved: NDArray[np.intp]
    outside: NDArray[np.intp]
    solved: NDArray[np.bool_]
    failed: NDArray[np.bool_]


def fit_smiles(
    x: NDArray[np.float64],
    sigma: NDArray[np.float64],
    tau: NDArray[np.float64],
    seg: NDArray[np.intp],
    n_seg: int,
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
    err: NDArray[np.float64],
) -> SmileFit:
    """Fit the smiles of many expiries at once.

    Parameters
    ----------
    x : K/F per node, ascending within each segment (finite, positive)
    sigma : the seed's IV per node, decimal (finite, positive)
    tau : year fraction per node; seg : segment (expiry) id per node, ascending
    lo, hi : the node's band on its OTM price, undiscounted over F: [bid, ask] for a
        two-sided quote, [0, ask] for a zero-bid one, NaN where there is none
    err : the node's price error, undiscounted over F (> 0; the fit's unit of distance)
    """
    u = normalized_otm(x, sigma, tau)
    g = np.maximum(1.0 - x, 0.0)
    first, last = segment_ends(seg)
    viol = chord_violations(x, u + g, first, last, BUTTERFLY_TOL)
    with np.errstate(invalid="ignore"):
        off = (u < lo) | (u > hi)  # (NaN bands compare False)
    need = np.zeros(n_seg, dtype=bool)
    need[seg[viol | off]] = True
    moved = np.zeros(n_seg, dtype=np.intp)
    outside = np.zeros(n_seg, dtype=np.intp)
    failed = np.zeros(n_seg, dtype=bool)
    sig = sigma.copy()
    if not need.any():
        return SmileFit(sig, moved, outside, need, failed)

    counts = np.bincount(seg, minlength=n_seg)
    end = np.cumsum(counts)
    start = end - counts
    fitted = np.full(x.size, np.nan)
    for j in np.flatnonzero(need).tolist():
        sl = slice(int(start[j]), int(end[j]))
        res = _fit_one(x[sl], u[sl], g[sl], lo[sl], hi[sl], err[sl])
        if res is None:
            failed[j] = True
            continue
        fitted[sl], outside[j] = res
    with np.errstate(invalid="ignore"):
        change = np.abs(fitted - u) > MOVE_TOL * err  # NaN (not fitted) compares False
    idx = np.flatnonzero(change)
    if idx.size:
        iv, _ = implied_vol(fitted[idx], 1.0, x[idx], tau[idx], 0.0, x[idx] >= 1.0)
        ok = np.isfinite(iv) & (iv > 0)
        sig[idx[ok]] = iv[ok]
        for j in np.unique(seg[idx[~ok]]).tolist():
            # a price at 0 (or below what double precision resolves) has no IV: the
            # strike takes the IV interpolated in ln x from its expiry's other strikes
            in_j = np.flatnonzero(seg == j)
            lost = np.isin(in_j, idx[~ok])
            if (~lost).any():
                lx = np.log(x[in_j])
                sig[in_j[lost]] = np.interp(lx[lost], lx[~lost], sig[in_j[~lost]])
        moved = np.bincount(seg[idx], minlength=n_seg)
    return SmileFit(sig, moved, outside, need & ~failed, failed)


def _fit_one(
    x: NDArray[np.float64],
    u: NDArray[np.float64],
    g: NDArray[np.float64],
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
    err: NDArray[np.float64],
) -> tuple[NDArray[np.float64], int] | None:
    """OTM prices of one expiry closest to the seed u within the bands (widened where no
    smile fits inside them); None when HiGHS fails. Returns (prices, quotes left outside)."""
    two = np.isfinite(lo) & np.isfinite(hi) & (lo > 0)
    one = np.isfinite(hi) & ~two
    width = np.where(two, hi - lo, 0.0)
    lo_b = np.where(two, lo + BAND_MARGIN * width, 0.0)
    hi_b = np.where(two, hi - BAND_MARGIN * width, np.where(one, hi, np.inf))
    hi_b = np.where(one, hi * (1.0 - BAND_MARGIN), hi_b)
    lo_b = np.minimum(lo_b, hi_b)  # (a band narrower than double precision: a point)
    # scale: prices in units of the median price error (HiGHS's tolerances are absolute)
    median = float(np.median(err))
    scale = 1.0 / median
    bound = float(np.sqrt(MAX_WEIGHT_RATIO))
    weight = np.minimum(np.maximum(median / err, 1.0 / bound), bound)
    out = _program(x, u, g, lo_b, hi_b, weight, scale, None)
    if out is None:
        return None
    prices, status = out
    if status == 0:
        return prices, 0
    # no smile inside every band: the smallest departures, in spreads, then the closest
    # smile within the bands widened by them
    unit = np.where(two, width, np.where(one, hi / ZERO_BID_SLACK_WEIGHT, np.inf))
    banded = two | one
    out = _program(x, u, g, lo_b, hi_b, weight, scale, np.where(banded, 1.0 / unit, 0.0))
    if out is None or out[1] != 0:
        return None
    slack_lo, slack_hi = out[0][: x.size], out[0][x.size :]
    lo_w = lo_b - slack_lo
    hi_w = hi_b + slack_hi
    # the departures widened by a hair so that the second program is feasible to its
    # own tolerance
    pad = 1e-9 / scale
    lo_w = np.where(slack_lo > 0, lo_w - pad, lo_w)
    hi_w = np.where(slack_hi > 0, hi_w + pad, hi_w)
    out = _program(x, u, g, np.maximum(lo_w, 0.0), hi_w, weight, scale, None)
    if out is None or out[1] != 0:
        return None
    prices = out[0]
    left = two & ((prices < lo) | (prices > hi))
    return prices, int(left.sum())


def _program(
    x: NDArray[np.float64],
    u: NDArray[np.float64],
    g: NDArray[np.float64],
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
    weight: NDArray[np.float64],
    scale: float,
    slack_cost: NDArray[np.float64] | None,
) -> tuple[NDArray[np.float64], int] | None:
    """One linear program on the OTM prices p of one expiry, in units of 1/scale.

    Without `slack_cost`: minimize sum weight |p - u| subject to lo <= p <= hi and the
    chord conditions; returns (p, 0), or (empty, 2) when infeasible. With `slack_cost`:
    minimize sum slack_cost (s_lo + s_hi) subject to lo - s_lo <= p <= hi + s_hi and the
    chord conditions; returns (concatenated s_lo, s_hi, 0). None: HiGHS failed otherwise.
    """
    from scipy.optimize import linprog  # ~0.15 s to import: only where a fit is needed
    from scipy.sparse import coo_array, vstack

    n = x.size
    first = np.zeros(n, dtype=bool)
    last = np.zeros(n, dtype=bool)
    first[0] = last[-1] = True
    # chord condition at each strike: c_i <= lam c_prev + (1 - lam) c_next with the
    # anchors (0, 1) before the first strike and (far, 0) after the last; on p = c - g:
    # p_i - lam p_prev - (1 - lam) p_next <= lam g_prev + (1 - lam) g_next - g_i
    px = np.concatenate(([0.0], x[:-1]))
    nx = np.concatenate((x[1:], far_anchor(x[-1:])))
    gp = np.concatenate(([1.0], g[:-1]))
    gn = np.concatenate((g[1:], [0.0]))
    lam = (nx - x) / (nx - px)
    rhs = lam * gp + (1.0 - lam) * gn - g
    i = np.arange(n)
    rows = np.concatenate((i, i[1:], i[:-1]))
    cols = np.concatenate((i, i[:-1], i[1:]))
    vals = np.concatenate((np.ones(n), -lam[1:], -(1.0 - lam[:-1])))
    eye = coo_array((np.ones(n), (i, i)), shape=(n, n))
    zero = coo_array((n, n))
    options: dict[str, Any] = dict(_HIGHS_OPTIONS)
    if slack_cost is None:
        # variables (p, e), e >= |p - u|: p - e <= u, -p - e <= -u
        a = vstack(
            [
                coo_array((vals, (rows, cols)), shape=(n, 2 * n)),
                _hstack(eye, -eye),
                _hstack(-eye, -eye),
            ]
        )
        b = np.concatenate((rhs, u, -u)) * scale
        cost = np.concatenate((np.zeros(n), weight))
        bounds = np.concatenate(
            (np.stack((lo, hi), axis=1), np.stack((np.zeros(n), np.full(n, np.inf)), axis=1))
        )
        bounds = np.where(np.isfinite(bounds), bounds * scale, bounds)
        res = linprog(cost, A_ub=a, b_ub=b, bounds=bounds, method="highs", options=options)
        if res.status == 0:
            return np.asarray(res.x[:n], dtype=np.float64) / scale, 0
        return (np.zeros(0), 2) if res.status == 2 else None
    # variables (p, s_lo, s_hi): -p - s_lo <= -lo, p - s_hi <= hi (only where banded)
    finite_lo = lo > 0
    finite_hi = np.isfinite(hi)
    a = vstack(
        [
            coo_array((vals, (rows, cols)), shape=(n, 3 * n)),
            _hstack(-eye, -eye, zero),
            _hstack(eye, zero, -eye),
        ]
    )
    keep = np.concatenate((np.ones(n, dtype=bool), finite_lo, finite_hi))
    a = a.tocsr()[keep]
    b = np.concatenate((rhs, -lo, np.where(finite_hi, hi, 0.0)))[keep] * scale
    cost = np.concatenate((np.zeros(n), slack_cost, slack_cost)) / scale
    bounds = np.stack((np.zeros(3 * n), np.full(3 * n, np.inf)), axis=1)
    res = linprog(cost, A_ub=a, b_ub=b, bounds=bounds, method="highs", options=options)
    if res.status != 0:
        return None
    return np.asarray(res.x[n:], dtype=np.float64) / scale, 0


def _hstack(*blocks: Any) -> Any:
    from scipy.sparse import hstack

    return hstack(blocks)
