"""The forward implied by put-call parity, and the dividend yield it implies.

Put-call parity for European options, C - P = e^{-r tau} (F - K), gives one forward
estimate per strike quoted on both sides: F_K = K + e^{r tau} (C_K - P_K). Quotes are
tightest and least affected by early exercise (SPY, QQQ) near the money, where C - P
changes sign, so the estimate is the median of the few pairs with the smallest
|C - P| (optionally weighted by the inverse combined bid/ask spread). The spot is
then only a hint: q = r - ln(F / S) / tau, and a spot that disagrees with F beyond a
tolerance is flagged (after-hours prints, an ex-dividend day, a stale index value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

DEFAULT_PAIRS = 5
# A spot is trusted when the yield it implies, q = r - ln(F/S)/tau, lies in a plausible
# band [SPOT_Q_MIN, SPOT_Q_MAX] up to a noise floor SPOT_TOLERANCE on ln(F/S). The band
# is wide because q also absorbs the gap between the configured r and the market's
# financing rate (r = 4.5 % in config against ~0.5 % in 2020 gives q ~ +6 %); index and
# ETF dividend yields sit inside 0..3 %. Outside it the spot is stale (an after-hours
# print), derived, or an ex-dividend day falls inside the expiry: flagged, not trusted.
SPOT_TOLERANCE = 0.0015
SPOT_Q_MIN = -0.05
SPOT_Q_MAX = 0.12


@dataclass(frozen=True)
class ForwardEstimate:
    """Parity forward of one expiry.

    forward : F, points (NaN when no pair was usable and no spot given)
    q : dividend yield implied by F = S e^{(r-q) tau}, decimal/year, continuously
        compounded (NaN without a usable spot)
    n_pairs : strike pairs (call and put both quoted) the estimate used (0: F from spot)
    n_candidates : strikes with both mids usable
    dispersion : max - min of the per-pair forwards used, points (robustness)
    mad : median absolute deviation of the per-pair forwards used, points
    spot : the spot hint as given, points
    spot_consistent : False when the spot disagrees with F beyond the tolerance
    spot_gap : ln(F / S) - r tau, the log gap the check measured (NaN without spot)
    """

    forward: float
    q: float
    n_pairs: int
    n_candidates: int
    dispersion: float
    mad: float
    spot: float
    spot_consistent: bool
    spot_gap: float


@dataclass(frozen=True, eq=False)
class ForwardEstimates:
    """`ForwardEstimate` fields as arrays, one value per segment (expiry); `spot` scalar."""

    forward: np.ndarray
    q: np.ndarray
    n_pairs: np.ndarray
    n_candidates: np.ndarray
    dispersion: np.ndarray
    mad: np.ndarray
    spot: float
    spot_consistent: np.ndarray
    spot_gap: np.ndarray

    def __getitem__(self, i: int) -> ForwardEstimate:
        return ForwardEstimate(
            forward=float(self.forward[i]),
            q=float(self.q[i]),
            n_pairs=int(self.n_pairs[i]),
            n_candidates=int(self.n_candidates[i]),
            dispersion=float(self.dispersion[i]),
            mad=float(self.mad[i]),
            spot=self.spot,
            spot_consistent=bool(self.spot_consistent[i]),
            spot_gap=float(self.spot_gap[i]),
        )


def _starts(counts: NDArray[np.intp]) -> NDArray[np.intp]:
    return np.cumsum(counts) - counts


def _segment_sorted_median(values: np.ndarray, start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Median of each segment of `values`, already sorted within segments (NaN if empty)."""
    out = np.full(count.size, np.nan)
    has = count > 0
    lo = start[has] + (count[has] - 1) // 2
    hi = start[has] + count[has] // 2
    out[has] = 0.5 * (values[lo] + values[hi])
    return out


