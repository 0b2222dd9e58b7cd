"""The smile of each expiry: raw IVs, the smoothed total variance, the fit inside the market.

`build_surface` and `Smiles` are steps 4 to 6 of the chain pipeline described in
`hedgeflow.engine.books` (which builds each `ExpiryBook` on these smiles):

4. raw IV per strike from the out-of-the-money option (puts below F, calls at and above),
   the in-the-money twin where the OTM quote does not invert (only if its time value
   exceeds its spread), the vendor's IV only where neither does, each counted; IVs
   outside [0.1 %, 2000 %] are bad prints, not smile points. A vendor IV runs on the
   vendor's clock (after hours and on weekends its tau is the last close's), so the
   fallbacks are put on ours: their variance scaled by the expiry's median ratio of our
   variance to the vendor's over the strikes solved both ways (`vendor_on_our_clock`),
   and capped by the IV of the quote's ask where the bid is zero;
5. total variance w = sigma^2 tau smoothed in k = ln(K/F) by a weighted cubic smoothing
   spline (`hedgeflow.engine.smoothing`, FITPACK's scheme in numpy: smoothing condition
   sum(((w_i - g_i) / e_i)^2) <= n with e_i the
   mid's error: a quarter of the bid/ask spread over vega, in w units), flat in k beyond
   the last valid strike: the seed of step 6;
6. the fit inside the market (`hedgeflow.engine.smile_fit`): the seed where its call
   prices are free of butterfly arbitrage on the strike grid and inside every two-sided
   quote's bid/ask (and below every zero-bid quote's ask), else the arbitrage-free
   prices closest to it inside those bands (outside only where no arbitrage-free smile
   fits inside them, counted), their IVs re-implied; the butterfly check
   (`hedgeflow.engine.butterfly`) then holds it as an invariant on the expiries the fit
   moved.

Vectorized across strikes and expiries (one implied-vol solve for the whole chain)
except the spline fit, one call per expiry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

import numpy as np

from hedgeflow.engine.black76 import norm_pdf, price
from hedgeflow.engine.butterfly import repair_butterflies
from hedgeflow.engine.iv import IVFailure, implied_vol
from hedgeflow.engine.smile_fit import fit_smiles
from hedgeflow.engine.smoothing import smoothing_spline
from hedgeflow.engine.types import IVSurface

MIN_VALID_IVS = 5
# Floor of the IV error used to weight the spline (decimal vol): a locked or penny-wide
# quote does not make one strike infinitely more credible than its neighbours.
MIN_IV_ERROR = 0.0005
# One standard error of a mid, as a fraction of the bid/ask spread: a market maker's
# fair value sits well inside the quote (a uniform error over the spread gives 0.29).
MID_ERROR_FRACTION = 0.25
VENDOR_IV_REL_ERROR = 0.05  # vendor fallbacks weigh as a +-5 % (relative) IV
# Strikes solved both ways (our IV and the vendor's) the vendor-clock ratio needs; with
# fewer, the fallbacks are used as the vendor gives them (and the note says unchecked).
MIN_CLOCK_PAIRS = 3
MAX_ABS_LOG_MONEYNESS = 10.0  # |ln(K/F)| beyond which a strike is not part of the smile
# Plausible IVs (decimal): a quote implying less than 0.1 % or more than 2000 % is a bad
# print, not a smile point (the CBOE files reach 4 to 8 on far OTM short-dated puts).
IV_MIN = 1e-3
IV_MAX = 20.0
_N_CODES = max(IVFailure) + 1
_OK, NO_QUOTE = int(IVFailure.OK), int(IVFailure.NO_QUOTE)  # ints: fast in array ops
_ONE_SIDED = int(IVFailure.ONE_SIDED)
_FAILURE_KEYS = tuple((int(c), f"iv_{c.name.lower()}") for c in IVFailure if c is not IVFailure.OK)


class SkippedExpiry(ValueError):
    """An expiry whose book cannot be built; `reason` says why (shown on screen)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


