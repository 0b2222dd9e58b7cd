"""The smile of each expiry and the `ExpiryBook` built on it.

`build_expiry_books(chain, r=..., positioning=...)` is the chain pipeline for every
requested expiry at once; `build_expiry_book(chain, expiry, ...)` is its one-expiry
case. Steps:

1. rows of the expiry (settlement epoch, exact), strikes validated, sorted by strike;
2. tau from the snapshot's as-of time to settlement (365-day years): tau <= 0 is an
   expired series and is skipped;
3. mids of sane two-sided quotes (`hedgeflow.engine.iv.quote_mid`); the parity forward from the
   pairs near the money (`hedgeflow.engine.forward`); one spot for the whole chain, the vendor's
   if it agrees with the nearest live expiry's forward, else that forward discounted
   (flagged), and each expiry's dividend yield q implied against it (F = S e^{(r-q) tau};
   a q beyond a plausible band is flagged, e.g. an ex-dividend date inside the expiry);
4. raw IV per strike from the out-of-the-money option (puts below F, calls at and above),
   the in-the-money twin where the OTM quote does not invert (only if its time value
   exceeds its spread), the vendor's IV (on the vendor's clock) only where neither does,
   each counted; IVs outside [0.1 %, 2000 %] are bad prints, not smile points;
5. total variance w = sigma^2 tau smoothed in k = ln(K/F) by a weighted cubic smoothing
   spline (`hedgeflow.engine.smoothing`, FITPACK's scheme in numpy: smoothing condition
   sum(((w_i - g_i) / e_i)^2) <= n with e_i the
   mid's error: a quarter of the bid/ask spread over vega, in w units), flat in k beyond
   the last valid strike;
6. butterfly check on the strike grid (undiscounted call prices decreasing and convex in
   K, with the no-arbitrage anchors C(0) = F and C(inf) = 0) and repair only where
   violated: violating strikes are lowered onto the lower convex hull of the call prices
   and their IV re-implied, every other strike keeps its smoothed IV;
7. the dealers' signed positions (positioning model, or live positions passed in).

Everything is vectorized across strikes and expiries (one implied-vol solve for the
whole chain) except the spline fit, one call per expiry; the hull repair loops
over passes, each vectorized over all the expiries whose check failed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from hedgeflow.engine.black76 import MIN_GREEK_TAU, SECONDS_PER_YEAR, norm_pdf
from hedgeflow.engine.book import ExpiryBook
from hedgeflow.engine.chain import OptionChain, sorted_unique
from hedgeflow.engine.enums import PositioningModel
from hedgeflow.engine.exposure import positions as model_positions
from hedgeflow.engine.forward import ForwardEstimates, parity_forwards
from hedgeflow.engine.iv import IVFailure, implied_vol, normalized_otm_price, quote_mid
from hedgeflow.engine.smoothing import smoothing_spline
from hedgeflow.engine.types import IVSurface

MIN_VALID_IVS = 5
# Absolute tolerance of the butterfly check on call prices normalized by F: double
# precision noise on prices of order F is ~1e-16; wing prices below ~1e-12 F carry no
# information.
BUTTERFLY_TOL = 1e-12
# Floor of the IV error used to weight the spline (decimal vol): a locked or penny-wide
# quote does not make one strike infinitely more credible than its neighbours.
MIN_IV_ERROR = 0.0005
# One standard error of a mid, as a fraction of the bid/ask spread: a market maker's
# fair value sits well inside the quote (a uniform error over the spread gives 0.29).
MID_ERROR_FRACTION = 0.25
VENDOR_IV_REL_ERROR = 0.05  # vendor fallbacks weigh as a +-5 % (relative) IV
MAX_ABS_LOG_MONEYNESS = 10.0  # |ln(K/F)| beyond which a strike is not part of the smile
# Plausible IVs (decimal): a quote implying less than 0.1 % or more than 2000 % is a bad
# print, not a smile point (the CBOE files reach 4 to 8 on far OTM short-dated puts).
IV_MIN = 1e-3
IV_MAX = 20.0
_N_CODES = max(IVFailure) + 1
_OK, _NO_QUOTE = int(IVFailure.OK), int(IVFailure.NO_QUOTE)  # ints: fast in array ops
_FAILURE_KEYS = tuple((int(c), f"iv_{c.name.lower()}") for c in IVFailure if c is not IVFailure.OK)


class SkippedExpiry(ValueError):
    """An expiry whose book cannot be built; `reason` says why (shown on screen)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- butterfly


