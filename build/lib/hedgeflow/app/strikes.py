"""Exposures by strike, as a screen shows them: one exposure (GEX, VEX, CEX or DEX), net or
calls and puts apart, on the strikes nearest spot, with spot and the key levels placed
between the strikes they fall between.

Pure: an `ExposurePerExpiry` in (one expiry's, or later a scope's sum: the model reads only
its arrays), a frozen `StrikeBars` out. Numbers are the engine's, summed per strike by
the engine; this module only picks rows, scales bars and formats figures (`app.fmt`).
Sign: as the engine's (docs/METHOD.md "The sign rule"): an exposure is the change of the
dealers' delta, DEX the delta itself; the dealers' hedge trade is the negative.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from hedgeflow.app.fmt import fmt_dollars, fmt_level
from hedgeflow.app.presentation import headline
from hedgeflow.engine.types import ExpiryAnalysis, ExposurePerExpiry


class Greek(StrEnum):
    """Which exposure the bars show, with the engine array it reads."""

    GEX = "GEX"
    VEX = "VEX"
    CEX = "CEX"
    DEX = "DEX"

    @property
    def field(self) -> str:
        return {"GEX": "gamma", "VEX": "vanna", "CEX": "charm", "DEX": "delta"}[self.value]

    @property
    def unit(self) -> str:
        """The unit as the headline writes it."""
        return {"GEX": "$/+1%", "VEX": "$/vol pt", "CEX": "$/day", "DEX": "$ of underlying"}[
            self.value
        ]

    @property
    def words(self) -> str:
        """What one figure means, in a trader's words (for the legend)."""
        return {
            "GEX": "$ of stock the dealers' hedge changes by for a +1% move",
            "VEX": "$ of stock the dealers' hedge changes by for +1 vol point",
            "CEX": "$ of stock the dealers' hedge changes by as a day passes",
            "DEX": "$ of stock the dealers are long through their options now",
        }[self.value]

    def next(self) -> Greek:
        order = list(Greek)
        return order[(order.index(self) + 1) % len(order)]


class Split(StrEnum):
    NET = "net"
    SIDES = "calls/puts"


@dataclass(frozen=True)
class StrikeRow:
    """One strike: the net value and the calls' and puts' parts, $ (NaN where unknown),
    and their figures as printed (`fmt_dollars`, compact: $481K, -$1.2M)."""

    strike: float
    net: float
    call: float
    put: float
    label: str
    net_text: str
    call_text: str
    put_text: str


@dataclass(frozen=True)
class Marker:
    """A level drawn as a rule between strikes: `after` rows of the (descending) list come
    before it."""

    name: str
    price: float
    after: int
    text: str


@dataclass(frozen=True)
class StrikeBars:
    """What the by-strike pane draws, strikes descending (the highest on top, as a ladder).

    scale : the largest |value| among the bars shown ($), the full bar length; 0 if none
    total : the sum over every strike of the exposure (not only those shown), $
    available : False when the exposure has no such array (built without DEX or sides)
    """

    greek: Greek
    split: Split
    rows: tuple[StrikeRow, ...]
    markers: tuple[Marker, ...]
    scale: float
    total: float
    total_text: str
    unit: str
    available: bool
    hidden_above: int = 0
    hidden_below: int = 0

    def fraction(self, value: float) -> float:
        """`value` as a signed fraction of the full bar, in [-1, 1] (0 for NaN)."""
        if not (self.scale > 0 and math.isfinite(value)):
            return 0.0
        return max(-1.0, min(1.0, value / self.scale))


def _array(exposure: ExposurePerExpiry, side: str | None, name: str) -> np.ndarray | None:
    holder = exposure if side is None else getattr(exposure, side)
    if holder is None:
        return None
    arr = getattr(holder, name)
    return None if arr is None else np.asarray(arr, dtype=np.float64)


def strike_bars(
    exposure: ExposurePerExpiry,
    greek: Greek,
    split: Split,
    *,
    max_rows: int,
    levels: Sequence[tuple[str, float]] = (),
) -> StrikeBars:
    """The `max_rows` strikes nearest spot (markers for spot and each finite level in
    `levels` count as rows), strikes descending. Strikes with no exposure at all (every
    array 0) are skipped: they would be empty rows."""
    net = _array(exposure, None, greek.field)
    call = _array(exposure, "calls", greek.field)
    put = _array(exposure, "puts", greek.field)
    available = net is not None and (split is Split.NET or (call is not None and put is not None))
    strikes = np.asarray(exposure.strikes, dtype=np.float64)
    if net is None:
        net = np.full(strikes.size, math.nan)
    nan = np.full(strikes.size, math.nan)
    call = nan if call is None else call
    put = nan if put is None else put
    total = float(np.nansum(net)) if available else math.nan
    spot = float(exposure.spot)
    marks = [("spot", spot), *((n, float(p)) for n, p in levels if math.isfinite(p))]
    keep = np.isfinite(strikes) & ((net != 0) | ~np.isfinite(net))
    idx = np.flatnonzero(keep)
    # the strikes nearest spot, as many as fit beside the markers that fall among them
    # (spot's always; a level only where it lies within the strikes shown)
    nearest = idx[np.argsort(np.abs(strikes[idx] - spot), kind="stable")]
    n_strikes = max(0, max_rows - 1)
    while n_strikes > 0:
        ks = strikes[nearest[:n_strikes]]
        inside = sum(1 for n, p in marks[1:] if ks.min() <= p <= ks.max())
        if n_strikes + 1 + inside <= max_rows:
            break
        n_strikes -= 1
    shown = np.sort(nearest[:n_strikes])[::-1]  # descending
    rows = tuple(
        StrikeRow(
            strike=float(strikes[i]),
            net=float(net[i]),
            call=float(call[i]),
            put=float(put[i]),
            label=fmt_level(float(strikes[i])),
            net_text=fmt_dollars(float(net[i]), signed=True),
            call_text=fmt_dollars(float(call[i]), signed=True),
            put_text=fmt_dollars(float(put[i]), signed=True),
        )
        for i in shown
    )
    values = [abs(v) for r in rows for v in ((r.net,) if split is Split.NET else (r.call, r.put))]
    scale = max((v for v in values if math.isfinite(v)), default=0.0)
    markers = []
    if rows:
        top, bottom = rows[0].strike, rows[-1].strike
        for name, price in marks:
            if bottom <= price <= top or name == "spot":
                after = sum(1 for r in rows if r.strike > price)
                markers.append(Marker(name, price, after, f"{name} {fmt_level(price)}"))
    markers.sort(key=lambda m: -m.price)
    hidden_above = int(np.sum(strikes[idx] > rows[0].strike)) if rows else 0
    hidden_below = int(np.sum(strikes[idx] < rows[-1].strike)) if rows else 0
    return StrikeBars(
        greek=greek,
        split=split,
        rows=rows,
        markers=tuple(markers),
        scale=scale,
        total=total,
        total_text=fmt_dollars(total, signed=True),
        unit=greek.unit,
        available=available,
        hidden_above=hidden_above,
        hidden_below=hidden_below,
    )


def headline_levels(a: ExpiryAnalysis | None) -> tuple[tuple[str, float], ...]:
    """The headline's levels to rule between strikes: the flip levels (the nearest one
    named "flip", others "flip") and zero gamma; () without an analysis."""
    if a is None:
        return ()
    head = headline(a)
    out = [("flip", float(p)) for p in head.flip_levels]
    if head.zero_gamma is not None:
        out.append(("zero γ", float(head.zero_gamma)))
    return tuple(out)
