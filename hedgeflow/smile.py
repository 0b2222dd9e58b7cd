"""The smile of one expiry and the `ExpiryBook` built on it.

`build_expiry_book(chain, expiry, r=..., positioning=...)` is the chain pipeline:

1. rows of the expiry (settlement epoch, exact), strikes validated, sorted by strike;
2. tau from the snapshot's as-of time to settlement (365-day years): tau <= 0 is an
   expired series and is skipped;
3. mids of sane two-sided quotes (`hedgeflow.iv.quote_mid`); the parity forward and
   implied dividend yield from the pairs near the money (`hedgeflow.forward`);
4. raw IV per strike from the out-of-the-money option (puts below F, calls at and above),
   the in-the-money twin where the OTM quote does not invert, the vendor's IV (on the
   vendor's clock) only where neither does, each counted;
5. total variance w = sigma^2 tau smoothed in k = ln(K/F) by a weighted cubic smoothing
   spline (weights: inverse half bid/ask spread in w units), flat in k beyond the last
   valid strike;
6. butterfly check on the strike grid (undiscounted call prices decreasing and convex in
   K, with the no-arbitrage anchors C(0) = F and C(inf) = 0) and repair only where
   violated: violating strikes are lowered onto the lower convex hull of the call prices
   and their IV re-implied, every other strike keeps its smoothed IV;
7. the dealers' signed positions (positioning model, or live positions passed in).

No Python loop runs over strikes; the hull repair loops over passes, each vectorized,
and only runs when the check found a violation.
"""

from __future__ import annotations

import math
import warnings
from datetime import UTC, datetime

import numpy as np
from scipy.interpolate import UnivariateSpline

from hedgeflow.black76 import MIN_GREEK_TAU, SECONDS_PER_YEAR, norm_pdf
from hedgeflow.book import ExpiryBook
from hedgeflow.chain import OptionChain
from hedgeflow.enums import PositioningModel
from hedgeflow.exposure import positions as model_positions
from hedgeflow.forward import ForwardEstimate, parity_forward
from hedgeflow.iv import IVFailure, implied_vol, normalized_otm_price, quote_mid
from hedgeflow.types import IVSurface

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
VENDOR_IV_REL_ERROR = 0.05
MAX_ABS_LOG_MONEYNESS = 10.0  # |ln(K/F)| beyond which a strike is not part of the smile
# Plausible IVs (decimal): a quote implying less than 0.1 % or more than 2000 % is a bad
# print, not a smile point (the CBOE files reach 4 to 8 on far OTM short-dated puts).
IV_MIN = 1e-3
IV_MAX = 20.0  # vendor fallbacks weigh as a +-5 % (relative) IV


class SkippedExpiry(ValueError):
    """An expiry whose book cannot be built; `reason` says why (shown on screen)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- butterfly


def _normalized_calls(x: np.ndarray, sigma: np.ndarray, tau: float) -> np.ndarray:
    """Undiscounted call prices over F at strikes x = K/F, from the OTM price (put below
    the forward plus its parity intrinsic) so that wing prices keep their precision."""
    h = -np.abs(np.log(x))
    otm = normalized_otm_price(h, sigma * math.sqrt(tau)) * np.sqrt(x)
    return otm + np.maximum(1.0 - x, 0.0)


def _with_anchors(x: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # C(0) = F (c = 1) and C -> 0 far above: convexity through them bounds the slope in
    # [-1, 0], i.e. prices decreasing and above the forward's intrinsic value
    far = max(float(x[-1]) * 1e3, 1e3)
    return np.concatenate(([0.0], x, [far])), np.concatenate(([1.0], c, [0.0]))


def check_butterfly(
    strikes: np.ndarray,
    call_prices: np.ndarray,
    forward: float,
    *,
    discount: float = 1.0,
    tol: float = BUTTERFLY_TOL,
) -> np.ndarray:
    """Strikes where call prices admit a butterfly (or call-spread) arbitrage.

    Parameters
    ----------
    strikes : ascending, unique, points
    call_prices : call price at each strike, points (discounted by `discount`)
    forward : F, points; discount : e^{-r tau}
    tol : tolerance on prices normalized by F

    Returns
    -------
    bool array, True at a strike whose price lies above the chord of its neighbours
    (convexity), including the anchors C(0) = e^{-r tau} F and C(inf) = 0, so a price
    rising with strike or falling faster than the discount factor is flagged as well.
    """
    x = np.asarray(strikes, dtype=np.float64) / forward
    c = np.asarray(call_prices, dtype=np.float64) / (forward * discount)
    xa, ca = _with_anchors(x, c)
    lam = (xa[2:] - xa[1:-1]) / (xa[2:] - xa[:-2])
    chord = lam * ca[:-2] + (1.0 - lam) * ca[2:]
    return ~(ca[1:-1] <= chord + tol)


def _convex_repair(x: np.ndarray, c: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower convex hull repair: strikes above the hull drop onto it, the rest stay.

    Returns (repaired c, mask of changed strikes). A point strictly above the chord of two
    other points is never on the lower hull, so all such points go at once each pass.
    """
    xa, ca = _with_anchors(x, c)
    keep = np.ones(xa.size, dtype=bool)
    for _pass in range(xa.size):
        idx = np.flatnonzero(keep)
        xs, cs = xa[idx], ca[idx]
        lam = (xs[2:] - xs[1:-1]) / (xs[2:] - xs[:-2])
        viol = cs[1:-1] > lam * cs[:-2] + (1.0 - lam) * cs[2:] + tol
        if not viol.any():
            break
        keep[idx[1:-1][viol]] = False
    changed = ~keep[1:-1]
    out = c.copy()
    out[changed] = np.interp(x[changed], xa[keep], ca[keep])
    return out, changed


