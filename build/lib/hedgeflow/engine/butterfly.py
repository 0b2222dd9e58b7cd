"""The butterfly check of a smile, and the hull repair behind it (docs/METHOD.md "Smile").

Call prices are undiscounted and normalized by the forward, at strikes x = K/F: a smile
is free of butterfly and call-spread arbitrage when C(x) is convex and decreasing, with
the anchors C(0) = 1 and C(inf) = 0. Normalizing makes the check scale-free: the same
tolerance holds for a strike grid near 5,000 or near 5e10. The smile is fitted free of
arbitrage by `hedgeflow.engine.smile_fit`; the repair here (a violating strike lowered
onto the lower convex hull of the prices, its IV re-implied) holds that as an invariant
after the prices' round trip through their IVs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hedgeflow.engine.iv import implied_vol, normalized_otm_price
from hedgeflow.engine.types import IVSurface

# Absolute tolerance of the butterfly check on call prices normalized by F: double
# precision noise on prices of order F is ~1e-16; wing prices below ~1e-12 F carry no
# information.
BUTTERFLY_TOL = 1e-12


def normalized_otm(
    x: NDArray[np.float64], sigma: NDArray[np.float64], tau: NDArray[np.float64] | float
) -> NDArray[np.float64]:
    """Undiscounted out-of-the-money prices over F at strikes x = K/F: the put below the
    forward, the call at and above (wing prices keep their precision)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.abs(np.log(x))
        otm: NDArray[np.float64] = normalized_otm_price(h, sigma * np.sqrt(tau)) * np.sqrt(x)
    return otm


def normalized_calls(
    x: NDArray[np.float64], sigma: NDArray[np.float64], tau: NDArray[np.float64] | float
) -> NDArray[np.float64]:
    """Undiscounted call prices over F at strikes x = K/F, from the OTM price (put below
    the forward plus its parity intrinsic) so that wing prices keep their precision.

    A ratio that under- or overflows (a strike of 1e-300 under a forward of 1e15) is the
    anchor itself: C(0) = 1, C(inf) = 0, not the NaN of log(0) * 0."""
    with np.errstate(invalid="ignore"):
        calls = normalized_otm(x, sigma, tau) + np.maximum(1.0 - x, 0.0)
    return np.where(x == 0.0, 1.0, np.where(np.isposinf(x), 0.0, calls))


def far_anchor(x_last: np.ndarray | float) -> np.ndarray:
    # the right anchor C -> 0 "far above": 1000 times the last strike (at least 1000 F)
    return np.maximum(np.asarray(x_last, dtype=np.float64) * 1e3, 1e3)