def _bands(
    idx: np.ndarray,
    mid: np.ndarray,
    spread: np.ndarray,
    ask: np.ndarray,
    reason: np.ndarray,
    own_quote: np.ndarray,
    F: np.ndarray,
    R: np.ndarray,
    T: np.ndarray,
    k: np.ndarray,
    sigma: np.ndarray,
    err_sigma: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bands and price errors of the nodes `idx` for `fit_smiles`, all undiscounted over F
    on the OTM price: [bid, ask] where the OTM quote is two-sided and its own IV is the
    smile point (`own_quote`), [0, ask] where its bid is zero, NaN elsewhere; the price
    error is the smile's IV error times the seed's vega (a quarter of the spread for a
    two-sided quote)."""
    mid, spread, ask, reason = mid[idx], spread[idx], ask[idx], reason[idx]
    unit = np.exp(-R[idx] * T[idx]) * F[idx]
    two = own_quote[idx] & (reason == _OK)
    one = (reason == _ONE_SIDED) & np.isfinite(ask)
    with np.errstate(invalid="ignore"):
        lo = np.where(two, (mid - 0.5 * spread) / unit, np.where(one, 0.0, np.nan))
        hi = np.where(two, (mid + 0.5 * spread) / unit, np.where(one, ask / unit, np.nan))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        sqrt_t = np.sqrt(T[idx])
        sd = sigma[idx] * sqrt_t
        vega = norm_pdf(-k[idx] / sd + 0.5 * sd) * sqrt_t  # undiscounted, over F, per unit vol
        err = np.where(two, MID_ERROR_FRACTION * spread / unit, vega * err_sigma[idx])
    # an error that underflows (far wings) or is not finite weighs as the smallest one
    good = np.isfinite(err) & (err > 0)
    floor = float(err[good].min()) if good.any() else 1.0
    return lo, hi, np.where(good, err, floor)


def segment_median(values: np.ndarray, seg: np.ndarray, n_seg: int) -> np.ndarray:
    """Median of `values` per segment (NaN for an empty one); any order."""
    o = np.lexsort((values, seg))
    v, sg = values[o], seg[o]
    counts = np.bincount(sg, minlength=n_seg)
    start = np.cumsum(counts) - counts
    out = np.full(n_seg, np.nan)
    has = counts > 0
    lo = start[has] + (counts[has] - 1) // 2
    hi = start[has] + counts[has] // 2
    out[has] = 0.5 * (v[lo] + v[hi])
    return out


def vendor_on_our_clock(
    nseg: np.ndarray,
    n_seg: int,
    iv: np.ndarray,
    vendor_iv: np.ndarray,
    solved: np.ndarray,
    vendor_ok: np.ndarray,
    fallback: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The vendor's IVs rescaled to our clock, per node, with the factor per expiry.

    A vendor prices with its own tau_v (the last close's on a weekend file), so its IV
    satisfies sigma_v^2 tau_v = sigma^2 tau: one factor per expiry, the ratio of our
    variance to the vendor's, tau_v / tau. It is estimated as the median of
    (iv / vendor_iv)^2 over the strikes solved both ways (`solved` & `vendor_ok`), in
    expiries that have `fallback` nodes, and applied to the vendor IVs as its square root.

    Returns (rescaled vendor IV per node, vol factor per expiry (NaN: not estimated,
    fewer than MIN_CLOCK_PAIRS strikes or no fallback; the vendor IVs are then left as
    they are), strikes solved both ways per expiry).
    """
    need = segment_counts(nseg, fallback, n_seg) > 0
    both = np.flatnonzero(solved & vendor_ok & need[nseg])
    n_both = np.bincount(nseg[both], minlength=n_seg)
    scale = np.full(n_seg, np.nan)
    if both.size:
        log_ratio = np.log(iv[both] / vendor_iv[both])  # half the log variance ratio
        scale = np.exp(segment_median(log_ratio, nseg[both], n_seg))
        scale = np.where(need & (n_both >= MIN_CLOCK_PAIRS), scale, np.nan)
    factor = np.where(np.isfinite(scale), scale, 1.0)
    return vendor_iv * factor[nseg], scale, n_both


def vendor_note(diag: Mapping[str, int], scale: float) -> str:
    """The screen's line about an expiry's strikes whose IV is the feed's own (from the
    diagnostics `Smiles` counted and its `vendor_scale`); short, as the status line shows
    it beside the poll state on 120 columns."""
    n = diag["iv_vendor_fallback"]
    capped = diag.get("iv_capped_at_ask", 0)
    text = f"{n} strike{'s' if n != 1 else ''} without a bid use the feed's IV"
    if not math.isfinite(scale):
        text += " (clock unchecked)"
    elif abs(scale - 1.0) < 0.01:
        text += f" (matches ours to {max(abs(scale - 1.0), 0.001):.1%})"
    else:
        text += f", x{scale:.2f} to our clock"
    if capped:
        text += f"; {capped} capped at the ask"
    return text


def segment_bounds(seg: np.ndarray, n_seg: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each segment of a segment-sorted index array."""
    counts = np.bincount(seg, minlength=n_seg)
    end = np.cumsum(counts)
    return end - counts, end


def segment_counts(seg: np.ndarray, mask: np.ndarray, n_seg: int) -> np.ndarray:
    return np.bincount(seg[mask], minlength=n_seg)


class Smiles:
    """Smiles of many expiries on their (expiry, strike) nodes, sorted by expiry then strike.

    After construction: raw (per node), sigma (smoothed, per node), diag (one dict per
    expiry), skip (reason or None per expiry; None = built), vendor_scale (per expiry: the
    factor the vendor's IVs were multiplied by to put them on our clock; NaN where they
    were used as given). call_ask, put_ask: the quotes' asks per node, points (NaN: none).
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
        call_ask: np.ndarray,
        put_ask: np.ndarray,
        forward: np.ndarray,
        tau: np.ndarray,
        r: np.ndarray | float,
        alive: np.ndarray,
    ) -> None:
        self.diag: list[dict[str, int]] = [{} for _ in range(n_seg)]
        self.skip: list[str | None] = [None if a else "" for a in alive]
        n = K.size
        F = forward[nseg]
        T = tau[nseg]
        R = np.broadcast_to(np.asarray(r, dtype=np.float64), (n_seg,))[nseg]  # per node
        todo = alive[nseg]
        otm_call = K >= F
        otm_mid = np.where(otm_call, call_mid, put_mid)
        spread = np.where(otm_call, call_spread, put_spread)
        iv = np.full(n, np.nan)
        reason = np.full(n, NO_QUOTE, dtype=np.int8)
        quote_reason = np.where(otm_call, call_reason, put_reason)
        # a failed quote without a price (quote_mid's NaN) inverts to NaN and its reason is
        # the quote's: not solved at all (the same iv and reason)
        bad_quote = quote_reason != _OK
        sel = np.flatnonzero(todo & ~(bad_quote & np.isnan(otm_mid)))
        iv[sel], reason[sel] = implied_vol(
            otm_mid[sel], F[sel], K[sel], T[sel], R[sel], otm_call[sel]
        )
        reason = np.where(bad_quote, quote_reason, reason)
        # the in-the-money twin where the OTM quote does not invert (same time value by
        # parity on the parity forward, wider quotes), only where its time value exceeds its
        # own spread: below that its IV is tick noise
        miss = np.flatnonzero(todo & ~np.isfinite(iv))
        n_twin = np.zeros(n_seg, dtype=np.intp)
        twin = np.zeros(n, dtype=bool)
        quote_spread = spread  # the OTM quote's (the twin's replaces it below, in a copy)
        if miss.size:
            itm_mid = np.where(otm_call, put_mid, call_mid)[miss]
            itm_spread = np.where(otm_call, put_spread, call_spread)[miss]
            with np.errstate(invalid="ignore"):
                time_value = itm_mid - np.exp(-R[miss] * T[miss]) * np.abs(F[miss] - K[miss])
                has = np.isfinite(itm_mid) & (time_value > itm_spread)
            if has.any():
                sub = miss[has]
                iv2, _ = implied_vol(itm_mid[has], F[sub], K[sub], T[sub], R[sub], ~otm_call[sub])
                got = sub[np.isfinite(iv2)]
                iv[got] = iv2[np.isfinite(iv2)]
                spread = spread.copy()
                spread[got] = itm_spread[has][np.isfinite(iv2)]
                reason[got] = _OK
                twin[got] = True
                n_twin = segment_counts(nseg, twin, n_seg)
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
            vendor_ok = in_range & (vendor_iv >= IV_MIN) & (vendor_iv <= IV_MAX)
            vend = ~solved & vendor_ok
        vendor_ours, self.vendor_scale, n_clock = vendor_on_our_clock(
            nseg, n_seg, iv, vendor_iv, solved, vendor_ok, vend
        )
        raw = np.where(solved, iv, np.where(vend, vendor_ours, np.nan))
        # the ask of a zero-bid OTM quote bounds the strike's IV from above (the option is
        # worth less than its ask), whether the IV is the vendor's or the ITM twin's
        capped = np.zeros(n, dtype=bool)
        one_sided = np.flatnonzero(np.isfinite(raw) & (quote_reason == _ONE_SIDED))
        if one_sided.size:
            # only where the IV prices the option above its ask (one pricing, cheaper than
            # solving every wing quote) is the cap solved for
            ask = np.where(otm_call, call_ask, put_ask)[one_sided]
            o, c = one_sided, otm_call[one_sided]
            with np.errstate(invalid="ignore"):
                above = price(F[o], K[o], T[o], raw[o], R[o], c) > ask
            o, ask, c = o[above], ask[above], c[above]
            if o.size:
                cap, _ = implied_vol(ask, F[o], K[o], T[o], R[o], c)
                over = cap < raw[o]  # (an ask that does not invert bounds nothing)
                raw[o[over]] = cap[over]
                capped[o[over]] = True
        valid = np.isfinite(raw)
        n_valid = segment_counts(nseg, valid, n_seg)
        n_vend = segment_counts(nseg, vend, n_seg)
        with np.errstate(invalid="ignore"):
            scale_pct = np.where(np.isfinite(self.vendor_scale), self.vendor_scale * 100.0, 0.0)
        per_seg = {
            "iv_itm_twin": n_twin,
            "strike_out_of_range": segment_counts(nseg, todo & ~in_range, n_seg),
            "iv_implausible": segment_counts(nseg, todo & implausible, n_seg),
            "iv_vendor_fallback": n_vend,
            "iv_capped_at_ask": segment_counts(nseg, capped, n_seg),
            # strikes solved both ways, and the vendor-to-our-clock factor in percent
            "iv_vendor_clock_pairs": np.where(n_vend > 0, n_clock, 0),
            "iv_vendor_scale_pct": np.round(scale_pct).astype(np.intp),
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
            vega = F * np.exp(-R * T) * norm_pdf(d1) * sqrt_t
            err_sigma = MID_ERROR_FRACTION * spread / vega
            err_sigma = np.where(np.isfinite(err_sigma), err_sigma, np.inf)
            err_sigma = np.where(vend, VENDOR_IV_REL_ERROR * raw, err_sigma)
            err_sigma = np.maximum(err_sigma, MIN_IV_ERROR)
            # a huge error is a tiny weight (a zero weight would drop the point from
            # the fit); a tiny one is capped so no point pins the spline beyond precision
            # (np.clip without its wrapper)
            err_w = np.minimum(np.maximum(2.0 * raw * T * err_sigma, 1e-9 * w), 1e6 * w)

        start, end = segment_bounds(nseg, n_seg)
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

        # the fit inside the market (`hedgeflow.engine.smile_fit`) on every built expiry's
        # in-range strikes at once (the out-of-range strikes sit on the flat wing)
        chk = np.flatnonzero(in_range & built[nseg])
        if chk.size:
            lo, hi, err_p = _bands(
                chk, otm_mid, quote_spread, np.where(otm_call, call_ask, put_ask),
                quote_reason, solved & ~twin, F, R, T, k, sigma,
                np.where(valid, err_sigma, VENDOR_IV_REL_ERROR * sigma),
            )  # fmt: skip
            fit = fit_smiles(x[chk], sigma[chk], T[chk], nseg[chk], n_seg, lo, hi, err_p)
            sigma[chk] = fit.sigma
            for name, arr in (("smile_fit_moved", fit.moved), ("smile_outside_band", fit.outside)):
                for j in np.flatnonzero(arr).tolist():
                    self.diag[j][name] = int(arr[j])
            # the invariant, on the expiries the fit moved: calls convex and decreasing
            # to double precision (what the prices' round trip through their IVs leaves
            # drops onto the hull)
            redo = chk[(fit.moved > 0)[nseg[chk]]]
            if redo.size:
                sig, repaired, left = repair_butterflies(
                    x[redo], k[redo], sigma[redo], T[redo], nseg[redo], n_seg
                )
                sigma[redo] = sig
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
    call_ask: np.ndarray | None = None,
    put_ask: np.ndarray | None = None,
) -> tuple[IVSurface, dict[str, int]]:
    """Raw and fitted (arbitrage-free, inside the market) smile of one expiry on unique
    ascending strikes.

    Parameters
    ----------
    strikes : unique, ascending, points
    call_mid, put_mid : mids of sane quotes per strike, points (NaN: none)
    call_spread, put_spread : ask - bid, points (NaN: none)
    vendor_iv : vendor IV per strike (of the OTM contract), decimal (NaN or 0: none)
    forward : parity forward F, points; tau : year fraction (365-day); r : decimal/year
    call_reason, put_reason : `IVFailure` of the quotes (from `quote_mid`), for counting
    call_ask, put_ask : asks per strike, points (bound a zero-bid quote's vendor IV; NaN
        or None: no bound)

    Returns (surface, diagnostics). Raises `SkippedExpiry` with fewer than 5 valid IVs.
    """
    K = np.asarray(strikes, dtype=np.float64)
    ok = np.zeros(K.size, dtype=np.int8)
    sm = Smiles(
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
        call_ask=np.full(K.size, np.nan) if call_ask is None else call_ask,
        put_ask=np.full(K.size, np.nan) if put_ask is None else put_ask,
        forward=np.array([forward]),
        tau=np.array([tau]),
        r=r,
        alive=np.array([True]),
    )
    if sm.skip[0]:
        raise SkippedExpiry(sm.skip[0])
    surface = IVSurface(expiration, K, sm.raw, sm.sigma, forward=forward, tau=tau)
    return surface, sm.diag[0]