def _repair_butterflies(
    x: np.ndarray,
    k: np.ndarray,
    sig: np.ndarray,
    tau: float,
    sigma_all: np.ndarray,
    sub: np.ndarray,
) -> tuple[np.ndarray, int, int]:
    """Check the smile at strikes x = K/F (ascending) and repair where violated.

    Violating strikes get the IV of the lower convex hull price. A hull price at intrinsic
    to double precision has no IV; such a strike takes the IV interpolated in k from the
    strikes around it (its time value is below double precision either way). Up to three
    passes, each only if the previous left a violation. Returns (sigma for all strikes,
    strikes repaired, strikes still violating).
    """
    changed_any = np.zeros(x.size, dtype=bool)
    for _pass in range(3):
        calls = _normalized_calls(x, sig, tau)
        if not check_butterfly(x, calls, 1.0).any():
            break
        hull, changed = _convex_repair(x, calls, BUTTERFLY_TOL)
        iv_fix, _ = implied_vol(hull[changed], 1.0, x[changed], tau, 0.0, True)
        idx = np.flatnonzero(changed)
        sig = sig.copy()
        fixed = np.isfinite(iv_fix)
        sig[idx[fixed]] = iv_fix[fixed]
        if (~fixed).any():
            good = np.ones(x.size, dtype=bool)
            good[idx[~fixed]] = False
            sig[idx[~fixed]] = np.interp(k[idx[~fixed]], k[good], sig[good])
        changed_any |= changed
    else:
        calls = _normalized_calls(x, sig, tau)
    left = int(check_butterfly(x, calls, 1.0).sum())
    out = sigma_all.copy()
    out[sub] = sig
    return out, int(changed_any.sum()), left


# --------------------------------------------------------------------------- smile