def segment_ends(seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last element of each run of equal segment ids."""
    first = np.empty(seg.size, dtype=bool)
    last = np.empty(seg.size, dtype=bool)
    if seg.size:
        first[0] = last[-1] = True
        np.not_equal(seg[1:], seg[:-1], out=first[1:])
        last[:-1] = first[1:]
    return first, last


def chord_violations(
    x: NDArray[np.float64],
    c: NDArray[np.float64],
    first: np.ndarray,
    last: np.ndarray,
    tol: float,
    far: np.ndarray | None = None,
) -> NDArray[np.bool_]:
    """Points above the chord of their neighbours, segment by segment (x ascending within a
    segment; `first`/`last` mark segment ends, which see the anchors (0, 1) and (far, 0);
    `far` per element, default 1000 x)."""
    px = np.empty_like(x)
    pc = np.empty_like(c)
    nx = np.empty_like(x)
    nc = np.empty_like(c)
    px[1:], pc[1:] = x[:-1], c[:-1]
    nx[:-1], nc[:-1] = x[1:], c[1:]
    px[first], pc[first] = 0.0, 1.0
    nx[last] = far_anchor(x[last]) if far is None else far[last]
    nc[last] = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        lam = (nx - x) / (nx - px)
        chord = lam * pc + (1.0 - lam) * nc
    return ~(c <= chord + tol)


def check_butterfly(
    strikes: np.ndarray | IVSurface,
    call_prices: np.ndarray | None = None,
    forward: float | None = None,
    *,
    discount: float = 1.0,
    tol: float = BUTTERFLY_TOL,
) -> np.ndarray:
    """Strikes where call prices admit a butterfly (or call-spread) arbitrage.

    Parameters
    ----------
    strikes : ascending, unique, points; or an `IVSurface`, whose smoothed smile is priced
        (undiscounted Black-76 on its forward and tau) and checked
    call_prices : call price at each strike, points (discounted by `discount`)
    forward : F, points; discount : e^{-r tau}
    tol : tolerance on prices normalized by F

    Returns
    -------
    bool array, True at a strike whose price lies above the chord of its neighbours
    (convexity), including the anchors C(0) = e^{-r tau} F and C(inf) = 0, so a price
    rising with strike or falling faster than the discount factor is flagged as well.
    """
    if isinstance(strikes, IVSurface):
        surface = strikes
        x = surface.strikes / surface.forward
        with np.errstate(invalid="ignore"):
            c = normalized_calls(x, surface.smoothed_iv, surface.tau)
    else:
        if call_prices is None or forward is None:
            raise ValueError("`call_prices` and `forward` are required with strike arrays")
        x = np.asarray(strikes, dtype=np.float64) / forward
        c = np.asarray(call_prices, dtype=np.float64) / (forward * discount)
    if x.size == 0:
        return np.zeros(0, dtype=bool)
    first, last = segment_ends(np.zeros(x.size, dtype=np.intp))
    return chord_violations(x, c, first, last, tol)


def hull_repair(
    x: np.ndarray, c: np.ndarray, seg: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Lower convex hull repair, segment by segment: points above their segment's hull
    (anchors (0, 1) and (1000 x_last, 0) included) drop onto it, the rest stay.

    Returns (repaired c, mask of changed points). A point strictly above the chord of two
    other points is never on the lower hull, so all such points go at once each pass; the
    passes are vectorized over all segments.
    """
    n = x.size
    first_all, last_all = segment_ends(seg)
    far = far_anchor(x[last_all])[np.cumsum(first_all) - 1]  # per element: its segment's far
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
        # linear interpolation between the kept neighbours in the segment (or the anchors)
        pos = np.arange(n)
        seg_first = np.maximum.accumulate(np.where(first_all, pos, 0))
        seg_last = np.minimum.accumulate(np.where(last_all, pos, n)[::-1])[::-1]
        prev = np.maximum.accumulate(np.where(keep, pos, -1))
        nxt = np.minimum.accumulate(np.where(keep, pos, n)[::-1])[::-1]
        has_prev = prev >= seg_first
        has_next = nxt <= seg_last
        # (prev >= -1 and nxt <= n by construction: np.clip without its wrapper)
        prev_c, next_c = np.maximum(prev, 0), np.minimum(nxt, n - 1)
        px = np.where(has_prev, x[prev_c], 0.0)
        pc = np.where(has_prev, c[prev_c], 1.0)
        nx = np.where(has_next, x[next_c], far)
        nc = np.where(has_next, c[next_c], 0.0)
        lam = (nx[changed] - x[changed]) / (nx[changed] - px[changed])
        out[changed] = lam * pc[changed] + (1.0 - lam) * nc[changed]
    return out, changed


def convex_repair(x: np.ndarray, c: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """`hull_repair` of one expiry."""
    return hull_repair(x, c, np.zeros(x.size, dtype=np.intp), tol)


def repair_butterflies(
    x: np.ndarray, k: np.ndarray, sig: np.ndarray, tau: np.ndarray, seg: np.ndarray, n_seg: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check the smiles at strikes x = K/F (ascending within each segment) and repair
    them where violated, all segments at once.

    Violating points get the IV of the lower convex hull price. A hull price at intrinsic
    to double precision has no IV; such a strike takes the IV interpolated in k from the
    strikes around it (its time value is below double precision either way). Up to three
    passes, each only over the segments the previous one left violated. Returns (sigma,
    points repaired per segment, points still violating per segment).
    """
    first, last = segment_ends(seg)
    calls = normalized_calls(x, sig, tau)
    viol = chord_violations(x, calls, first, last, BUTTERFLY_TOL)
    changed_any = np.zeros(x.size, dtype=bool)
    sig = sig.copy()
    for _pass in range(3):
        if not viol.any():
            break
        bad_seg = np.zeros(n_seg, dtype=bool)
        bad_seg[seg[viol]] = True
        sub = np.flatnonzero(bad_seg[seg])
        hull, changed = hull_repair(x[sub], calls[sub], seg[sub], BUTTERFLY_TOL)
        idx = sub[changed]
        iv_fix, _ = implied_vol(hull[changed], 1.0, x[idx], tau[idx], 0.0, True)
        fixed = np.isfinite(iv_fix)
        sig[idx[fixed]] = iv_fix[fixed]
        lost_all = np.zeros(x.size, dtype=bool)
        lost_all[idx[~fixed]] = True
        for j in np.unique(seg[idx[~fixed]]):
            # rare: interpolate in k from the segment's other strikes
            in_j = np.flatnonzero(seg == j)
            lost = lost_all[in_j]  # (np.isin(in_j, idx[~fixed]) without its sort)
            sig[in_j[lost]] = np.interp(k[in_j[lost]], k[in_j[~lost]], sig[in_j[~lost]])
        changed_any[idx] = True
        calls[sub] = normalized_calls(x[sub], sig[sub], tau[sub])
        viol = chord_violations(x, calls, first, last, BUTTERFLY_TOL)
    repaired = np.bincount(seg[changed_any], minlength=n_seg)
    left = np.bincount(seg[viol], minlength=n_seg)
    return sig, repaired, left
