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


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cw = np.cumsum(w)
    half = 0.5 * cw[-1]
    i = int(np.searchsorted(cw, half))
    # exactly at the half: average with the next value, as the unweighted median does
    if i + 1 < len(v) and math.isclose(cw[i], half, rel_tol=1e-12):
        return float(0.5 * (v[i] + v[i + 1]))
    return float(v[i])


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

    Without a usable pair, F falls back to S e^{r tau} (q = 0 assumed, n_pairs = 0).
    """
    K = np.asarray(strike, dtype=np.float64)
    c = np.asarray(call_mid, dtype=np.float64)
    p = np.asarray(put_mid, dtype=np.float64)
    growth = math.exp(r * tau)
    usable = np.isfinite(K) & (K > 0) & np.isfinite(c) & (c > 0) & np.isfinite(p) & (p > 0)
    weights = np.ones(K.shape)
    if call_spread is not None and put_spread is not None:
        spread = np.asarray(call_spread, dtype=np.float64) + np.asarray(put_spread, dtype=np.float64)
        usable &= np.isfinite(spread) & (spread >= 0)
        # a locked quote (zero spread) gets the weight of the tightest positive spread
        positive = spread[usable & (spread > 0)]
        floor = float(positive.min()) if positive.size else 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = 1.0 / np.maximum(spread, floor)
    n_cand = int(usable.sum())
    spot = float(spot_hint)
    spot_ok = math.isfinite(spot) and spot > 0
    if n_cand == 0:
        fwd = spot * growth if spot_ok else float("nan")
        return ForwardEstimate(
            forward=fwd,
            q=0.0 if spot_ok else float("nan"),
            n_pairs=0,
            n_candidates=0,
            dispersion=float("nan"),
            mad=float("nan"),
            spot=spot,
            spot_consistent=spot_ok,
            spot_gap=0.0 if spot_ok else float("nan"),
        )
    Ku, diff, wu = K[usable], (c - p)[usable], weights[usable]
    take = np.argsort(np.abs(diff), kind="stable")[: max(1, n_pairs)]
    f_each = Ku[take] + growth * diff[take]
    fwd = _weighted_median(f_each, wu[take])
    mad = float(np.median(np.abs(f_each - np.median(f_each))))
    q = float("nan")
    gap = float("nan")
    consistent = False
    if spot_ok and fwd > 0:
        log_ratio = math.log(fwd / spot)
        q = r - log_ratio / tau
        gap = log_ratio - r * tau
        # gap = ln(F/S) - r tau = -q tau: consistent when q lies in the band, up to the floor
        consistent = -SPOT_Q_MAX * tau - SPOT_TOLERANCE <= gap <= -SPOT_Q_MIN * tau + SPOT_TOLERANCE
    return ForwardEstimate(
        forward=fwd,
        q=q,
        n_pairs=int(take.size),
        n_candidates=n_cand,
        dispersion=float(f_each.max() - f_each.min()),
        mad=mad,
        spot=spot,
        spot_consistent=consistent,
        spot_gap=gap,
    )
