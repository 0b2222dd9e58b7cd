"""`ExpiryBook`: everything about one expiry that the option-level engine needs.

Built from a normalized chain by `hedgeflow.engine.books.build_expiry_book` (the chain
pipeline): the parity forward, the implied dividend yield, the smoothed smile
and the dealers' signed positions. Downstream code (exposures, the exact charm
integral, the repriced profile, the finite-difference checks) reprices options
from these arrays and never goes back to quotes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from hedgeflow.engine.types import IVSurface


@dataclass(frozen=True, eq=False)
class ExpiryBook:
    """One expiry's options, ready for greeks.

    symbol : underlying; roots : the option roots in this expiry ("SPXW")
    expiration : settlement time (aware); as_of : snapshot time (aware)
    spot : underlying price used for spot greeks, points
    forward : parity-implied forward F, points
    r : discount rate, decimal/year, continuously compounded: implied by put-call parity, or
        the configured one (`rate_source` says which and why); q : dividend yield implied
        by F = S e^{(r-q) tau}
    tau : year fraction (365-day) from as_of to settlement
    strike, is_call : per option (one row per contract, strike ascending)
    position : dealers' signed position per option, contracts (positioning model applied,
        or the live estimate)
    multiplier : shares per contract
    iv : smoothed IV at each option's strike, decimal (the smile, not the raw quote)
    surface : the expiry's IVSurface (per strike)
    diagnostics : counts by reason (unsolved IVs, vendor fallbacks, skipped rows, ...)
    notes : human-readable warnings for the screen (spot disagrees with the parity forward,
        vendor IV fallbacks used, ...)
    rate_source : one line saying where `r` came from ("0.83% implied by put-call parity ...")
    """

    symbol: str
    roots: tuple[str, ...]
    expiration: datetime
    as_of: datetime
    spot: float
    forward: float
    r: float
    q: float
    tau: float
    strike: np.ndarray
    is_call: np.ndarray
    position: np.ndarray
    multiplier: np.ndarray
    iv: np.ndarray
    surface: IVSurface
    diagnostics: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    rate_source: str = "configuration"

    def __post_init__(self) -> None:
        if self.expiration.tzinfo is None or self.as_of.tzinfo is None:
            raise ValueError("`expiration` and `as_of` must be timezone-aware")
        n = len(self.strike)
        for name in ("is_call", "position", "multiplier", "iv"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"`{name}` must have one value per option ({n})")
