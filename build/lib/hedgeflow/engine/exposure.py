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
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from hedgeflow.engine.black76 import MIN_GREEK_TAU, exposure_greeks_and_delta
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
    return _aggregate(book, *option_exposures(book))


def _aggregate(
    book: ExpiryBook, gex: np.ndarray, vex: np.ndarray, cex: np.ndarray, dex: np.ndarray
) -> ExposurePerExpiry:
    """Per-option exposures summed per unique strike (np.bincount; no loop over strikes),
    in total and for each right."""
    K = book.strike
    call = np.asarray(book.is_call, dtype=bool)
    if K.size > 1 and not bool((K[1:] >= K[:-1]).all()):
        order = np.argsort(K, kind="stable")
        K, gex, vex, cex, dex, call = (a[order] for a in (K, gex, vex, cex, dex, call))
    first = np.empty(K.size, dtype=bool)
    first[:1] = True
    np.not_equal(K[1:], K[:-1], out=first[1:])
    inv = np.cumsum(first) - 1
    m = int(first.sum())

    def per_strike(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        w = values if mask is None else np.where(mask, values, 0.0)
        return np.bincount(inv, weights=w, minlength=m)

    sides = [
        RightExposure(*(per_strike(v, mask) for v in (gex, vex, cex, dex)))
        for mask in (call, ~call)
    ]
    return ExposurePerExpiry(
        spot=float(book.spot),
        expiration=book.expiration,
        strikes=K[first],
        gamma=per_strike(gex),
        vanna=per_strike(vex),
        charm=per_strike(cex),
        delta=per_strike(dex),
        calls=sides[0],
        puts=sides[1],
    )


def compute_exposures_many(books: Sequence[ExpiryBook]) -> list[ExposurePerExpiry]:
    """`compute_exposures` for several books with one vectorized greeks evaluation.

    Equal to `[compute_exposures(b) for b in books]`, cheaper for many expiries.
    """
    if not books:
        return []
    sizes = np.array([b.strike.size for b in books])
    cut = np.cumsum(sizes)[:-1]
    per = np.repeat
    live = per(np.array([b.tau >= MIN_GREEK_TAU for b in books]), sizes)
    parts = _dollar_exposures(
        per([b.spot for b in books], sizes),
        np.concatenate([b.strike for b in books]),
        per([b.tau for b in books], sizes),
        np.concatenate([b.iv for b in books]),
        per([b.r for b in books], sizes),
        per([b.q for b in books], sizes),
        np.concatenate([np.asarray(b.is_call, dtype=bool) for b in books]),
        np.concatenate([b.position for b in books]),
        np.concatenate([b.multiplier for b in books]),
        live,
    )
    split = [np.split(p, cut) for p in parts]
    return [_aggregate(b, ge, ve, ce, de) for b, ge, ve, ce, de in zip(books, *split, strict=True)]


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
