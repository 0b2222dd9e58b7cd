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
- Else the seed's prices clipped into their bands (kept BAND_MARGIN of the spread inside):
  where those calls are convex, that is the program's optimum below (no smile inside the
  bands is closer to the seed at any strike).
- Else those calls lowered onto their lower convex hull (`hull_repair`): where every
  strike is still inside its band, that is the smile (arbitrage-free, in the market, and
  close to the seed though not always the closest).
- Else one linear program (scipy's HiGHS) for all the expiries still in trouble (they are
  independent blocks) over the OTM prices p: p >= 0; each call at most the chord of its
  neighbours (anchors included), which makes the calls convex and decreasing with slopes
  in [-1, 0]; objective the L1 distance from the seed, each strike's in units of its
  price error (a quarter of its spread; vega times the IV error where there is no quote),
  so few strikes move and each as little as the constraints need, plus BAND_PENALTY per
  spread outside a two-sided quote's band (a zero-bid quote's ask, a bound the vendor IV
  rather than a quote gave, weighs ZERO_BID_SLACK_WEIGHT of that). The penalty is exact:
  where a smile inside every band exists the fit is inside them all, and where none does,
  the departures are the smallest in spreads and the quotes the market's own arbitrage
  leaves outside are counted. A band is kept BAND_MARGIN of its width inside its quotes,
  so that double-precision round trips (the program's tolerance, the IV re-implied from
  the price) cannot leave it. Each strike's objective is piecewise linear and convex in p
  (breakpoints at the seed and the band's edges), written as up to four bounded
  variables whose sum is p, so the program has one row per strike and no other
  constraint. It runs over windows of WINDOW strikes either side of the strikes the hull
  lowered, the others held on the hull (so it is always feasible, and small); an expiry
  where that leaves a quote outside its band is solved again over its quoted range (from
  WINDOW strikes before its first two-sided quote to WINDOW after its last; the wings
  beyond stay on the hull): its departures are then the smallest in spreads.
- The IVs of the strikes that moved are re-implied from their prices (one vectorized
  solve); every other strike keeps the seed's IV exactly.
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
# spread: far below any tick, far above double-precision and the LP's tolerance).
BAND_MARGIN = 1e-3
# Largest ratio between two strikes' weights in the fit, centred on the median (HiGHS's
# dual tolerance is absolute: weights spanning more would make the cheap strikes free).
MAX_WEIGHT_RATIO = 1e6
# Objective per spread outside a band against 1 per price error of distance from the seed:
# large enough that no distance is worth a departure (an exact penalty), small enough for
# HiGHS's double-precision simplex.
BAND_PENALTY = 1e6
# A zero-bid quote's ask bound against a two-sided band, per unit of spread, when no smile
# satisfies both: the two-sided quote is the market, the ask bound only caps a vendor IV.
ZERO_BID_SLACK_WEIGHT = 1e-3
# Relative spread of the weights by moneyness that makes the program's optimum unique.
TIE_BREAK = 1e-3
# Strikes either side of a strike in trouble that the program may move (the rest of the
# smile held at the seed clipped into its bands).
WINDOW = 6
# Tolerance of the asks' hull (a bound, never a price): a point within 1e-13 (of F) below
# the chord of its neighbours goes too (it is on the hull to that precision), so that a
# run of equal asks (0.05 on every far strike) goes in one pass of `hull_repair`, not one
# point a pass.
HULL_TIES = -1e-13
# A strike "moved" when the fit changes its price by more than this fraction of its
# price error (below it, the seed's IV is kept exactly).
MOVE_TOL = 1e-6
# HiGHS tolerances on the program scaled to unit median price error (see `_program`).
_HIGHS_OPTIONS: dict[str, float | bool] = {
    "primal_feasibility_tolerance": 1e-9,
    "dual_feasibility_tolerance": 1e-9,
}


@dataclass(frozen=True)
class SmileFit:
    """The fitted smile of many expiries (nodes sorted by segment, then strike).

    sigma : IV per node, decimal; moved : strikes whose price the fit changed, per segment;
    outside : two-sided quotes left outside their band because no arbitrage-free smile
    inside every band exists, per segment; solved : segments the linear program ran on;
    failed : segments left as the seed because HiGHS gave no solution (the butterfly
    check after the fit repairs them).
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
    sig = sigma.copy()
    if not need.any():
        return SmileFit(sig, moved, outside, need, need.copy())

    # second fast path: the seed's prices clipped into their bands (kept BAND_MARGIN
    # inside) are the program's optimum wherever they are convex (no smile inside the
    # bands is closer to the seed at any strike); the program only for the rest
    lo_b, hi_b = _margined(lo, hi)
    with np.errstate(invalid="ignore"):
        clipped = np.where(u < lo_b, lo_b, np.where(u > hi_b, hi_b, u))
    bad = chord_violations(x, clipped + g, first, last, BUTTERFLY_TOL)
    if bad.any():
        # third: the clipped calls lowered onto their lower convex hull, kept where every
        # strike is still inside its band (arbitrage-free and in the market, close to the
        # seed though not always the closest)
        redo = np.zeros(n_seg, dtype=bool)
        redo[seg[bad]] = True
        sub = np.flatnonzero(redo[seg])
        hull, _ = hull_repair(x[sub], clipped[sub] + g[sub], seg[sub], BUTTERFLY_TOL)
        hull -= g[sub]
        with np.errstate(invalid="ignore"):
            off = (hull < lo_b[sub] - BAND_MARGIN * (hi_b[sub] - lo_b[sub])) | (hull < 0.0)
        clipped[sub] = hull
        bad = np.zeros(x.size, dtype=bool)
        bad[sub[off]] = True
        # (the hull of the clipped calls is convex: only the band can fail)
    hard = np.zeros(n_seg, dtype=bool)
    hard[seg[bad]] = True
    hard &= need
    fitted = np.where(need[seg], clipped, u)
    if hard.any():
        sub = np.flatnonzero(hard[seg])
        raised, feasible = _raise_into_bands(
            x[sub], g[sub], clipped[sub], lo_b[sub], hi_b[sub], bad[sub], seg[sub], n_seg
        )
        ok = feasible[seg[sub]]
        fitted[sub[ok]] = raised[ok]
        hard &= ~feasible
    solved = hard.copy()
    failed = np.zeros(n_seg, dtype=bool)
    if hard.any():
        # no smile inside every band: the program, over each such expiry's quoted range
        # (its wings held on the hull)
        sub = np.flatnonzero(hard[seg])
        lp = _program(
            x[sub], u[sub], g[sub], lo_b[sub], hi_b[sub], lo[sub], err[sub], seg[sub],
            _quoted_range(lo[sub] > 0, seg[sub], WINDOW), clipped[sub],
        )  # fmt: skip
        if lp is not None:
            fitted[sub] = lp
        else:  # HiGHS failed: the seed, repaired by the check after the fit
            failed, solved = hard, np.zeros(n_seg, dtype=bool)
            fitted[sub] = u[sub]
    sub = np.flatnonzero(need[seg])
    fitted = fitted[sub]
    two = np.isfinite(lo[sub]) & (lo[sub] > 0)
    left = two & ((fitted < lo[sub]) | (fitted > hi[sub]))
    outside = np.bincount(seg[sub][left], minlength=n_seg)
    change = np.abs(fitted - u[sub]) > MOVE_TOL * err[sub]
    idx = sub[change]
    if idx.size:
        iv, _ = implied_vol(fitted[change], 1.0, x[idx], tau[idx], 0.0, x[idx] >= 1.0)
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
    return SmileFit(sig, moved, outside, solved, failed)


def _quoted_range(two: NDArray[np.bool_], seg: NDArray[np.intp], r: int) -> NDArray[np.bool_]:
    """From r positions before each segment's first two-sided quote to r after its last
    (a segment without one: all of it)."""
    pos = np.arange(seg.size)
    n_seg = int(seg.max()) + 1
    first = np.full(n_seg, seg.size)
    last = np.full(n_seg, -1)
    np.minimum.at(first, seg[two], pos[two])
    np.maximum.at(last, seg[two], pos[two])
    none = last[seg] < 0
    return none | ((pos >= first[seg] - r) & (pos <= last[seg] + r))


def _raise_into_bands(
    x: NDArray[np.float64],
    g: NDArray[np.float64],
    p: NDArray[np.float64],
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
    below: NDArray[np.bool_],
    seg: NDArray[np.intp],
    n_seg: int,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Convex OTM prices p (calls p + g convex, anchors included) with the strikes `below`
    their band's lower edge raised into the bands, without an optimizer.

    H, the lower convex hull of the bands' upper edges (and the anchors), is the greatest
    convex curve below every upper edge: any arbitrage-free smile inside the bands lies
    below it, so one exists iff H is at or above every lower edge. Then, for each strike
    `below`, the line through its lower edge with a slope of H there (H's tangent, moved
    down) lies below H, so below every upper edge; the maximum of the hull p and those
    lines is convex, inside every band, and changes p only where a line is above it.

    Returns (prices, segments where a smile inside the bands exists); prices are valid
    only in those."""
    # (on the strikes with an upper edge only: the others constrain nothing here)
    e = np.flatnonzero(np.isfinite(hi))
    xe, se = x[e], seg[e]
    envelope, _ = hull_repair(xe, hi[e] + g[e], se, HULL_TIES)
    with np.errstate(invalid="ignore"):
        short = envelope - g[e] < lo[e] - BAND_MARGIN * (hi[e] - lo[e])
    feasible = np.ones(n_seg, dtype=bool)
    feasible[se[short]] = False
    out = p.copy()
    first, _ = segment_ends(se)
    px = np.concatenate(([0.0], xe[:-1]))
    pc = np.concatenate(([1.0], envelope[:-1]))
    px[first], pc[first] = 0.0, 1.0
    slope = np.full(x.size, np.nan)
    slope[e] = (envelope - pc) / (xe - px)  # H's slope from the left (a subgradient of H)
    for j in np.flatnonzero(feasible & (np.bincount(seg[below], minlength=n_seg) > 0)).tolist():
        in_j = np.flatnonzero(seg == j)
        b = in_j[below[in_j]]
        lines = (lo[b] + g[b])[:, None] + slope[b][:, None] * (x[in_j][None, :] - x[b][:, None])
        out[in_j] = np.maximum(p[in_j] + g[in_j], lines.max(axis=0)) - g[in_j]
    return out, feasible


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


def _pieces(
    u: NDArray[np.float64],
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
    weight: NDArray[np.float64],
    penalty: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each node's objective f(p) = weight |p - u| + penalty dist(p, [lo, hi]) on p >= 0,
    convex and piecewise linear, as four pieces: lengths (n, 4) (the last infinite) and
    slopes (n, 4), nondecreasing, so that p = sum of the pieces filled in order (a
    program minimizing sum slope * piece fills them in order by itself). NaN bands carry
    no penalty."""
    brk = np.sort(
        np.stack((u, np.where(np.isfinite(lo), lo, u), np.where(np.isfinite(hi), hi, u)), axis=1),
        axis=1,
    )
    brk = np.maximum(brk, 0.0)
    edges = np.concatenate((np.zeros((u.size, 1)), brk), axis=1)
    lengths = np.concatenate((np.diff(edges, axis=1), np.full((u.size, 1), np.inf)), axis=1)
    # slope on each piece: at its midpoint (the last one just beyond its start)
    probe = np.concatenate(
        (0.5 * (edges[:, :-1] + edges[:, 1:]), edges[:, -1:] + 1.0 + np.abs(edges[:, -1:])),
        axis=1,
    )
    du = probe - u[:, None]
    slope = weight[:, None] * np.sign(du)
    with np.errstate(invalid="ignore"):
        below = probe < lo[:, None]
        above = probe > hi[:, None]
    slope += penalty[:, None] * (above.astype(np.float64) - below.astype(np.float64))
    # a zero-length piece is fixed at 0: its slope is any, kept monotone for clarity
    slope = np.maximum.accumulate(np.where(lengths > 0, slope, -np.inf), axis=1)
    slope = np.where(np.isfinite(slope), slope, 0.0)
    return lengths, slope


def _program(
    x: NDArray[np.float64],
    u: NDArray[np.float64],
    g: NDArray[np.float64],
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
    bid: NDArray[np.float64],
    err: NDArray[np.float64],
    seg: NDArray[np.intp],
    free: NDArray[np.bool_],
    p0: NDArray[np.float64],
) -> NDArray[np.float64] | None:
    """The linear program of the module docstring for the nodes of several segments
    (ascending x within each) with their margined bands [lo, hi] (`bid` the unmargined
    lower edge: > 0 marks a two-sided quote), over the `free` nodes' prices, the others
    held at `p0` (convex where no free node is near); returns the fitted OTM prices, or
    None when HiGHS fails.

    Each segment is a block of its own, so its prices are scaled to units of its quotes'
    median price error (HiGHS's tolerances are absolute) and its weights centred on 1 there."""
    from scipy.optimize import linprog  # ~0.15 s to import: only where a fit is needed
    from scipy.sparse import csr_array

    n = x.size
    first, last = segment_ends(seg)
    two = np.isfinite(bid) & (bid > 0)
    uniq, inv = np.unique(seg, return_inverse=True)
    # the unit: the median price error of the segment's two-sided quotes (of all its
    # strikes if none; a 0DTE grid's far wings price at 1e-100 F and would make it 0)
    med = np.array(
        [
            np.median(err[(inv == i) & two] if two[inv == i].any() else err[inv == i])
            for i in range(uniq.size)
        ]
    )[inv]
    scale = 1.0 / med
    bound = float(np.sqrt(MAX_WEIGHT_RATIO))
    weight = np.minimum(np.maximum(med / err, 1.0 / bound), bound)
    # ties broken by moneyness (a strike nearer the money a little dearer to move): an L1
    # optimum is often not unique, and the vertex HiGHS returns for one expiry must not
    # depend on which other expiries share the program
    weight *= 1.0 + TIE_BREAK / (1.0 + np.abs(np.log(x)))
    one = np.isfinite(hi) & ~two
    # the penalty per unit of scaled price outside the band: BAND_PENALTY per spread
    unit = np.where(two, (hi - lo) / (1.0 - 2.0 * BAND_MARGIN), hi / ZERO_BID_SLACK_WEIGHT) * scale
    with np.errstate(invalid="ignore", divide="ignore"):
        penalty = np.where((two | one) & (unit > 0), BAND_PENALTY / unit, 0.0)
    f = np.flatnonzero(free)
    lengths, slope = _pieces(
        u[f] * scale[f], lo[f] * scale[f], hi[f] * scale[f], weight[f], penalty[f]
    )

    # chord condition at each strike: c_i <= lam c_prev + (1 - lam) c_next with the
    # anchors (0, 1) before a segment's first strike and (far, 0) after its last; on
    # p = c - g: p_i - lam p_prev - (1 - lam) p_next <= lam g_prev + (1 - lam) g_next - g_i
    px = np.empty(n)
    nx = np.empty(n)
    gp = np.empty(n)
    gn = np.empty(n)
    px[1:], gp[1:] = x[:-1], g[:-1]
    nx[:-1], gn[:-1] = x[1:], g[1:]
    px[first], gp[first] = 0.0, 1.0
    nx[last], gn[last] = far_anchor(x[last]), 0.0
    lam = (nx - x) / (nx - px)
    rhs = (lam * gp + (1.0 - lam) * gn - g) * scale
    i = np.arange(n)
    has_prev = np.flatnonzero(~first)
    has_next = np.flatnonzero(~last)
    # (row, node, coefficient) of every node's price in every chord row; every node of a
    # row shares its segment's scale. Rows that see a free node go to the program, the
    # fixed nodes' prices in them to the right-hand side.
    r_node = np.concatenate((i, has_prev, has_next))
    c_node = np.concatenate((i, has_prev - 1, has_next + 1))
    coef = np.concatenate((np.ones(n), -lam[has_prev], -(1.0 - lam[has_next])))
    row_in = np.zeros(n, dtype=bool)
    row_in[r_node[free[c_node]]] = True
    t = row_in[r_node]
    r_node, c_node, coef = r_node[t], c_node[t], coef[t]
    fix = ~free[c_node]
    np.subtract.at(rhs, r_node[fix], coef[fix] * p0[c_node[fix]] * scale[c_node[fix]])
    r_node, c_node, coef = r_node[~fix], c_node[~fix], coef[~fix]
    row_id = np.cumsum(row_in) - 1
    col_of = np.cumsum(free) - 1  # free node -> its index among the free nodes
    # a free node's price is the sum of its pieces of positive length (one column each)
    has = lengths > 0
    col_id = np.cumsum(has.ravel()).reshape(has.shape) - 1
    fi = np.repeat(col_of[c_node], 4)
    q = np.tile(np.arange(4), c_node.size)
    keep = has[fi, q]
    a = csr_array(
        (np.repeat(coef, 4)[keep], (row_id[np.repeat(r_node, 4)][keep], col_id[fi, q][keep])),
        shape=(int(row_in.sum()), int(has.sum())),
    )
    bounds = np.stack((np.zeros(int(has.sum())), lengths[has]), axis=1)
    # (scipy-stubs list neither sparse A_ub nor an (n, 2) bounds array, which linprog
    # documents and accepts)
    res = linprog(  # type: ignore[call-overload]
        slope[has], A_ub=a, b_ub=rhs[row_in], bounds=bounds, method="highs", options=_HIGHS_OPTIONS
    )
    if res.status != 0:
        return None
    pieces = np.zeros(lengths.shape)
    pieces[has] = res.x
    p = p0.copy()
    p[f] = pieces.sum(axis=1) / scale[f]
    return p