def _sorted_unique(K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique values and inverse index of an ascending array (no re-sort)."""
    first = np.empty(K.size, dtype=bool)
    first[:1] = True
    np.not_equal(K[1:], K[:-1], out=first[1:])
    return K[first], np.cumsum(first) - 1


def _per_strike(values: np.ndarray, inv: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    out[inv[mask]] = values[mask]  # duplicate contracts at one strike: the last row wins
    return out


def _smooth_total_variance(
    k: np.ndarray, w: np.ndarray, err: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, int]:
    """Smoothed w at every k: weighted cubic smoothing spline over the valid points (the
    smoothing condition sum((w_i - g_i)/err_i)^2 <= n makes the fit stay within the
    quotes' spread on average), flat beyond the outermost valid points. Returns (w_s,
    count of strikes where the spline was non-positive and linear interpolation of the
    raw points was used instead)."""
    kv, wv, ev = k[valid], w[valid], err[valid]
    kc = np.clip(k, kv[0], kv[-1])  # flat in k beyond the last valid strike
    with warnings.catch_warnings():
        # FITPACK warns when it cannot meet the smoothing condition exactly; the fit is
        # still the best it found, and the result is checked below
        warnings.simplefilter("ignore")
        spline = UnivariateSpline(kv, wv, w=1.0 / ev, k=3, s=float(kv.size))
        ws = spline(kc)
    bad = ~(np.isfinite(ws) & (ws > 0))
    if bad.any():
        ws[bad] = np.interp(kc[bad], kv, wv)
    return ws, int(bad.sum())


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
    """Raw and arbitrage-free smoothed smile on unique ascending strikes.

    Parameters
    ----------
    strikes : unique, ascending, points
    call_mid, put_mid : mids of sane quotes per strike, points (NaN: none)
    call_spread, put_spread : ask - bid, points (NaN: none)
    vendor_iv : vendor IV of the OTM contract per strike, decimal (NaN or 0: none)
    forward : parity forward F, points; tau : year fraction (365-day); r : decimal/year
    call_reason, put_reason : `IVFailure` of the quotes (from `quote_mid`), for counting

    Returns (surface, diagnostics). Raises `SkippedExpiry` with fewer than 5 valid IVs.
    """
    K = strikes
    n = K.size
    otm_call = K >= forward
    diag: dict[str, int] = {}
    otm_mid = np.where(otm_call, call_mid, put_mid)
    otm_spread = np.where(otm_call, call_spread, put_spread)
    iv, reason = implied_vol(otm_mid, forward, K, tau, r, otm_call)
    if call_reason is not None and put_reason is not None:
        quote_reason = np.where(otm_call, call_reason, put_reason)
        reason = np.where(quote_reason != IVFailure.OK, quote_reason, reason)
    spread = otm_spread
    # the in-the-money twin where the OTM quote does not invert (same time value by parity
    # on the parity forward, wider quotes)
    miss = np.flatnonzero(~np.isfinite(iv))
    if miss.size:
        itm_mid = np.where(otm_call, put_mid, call_mid)[miss]
        itm_spread = np.where(otm_call, put_spread, call_spread)[miss]
        time_value = itm_mid - math.exp(-r * tau) * np.abs(forward - K[miss])
        # an ITM quote carries the smile only where its time value exceeds its own spread;
        # below that the IV is tick noise
        has = np.isfinite(itm_mid) & (time_value > itm_spread)
        if has.any():
            sub = miss[has]
            iv2, _ = implied_vol(itm_mid[has], forward, K[sub], tau, r, ~otm_call[sub])
            got = np.isfinite(iv2)
            iv[sub[got]] = iv2[got]
            spread = spread.copy()
            spread[sub[got]] = np.where(otm_call, put_spread, call_spread)[sub[got]]
            reason[sub[got]] = IVFailure.OK
            diag["iv_itm_twin"] = int(got.sum())
    for code in IVFailure:
        if code is not IVFailure.OK:
            cnt = int(np.count_nonzero(reason == code))
            if cnt:
                diag[f"iv_{code.name.lower()}"] = cnt
    # errstate: K / F over- or underflows only for strikes absurdly far from the forward;
    # `in_range` masks them out of the smile (they get the flat wing)
    with np.errstate(over="ignore", divide="ignore", under="ignore"):
        x = K / forward
        k = np.log(x)
    in_range = np.abs(k) <= MAX_ABS_LOG_MONEYNESS
    if (~in_range).any():
        diag["strike_out_of_range"] = int((~in_range).sum())
    plausible = (iv >= IV_MIN) & (iv <= IV_MAX)
    if (np.isfinite(iv) & ~plausible).any():
        diag["iv_implausible"] = int((np.isfinite(iv) & ~plausible).sum())
    solved = np.isfinite(iv) & plausible & in_range
    # a vendor IV of 0 means "not computed"; outside [IV_MIN, IV_MAX] it is not a price's IV
    vend = ~solved & in_range & (vendor_iv >= IV_MIN) & (vendor_iv <= IV_MAX)
    raw = np.where(solved, iv, np.where(vend, vendor_iv, np.nan))
    if vend.any():
        diag["iv_vendor_fallback"] = int(vend.sum())
    valid = np.isfinite(raw)
    n_valid = int(valid.sum())
    if n_valid < MIN_VALID_IVS:
        raise SkippedExpiry(f"only {n_valid} valid IVs (need {MIN_VALID_IVS})")

    sqrt_tau = math.sqrt(tau)
    w = raw * raw * tau
    # quote error in vol: MID_ERROR_FRACTION of the spread over vega (undiscounted, per unit
    # vol: F phi(d1) sqrt(tau)), in w units 2 sigma tau dsigma. errstate: vega underflows
    # to 0 in far wings (error inf, then capped below); NaN k/spread rows are not `valid`.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        sd = raw * sqrt_tau
        d1 = -k / sd + 0.5 * sd
        vega = forward * math.exp(-r * tau) * norm_pdf(d1) * sqrt_tau
        err_sigma = MID_ERROR_FRACTION * spread / vega
        err_sigma = np.where(np.isfinite(err_sigma), err_sigma, np.inf)
        err_sigma = np.where(vend, VENDOR_IV_REL_ERROR * raw, err_sigma)
        err_sigma = np.maximum(err_sigma, MIN_IV_ERROR)
        # a huge error is a tiny weight (a zero weight would drop the point from FITPACK);
        # a tiny one is capped so that no point pins the spline beyond double precision
        err_w = np.clip(2.0 * raw * tau * err_sigma, 1e-9 * w, 1e6 * w)
    ws, spline_fallback = _smooth_total_variance(k, w, err_w, valid)
    if spline_fallback:
        diag["smooth_linear_fallback"] = spline_fallback
    lo, hi = np.flatnonzero(valid)[[0, -1]]
    inside = np.zeros(n, dtype=bool)
    inside[lo : hi + 1] = True
    if (~valid & inside).any():
        diag["iv_interpolated"] = int((~valid & inside).sum())
    if (~inside).any():
        diag["iv_extrapolated_flat"] = int((~inside).sum())
    sigma = np.sqrt(ws / tau)

    # butterfly check and repair on the strikes in range (the others sit on the flat wing)
    sub = np.flatnonzero(in_range)
    sigma, repaired, unrepaired = _repair_butterflies(x[sub], k[sub], sigma[sub], tau, sigma, sub)
    if repaired:
        diag["butterfly_repaired"] = repaired
    if unrepaired:
        diag["butterfly_unrepaired"] = unrepaired
    surface = IVSurface(
        expiration=expiration,
        strikes=K,
        raw_iv=raw,
        smoothed_iv=sigma,
        forward=forward,
        tau=tau,
    )
    return surface, diag


# --------------------------------------------------------------------------- the book


def _resolve_spot(
    fe: ForwardEstimate, r: float, tau: float, notes: list[str], diag: dict[str, int]
) -> tuple[float, float]:
    """(spot, q) consistent with F = S e^{(r-q) tau}: the vendor spot when it agrees with the
    parity forward, else S = F e^{-r tau} with q = 0 (flagged)."""
    if fe.spot_consistent and fe.n_pairs > 0:
        return fe.spot, fe.q
    if fe.n_pairs == 0:
        notes.append("no call/put pair quoted: forward taken from spot (q = 0)")
        diag["forward_from_spot"] = 1
        return fe.spot, 0.0
    spot = fe.forward * math.exp(-r * tau)
    if math.isfinite(fe.spot):
        notes.append(
            f"spot {fe.spot:.2f} disagrees with the parity forward {fe.forward:.2f} "
            f"(log gap {fe.spot_gap:+.4f} beyond a plausible dividend yield): not used; "
            f"spot taken as F e^(-r tau) = {spot:.2f}"
        )
    else:
        notes.append(f"no spot: taken as F e^(-r tau) = {spot:.2f}")
    diag["spot_untrusted"] = 1
    return spot, 0.0


def build_expiry_book(
    chain: OptionChain,
    expiry: float,
    *,
    r: float,
    positioning: PositioningModel,
    position: np.ndarray | None = None,
) -> ExpiryBook:
    """One expiry's options with the parity forward, the smoothed smile and positions.

    Parameters
    ----------
    chain : the normalized chain (all expiries)
    expiry : settlement time, epoch seconds UTC, exactly as in `chain.expiry`
    r : discount rate, decimal/year, continuously compounded
    positioning : dealer positioning model applied to open interest
    position : optional dealers' signed contracts, one per chain row (overrides the model)

    Returns
    -------
    ExpiryBook with options sorted by strike (puts before calls at a strike), `iv` the
    smoothed smile at each option's strike. Below 60 s to settlement the greeks are not
    evaluated (`hedgeflow.exposure` treats the options by their payoff); if the smile can
    no longer be built then, the book still is, with NaN IVs (diagnostic `payoff_only`).

    Raises
    ------
    SkippedExpiry : no rows at this expiry, expired (tau <= 0), no valid strike, no
        forward (no quoted pair and no spot), fewer than 5 valid IVs.
    """
    rows = np.flatnonzero(chain.expiry == expiry)
    if rows.size == 0:
        raise SkippedExpiry("no options at this expiry")
    tau = (float(expiry) - chain.as_of_epoch) / SECONDS_PER_YEAR
    if not tau > 0:
        raise SkippedExpiry("expired (tau <= 0)")
    diag: dict[str, int] = {}
    notes: list[str] = []
    strike = chain.strike[rows]
    good = np.isfinite(strike) & (strike > 0)
    if not good.all():
        diag["bad_strike"] = int((~good).sum())
        rows = rows[good]
    if rows.size == 0:
        raise SkippedExpiry("no valid strike")
    order = np.lexsort((chain.is_call[rows], chain.strike[rows]))
    rows = rows[order]
    K = chain.strike[rows]
    is_call = chain.is_call[rows]
    bid, ask = chain.bid[rows], chain.ask[rows]
    mid, qreason = quote_mid(bid, ask)
    with np.errstate(invalid="ignore"):
        spread = ask - bid
    uK, inv = _sorted_unique(K)
    nu = uK.size
    dup = int(np.count_nonzero((K[1:] == K[:-1]) & (is_call[1:] == is_call[:-1])))
    if dup:
        diag["duplicate_contracts"] = dup
    put = ~is_call
    call_mid = _per_strike(mid, inv, is_call, nu)
    put_mid = _per_strike(mid, inv, put, nu)
    call_spread = _per_strike(spread, inv, is_call, nu)
    put_spread = _per_strike(spread, inv, put, nu)
    fe = parity_forward(
        uK, call_mid, put_mid, tau, r, chain.spot, call_spread=call_spread, put_spread=put_spread
    )
    if not (math.isfinite(fe.forward) and fe.forward > 0):
        raise SkippedExpiry("no forward: no quoted call/put pair and no spot")
    F = fe.forward
    diag["parity_pairs"] = fe.n_pairs
    expiration = datetime.fromtimestamp(float(expiry), tz=UTC)

    vend = chain.vendor_iv[rows]
    otm_row = is_call == (K >= F)
    vendor_k = _per_strike(vend, inv, ~otm_row, nu)  # ITM vendor IV only where no OTM one
    vendor_otm = _per_strike(vend, inv, otm_row, nu)
    vendor_k = np.where(np.isfinite(vendor_otm) & (vendor_otm > 0), vendor_otm, vendor_k)
    call_reason = np.full(nu, IVFailure.NO_QUOTE, dtype=np.int8)
    put_reason = call_reason.copy()
    call_reason[inv[is_call]] = qreason[is_call]
    put_reason[inv[put]] = qreason[put]
    try:
        surface, sdiag = build_surface(
            uK,
            call_mid,
            put_mid,
            call_spread,
            put_spread,
            vendor_k,
            forward=F,
            tau=tau,
            r=r,
            expiration=expiration,
            call_reason=call_reason,
            put_reason=put_reason,
        )
    except SkippedExpiry:
        if tau >= MIN_GREEK_TAU:
            raise
        nan = np.full(nu, np.nan)
        surface = IVSurface(expiration, uK, nan, nan.copy(), forward=F, tau=tau)
        sdiag = {"payoff_only": 1}
        notes.append("under 60 s to settlement and no smile: options treated by payoff")
    diag.update(sdiag)
    if "iv_vendor_fallback" in diag:
        notes.append(
            f"{diag['iv_vendor_fallback']} strikes use the vendor's IV (vendor clock): no quote inverted"
        )
    spot, q = _resolve_spot(fe, r, tau, notes, diag)

    if position is None:
        oi = chain.open_interest[rows]
        bad_oi = ~(np.isfinite(oi) & (oi >= 0))
        if bad_oi.any():
            diag["oi_missing"] = int(bad_oi.sum())
            oi = np.where(bad_oi, 0.0, oi)
        pos = model_positions(oi, is_call, positioning)
    else:
        position = np.asarray(position, dtype=np.float64)
        if position.shape != (len(chain),):
            raise ValueError(f"`position` must have one value per chain row ({len(chain)})")
        pos = position[rows]
    mult = chain.multiplier[rows]
    diag["options"] = int(rows.size)
    diag["strikes"] = int(nu)
    return ExpiryBook(
        symbol=chain.symbol,
        roots=tuple(sorted({str(x) for x in np.unique(chain.root[rows])})),
        expiration=expiration,
        as_of=chain.as_of,
        spot=float(spot),
        forward=float(F),
        r=float(r),
        q=float(q),
        tau=float(tau),
        strike=K,
        is_call=is_call,
        position=pos,
        multiplier=mult,
        iv=surface.smoothed_iv[inv],
        surface=surface,
        diagnostics=diag,
        notes=tuple(notes),
    )
