"""Dealer positions and per-strike exposures (docs/METHOD.md "Units").

An exposure is the change of the dealers' option delta, valued at spot, in dollars:

    GEX_K = sum pos * gamma * m * S * S * 0.01     $ per +1 % spot move
    VEX_K = sum pos * vanna * m * S * 0.01         $ per +1 vol point
    CEX_K = sum pos * charm_per_day * m * S        $ per calendar day

DEX_K is the dealers' option delta itself, valued at spot (not a change):

    DEX_K = sum pos * delta * m * S                $ of underlying

DEX > 0: the dealers are long the underlying through these options, so their hedge is short
that much. Held at fixed IV, d DEX / dS * S * 0.01 = GEX + 0.01 * DEX (the second term:
the same delta valued at the moved spot).

pos is the dealers' signed contracts (long > 0), m the contract multiplier, S the spot
of the book and the greeks Black-76 spot greeks on the book's forward (q implied by
parity). The dealers' hedge trade is the negative of an exposure.

Below 60 s to settlement (`hedgeflow.black76.MIN_GREEK_TAU`) the options are treated by
their payoff: gamma, vanna and charm exposures are 0 (the settlement step of the delta
is the charm integral's business, not a per-day rate); the delta is the payoff's: 1 for
a call in the money, -1 for a put in the money, half that at the money, 0 out of it.

Each array is kept for the calls and the puts apart as well (`RightExposure`): the two
add up to the totals, and a screen can show either side.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np
from scipy.special import ndtr

from hedgeflow.engine.black76 import DAYS_PER_YEAR, MIN_GREEK_TAU, exposure_greeks_and_delta
from hedgeflow.engine.book import ExpiryBook
from hedgeflow.engine.enums import PositioningModel
from hedgeflow.engine.types import ExposurePerExpiry, RightExposure


def positions(
    open_interest: np.ndarray, is_call: np.ndarray, model: PositioningModel
) -> np.ndarray:
    """Dealers' signed position per contract from open interest, contracts.

    STANDARD: call +OI, put -OI (dealers long calls, short puts); FLOE: call -OI, put +OI;
    SHORT_ALL: -OI for both. Every exposure is linear in the result.
    """
    oi = np.asarray(open_interest, dtype=np.float64)
    call = np.asarray(is_call, dtype=bool)
    model = PositioningModel(model)
    if model is PositioningModel.STANDARD:
        return np.where(call, oi, -oi)
    if model is PositioningModel.FLOE:
        return np.where(call, -oi, oi)
    return -oi


def _payoff_delta(S: np.ndarray | float, K: np.ndarray, is_call: np.ndarray) -> np.ndarray:
    """The payoff's delta per option share: a call 1 above the strike, 0.5 at it, 0 below;
    a put that minus 1."""
    call: np.ndarray = 0.5 * (1.0 + np.sign(np.asarray(S, dtype=np.float64) - K))
    out: np.ndarray = np.where(is_call, call, call - 1.0)
    return out


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _book_terms(books: Sequence[ExpiryBook]) -> tuple[np.ndarray, np.ndarray]:
    """Per book, the scalars of `_live_exposures` (rows: S, sqrt(tau), F, e^{-q tau},
    e^{-q tau} / sqrt(2 pi), q, 2 (r - q) tau, 2 tau; one column a book), and whether the
    book can take that path: 60 s or more from settlement, with a finite positive spot and
    finite r, q and tau (the others' columns are placeholders; the general path prices
    them)."""
    cols, ok = [], []
    for b in books:
        S, tau, r, q = float(b.spot), float(b.tau), float(b.r), float(b.q)
        good = 0 < S < math.inf and MIN_GREEK_TAU <= tau < math.inf
        good = good and math.isfinite(r) and math.isfinite(q)
        if not good:
            S, tau, r, q = 1.0, 1.0, 0.0, 0.0
        eq = math.exp(-q * tau)
        fwd = S * math.exp((r - q) * tau)
        cols.append((S, math.sqrt(tau), fwd, eq, eq * _INV_SQRT_2PI, q, 2 * (r - q) * tau, 2 * tau))
        ok.append(good)
    return np.array(cols).T, np.array(ok)


def _live_exposures(
    terms: np.ndarray,
    K: np.ndarray,
    iv: np.ndarray,
    call: np.ndarray,
    pos: np.ndarray,
    mult: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-option (gex, vex, cex, dex) in $ of options on their books' live clocks (`terms`:
    `_book_terms`, one column per option or a single book's), right where the strike and
    IV are finite and positive (the caller uses the general path elsewhere). The formulas
    of `black76.greeks` with the per-book factors folded (gamma S = e^{-q tau} phi(d1) /
    (sigma sqrt(tau)) multiplies the S of the $ exposure away): the same numbers to
    rounding, in half the array passes; each option's numbers depend on its own inputs
    only, so a book's are the same alone or among others."""
    S, sqrt_tau, fwd, eq, eq_pdf, q, drift2, tau2 = terms
    # errstate: absurd positions or multipliers overflow to inf, which propagates (shown,
    # not hidden); invalid strikes or IVs give values the caller replaces
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ss = iv * sqrt_tau
        t = np.divide(fwd, K)
        np.log(t, out=t)  # (ln F - ln K would lose digits to cancellation)
        t /= ss  # ln(F/K) / (sigma sqrt(tau))
        h = 0.5 * ss
        d1 = t + h
        d2 = np.subtract(t, h, out=t)
        pdf = d1 * d1
        pdf *= -0.5
        np.exp(pdf, out=pdf)
        pdf *= eq_pdf  # e^{-q tau} phi(d1)
        n_side = ndtr(np.where(call, d1, -d1))  # N(d1) for calls, N(-d1) for puts
        n_side *= eq
        signed = np.where(call, n_side, np.negative(n_side))  # the option's delta
        scale = pos * mult
        scale *= S
        u = scale * 0.01
        u *= pdf
        gex = u / ss
        u *= d2
        vex = np.divide(u, iv, out=u)
        np.negative(vex, out=vex)
        common = d2 * ss
        np.subtract(drift2, common, out=common)
        common *= pdf
        common /= ss * tau2
        cex = q * signed
        cex -= common
        cex *= scale
        cex /= DAYS_PER_YEAR
        dex = np.multiply(scale, signed, out=signed)
    return gex, vex, cex, dex


