"""Synthetic `ExpiryBook`s for the option-level engine tests (charm, reprice, FD proof).

The smile is a quadratic in log-moneyness x = ln(K/F): sigma(x) = a + b x + c x^2, an
index-like put skew (b < 0) with some curvature. Positions follow the `standard` model
(calls +OI, puts -OI) on seeded random open interest, so books are reproducible.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from hedgeflow.engine.book import ExpiryBook
from hedgeflow.engine.types import IVSurface

AS_OF = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SKEWED = (0.16, -0.9, 3.0)


def smile(x: np.ndarray, params: tuple[float, float, float] = SKEWED) -> np.ndarray:
    a, b, c = params
    return a + b * x + c * x * x


def make_book(
    *,
    spot: float = 5500.0,
    tau_days: float = 1.0,
    strikes: np.ndarray | None = None,
    r: float = 0.045,
    q: float = 0.013,
    params: tuple[float, float, float] = SKEWED,
    seed: int = 0,
    as_of: datetime = AS_OF,
    calls: bool = True,
    puts: bool = True,
    position: np.ndarray | None = None,
    multiplier: float = 100.0,
) -> ExpiryBook:
    """One expiry with a call and/or a put at every strike (strike ascending)."""
    if strikes is None:
        strikes = np.arange(spot * 0.9, spot * 1.1 + 1e-9, 5.0)
    strikes = np.asarray(strikes, dtype=np.float64)
    tau = tau_days / 365.0
    forward = spot * np.exp((r - q) * tau)
    surface_iv = smile(np.log(strikes / forward), params)
    rights = [flag for flag, keep in ((False, puts), (True, calls)) if keep]
    K = np.repeat(strikes, len(rights))
    is_call = np.tile(np.array(rights, dtype=bool), strikes.size)
    if position is None:
        oi = np.random.default_rng(seed).integers(100, 5000, K.size).astype(np.float64)
        position = np.where(is_call, oi, -oi)
    expiration = as_of + timedelta(days=tau_days)
    surface = IVSurface(
        expiration=expiration,
        strikes=strikes,
        raw_iv=surface_iv.copy(),
        smoothed_iv=surface_iv,
        forward=float(forward),
        tau=tau,
    )
    return ExpiryBook(
        symbol="SPX",
        roots=("SPXW",),
        expiration=expiration,
        as_of=as_of,
        spot=spot,
        forward=float(forward),
        r=r,
        q=q,
        tau=tau,
        strike=K,
        is_call=is_call,
        position=np.asarray(position, dtype=np.float64),
        multiplier=np.full(K.size, multiplier),
        iv=np.repeat(surface_iv, len(rights)),
        surface=surface,
    )
