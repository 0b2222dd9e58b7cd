"""Implied volatility under Black-76, vectorized, with a reason code per element.

`implied_vol(price, F, K, tau, r, is_call)` inverts the Black-76 price. Every element
gets either a decimal IV or NaN plus an `IVFailure` reason; there is no floor value
and a price of 0 never "solves" to anything.

Method. The quote is reduced to the undiscounted out-of-the-money price X (an
in-the-money call becomes its parity put: X = p - (F - K)), normalized by sqrt(F K),
and solved for the total standard deviation s = sigma sqrt(tau) of the normalized OTM
call with log-moneyness h = -|ln(F/K)| <= 0:

    B(h, s) = e^{h/2} N(h/s + s/2) - e^{-h/2} N(h/s - s/2),   dB/ds = e^{h/2} phi(h/s + s/2).

B is increasing in s, convex below s_c = sqrt(2|h|) and concave above (Jaeckel, "By
Implication", 2006), and bounded by e^{h/2}. Newton-Halley runs on f = ln B - ln b in
t = ln s (near the money B ~ s, so f is almost linear in t), or in t = -1/(2 s^2) in the
deep wings (ln B ~ -h^2 / (2 s^2) is almost linear there). Start values: the
at-the-money inverse 2 N^{-1}((1 + b e^{-h/2}) / 2), a lower bound on s, and in the
wings the asymptotic N(d) ~ phi(d)/|d| solved for s. Every step is safeguarded by a
bracket [lo, hi] kept from the sign of the residual (0 < s < s_c when b < B(s_c), else
s_c <= s): a step leaving it bisects (or doubles while hi is unbounded), as scipy's
`newton` Notes advise. Elements stop individually; a solution is accepted only if it
reprices b to 1e-9. Smile-shaped inputs converge in 2 to 4 iterations.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr, ndtri

_MAX_ITER = 100
_S_TOL = 1e-12  # relative bracket width at which an element is converged
_STEP_TOL = 1e-8  # relative Newton step at which an element is converged (error ~ step^2)
_HALLEY_STEP_TOL = 1e-5  # the same for a Halley step (error ~ step^3)
_ACCEPT_RTOL = 1e-9  # relative price residual an accepted solution must meet
_S_MAX = 50.0  # sigma sqrt(tau) beyond which B equals its bound to double precision
_V_BRANCH = 3.0  # iterate in v = 1/s^2 where h / s < -_V_BRANCH (deep wing)
_LN_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_SQRT_2PI = np.sqrt(2.0 * np.pi)
_INV_SQRT_2PI = 1.0 / _SQRT_2PI


class IVFailure(IntEnum):
    """Why an implied vol is NaN (OK = solved).

    BELOW_INTRINSIC : price at or below the discounted intrinsic value (no time value)
    NO_QUOTE : price missing, non-finite, zero or negative (zero never counts as a price)
    CROSSED : bid above ask (set by `quote_mid`)
    ZERO_TIME : tau <= 0 or non-finite
    NO_SOLUTION : price at or above the model's upper bound, or the solver did not converge
    BAD_INPUT : forward, strike or rate non-finite or non-positive (F, K)
    ONE_SIDED : no bid (bid <= 0) so the mid is not a sane price (set by `quote_mid`)
    VENDOR : the vendor's IV was used as a fallback (set by the smile, not by the solver)
    """

    OK = 0
    BELOW_INTRINSIC = 1
    NO_QUOTE = 2
    CROSSED = 3
    ZERO_TIME = 4
    NO_SOLUTION = 5
    BAD_INPUT = 6
    ONE_SIDED = 7
    VENDOR = 8


# the codes as plain ints for array work: numpy compares and fills with an IntEnum several
# times slower than with an int (it converts the enum member on every call)
_OK = int(IVFailure.OK)
_BELOW_INTRINSIC = int(IVFailure.BELOW_INTRINSIC)
_NO_QUOTE = int(IVFailure.NO_QUOTE)
_CROSSED = int(IVFailure.CROSSED)
_ZERO_TIME = int(IVFailure.ZERO_TIME)
_NO_SOLUTION = int(IVFailure.NO_SOLUTION)
_BAD_INPUT = int(IVFailure.BAD_INPUT)
_ONE_SIDED = int(IVFailure.ONE_SIDED)
_I8 = tuple(np.int8(c) for c in range(max(IVFailure) + 1))  # int8 scalars keep np.where int8


def quote_mid(bid: np.ndarray, ask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mid price of sane two-sided quotes, points.

    Returns (mid, reason): NaN with NO_QUOTE where either side is missing or ask <= 0,
    CROSSED where bid > ask, ONE_SIDED where bid <= 0; else the mid and OK.
    """
    bid = np.asarray(bid, dtype=np.float64)
    ask = np.asarray(ask, dtype=np.float64)
    missing = ~(np.isfinite(bid) & np.isfinite(ask) & (ask > 0))
    # (nested wheres in priority order: missing, crossed, one-sided; int8 codes)
    reason = np.where(
        missing,
        _I8[_NO_QUOTE],
        np.where(bid > ask, _I8[_CROSSED], np.where(bid > 0, _I8[_OK], _I8[_ONE_SIDED])),
    )
    with np.errstate(invalid="ignore", over="ignore"):
        mid = np.where(reason == _OK, 0.5 * (bid + ask), np.nan)
    return mid, reason


