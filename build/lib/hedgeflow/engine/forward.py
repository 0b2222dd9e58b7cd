"""The forward implied by put-call parity, and the dividend yield it implies.

Put-call parity for European options, C - P = e^{-r tau} (F - K), gives one forward
estimate per strike quoted on both sides: F_K = K + e^{r tau} (C_K - P_K). Quotes are
tightest and least affected by early exercise (SPY, QQQ) near the money, where C - P
changes sign, so the estimate is the median of the few pairs with the smallest
|C - P| (optionally weighted by the inverse combined bid/ask spread). The spot is
then only a hint: q = r - ln(F / S) / tau, and a spot that disagrees with F beyond a
tolerance is flagged (after-hours prints, an ex-dividend day, a stale index value).

The same pairs give the rate. C - P = D (F - K) is a line in K whose slope is -D, the
discount factor: a weighted least-squares line through the RATE_PAIRS pairs nearest
the sign change (weights 1 / (combined spread)^2, so a pair counts by how tightly it
is quoted), refitted once without the outliers (a residual beyond RATE_REJECT robust
standard deviations and beyond half the pair's combined spread), gives D, its standard
error, and r = -ln(D) / tau. The configured rate stays the fallback: for American-style
options (early exercise makes parity an inequality: SPY and QQQ files give D > 1,
negative "rates"), with fewer than RATE_MIN_PAIRS pairs, when the estimate is too
imprecise to beat the configuration (D - 1 is of order r tau, smaller than the quotes'
noise on a short expiry: under RATE_MIN_TAU, a week, no fit is tried) or outside a
plausible band. docs/METHOD.md "Pricing" states the rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import IntEnum

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
# The rate fit (module docstring): pairs nearest the sign change of C - P, the least
# the fit may rest on after outliers are dropped, the largest standard error of r
# (decimal/year) an implied rate may have, the band of plausible rates, and the outlier
# rule (robust z beyond RATE_REJECT, and residual beyond RATE_NOISE combined spreads).
RATE_PAIRS = 40
RATE_MIN_TAU = 7.0 / 365.0  # below a week D - 1 ~ r tau is under the noise: not fitted
RATE_MIN_PAIRS = 5
RATE_MAX_SE = 0.005
RATE_MIN = -0.01
RATE_MAX = 0.15
RATE_REJECT = 3.5
RATE_NOISE = 0.5


# Cash-settled index options, European-style: parity holds as an equation. Every other
# root (SPY, QQQ, IWM, single stocks, any root not listed) is taken as American-style.
EUROPEAN_ROOTS: frozenset[str] = frozenset(
    {"SPX", "SPXW", "SPXPM", "XSP", "NDX", "NDXP", "XND", "RUT", "RUTW", "MRUT", "VIX", "VIXW",
     "DJX", "XEO"}
)  # fmt: skip


def is_european(root: str) -> bool:
    """True for European-style roots (`EUROPEAN_ROOTS`), False otherwise (American)."""
    return root.strip().upper() in EUROPEAN_ROOTS


class RateSource(IntEnum):
    """Where an expiry's discount rate came from: PARITY (implied), else the configured
    rate because the options are American-style (AMERICAN), too few pairs were quoted
    (FEW_PAIRS), the estimate's standard error exceeds RATE_MAX_SE (IMPRECISE), it lies
    outside [RATE_MIN, RATE_MAX] (IMPLAUSIBLE), or it was not asked for (CONFIG)."""

    PARITY = 0
    CONFIG = 1
    AMERICAN = 2
    FEW_PAIRS = 3
    IMPRECISE = 4
    IMPLAUSIBLE = 5


# the codes as plain ints for array work (an IntEnum member is converted on every use)
_PARITY, _AMERICAN, _FEW_PAIRS, _IMPRECISE, _IMPLAUSIBLE = (
    int(RateSource.PARITY),
    int(RateSource.AMERICAN),
    int(RateSource.FEW_PAIRS),
    int(RateSource.IMPRECISE),
    int(RateSource.IMPLAUSIBLE),
)


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
    rate : the discount rate used, decimal/year, continuously compounded (implied or the
        configured fallback, as `rate_source` says)
    rate_implied, rate_se : the parity estimate of r and its standard error, decimal/year
        (NaN without a fit of at least three pairs)
    rate_pairs : pairs the rate fit rests on after outliers were dropped
    rate_source : `RateSource`
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
    rate: float
    rate_implied: float
    rate_se: float
    rate_pairs: int
    rate_source: RateSource


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
    rate: np.ndarray
    rate_implied: np.ndarray
    rate_se: np.ndarray
    rate_pairs: np.ndarray
    rate_source: np.ndarray

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
            rate=float(self.rate[i]),
            rate_implied=float(self.rate_implied[i]),
            rate_se=float(self.rate_se[i]),
            rate_pairs=int(self.rate_pairs[i]),
            rate_source=RateSource(int(self.rate_source[i])),
        )


def _by_segment_then(values: np.ndarray, seg: np.ndarray) -> NDArray[np.intp]:
    """np.lexsort((values, seg)): by segment, then value (NaN last), ties in input order.
    As two stable sorts, the value's and then the segment's as small integers (a radix
    sort), about half the time of lexsort on a many-expiry chain's pairs; lexsort itself
    on a few hundred (where the extra calls cost more than they save)."""
    if values.size < 1024:
        small: NDArray[np.intp] = np.lexsort((values, seg))
        return small
    by_value = np.argsort(values, kind="stable")
    s = seg[by_value]
    if s.size and int(s.max()) < 2**15 and int(s.min()) >= 0:
        s = s.astype(np.int16)
    out: NDArray[np.intp] = by_value[np.argsort(s, kind="stable")]
    return out


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


def _segment_wls(
    seg: np.ndarray, n_seg: int, x: np.ndarray, y: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least-squares line y = y_mean + b (x - x_mean) per segment (w = 0 drops a
    point). Returns (b, x_mean, y_mean, Sxx = sum w (x - x_mean)^2, n of points with
    w > 0); b is NaN where Sxx is 0. Centred sums: no cancellation for strikes ~1e4."""
    # errstate: absurd strikes or spreads overflow; such a segment's fit is NaN or inf and
    # the caller falls back
    with np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"):
        sw = np.bincount(seg, w, minlength=n_seg)
        xm = np.bincount(seg, w * x, minlength=n_seg) / sw
        ym = np.bincount(seg, w * y, minlength=n_seg) / sw
        dx = x - xm[seg]
        sxx = np.bincount(seg, w * dx * dx, minlength=n_seg)
        b = np.bincount(seg, w * dx * (y - ym[seg]), minlength=n_seg) / sxx
    n = np.bincount(seg, (w > 0).astype(np.float64), minlength=n_seg).astype(np.intp)
    return np.where(sxx > 0, b, np.nan), xm, ym, sxx, n


