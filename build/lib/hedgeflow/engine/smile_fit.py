"""The smile inside the market and free of butterfly arbitrage by construction.

Step 6 of the chain pipeline (`hedgeflow.engine.smile`, docs/METHOD.md "Smile"). The
smoothing spline's smile is the seed. Prices are undiscounted and over F, at x = K/F, and
written as out-of-the-money prices p (the put below the forward, the call at and above):
the call is p + max(1 - x, 0), so convexity of the calls is a condition on p alone, a
quote's band is [bid, ask] / (e^{-r tau} F) in p directly, and wing prices keep their
precision. The calls are arbitrage-free on the strike grid when each is at or below the
chord of its neighbours, with the anchors C(0) = 1 and C(1000 x_last) = 0 (convex and
decreasing, slopes in [-1, 0]: `check_butterfly`'s test). All steps run on every expiry at
once; each later one only on the expiries the one before left in trouble.

1. The seed, where its calls are arbitrage-free and every two-sided quote's price is in
   [bid, ask] and every zero-bid quote's below its ask.
2. Else the seed's prices clipped into their bands (BAND_MARGIN of the spread inside):
   where those calls are arbitrage-free, no smile inside the bands is closer to the seed
   at any strike.
3. Else those calls lowered onto their lower convex hull (`hull_repair`), which only
   lowers; where that leaves a strike below its bid:
4. raised again (`_raise_into_bands`): H, the lower convex hull of the two-sided asks, is
   the greatest convex curve under every ask, so an arbitrage-free smile inside every
   two-sided band exists iff H is at or above every bid; a bid above H (the quotes
   themselves admit an arbitrage) is lowered onto H, the least departure any smile that
   crosses no ask can make. Each strike below its bid then gets a line through the bid,
   parallel to the calls there (lifting no strike by more than this one's shortfall) and
   turned only as far as staying under H needs; the calls become the maximum of
   themselves and those lines: convex, every bid met, no ask crossed.
5. The IVs of the strikes whose price moved are re-implied (one vectorized solve); every
   other strike keeps the seed's IV exactly.

A zero-bid quote's ask caps a vendor IV fallback: the seed is clipped to it (step 2), but
it is not a two-sided market and gives way where a line of step 4 needs it to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hedgeflow.engine.butterfly import (
    BUTTERFLY_TOL,
    chord_violations,
    far_anchor,
    hull_repair,
    normalized_otm,
    segment_ends,
)
from hedgeflow.engine.iv import implied_vol

# Fraction of a two-sided band's width kept clear on each side by the fit (0.1 % of the
# spread: far below any tick, far above the prices' double-precision round trip through
# their IVs).
BAND_MARGIN = 1e-3
# Tolerance of the asks' hull (a bound, never a price): a point within 1e-13 (of F) below
# the chord of its neighbours goes too (it is on the hull to that precision), so that a
# run of equal asks (0.05 on every far strike) goes in one pass of `hull_repair`, not one
# point a pass.
HULL_TIES = -1e-13
# A strike "moved" when the fit changes its price by more than this fraction of its
# price error (below it, the seed's IV is kept exactly).
MOVE_TOL = 1e-6


@dataclass(frozen=True)
class SmileFit:
    """The fitted smile of many expiries (nodes sorted by segment, then strike).

    sigma : IV per node, decimal; moved : strikes whose price the fit changed, per segment;
    outside : two-sided quotes priced outside their band because no arbitrage-free smile
    inside every band exists (their bid is above every convex curve under the asks), per
    segment.
    """

    sigma: NDArray[np.float64]
    moved: NDArray[np.intp]
    outside: NDArray[np.intp]


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
    err : the node's price error, undiscounted over F (> 0): a move below MOVE_TOL of it
        keeps the seed's IV
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
    sig = sigma.copy()
    if not need.any():
        return SmileFit(sig, moved, outside)

    lo_b, hi_b = _margined(lo, hi)
    with np.errstate(invalid="ignore"):
        fitted = np.where(u < lo_b, lo_b, np.where(u > hi_b, hi_b, u))
    bad = chord_violations(x, fitted + g, first, last, BUTTERFLY_TOL)
    if bad.any():
        redo = np.zeros(n_seg, dtype=bool)
        redo[seg[bad]] = True
        sub = np.flatnonzero(redo[seg])
        hull, _ = hull_repair(x[sub], fitted[sub] + g[sub], seg[sub], BUTTERFLY_TOL)
        fitted[sub] = hull - g[sub]
        with np.errstate(invalid="ignore"):
            short = fitted[sub] < lo_b[sub] - BAND_MARGIN * (hi_b[sub] - lo_b[sub])
        redo[:] = False
        redo[seg[sub[short]]] = True
        if redo.any():
            sub = np.flatnonzero(redo[seg])
            fitted[sub] = _raise_into_bands(
                x[sub], g[sub], fitted[sub], lo_b[sub], hi_b[sub], seg[sub]
            )
    sub = np.flatnonzero(need[seg])
    fitted = fitted[sub]
    left = (lo[sub] > 0) & ((fitted < lo[sub]) | (fitted > hi[sub]))  # (NaN: False)
    outside = np.bincount(seg[sub[left]], minlength=n_seg)
    change = np.abs(fitted - u[sub]) > MOVE_TOL * err[sub]
    idx = sub[change]
    if idx.size:
        iv, _ = implied_vol(fitted[change], 1.0, x[idx], tau[idx], 0.0, x[idx] >= 1.0)
        ok = np.isfinite(iv) & (iv > 0)
        sig[idx[ok]] = iv[ok]
        lost_all = np.zeros(x.size, dtype=bool)
        lost_all[idx[~ok]] = True
        for j in np.unique(seg[idx[~ok]]).tolist():
            # a price at 0 (or below what double precision resolves) has no IV: the
            # strike takes the IV interpolated in ln x from its expiry's other strikes
            in_j = np.flatnonzero(seg == j)
            lost = lost_all[in_j]  # (np.isin(in_j, idx[~ok]) without its sort)
            if (~lost).any():
                lx = np.log(x[in_j])
                sig[in_j[lost]] = np.interp(lx[lost], lx[~lost], sig[in_j[~lost]])
        moved = np.bincount(seg[idx], minlength=n_seg)
    return SmileFit(sig, moved, outside)


def _raise_into_bands(
    x: NDArray[np.float64],
    g: NDArray[np.float64],
    p: NDArray[np.float64],
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
    seg: NDArray[np.intp],
) -> NDArray[np.float64]:
    """Step 4 of the module docstring: OTM prices p whose calls p + g are convex (anchors
    included) and below every ask, raised to the two-sided bids (each bid first lowered
    onto H, the asks' lower convex hull, where it is above it)."""
    first, _ = segment_ends(seg)
    c = p + g
    e = np.flatnonzero(np.isfinite(lo) & (lo > 0))  # the two-sided quotes
    floor = np.where(np.isfinite(lo), lo, -np.inf) + g  # the bids, as calls
    envelope, _ = hull_repair(x[e], hi[e] + g[e], seg[e], HULL_TIES)
    floor[e] = np.minimum(floor[e], envelope)
    below = c < floor
    prev_x = np.concatenate(([0.0], x[:-1]))
    prev_c = np.concatenate(([1.0], c[:-1]))
    prev_x[first], prev_c[first] = 0.0, 1.0
    tangent = (c - prev_c) / (x - prev_x)  # the calls' slope from the left
    out = c.copy()
    for j in np.unique(seg[below]).tolist():
        in_j = np.flatnonzero(seg == j)
        b = in_j[below[in_j]]
        # H's vertices with the anchors; the line through (x_b, floor_b) stays under H iff
        # its slope is at least (floor_b - H_v) / (x_b - x_v) for every vertex v left of
        # x_b and at most (H_v - floor_b) / (x_v - x_b) for every one right of it
        mine = seg[e] == j
        hx = np.concatenate(([0.0], x[e[mine]], far_anchor(x[in_j[-1:]])))
        hc = np.concatenate(([1.0], envelope[mine], [0.0]))
        dx = hx - x[b][:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (hc - floor[b][:, None]) / dx
        s_min = np.where(dx < 0, ratio, -np.inf).max(axis=1)
        s_max = np.where(dx > 0, ratio, np.inf).min(axis=1)
        slope = np.minimum(np.maximum(tangent[b], s_min), s_max)
        lines = floor[b][:, None] + slope[:, None] * (x[in_j] - x[b][:, None])
        out[in_j] = np.maximum(c[in_j], lines.max(axis=0))
    result: NDArray[np.float64] = out - g
    return result


def _margined(
    lo: NDArray[np.float64], hi: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The bands the fit aims at: a two-sided one BAND_MARGIN of its width inside the
    quotes, a zero-bid one [0, ask (1 - BAND_MARGIN)], NaN where there is none."""
    two = np.isfinite(lo) & np.isfinite(hi) & (lo > 0)
    one = np.isfinite(hi) & ~two
    width = np.where(two, hi - lo, 0.0)
    lo_b = np.where(two, lo + BAND_MARGIN * width, np.where(one, 0.0, np.nan))
    hi_b = np.where(two, hi - BAND_MARGIN * width, np.where(one, hi * (1.0 - BAND_MARGIN), np.nan))
    with np.errstate(invalid="ignore"):
        return np.minimum(lo_b, hi_b), hi_b  # (a band narrower than double precision)