def _normalized_calls(
    x: NDArray[np.float64], sigma: NDArray[np.float64], tau: NDArray[np.float64] | float
) -> NDArray[np.float64]:
    """Undiscounted call prices over F at strikes x = K/F, from the OTM price (put below
    the forward plus its parity intrinsic) so that wing prices keep their precision."""
    h = -np.abs(np.log(x))
    otm = normalized_otm_price(h, sigma * np.sqrt(tau)) * np.sqrt(x)
    return otm + np.maximum(1.0 - x, 0.0)


def _far(x_last: np.ndarray | float) -> np.ndarray:
    # the right anchor C -> 0 "far above": 1000 times the last strike (at least 1000 F)
    return np.maximum(np.asarray(x_last, dtype=np.float64) * 1e3, 1e3)


def _ends(seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last element of each run of equal segment ids."""
    first = np.empty(seg.size, dtype=bool)
    last = np.empty(seg.size, dtype=bool)
    if seg.size:
        first[0] = last[-1] = True
        np.not_equal(seg[1:], seg[:-1], out=first[1:])
        last[:-1] = first[1:]
    return first, last


def _chord_violations(
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
    nx[last] = _far(x[last]) if far is None else far[last]
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
            c = _normalized_calls(x, surface.smoothed_iv, surface.tau)
    else:
        if call_prices is None or forward is None:
            raise ValueError("`call_prices` and `forward` are required with strike arrays")
        x = np.asarray(strikes, dtype=np.float64) / forward
        c = np.asarray(call_prices, dtype=np.float64) / (forward * discount)
    if x.size == 0:
        return np.zeros(0, dtype=bool)
    first, last = _ends(np.zeros(x.size, dtype=np.intp))
    return _chord_violations(x, c, first, last, tol)


def _hull_repair(
    x: np.ndarray, c: np.ndarray, seg: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Lower convex hull repair, segment by segment: points above their segment's hull
    (anchors (0, 1) and (1000 x_last, 0) included) drop onto it, the rest stay.

    Returns (repaired c, mask of changed points). A point strictly above the chord of two
    other points is never on the lower hull, so all such points go at once each pass; the
    passes are vectorized over all segments.
    """
    n = x.size
    _, last_all = _ends(seg)
    far = _far(x[last_all])[np.cumsum(_ends(seg)[0]) - 1]  # per element: its segment's far
    keep = np.ones(n, dtype=bool)
    for _pass in range(n):
        idx = np.flatnonzero(keep)
        first, last = _ends(seg[idx])
        viol = _chord_violations(x[idx], c[idx], first, last, tol, far[idx])
        if not viol.any():
            break
        keep[idx[viol]] = False
    changed = ~keep
    out = c.copy()
    if changed.any():
        # linear interpolation between the kept neighbours in the segment (or the anchors)
        pos = np.arange(n)
        first_all, _ = _ends(seg)
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


def _convex_repair(x: np.ndarray, c: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """`_hull_repair` of one expiry."""
    return _hull_repair(x, c, np.zeros(x.size, dtype=np.intp), tol)


def _repair_butterflies(
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
    first, last = _ends(seg)
    calls = _normalized_calls(x, sig, tau)
    viol = _chord_violations(x, calls, first, last, BUTTERFLY_TOL)
    changed_any = np.zeros(x.size, dtype=bool)
    sig = sig.copy()
    for _pass in range(3):
        if not viol.any():
            break
        bad_seg = np.zeros(n_seg, dtype=bool)
        bad_seg[seg[viol]] = True
        sub = np.flatnonzero(bad_seg[seg])
        hull, changed = _hull_repair(x[sub], calls[sub], seg[sub], BUTTERFLY_TOL)
        idx = sub[changed]
        iv_fix, _ = implied_vol(hull[changed], 1.0, x[idx], tau[idx], 0.0, True)
        fixed = np.isfinite(iv_fix)
        sig[idx[fixed]] = iv_fix[fixed]
        for j in np.unique(seg[idx[~fixed]]):
            # rare: interpolate in k from the segment's other strikes
            in_j = np.flatnonzero(seg == j)
            lost = np.isin(in_j, idx[~fixed])
            sig[in_j[lost]] = np.interp(k[in_j[lost]], k[in_j[~lost]], sig[in_j[~lost]])
        changed_any[idx] = True
        calls[sub] = _normalized_calls(x[sub], sig[sub], tau[sub])
        viol = _chord_violations(x, calls, first, last, BUTTERFLY_TOL)
    repaired = np.bincount(seg[changed_any], minlength=n_seg)
    left = np.bincount(seg[viol], minlength=n_seg)
    return sig, repaired, left


# --------------------------------------------------------------------------- smile


def _smooth_total_variance(
    k: np.ndarray, w: np.ndarray, err: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, int]:
    """Smoothed w at every k of one expiry: weighted cubic smoothing spline over the valid
    points (the smoothing condition sum((w_i - g_i)/err_i)^2 <= n keeps the fit within
    the mids' errors on average), flat beyond the outermost valid points. Returns (w_s,
    count of strikes where the spline was non-positive and linear interpolation of the
    raw points was used instead)."""
    kv, wv, ev = k[valid], w[valid], err[valid]
    kc = np.minimum(np.maximum(k, kv[0]), kv[-1])  # flat in k beyond the last valid strike
    # where the smoothing condition cannot be met the fit is still the best on its knots,
    # and the result is checked below
    ws, _ = smoothing_spline(kv, wv, ev, kc)
    bad = ~(np.isfinite(ws) & (ws > 0))
    if bad.any():
        ws[bad] = np.interp(kc[bad], kv, wv)
    return ws, int(bad.sum())


def _segments(seg: np.ndarray, n_seg: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each segment of a segment-sorted index array."""
    counts = np.bincount(seg, minlength=n_seg)
    end = np.cumsum(counts)
    return end - counts, end


def _count(seg: np.ndarray, mask: np.ndarray, n_seg: int) -> np.ndarray:
    return np.bincount(seg[mask], minlength=n_seg)


class _Smiles:
    """Smiles of many expiries on their (expiry, strike) nodes, sorted by expiry then strike.

    After construction: raw (per node), sigma (smoothed, per node), diag (one dict per
    expiry), skip (reason or None per expiry; None = built).
    """

    def __init__(
        self,
        nseg: np.ndarray,
        n_seg: int,
        K: np.ndarray,
        call_mid: np.ndarray,
        put_mid: np.ndarray,
        call_spread: np.ndarray,
        put_spread: np.ndarray,
        vendor_iv: np.ndarray,
        call_reason: np.ndarray,
        put_reason: np.ndarray,
        *,
        forward: np.ndarray,
        tau: np.ndarray,
        r: float,
        alive: np.ndarray,
    ) -> None:
        self.diag: list[dict[str, int]] = [{} for _ in range(n_seg)]
        self.skip: list[str | None] = [None if a else "" for a in alive]
        n = K.size
        F = forward[nseg]
        T = tau[nseg]
        todo = alive[nseg]
        otm_call = K >= F
        otm_mid = np.where(otm_call, call_mid, put_mid)
        spread = np.where(otm_call, call_spread, put_spread)
        iv = np.full(n, np.nan)
        reason = np.full(n, _NO_QUOTE, dtype=np.int8)
        quote_reason = np.where(otm_call, call_reason, put_reason)
        # a failed quote without a price (quote_mid's NaN) inverts to NaN and its reason is
        # the quote's: not solved at all (the same iv and reason)
        bad_quote = quote_reason != _OK
        sel = np.flatnonzero(todo & ~(bad_quote & np.isnan(otm_mid)))
        iv[sel], reason[sel] = implied_vol(otm_mid[sel], F[sel], K[sel], T[sel], r, otm_call[sel])
        reason = np.where(bad_quote, quote_reason, reason)
        # the in-the-money twin where the OTM quote does not invert (same time value by
        # parity on the parity forward, wider quotes), only where its time value exceeds its
        # own spread: below that its IV is tick noise
        miss = np.flatnonzero(todo & ~np.isfinite(iv))
        n_twin = np.zeros(n_seg, dtype=np.intp)
        if miss.size:
            itm_mid = np.where(otm_call, put_mid, call_mid)[miss]
            itm_spread = np.where(otm_call, put_spread, call_spread)[miss]
            with np.errstate(invalid="ignore"):
                time_value = itm_mid - np.exp(-r * T[miss]) * np.abs(F[miss] - K[miss])
                has = np.isfinite(itm_mid) & (time_value > itm_spread)
            if has.any():
                sub = miss[has]
                iv2, _ = implied_vol(itm_mid[has], F[sub], K[sub], T[sub], r, ~otm_call[sub])
                got = sub[np.isfinite(iv2)]
                iv[got] = iv2[np.isfinite(iv2)]
                spread = spread.copy()
                spread[got] = itm_spread[has][np.isfinite(iv2)]
                reason[got] = _OK
                twin = np.zeros(n, dtype=bool)
                twin[got] = True
                n_twin = _count(nseg, twin, n_seg)
        counts = np.bincount(nseg[todo] * _N_CODES + reason[todo], minlength=n_seg * _N_CODES)
        counts = counts.reshape(n_seg, _N_CODES)

        # errstate: K / F over- or underflows only for strikes absurdly far from the
        # forward; `in_range` masks them out of the smile (they get the flat wing)
        with np.errstate(over="ignore", divide="ignore", under="ignore", invalid="ignore"):
            x = K / F
            k = np.log(x)
            in_range = todo & (np.abs(k) <= MAX_ABS_LOG_MONEYNESS)
            plausible = (iv >= IV_MIN) & (iv <= IV_MAX)
            implausible = np.isfinite(iv) & ~plausible
            solved = np.isfinite(iv) & plausible & in_range
            # a vendor IV of 0 means "not computed"; outside [IV_MIN, IV_MAX] it is no IV
            vend = ~solved & in_range & (vendor_iv >= IV_MIN) & (vendor_iv <= IV_MAX)
        raw = np.where(solved, iv, np.where(vend, vendor_iv, np.nan))
        valid = np.isfinite(raw)
        n_valid = _count(nseg, valid, n_seg)
        per_seg = {
            "iv_itm_twin": n_twin,
            "strike_out_of_range": _count(nseg, todo & ~in_range, n_seg),
            "iv_implausible": _count(nseg, todo & implausible, n_seg),
            "iv_vendor_fallback": _count(nseg, vend, n_seg),
        }
        for j in range(n_seg):
            if not alive[j]:
                continue
            d = self.diag[j]
            for code, name in _FAILURE_KEYS:
                if counts[j, code]:
                    d[name] = int(counts[j, code])
            for name, arr in per_seg.items():
                if arr[j]:
                    d[name] = int(arr[j])
            if n_valid[j] < MIN_VALID_IVS:
                self.skip[j] = f"only {int(n_valid[j])} valid IVs (need {MIN_VALID_IVS})"

        w = raw * raw * T
        # quote error in vol: MID_ERROR_FRACTION of the spread over vega (undiscounted, per
        # unit vol: F phi(d1) sqrt(tau)), in w units 2 sigma tau dsigma. errstate: vega
        # underflows to 0 in far wings (error inf, capped below); NaN rows are not `valid`.
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            sqrt_t = np.sqrt(T)
            sd = raw * sqrt_t
            d1 = -k / sd + 0.5 * sd
            vega = F * np.exp(-r * T) * norm_pdf(d1) * sqrt_t
            err_sigma = MID_ERROR_FRACTION * spread / vega
            err_sigma = np.where(np.isfinite(err_sigma), err_sigma, np.inf)
            err_sigma = np.where(vend, VENDOR_IV_REL_ERROR * raw, err_sigma)
            err_sigma = np.maximum(err_sigma, MIN_IV_ERROR)
            # a huge error is a tiny weight (a zero weight would drop the point from
            # the fit); a tiny one is capped so no point pins the spline beyond precision
            # (np.clip without its wrapper)
            err_w = np.minimum(np.maximum(2.0 * raw * T * err_sigma, 1e-9 * w), 1e6 * w)

        start, end = _segments(nseg, n_seg)
        ws = np.full(n, np.nan)
        built = np.array([s is None for s in self.skip])
        for j in np.flatnonzero(built).tolist():
            sl = slice(start[j], end[j])
            ws[sl], fallback = _smooth_total_variance(k[sl], w[sl], err_w[sl], valid[sl])
            d = self.diag[j]
            if fallback:
                d["smooth_linear_fallback"] = fallback
            v = np.flatnonzero(valid[sl])
            n_j = end[j] - start[j]
            interpolated = int(v[-1] - v[0] + 1 - v.size)
            if interpolated:
                d["iv_interpolated"] = interpolated
            if n_j - (v[-1] - v[0] + 1):
                d["iv_extrapolated_flat"] = int(n_j - (v[-1] - v[0] + 1))
        with np.errstate(invalid="ignore"):
            sigma = np.sqrt(ws / T)

        # butterfly check and repair on every built expiry's in-range strikes at once (the
        # out-of-range strikes sit on the flat wing)
        chk = np.flatnonzero(in_range & built[nseg])
        if chk.size:
            sig, repaired, left = _repair_butterflies(
                x[chk], k[chk], sigma[chk], T[chk], nseg[chk], n_seg
            )
            sigma[chk] = sig
            for j in np.flatnonzero(repaired).tolist():
                self.diag[j]["butterfly_repaired"] = int(repaired[j])
            for j in np.flatnonzero(left).tolist():
                self.diag[j]["butterfly_unrepaired"] = int(left[j])
        self.raw = raw
        self.sigma = sigma


def build_surface(
    strikes: np.ndarray,
    call_mid: np.ndarray,
    put_mid: np.ndarray,
    call_spread: np.ndarray,
    put_spread: np.ndarray,
    vendor_iv: np.ndarray,
    *,
    forward: float,
    tau: float,
    r: float,
    expiration: datetime,
    call_reason: np.ndarray | None = None,
    put_reason: np.ndarray | None = None,
) -> tuple[IVSurface, dict[str, int]]:
    """Raw and arbitrage-free smoothed smile of one expiry on unique ascending strikes.

    Parameters
    ----------
    strikes : unique, ascending, points
    call_mid, put_mid : mids of sane quotes per strike, points (NaN: none)
    call_spread, put_spread : ask - bid, points (NaN: none)
    vendor_iv : vendor IV per strike (of the OTM contract), decimal (NaN or 0: none)
    forward : parity forward F, points; tau : year fraction (365-day); r : decimal/year
    call_reason, put_reason : `IVFailure` of the quotes (from `quote_mid`), for counting

    Returns (surface, diagnostics). Raises `SkippedExpiry` with fewer than 5 valid IVs.
    """
    K = np.asarray(strikes, dtype=np.float64)
    ok = np.zeros(K.size, dtype=np.int8)
    sm = _Smiles(
        np.zeros(K.size, dtype=np.intp),
        1,
        K,
        call_mid,
        put_mid,
        call_spread,
        put_spread,
        vendor_iv,
        ok if call_reason is None else call_reason,
        ok if put_reason is None else put_reason,
        forward=np.array([forward]),
        tau=np.array([tau]),
        r=r,
        alive=np.array([True]),
    )
    if sm.skip[0]:
        raise SkippedExpiry(sm.skip[0])
    surface = IVSurface(expiration, K, sm.raw, sm.sigma, forward=forward, tau=tau)
    return surface, sm.diag[0]


# --------------------------------------------------------------------------- the books


REFERENCE_CANDIDATES = 3  # nearest live expiries searched for the spot's reference forward
REFERENCE_MIN_PAIRS = 3  # parity pairs a reference forward should rest on, when any has them


@dataclass(frozen=True)
class SpotEstimate:
    """The underlying's spot for every book of a chain (one spot, so books add up).

    spot : points; trusted : the vendor's spot agreed with the reference forward
    reference_expiry : epoch of the expiry whose parity forward checked (or set) the spot,
        NaN when no expiry had a quoted call/put pair
    note : why the vendor spot was not used ("" when it was)
    """

    spot: float
    trusted: bool
    reference_expiry: float
    note: str = ""


def _reference_spot(
    chain: OptionChain,
    fe: ForwardEstimates,
    E: np.ndarray,
    tau: np.ndarray,
    cand: np.ndarray,
    r: float,
) -> SpotEstimate:
    """The chain's spot from the nearest live expiry whose forward rests on parity pairs
    (at least REFERENCE_MIN_PAIRS if one of the candidates has them): the vendor spot when
    it agrees with that forward, else S = F e^{-r tau} of that expiry (q = 0 over its
    short life). A disagreeing spot is an after-hours print, a stale index value or an
    ex-dividend day (DESIGN.md): flagged, not trusted."""
    vendor = float(chain.spot)
    idx = np.flatnonzero(cand)
    pairs = fe.n_pairs[idx]
    good = idx[pairs >= REFERENCE_MIN_PAIRS]
    some = idx[pairs >= 1]
    ref = int(good[0]) if good.size else (int(some[0]) if some.size else -1)
    if ref < 0:
        ok = math.isfinite(vendor) and vendor > 0
        return SpotEstimate(vendor if ok else float("nan"), ok, float("nan"))
    if bool(fe.spot_consistent[ref]):
        return SpotEstimate(vendor, True, float(E[ref]))
    when = datetime.fromtimestamp(float(E[ref]), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    forward = float(fe.forward[ref])
    spot = forward * math.exp(-r * float(tau[ref]))
    if math.isfinite(vendor):
        note = (
            f"spot {vendor:.2f} disagrees with the parity forward {forward:.2f} of the "
            f"{when} expiry (beyond a plausible dividend yield): not used; spot taken as "
            f"F e^(-r tau) = {spot:.2f}"
        )
    else:
        note = f"no spot: taken as F e^(-r tau) = {spot:.2f} of the {when} expiry"
    return SpotEstimate(spot, False, float(E[ref]), note)


def _member(sorted_values: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.isin(x, sorted_values) for ascending unique (NaN-free) values, and each x's
    np.searchsorted position in them."""
    pos = np.searchsorted(sorted_values, x)
    if sorted_values.size == 0:
        return np.zeros(pos.shape, dtype=bool), pos
    return sorted_values[np.minimum(pos, sorted_values.size - 1)] == x, pos


def _per_node(values: np.ndarray, node: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    out[node[mask]] = values[mask]  # duplicate contracts at one strike: the last row wins
    return out


def build_expiry_books(
    chain: OptionChain,
    expiries: Iterable[float] | np.ndarray | None = None,
    *,
    r: float,
    positioning: PositioningModel,
    position: np.ndarray | None = None,
    payoff_only: bool = True,
) -> tuple[list[ExpiryBook], dict[float, str]]:
    """Books of several expiries at once, vectorized across them.

    Parameters
    ----------
    chain : the normalized chain
    expiries : settlement epochs (seconds UTC, as in `chain.expiry`); None = all in the chain
    r, positioning, position, payoff_only : as in `build_expiry_book`

    Returns
    -------
    (books in ascending expiry order, {expiry epoch: reason} for the expiries skipped).
    Each book equals `build_expiry_book(chain, expiry, ...)` for its expiry.
    """
    if position is not None:
        position = np.asarray(position, dtype=np.float64)
        if position.shape != (len(chain),):
            raise ValueError(f"`position` must have one value per chain row ({len(chain)})")
    all_e = chain.expiries()
    all_e = all_e[np.isfinite(all_e)]
    if expiries is None:
        E_req = all_e
    elif isinstance(expiries, np.ndarray) and expiries.ndim == 1:
        E_req = sorted_unique(np.asarray(expiries, dtype=np.float64))  # = np.unique
    else:
        E_req = np.unique(np.asarray(list(expiries), dtype=np.float64))
    skipped: dict[float, str] = {}
    if not np.isfinite(E_req).all():
        for e in E_req[~np.isfinite(E_req)]:
            skipped[float(e)] = "no options at this expiry"
        E_req = E_req[np.isfinite(E_req)]
    # the nearest live expiries ride along (without smiles) for the chain's one spot
    candidates = all_e[all_e - chain.as_of_epoch >= MIN_GREEK_TAU * SECONDS_PER_YEAR]
    candidates = candidates[:REFERENCE_CANDIDATES]
    # (sorted unique arrays throughout: membership by one search, not np.isin's sort)
    if _member(E_req, candidates)[0].all():  # the common case: the candidates are asked for
        E, requested = E_req, np.ones(E_req.size, dtype=bool)
    else:
        E = np.union1d(E_req, candidates)
        requested = _member(E_req, E)[0]
    is_candidate = _member(candidates, E)[0]
    in_e, seg_of = _member(E, chain.expiry)
    rows = np.flatnonzero(in_e)
    seg_all = seg_of[rows]
    n_rows = np.bincount(seg_all, minlength=E.size)
    tau_e = (E - chain.as_of_epoch) / SECONDS_PER_YEAR
    strike = chain.strike[rows]
    strike_ok = np.isfinite(strike) & (strike > 0)
    n_bad_strike = np.bincount(seg_all[~strike_ok], minlength=E.size)
    live = np.ones(E.size, dtype=bool)
    for j in range(E.size):
        if n_rows[j] == 0:
            why = "no options at this expiry"
        elif not tau_e[j] > 0:
            why = "expired (tau <= 0)"
        elif n_rows[j] == n_bad_strike[j]:
            why = "no valid strike"
        else:
            continue
        live[j] = False
        if requested[j]:
            skipped[float(E[j])] = why
    keep = strike_ok & live[seg_all]
    L = np.flatnonzero(live)
    n_seg = L.size
    if n_seg == 0:
        return [], skipped
    remap = np.full(E.size, -1)
    remap[L] = np.arange(n_seg)
    rows, seg = rows[keep], remap[seg_all[keep]]
    order = np.lexsort((chain.is_call[rows], chain.strike[rows], seg))
    rows, seg = rows[order], seg[order]
    E, tau, n_bad_strike = E[L], tau_e[L], n_bad_strike[L]
    requested, is_candidate = requested[L], is_candidate[L]
    K = chain.strike[rows]
    is_call = chain.is_call[rows]
    bid, ask = chain.bid[rows], chain.ask[rows]
    mid, qreason = quote_mid(bid, ask)
    with np.errstate(invalid="ignore", over="ignore"):
        spread = ask - bid

    # nodes: one per (expiry, strike)
    first = np.empty(rows.size, dtype=bool)
    first[0] = True
    first[1:] = (seg[1:] != seg[:-1]) | (K[1:] != K[:-1])
    node = np.cumsum(first) - 1
    n_node = int(node[-1]) + 1
    nseg, nK = seg[first], K[first]
    dup = np.zeros(rows.size, dtype=bool)
    dup[1:] = ~first[1:] & (is_call[1:] == is_call[:-1])
    n_dup = _count(seg, dup, n_seg)
    put = ~is_call
    call_mid = _per_node(mid, node, is_call, n_node)
    put_mid = _per_node(mid, node, put, n_node)
    call_spread = _per_node(spread, node, is_call, n_node)
    put_spread = _per_node(spread, node, put, n_node)
    call_reason = np.full(n_node, _NO_QUOTE, dtype=np.int8)
    put_reason = call_reason.copy()
    call_reason[node[is_call]] = qreason[is_call]
    put_reason[node[put]] = qreason[put]

    fe = parity_forwards(
        nseg, n_seg, nK, call_mid, put_mid, tau, r, chain.spot,
        call_spread=call_spread, put_spread=put_spread,
    )  # fmt: skip
    ref = _reference_spot(chain, fe, E, tau, is_candidate, r)
    if not ref.spot == chain.spot:
        # one spot for every book: q of each expiry implied against it
        fe = parity_forwards(
            nseg, n_seg, nK, call_mid, put_mid, tau, r, ref.spot,
            call_spread=call_spread, put_spread=put_spread,
        )  # fmt: skip
    with np.errstate(invalid="ignore"):  # (one context: each costs ~1 us)
        alive = np.isfinite(fe.forward) & (fe.forward > 0) & requested
        F = np.where(alive, fe.forward, np.nan)
        vend = chain.vendor_iv[rows]
        otm_row = is_call == (K >= F[seg])
        vendor_k = _per_node(vend, node, ~otm_row, n_node)  # the ITM one only where no OTM one
        vendor_otm = _per_node(vend, node, otm_row, n_node)
        vendor_k = np.where(vendor_otm > 0, vendor_otm, vendor_k)
    sm = _Smiles(
        nseg, n_seg, nK, call_mid, put_mid, call_spread, put_spread, vendor_k,
        call_reason, put_reason, forward=F, tau=tau, r=r, alive=alive,
    )  # fmt: skip

    # dealers' positions, all rows at once
    if position is None:
        oi = chain.open_interest[rows]
        bad_oi = ~(np.isfinite(oi) & (oi >= 0))
        n_bad_oi = _count(seg, bad_oi, n_seg)
        pos = model_positions(np.where(bad_oi, 0.0, oi), is_call, positioning)
    else:
        n_bad_oi = np.zeros(n_seg, dtype=np.intp)
        pos = position[rows]
    mult = chain.multiplier[rows]
    roots = chain.root[rows]
    if bool((roots == roots[0]).all()):  # one root (the common case): skip a string sort
        root_names, root_code = roots[:1], np.zeros(rows.size, dtype=np.intp)
    else:
        root_names, root_code = np.unique(roots, return_inverse=True)
    row_start, row_end = _segments(seg, n_seg)
    node_start, node_end = _segments(nseg, n_seg)

    books: list[ExpiryBook] = []
    for j in range(n_seg):
        epoch = float(E[j])
        if not requested[j]:
            continue
        if not alive[j]:
            skipped[epoch] = "no forward: no quoted call/put pair and no spot"
            continue
        expiration = datetime.fromtimestamp(epoch, tz=UTC)
        ns = slice(node_start[j], node_end[j])
        rs = slice(row_start[j], row_end[j])
        diag: dict[str, int] = {}
        notes: list[str] = []
        if n_bad_strike[j]:
            diag["bad_strike"] = int(n_bad_strike[j])
        if n_dup[j]:
            diag["duplicate_contracts"] = int(n_dup[j])
        diag["parity_pairs"] = int(fe.n_pairs[j])
        reason = sm.skip[j]
        if reason is None:
            raw, sigma = sm.raw[ns], sm.sigma[ns]
            diag.update(sm.diag[j])
        elif payoff_only and tau[j] < MIN_GREEK_TAU:
            raw = np.full(node_end[j] - node_start[j], np.nan)
            sigma = raw.copy()
            diag["payoff_only"] = 1
            notes.append("under 60 s to settlement and no smile: options treated by payoff")
        else:
            skipped[epoch] = reason
            continue
        if "iv_vendor_fallback" in diag:
            notes.append(
                f"{diag['iv_vendor_fallback']} strikes use the vendor's IV (vendor clock): "
                "no quote inverted"
            )
        spot, q = ref.spot, float(fe.q[j])
        if not ref.trusted:
            notes.append(ref.note)
            diag["spot_untrusted"] = 1
        if fe.n_pairs[j] == 0:
            notes.append("no call/put pair quoted: forward taken from spot (q = 0)")
            diag["forward_from_spot"] = 1
        elif not fe.spot_consistent[j]:
            # the spot is right (checked on the nearest expiry), so the gap is this
            # expiry's: a dividend inside its life (ex-dividend day) or stale quotes
            notes.append(
                f"implied dividend yield {q:+.2%} beyond the plausible band: an "
                "ex-dividend date inside this expiry's life, or stale quotes"
            )
            diag["q_implausible"] = 1
        if n_bad_oi[j]:
            diag["oi_missing"] = int(n_bad_oi[j])
        diag["options"] = int(row_end[j] - row_start[j])
        diag["strikes"] = int(node_end[j] - node_start[j])
        surface = IVSurface(expiration, nK[ns], raw, sigma, forward=float(F[j]), tau=float(tau[j]))
        books.append(
            ExpiryBook(
                symbol=chain.symbol,
                roots=(
                    (str(root_names[0]),)
                    if root_names.size == 1
                    else tuple(str(root_names[c]) for c in np.unique(root_code[rs]))
                ),
                expiration=expiration,
                as_of=chain.as_of,
                spot=float(spot),
                forward=float(F[j]),
                r=float(r),
                q=float(q),
                tau=float(tau[j]),
                strike=K[rs],
                is_call=is_call[rs],
                position=pos[rs],
                multiplier=mult[rs],
                iv=sigma[node[rs] - node_start[j]],
                surface=surface,
                diagnostics=diag,
                notes=tuple(notes),
            )
        )
    return books, skipped


def build_expiry_book(
    chain: OptionChain,
    expiry: float,
    *,
    r: float,
    positioning: PositioningModel,
    position: np.ndarray | None = None,
    payoff_only: bool = True,
) -> ExpiryBook:
    """One expiry's options with the parity forward, the smoothed smile and positions.

    Parameters
    ----------
    chain : the normalized chain (all expiries)
    expiry : settlement time, epoch seconds UTC, exactly as in `chain.expiry`
    r : discount rate, decimal/year, continuously compounded
    positioning : dealer positioning model applied to open interest
    position : optional dealers' signed contracts, one per chain row (overrides the model)
    payoff_only : below 60 s to settlement, build a book with NaN IVs when the smile cannot
        be built (True), or skip the expiry (False: for callers that need a smile, such
        as the regime fit)

    Returns
    -------
    ExpiryBook with options sorted by strike (puts before calls at a strike), `iv` the
    smoothed smile at each option's strike, `spot` and `q` consistent with the parity
    forward (F = S e^{(r-q) tau}; a spot that disagrees is replaced and noted). Below 60 s
    to settlement the greeks are not evaluated (`hedgeflow.engine.exposure` treats the options by
    their payoff); if the smile can no longer be built then, the book still is, with NaN
    IVs (diagnostic `payoff_only`).

    Raises
    ------
    SkippedExpiry : no rows at this expiry, expired (tau <= 0), no valid strike, no
        forward (no quoted pair and no spot), fewer than 5 valid IVs.
    """
    books, skipped = build_expiry_books(
        chain,
        [float(expiry)],
        r=r,
        positioning=positioning,
        position=position,
        payoff_only=payoff_only,
    )
    if books:
        return books[0]
    raise SkippedExpiry(next(iter(skipped.values()), "no options at this expiry"))