def _implied_rates(
    seg: np.ndarray,
    n_seg: int,
    K: np.ndarray,
    diff: np.ndarray,
    spread: np.ndarray,
    tau: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parity rate per segment from the pairs given (seg-sorted): the robust weighted line
    of C - P against K (module docstring). Returns (r, se of r, pairs kept); r and se
    NaN where the line cannot be fitted (fewer than three pairs, or D <= 0)."""
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        w = 1.0 / (spread * spread)

    def fit(keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(slope, Sxx, points, |residual| / spread) of the line through the kept pairs."""
        b, xm, ym, sxx, n = _segment_wls(seg, n_seg, K, diff, np.where(keep, w, 0.0))
        with np.errstate(invalid="ignore", over="ignore", under="ignore", divide="ignore"):
            return b, sxx, n, np.abs(diff - ym[seg] - b[seg] * (K - xm[seg])) / spread

    _, _, _, z = fit(np.ones(K.size, dtype=bool))
    # outliers: beyond RATE_REJECT robust sigmas (1.4826 x the median |z| per segment) and
    # beyond RATE_NOISE spreads; a pair without a fit (NaN z) is kept
    idx = np.flatnonzero(np.isfinite(z))
    o = idx[_by_segment_then(z[idx], seg[idx])]
    cnt = np.bincount(seg[o], minlength=n_seg)
    sigma = 1.4826 * _segment_sorted_median(z[o], _starts(cnt), cnt)
    with np.errstate(invalid="ignore", over="ignore"):
        keep = ~(z > np.maximum(RATE_REJECT * sigma, RATE_NOISE)[seg])
    b, sxx, n, z = fit(keep)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"):
        chi2 = np.bincount(seg, np.where(keep, z * z, 0.0), minlength=n_seg)
        se_b = np.sqrt(chi2 / np.maximum(n - 2, 1) / sxx)
        df = -b
        ok = (n >= 3) & (df > 0) & np.isfinite(df)
        r = np.where(ok, -np.log(np.where(ok, df, 1.0)) / tau, np.nan)
        se = np.where(ok, se_b / (df * tau), np.nan)
    return r, se, n


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
    rate_eligible: np.ndarray | None = None,
) -> ForwardEstimates:
    """`parity_forward` for many expiries at once, vectorized across them.

    seg : int index 0..n_seg-1 of each pair's expiry; tau : per segment (year fraction);
    the other arrays per pair as in `parity_forward`. No loop over pairs or expiries.
    r : the configured rate, decimal/year (the fallback when rates are implied).
    rate_eligible : per segment, True where the rate may be implied from parity (the
        expiry's options are European-style; needs the spreads); None: r everywhere.
    """
    seg = np.asarray(seg, dtype=np.intp)
    K = np.asarray(strike, dtype=np.float64)
    c = np.asarray(call_mid, dtype=np.float64)
    p = np.asarray(put_mid, dtype=np.float64)
    tau = np.asarray(tau, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(K) & (K > 0) & np.isfinite(c) & (c > 0) & np.isfinite(p) & (p > 0)
        spread = np.ones(K.shape)
        if call_spread is not None and put_spread is not None:
            spread = np.asarray(call_spread, dtype=np.float64) + np.asarray(
                put_spread, dtype=np.float64
            )
            usable &= np.isfinite(spread) & (spread >= 0)
            # a locked quote (zero spread) counts as its expiry's tightest positive one
            floor = np.full(n_seg, np.inf)
            pos = usable & (spread > 0)
            np.minimum.at(floor, seg[pos], spread[pos])
            floor = np.where(np.isfinite(floor), floor, 1.0)
            spread = np.maximum(spread, floor[seg])
        diff = c - p
    idx = np.flatnonzero(usable)
    s_u = seg[idx]
    order = _by_segment_then(np.abs(diff[idx]), s_u)  # by expiry, then nearest the sign change
    idx, s_u = idx[order], s_u[order]
    n_cand = np.bincount(s_u, minlength=n_seg)
    rank = np.arange(idx.size) - _starts(n_cand)[s_u]

    # the rate of each expiry: implied where eligible and credible, else the configured one
    rate = np.full(n_seg, float(r))
    r_imp = np.full(n_seg, np.nan)
    r_se = np.full(n_seg, np.nan)
    r_pairs = np.zeros(n_seg, dtype=np.intp)
    source = np.full(n_seg, int(RateSource.CONFIG), dtype=np.int8)
    if rate_eligible is not None and call_spread is not None and put_spread is not None:
        eligible = np.asarray(rate_eligible, dtype=bool)
        long = eligible & (tau >= RATE_MIN_TAU)
        if long.any():  # (a chain of short or American expiries skips the fit's cost)
            sel = idx[(rank < RATE_PAIRS) & long[s_u]]
            r_imp, r_se, r_pairs = _implied_rates(
                seg[sel], n_seg, K[sel], diff[sel], spread[sel], tau
            )
        with np.errstate(invalid="ignore"):
            few = r_pairs < RATE_MIN_PAIRS
            vague = ~(r_se <= RATE_MAX_SE)
            wild = ~((r_imp >= RATE_MIN) & (r_imp <= RATE_MAX))
        # the first that applies; under RATE_MIN_TAU a fit is not even tried
        source = np.select(
            [~eligible, ~long, few, vague, wild],
            [_AMERICAN, _IMPRECISE, _FEW_PAIRS, _IMPRECISE, _IMPLAUSIBLE],
            _PARITY,
        ).astype(np.int8)
        rate = np.where(source == _PARITY, r_imp, rate)

    take = rank < max(1, n_pairs)
    t_idx, t_seg = idx[take], s_u[take]
    # errstate: exp(r tau) overflows only for absurd tau (then F is inf and skipped)
    with np.errstate(over="ignore", invalid="ignore"):
        growth = np.exp(rate * tau)
        f_each = K[t_idx] + growth[t_seg] * diff[t_idx]
    w_each = 1.0 / spread[t_idx]
    o2 = _by_segment_then(f_each, t_seg)
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
        dev = dev[_by_segment_then(dev, seg_s)]
        mad = _segment_sorted_median(dev, st, n_take)
    fe = ForwardEstimates(
        forward=fwd,
        q=np.full(n_seg, np.nan),
        n_pairs=n_take,
        n_candidates=n_cand,
        dispersion=disp,
        mad=mad,
        spot=float("nan"),
        spot_consistent=np.zeros(n_seg, dtype=bool),
        spot_gap=np.full(n_seg, np.nan),
        rate=rate,
        rate_implied=r_imp,
        rate_se=r_se,
        rate_pairs=r_pairs,
        rate_source=source,
    )
    return with_spot(fe, spot_hint, tau)


def with_spot(fe: ForwardEstimates, spot_hint: float, tau: np.ndarray) -> ForwardEstimates:
    """`fe` checked against another spot: q = r - ln(F/S)/tau, the gap and the consistency
    flag against `spot_hint` (points; NaN: unknown), and, for an expiry without a usable
    pair, F = S e^{r tau} (q = 0 assumed). The forwards from pairs do not depend on the
    spot, so a chain whose spot is replaced need not refit them."""
    has = fe.n_pairs > 0
    fwd = np.where(has, fe.forward, np.nan)
    r = fe.rate
    spot = float(spot_hint)
    q = np.full(fwd.size, np.nan)
    gap = np.full(fwd.size, np.nan)
    consistent = np.zeros(fwd.size, dtype=bool)
    if math.isfinite(spot) and spot > 0:
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
            # no usable pair: F from the spot, q = 0 assumed (an absurd spot overflows to
            # an infinite F, which the caller rejects)
            fwd = np.where(has, fwd, spot * np.exp(r * tau))
        q = np.where(has, q, 0.0)
        gap = np.where(has, gap, 0.0)
        consistent = np.where(has, consistent, True)
    return replace(fe, forward=fwd, q=q, spot=spot, spot_consistent=consistent, spot_gap=gap)


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


def describe_rate(est: ForwardEstimate) -> str:
    """One line saying which rate an expiry uses and why (shown with the book)."""
    src = est.rate_source
    if src is RateSource.PARITY:
        return (
            f"{est.rate:.2%} implied by put-call parity (± {est.rate_se:.2%}, "
            f"{est.rate_pairs} pairs)"
        )
    why = ""  # (only the branch that applies is formatted: this runs once per book)
    if src is RateSource.AMERICAN:
        why = ": American-style options (early exercise bends put-call parity)"
    elif src is RateSource.FEW_PAIRS:
        why = f": {est.rate_pairs} call/put pairs quoted (parity needs {RATE_MIN_PAIRS})"
    elif src is RateSource.IMPRECISE and not est.rate_pairs:
        why = f": under {RATE_MIN_TAU * 365:.0f} days parity cannot tell the rate"
    elif src is RateSource.IMPRECISE:
        why = f": parity too imprecise at this expiry ({est.rate_implied:+.2%} ± {est.rate_se:.2%})"
    elif src is RateSource.IMPLAUSIBLE:
        why = (
            f": parity gives {est.rate_implied:+.2%} ± {est.rate_se:.2%}, outside "
            f"[{RATE_MIN:.0%}, {RATE_MAX:.0%}]"
        )
    return f"{est.rate:.2%} from the configuration{why}"
