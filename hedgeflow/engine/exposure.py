"""Dealer positions and per-strike exposures (docs/METHOD.md "Units").

An exposure is the change of the dealers' option delta, valued at spot, in dollars:

    GEX_K = sum pos * gamma * m * S * S * 0.01     $ per +1 % spot move
    VEX_K = sum pos * vanna * m * S * 0.01         $ per +1 vol point
    CEX_K = sum pos * charm_per_day * m * S        $ per calendar day

pos is the dealers' signed contracts (long > 0), m the contract multiplier, S the spot
of the book and the greeks Black-76 spot greeks on the book's forward (q implied by
parity). The dealers' hedge trade is the negative of an exposure.

Below 60 s to settlement (`hedgeflow.black76.MIN_GREEK_TAU`) the options are treated by
their payoff: gamma, vanna and charm exposures are 0 (the settlement step of the delta
is the charm integral's business, not a per-day rate).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hedgeflow.engine.black76 import MIN_GREEK_TAU, exposure_greeks
from hedgeflow.engine.book import ExpiryBook
from hedgeflow.engine.enums import PositioningModel
from hedgeflow.engine.types import ExposurePerExpiry


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


def option_exposures(book: ExpiryBook) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-option (gex, vex, cex) in $ (units as in the module docstring), book order.

    A zero position contributes exactly 0 even where a greek is NaN; a NaN greek on a held
    option (which a built book never produces above 60 s) propagates, it is not dropped.
    """
    n = book.strike.size
    if not book.tau >= MIN_GREEK_TAU:
        zero = np.zeros(n)
        return zero, zero.copy(), zero.copy()
    gamma, vanna, charm = exposure_greeks(
        book.spot, book.strike, book.tau, book.iv, book.r, book.q, book.is_call
    )
    S = book.spot
    held = book.position != 0
    # errstate: absurd positions or multipliers overflow to inf, which propagates (shown,
    # not hidden); NaN greeks on unheld options are multiplied away by the mask
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.where(held, book.position * book.multiplier * S, 0.0)
        gex = np.where(held, scale * gamma * S * 0.01, 0.0)
        vex = np.where(held, scale * vanna * 0.01, 0.0)
        cex = np.where(held, scale * charm, 0.0)
    return gex, vex, cex


def compute_exposures(book: ExpiryBook) -> ExposurePerExpiry:
    """GEX, VEX and CEX summed per unique strike (ascending) for one expiry."""
    gex, vex, cex = option_exposures(book)
    return _aggregate(book, gex, vex, cex)


def _aggregate(
    book: ExpiryBook, gex: np.ndarray, vex: np.ndarray, cex: np.ndarray
) -> ExposurePerExpiry:
    """Per-option exposures summed per unique strike (np.bincount; no loop over strikes)."""
    K = book.strike
    if K.size > 1 and not bool((K[1:] >= K[:-1]).all()):
        order = np.argsort(K, kind="stable")
        K, gex, vex, cex = K[order], gex[order], vex[order], cex[order]
    first = np.empty(K.size, dtype=bool)
    first[:1] = True
    np.not_equal(K[1:], K[:-1], out=first[1:])
    inv = np.cumsum(first) - 1
    m = int(first.sum())
    return ExposurePerExpiry(
        spot=float(book.spot),
        expiration=book.expiration,
        strikes=K[first],
        gamma=np.bincount(inv, weights=gex, minlength=m),
        vanna=np.bincount(inv, weights=vex, minlength=m),
        charm=np.bincount(inv, weights=cex, minlength=m),
    )


def compute_exposures_many(books: Sequence[ExpiryBook]) -> list[ExposurePerExpiry]:
    """`compute_exposures` for several books with one vectorized greeks evaluation.

    Equal to `[compute_exposures(b) for b in books]`, cheaper for many expiries.
    """
    if not books:
        return []
    sizes = np.array([b.strike.size for b in books])
    cut = np.cumsum(sizes)[:-1]
    live = np.array([b.tau >= MIN_GREEK_TAU for b in books])
    per = np.repeat
    S = per([b.spot for b in books], sizes)
    tau = per([b.tau for b in books], sizes)
    r = per([b.r for b in books], sizes)
    q = per([b.q for b in books], sizes)
    K = np.concatenate([b.strike for b in books])
    iv = np.concatenate([b.iv for b in books])
    is_call = np.concatenate([b.is_call for b in books])
    pos = np.concatenate([b.position for b in books])
    mult = np.concatenate([b.multiplier for b in books])
    gamma, vanna, charm = exposure_greeks(S, K, tau, iv, r, q, is_call)
    # below 60 s to settlement: payoff, no greek exposure (see `option_exposures`)
    held = (pos != 0) & per(live, sizes)
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.where(held, pos * mult * S, 0.0)
        gex = np.where(held, scale * gamma * S * 0.01, 0.0)
        vex = np.where(held, scale * vanna * 0.01, 0.0)
        cex = np.where(held, scale * charm, 0.0)
    out = []
    for b, ge, ve, ce in zip(
        books, np.split(gex, cut), np.split(vex, cut), np.split(cex, cut), strict=True
    ):
        out.append(_aggregate(b, ge, ve, ce))
    return out