def _exposures(
    terms: np.ndarray,
    book_ok: np.ndarray | bool,
    general: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    K: np.ndarray,
    iv: np.ndarray,
    call: np.ndarray,
    pos: np.ndarray,
    mult: np.ndarray,
) -> np.ndarray:
    """(gex, vex, cex, dex) rows per option: `_live_exposures` where the option's book is
    live (`book_ok`, per option or one for all) and its strike and IV are finite and
    positive, the general path (`general()`, `_dollar_exposures`) elsewhere."""
    fast = np.stack(_live_exposures(terms, K, iv, call, pos, mult))
    with np.errstate(invalid="ignore"):
        if (
            bool(np.all(book_ok))
            and 0 < float(iv.min())
            and float(iv.max()) < math.inf
            and 0 < float(K.min())
            and float(K.max()) < math.inf
        ):
            return fast
        ok = book_ok & (iv > 0) & (iv < math.inf) & (K > 0) & (K < math.inf)
    return np.where(ok, fast, np.stack(general()))


def _dollar_exposures(
    S: np.ndarray | float,
    K: np.ndarray,
    tau: np.ndarray | float,
    iv: np.ndarray,
    r: np.ndarray | float,
    q: np.ndarray | float,
    is_call: np.ndarray,
    pos: np.ndarray,
    mult: np.ndarray,
    live: np.ndarray | bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-option (gex, vex, cex, dex) in $; `live` marks options 60 s or more from
    settlement (the others: payoff delta, no greek exposure)."""
    gamma, vanna, charm, delta = exposure_greeks_and_delta(S, K, tau, iv, r, q, is_call)
    delta = np.where(live, delta, _payoff_delta(S, K, is_call))
    held = pos != 0
    greek = held & live
    # errstate: absurd positions or multipliers overflow to inf, which propagates (shown,
    # not hidden); NaN greeks on unheld options are multiplied away by the mask
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.where(held, pos * mult * S, 0.0)
        gex = np.where(greek, scale * gamma * S * 0.01, 0.0)
        vex = np.where(greek, scale * vanna * 0.01, 0.0)
        cex = np.where(greek, scale * charm, 0.0)
        dex = np.where(held, scale * delta, 0.0)
    return gex, vex, cex, dex


def option_exposures(book: ExpiryBook) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-option (gex, vex, cex, dex) in $ (units as in the module docstring), book order.

    A zero position contributes exactly 0 even where a greek is NaN; a NaN greek on a held
    option (which a built book never produces above 60 s) propagates, it is not dropped.
    """
    live = bool(book.tau >= MIN_GREEK_TAU)
    return _dollar_exposures(
        book.spot,
        book.strike,
        book.tau,
        book.iv,
        book.r,
        book.q,
        np.asarray(book.is_call, dtype=bool),
        book.position,
        book.multiplier,
        live,
    )


def compute_exposures(book: ExpiryBook) -> ExposurePerExpiry:
    """GEX, VEX, CEX and DEX summed per unique strike (ascending) for one expiry, with
    the calls' and the puts' parts."""
    return compute_exposures_many((book,))[0]


def compute_exposures_many(books: Sequence[ExpiryBook]) -> list[ExposurePerExpiry]:
    """`compute_exposures` of each book, with one vectorized greeks evaluation and one
    per-strike summation for all of them (equal to `[compute_exposures(b) for b in books]`).

    Per (book, strike, right) the options' exposures are summed in row order (np.bincount
    over one group index; no loop over books or strikes); a strike's total is its calls'
    sum plus its puts' sum, so calls + puts = the totals exactly."""
    if not books:
        return []
    terms, book_ok = _book_terms(books)
    if len(books) == 1:
        b = books[0]
        K = np.asarray(b.strike, dtype=np.float64)
        call = np.asarray(b.is_call, dtype=bool)
        values = _exposures(
            terms[:, 0],
            bool(book_ok[0]),
            lambda: option_exposures(b),
            K,
            b.iv,
            call,
            b.position,
            b.multiplier,
        )
        book_of = None
    else:
        sizes = np.array([b.strike.size for b in books])
        per = np.repeat
        live = np.array([b.tau >= MIN_GREEK_TAU for b in books])
        K = np.concatenate([b.strike for b in books])
        call = np.concatenate([np.asarray(b.is_call, dtype=bool) for b in books])
        iv = np.concatenate([b.iv for b in books])
        pos = np.concatenate([b.position for b in books])
        mult = np.concatenate([b.multiplier for b in books])
        values = _exposures(
            per(terms, sizes, axis=1),
            bool(book_ok.all()) or per(book_ok, sizes),
            lambda: _dollar_exposures(
                per([b.spot for b in books], sizes),
                K,
                per([b.tau for b in books], sizes),
                iv,
                per([b.r for b in books], sizes),
                per([b.q for b in books], sizes),
                call,
                pos,
                mult,
                bool(live.all()) or per(live, sizes),
            ),
            K,
            iv,
            call,
            pos,
            mult,
        )
        book_of = per(np.arange(len(books)), sizes)
    return _aggregate(books, book_of, K, call, values)


def _aggregate(
    books: Sequence[ExpiryBook],
    book_of: np.ndarray | None,
    K: np.ndarray,
    call: np.ndarray,
    values: np.ndarray,
) -> list[ExposurePerExpiry]:
    """Per-option exposures `values` (gex, vex, cex, dex rows; options of the books one
    after the other, `book_of` each option's book, None for a single book) summed per
    book, unique strike and right: one np.bincount over (quantity, right, group)."""
    n = K.size
    if n > 1:
        same_book = None if book_of is None else book_of[1:] == book_of[:-1]
        up = K[1:] >= K[:-1]
        if not bool(up.all() if same_book is None else (up | ~same_book).all()):
            # a book out of strike order: sort each book's rows by strike (stable)
            order = np.argsort(K, kind="stable") if book_of is None else np.lexsort((K, book_of))
            K, call, values = K[order], call[order], values[:, order]
            if book_of is not None:
                book_of = book_of[order]
    first = np.empty(n, dtype=bool)
    first[:1] = True
    np.not_equal(K[1:], K[:-1], out=first[1:])
    if book_of is not None:
        first[1:] |= book_of[1:] != book_of[:-1]
    group = np.cumsum(first) - 1
    m = int(group[-1]) + 1 if n else 0
    # one index for every (quantity, right, group): right 0 calls, 1 puts
    cell = group + np.where(call, 0, m)
    index = (np.arange(4)[:, None] * (2 * m) + cell).ravel()
    sums = np.bincount(index, weights=values.ravel(), minlength=8 * m).reshape(4, 2, m)
    totals = sums[:, 0] + sums[:, 1]
    strikes = K[first]
    if book_of is None:
        bounds = [(0, m)]
    else:
        ends = np.cumsum(np.bincount(book_of[first], minlength=len(books))).tolist()
        bounds = list(zip([0, *ends[:-1]], ends, strict=True))
    out = []
    for b, (lo, hi) in zip(books, bounds, strict=True):
        out.append(
            ExposurePerExpiry(
                spot=float(b.spot),
                expiration=b.expiration,
                strikes=strikes[lo:hi],
                gamma=totals[0, lo:hi],
                vanna=totals[1, lo:hi],
                charm=totals[2, lo:hi],
                delta=totals[3, lo:hi],
                calls=RightExposure(*(sums[k, 0, lo:hi] for k in range(4))),
                puts=RightExposure(*(sums[k, 1, lo:hi] for k in range(4))),
            )
        )
    return out


def sum_exposures(
    exposures: Sequence[ExposurePerExpiry], expiration: datetime | None = None
) -> ExposurePerExpiry:
    """Several expiries' per-strike exposures summed on the union of their strikes (for a
    scope over expiries). Generic over the fields: every per-strike array (GEX, VEX, CEX,
    DEX) and those of the nested per-right parts (calls, puts) are summed strike by strike,
    so a new per-strike exposure is summed without a change here; an optional one missing
    from any expiry is None in the sum. Spot is the first's (all are computed at one spot,
    so the dollar figures add up); expiration is `expiration`, default the first's."""
    if not exposures:
        raise ValueError("no exposures to sum")
    first = exposures[0]
    strikes = np.unique(
        np.concatenate([np.asarray(e.strikes, dtype=np.float64) for e in exposures])
    )
    at = [np.searchsorted(strikes, np.asarray(e.strikes, dtype=np.float64)) for e in exposures]

    def summed(parts: Sequence[object]) -> object:
        if any(p is None for p in parts):
            return None
        if isinstance(parts[0], np.ndarray):
            total = np.zeros(strikes.size)
            for part, idx in zip(parts, at, strict=True):
                np.add.at(total, idx, np.asarray(part, dtype=np.float64))
            return total
        if dataclasses.is_dataclass(parts[0]) and not isinstance(parts[0], type):
            return dataclasses.replace(
                parts[0],
                **{
                    f.name: summed([getattr(p, f.name) for p in parts])
                    for f in dataclasses.fields(parts[0])
                },
            )
        return parts[0]

    values = {
        f.name: summed([getattr(e, f.name) for e in exposures])
        for f in dataclasses.fields(first)
        if f.name not in ("spot", "expiration", "strikes")
    }
    return dataclasses.replace(
        first,
        expiration=first.expiration if expiration is None else expiration,
        strikes=strikes,
        **values,  # type: ignore[arg-type]
    )