def normalized_otm_price(h: NDArray[np.float64], s: NDArray[np.float64]) -> NDArray[np.float64]:
    """B(h, s): undiscounted OTM Black-76 price over sqrt(F K), h = -|ln(F/K)|, s = sigma sqrt(tau)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d1 = h / s + 0.5 * s
        return np.exp(0.5 * h) * ndtr(d1) - np.exp(-0.5 * h) * ndtr(d1 - s)


def _solve_normalized(h: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """s with B(h, s) = b for 0 < b < e^{h/2}; returns (s, converged)."""
    n = h.shape[0]
    s_out = np.full(n, np.nan)
    ok = np.zeros(n, dtype=bool)
    # errstate: B underflows to 0 (ln B = -inf) at tiny s in the far wings; such iterates
    # have f < 0 and only move the bracket's lower end, and h = 0 gives 0/0 in d1 at s = 0,
    # which the start values below never produce.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        s_c = np.sqrt(-2.0 * h)  # inflection of B in s
        b_max = np.exp(0.5 * h)
        log_b = np.log(b)
        b_c = np.where(s_c > 0, normalized_otm_price(h, np.where(s_c > 0, s_c, 1.0)), 0.0)
        below = b < b_c  # root in (0, s_c): convex branch
        # start values. Lower bound: the at-the-money inverse of b = 2 N(s/2) - 1 (an OTM
        # price is below the ATM one at equal s). Wing: ln b ~ -ln sqrt(2 pi) - h^2 v/2
        # - 3/2 ln v - 2 ln|h| (from N(d) ~ phi(d)/|d|, v = 1/s^2), solved for y = ln v
        # by Newton (convex in y, monotone from the right).
        rel = b / b_max
        # (for rel below 1e-8, 1 + rel rounds; the series 2 N^{-1}((1 + rel)/2) ~ sqrt(2 pi) rel)
        s_atm = np.where(rel < 1e-8, _SQRT_2PI * rel, 2.0 * ndtri(0.5 * (1.0 + rel)))
        s_atm = np.where(s_atm > 0, s_atm, 0.0)
        h2 = h * h
        c_w = -log_b - _LN_SQRT_2PI - 2.0 * np.log(-h)
        y = np.log(np.maximum(2.0 * c_w / h2, 1.0))
        for _sweep in range(2):
            ey = 0.5 * h2 * np.exp(y)
            y = y - (ey + 1.5 * y - c_w) / (ey + 1.5)
        s_wing = np.exp(-0.5 * y)
        s_wing = np.where(s_wing > 0, s_wing, 0.0)
        s = np.where(below, np.minimum(np.maximum(s_atm, s_wing), s_c), np.maximum(s_c, s_atm))
        lo = np.where(below, 0.0, s_c)
        hi = np.where(below, s_c, np.inf)
        # Newton-Halley on f = ln B - ln b in t(s): t = ln s near the money (B ~ s) and on
        # the concave branch; t = -1/(2 s^2) in the deep wing (ln B ~ -h^2 v / 2, linear).
        # ds/dt = s^(1-p), d2s/dt2 = (1-p) s^(1-2p) with p = 0 or -2. With d1 = h/s + s/2,
        # d2 = d1 - s and g = d ln B / ds = e^{h/2} phi(d1) / B:
        #   d2 ln B / ds2 = g (h^2/s^3 - s/4 - g) = g (d1 d2 / s - g), so
        #   f_tt / f_t = (d1 d2 - g s + 1) / s (t = ln s), s (d1 d2 - g s + 3) (the wing)
        # and Halley's denominator 1 - (f / f_t) (f_tt / f_t) (ds/dt) / 2 needs no more
        # than the price evaluation's own terms.
        wing = h < -_V_BRANCH * s
        pos = np.arange(n)
        hw, bm, lb = h, b_max, log_b
        ibm, bpdf = 1.0 / b_max, b_max * _INV_SQRT_2PI
        active = np.ones(n, dtype=bool)
        any_wing = bool(wing.any())
        for _it in range(_MAX_ITER):
            n_active = int(np.count_nonzero(active))
            if n_active == 0:
                break
            # compact the working set only when fewer than half is still active (each
            # compaction costs as much as an iteration on a small set)
            if n_active < pos.size // 2:
                pos, wing = pos[active], wing[active]
                hw, bm, ibm, bpdf, lb, s, lo, hi = (
                    a[active] for a in (hw, bm, ibm, bpdf, lb, s, lo, hi)
                )
                active = np.ones(pos.size, dtype=bool)
                any_wing = bool(wing.any())
            inv_s = 1.0 / s
            d1 = hw * inv_s + 0.5 * s
            # d2 from d1 (not h/s - s/2): in the deep wing B is a difference of two nearly
            # equal terms, and an independent rounding of d2 would move it by ~1e-7
            d2 = d1 - s
            price = bm * ndtr(d1) - ibm * ndtr(d2)
            gs = bpdf * np.exp(-0.5 * d1 * d1) / price * s  # g s = d ln B / d ln s
            f = np.log(price) - lb
            curv = d1 * d2 - gs
            if any_wing:
                ss = np.where(wing, s * s, 1.0)
                fp = gs * ss  # d f / dt: g s, or g s^3 in the wing
                curv = (curv + np.where(wing, 3.0, 1.0)) * ss
            else:  # no deep-wing element: t = ln s everywhere (the same values, fewer passes)
                fp = gs
                curv = curv + 1.0
            newton = f / fp
            den = 1.0 - 0.5 * newton * curv
            # Halley where its correction is moderate, Newton otherwise
            halley = (den > 0.5) & (den < 2.0)
            step = np.where(halley, newton / den, newton)
            if any_wing:
                s_new = np.where(wing, 1.0 / np.sqrt(inv_s * inv_s + 2.0 * step), s * np.exp(-step))
            else:
                s_new = s * np.exp(-step)
            # bracket from the residual's sign (B increases in s)
            above = f > 0
            lo = np.where(above, lo, s)
            hi = np.where(above, s, hi)
            root = f == 0
            inside = ((s_new > lo) & (s_new < hi)) | root
            if not inside.all():  # a step leaving the bracket: bisect (or double)
                s_new = np.where(inside, s_new, np.where(hi < np.inf, 0.5 * (lo + hi), 2.0 * s))
            # converged: a Newton step below _STEP_TOL leaves an error of order its square,
            # a Halley step below _HALLEY_STEP_TOL one of order its cube; or the bracket
            # has closed to _S_TOL
            tol = np.where(halley, _HALLEY_STEP_TOL, _STEP_TOL) * s_new
            done = (inside & (np.abs(s_new - s) <= tol)) | (hi - lo <= _S_TOL * s_new) | root
            done &= active
            s = np.where(active, s_new, s)
            if done.any():
                s_out[pos[done]] = s[done]
                ok[pos[done]] = True
            active &= ~(done | (s > _S_MAX))
    # accept only solutions that reprice: guards against a bracket collapsing on a
    # plateau where B is flat to double precision
    sol = np.flatnonzero(ok)
    if sol.size:
        rep = normalized_otm_price(h[sol], s_out[sol])
        good = np.abs(rep - b[sol]) <= _ACCEPT_RTOL * b[sol]
        ok[sol[~good]] = False
        s_out[sol[~good]] = np.nan
    return s_out, ok


def implied_vol(
    price: np.ndarray | float,
    F: np.ndarray | float,
    K: np.ndarray | float,
    tau: np.ndarray | float,
    r: np.ndarray | float,
    is_call: np.ndarray | bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Black-76 implied volatility of option prices, vectorized.

    Parameters
    ----------
    price : option price, points (discounted, as quoted)
    F : forward, points; K : strike, points
    tau : year fraction (365-day) to settlement
    r : discount rate, decimal per year, continuously compounded
    is_call : bool

    Returns
    -------
    iv : decimal (0.18), NaN where unsolvable
    reason : int8 `IVFailure` codes, OK (0) where iv is finite

    Never raises on finite or non-finite inputs; inputs broadcast.
    """
    arrays = [np.asarray(x, dtype=np.float64) for x in (price, F, K, tau, r)]
    is_call = np.asarray(is_call, dtype=bool)
    shape = arrays[0].shape
    if (
        len(shape) == 1
        and arrays[3].shape == shape
        and (arrays[1].shape == shape or arrays[2].shape == shape)
        and all(a.shape == shape or a.ndim == 0 for a in (*arrays, is_call))
    ):
        # 1-d price, tau and F or K; the rest 1-d or scalars: every array computed below
        # (masks, h, b) is 1-d through ordinary broadcasting, no copies needed
        price, F, K, tau, r = arrays
    else:
        price, F, K, tau, r = np.broadcast_arrays(*arrays)
        is_call = np.broadcast_to(is_call, price.shape)
        shape = price.shape
        price, F, K, tau, r, is_call = (np.ravel(x) for x in (price, F, K, tau, r, is_call))
    reason = np.zeros(price.shape, dtype=np.int8)  # _OK
    iv = np.full(price.shape, np.nan)

    with np.errstate(all="ignore"):
        df = np.exp(-r * tau)
        # the common case, every input sane (F, K, tau, price and the discount factor
        # finite and positive, so r finite): none of the input reasons applies, and their
        # masks are skipped (the same values, fewer passes)
        sane = bool(
            ((F > 0) & (K > 0) & (tau > 0) & (price > 0) & (df > 0)).all()
            and np.isfinite(F + K + tau + price + df).all()
        )
        if sane:
            p = price / df  # undiscounted
            itm_amount = np.where(is_call, F - K, K - F)
            x_otm = p - np.maximum(itm_amount, 0.0)
            below = ~(x_otm > 0)
            above = ~below & ~(x_otm < np.minimum(F, K))
            live = ~(below | above)
        else:
            bad_input = ~(np.isfinite(F) & (F > 0) & np.isfinite(K) & (K > 0) & np.isfinite(r))
            zero_time = ~bad_input & ~(np.isfinite(tau) & (tau > 0))
            no_quote = ~bad_input & ~zero_time & ~(np.isfinite(price) & (price > 0))
            live = ~(bad_input | zero_time | no_quote)
            p = price / df  # undiscounted
            # OTM-equivalent price: an ITM option's time value is its parity twin's price
            itm_amount = np.where(is_call, F - K, K - F)
            x_otm = p - np.maximum(itm_amount, 0.0)
            below = live & ~(x_otm > 0)
            # the OTM option's price is bounded by min(F, K) (undiscounted); B's bound e^{h/2}
            above = live & ~below & ~(x_otm < np.minimum(F, K))
            live &= ~(below | above | ~np.isfinite(df) | ~(df > 0))
        h = -np.abs(np.log(F / K))
        b = x_otm / (np.sqrt(F) * np.sqrt(K))  # (F K may overflow)
        # a normalized price below 1e-300 (or one lost to overflow) cannot be inverted to
        # double precision: no solution, rather than an IV fitted to underflow
        tiny = live & ~((b > 1e-300) & np.isfinite(b) & np.isfinite(h))
        live &= ~tiny
        above |= tiny
    if not sane:
        reason[bad_input] = _BAD_INPUT
        reason[zero_time] = _ZERO_TIME
        reason[no_quote] = _NO_QUOTE
    reason[below] = _BELOW_INTRINSIC
    reason[above] = _NO_SOLUTION

    sel = np.flatnonzero(live)  # (every element given a reason above is not live)
    if sel.size:
        s, ok = _solve_normalized(h[sel], b[sel])
        iv[sel[ok]] = s[ok] / np.sqrt(tau[sel[ok]])
        reason[sel[~ok]] = _NO_SOLUTION
    # a NaN df (non-finite r * tau) leaves `live` False without a reason
    reason[(reason == _OK) & ~np.isfinite(iv)] = _BAD_INPUT
    return iv.reshape(shape), reason.reshape(shape)