def parity_forwards(
    seg: np.ndarray,
    n_seg: int,
    strike: np.ndarray,
    call_mid: np.ndarray,
    put_mid: np.ndarray,
    tau: np.ndarray,
    r: float,
    spot_hint: float = float("nan"),
    *,
    call_spread: np.ndarray | None = None,
    put_spread: np.ndarray | None = None,
    n_pairs: int = DEFAULT_PAIRS,
) -> ForwardEstimates:
    """`parity_forward` for many expiries at once, vectorized across them.

    seg : int index 0..n_seg-1 of each pair's expiry; tau : per segment (year fraction);
    the other arrays per pair as in `parity_forward`. No loop over pairs or expiries.
    """
    seg = np.asarray(seg, dtype=np.intp)
    K = np.asarray(strike, dtype=np.float64)
    c = np.asarray(call_mid, dtype=np.float64)
    p = np.asarray(put_mid, dtype=np.float64)
    tau = np.asarray(tau, dtype=np.float64)
    # errstate: exp(r tau) overflows only for absurd tau (then F is inf and skipped)
    with np.errstate(over="ignore", invalid="ignore"):
        growth = np.exp(r * tau)
        usable = np.isfinite(K) & (K > 0) & np.isfinite(c) & (c > 0) & np.isfinite(p) & (p > 0)
        weights = np.ones(K.shape)
        if call_spread is not None and put_spread is not None:
            spread = np.asarray(call_spread, dtype=np.float64) + np.asarray(
                put_spread, dtype=np.float64
            )
            usable &= np.isfinite(spread) & (spread >= 0)
            # a locked quote (zero spread) gets the weight of its expiry's tightest positive one
            floor = np.full(n_seg, np.inf)
            pos = usable & (spread > 0)
            np.minimum.at(floor, seg[pos], spread[pos])
            floor = np.where(np.isfinite(floor), floor, 1.0)
            weights = 1.0 / np.maximum(spread, floor[seg])
        diff = c - p
    idx = np.flatnonzero(usable)
    s_u = seg[idx]
    order = np.lexsort((np.abs(diff[idx]), s_u))  # by expiry, then nearest the sign change
    idx, s_u = idx[order], s_u[order]
    n_cand = np.bincount(s_u, minlength=n_seg)
    rank = np.arange(idx.size) - _starts(n_cand)[s_u]
    take = rank < max(1, n_pairs)
    t_idx, t_seg = idx[take], s_u[take]
    with np.errstate(over="ignore", invalid="ignore"):
        f_each = K[t_idx] + growth[t_seg] * diff[t_idx]
    w_each = weights[t_idx]
    o2 = np.lexsort((f_each, t_seg))
    f_s, w_s, seg_s = f_each[o2], w_each[o2], t_seg[o2]
    n_take = np.bincount(seg_s, minlength=n_seg)
    st = _starts(n_take)
    has = n_take > 0
    fwd = np.full(n_seg, np.nan)
    mad = np.full(n_seg, np.nan)
    disp = np.full(n_seg, np.nan)
    if f_s.size:
        # weighted median per expiry: the first pair whose cumulative weight reaches half of
        # its expiry's total; exactly at the half, the average with the next (as the
        # unweighted median does)
        cw = np.cumsum(w_s)
        cw0 = np.concatenate(([0.0], cw))
        end = st + n_take - 1
        base = cw0[st]
        half = base + 0.5 * (cw0[end + 1] - base)
        top = np.maximum(end, 0)
        i = np.minimum(np.searchsorted(cw, half), top)
        nxt = np.minimum(i + 1, top)
        at_half = (nxt > i) & (np.abs(cw[i] - half) <= 1e-12 * np.abs(half))
        med_w = np.where(at_half, 0.5 * (f_s[i] + f_s[nxt]), f_s[i])
        fwd = np.where(has, med_w, np.nan)
        disp = np.where(has, f_s[top] - f_s[np.minimum(st, f_s.size - 1)], np.nan)
        med = _segment_sorted_median(f_s, st, n_take)
        dev = np.abs(f_s - med[seg_s])
        dev = dev[np.lexsort((dev, seg_s))]
        mad = _segment_sorted_median(dev, st, n_take)
    spot = float(spot_hint)
    spot_ok = math.isfinite(spot) and spot > 0
    q = np.full(n_seg, np.nan)
    gap = np.full(n_seg, np.nan)
    consistent = np.zeros(n_seg, dtype=bool)
    if spot_ok:
        good = has & (fwd > 0) & np.isfinite(fwd)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_ratio = np.log(fwd / spot)
            q = np.where(good, r - log_ratio / tau, np.nan)
            gap = np.where(good, log_ratio - r * tau, np.nan)
            # gap = ln(F/S) - r tau = -q tau: consistent when q lies in the band, up to the floor
            consistent = (
                good
                & (gap >= -SPOT_Q_MAX * tau - SPOT_TOLERANCE)
                & (gap <= -SPOT_Q_MIN * tau + SPOT_TOLERANCE)
            )
        # no usable pair: F from the spot, q = 0 assumed (an absurd spot overflows to an
        # infinite F, which the caller rejects)
        with np.errstate(over="ignore"):
            fwd = np.where(has, fwd, spot * growth)
        q = np.where(has, q, 0.0)
        gap = np.where(has, gap, 0.0)
        consistent = np.where(has, consistent, True)
    return ForwardEstimates(
        forward=fwd,
        q=q,
        n_pairs=n_take,
        n_candidates=n_cand,
        dispersion=disp,
        mad=mad,
        spot=spot,
        spot_consistent=consistent,
        spot_gap=gap,
    )


def parity_forward(
    strike: np.ndarray,
    call_mid: np.ndarray,
    put_mid: np.ndarray,
    tau: float,
    r: float,
    spot_hint: float = float("nan"),
    *,
    call_spread: np.ndarray | None = None,
    put_spread: np.ndarray | None = None,
    n_pairs: int = DEFAULT_PAIRS,
) -> ForwardEstimate:
    """Forward and implied dividend yield from put-call parity.

    Parameters
    ----------
    strike : points, one per pair (any order)
    call_mid, put_mid : mids of the call and put at that strike, points; NaN (or <= 0)
        marks a side without a sane two-sided quote and drops the pair
    tau : year fraction (365-day) to settlement, > 0
    r : discount rate, decimal/year, continuously compounded
    spot_hint : underlying price, points (NaN: unknown)
    call_spread, put_spread : ask - bid, points; when given, pairs are weighted by the
        inverse of the combined spread
    n_pairs : how many pairs nearest the sign change of C - P to use

    The estimate is the (weighted) median of F_K = K + e^{r tau} (C_K - P_K) over the
    n_pairs usable pairs with the smallest |C - P|. Without a usable pair, F falls back
    to S e^{r tau} (q = 0 assumed, n_pairs = 0).
    """
    K = np.atleast_1d(np.asarray(strike, dtype=np.float64))
    return parity_forwards(
        np.zeros(K.size, dtype=np.intp),
        1,
        K,
        np.atleast_1d(np.asarray(call_mid, dtype=np.float64)),
        np.atleast_1d(np.asarray(put_mid, dtype=np.float64)),
        np.array([float(tau)]),
        r,
        spot_hint,
        call_spread=call_spread,
        put_spread=put_spread,
        n_pairs=n_pairs,
    )[0]
