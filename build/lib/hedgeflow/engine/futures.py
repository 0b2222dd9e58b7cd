"""The future an underlying's levels are mapped to, and its basis (docs/METHOD.md
"Futures levels").

Users trade ES and NQ against SPX and NDX levels. A level L of the underlying maps to
L x factor on the future, factor = F_fut / S (a level keeps its distance from spot in
percent). F_fut is the future's price when the feed has one; else its fair value from
the options' own put-call parity forwards: ratio x F(T_fut), with T_fut the front
quarterly future's settlement (the third Friday of March, June, September or December,
09:30 New York, the special opening quotation; the front rolls to the next quarter eight
days before settlement, as the market does) and F(T) read off the chain's forward
curve: ln(F/S) linear in tau between the parity forwards, and beyond the first or last
one the carry ln(F/S)/tau of that end held. `ratio` is the configured futures points per
underlying point (1 for SPX -> ES, 10 for SPY -> ES).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

import numpy as np

from hedgeflow.engine.clock import NY
from hedgeflow.engine.types import FuturesBasis

SECONDS_PER_YEAR = 365.0 * 86400.0
QUARTER_MONTHS = (3, 6, 9, 12)
#: the quarterly index futures settle on the opening quotation of their third Friday
SETTLEMENT_TIME = time(9, 30)
#: the market rolls to the next quarter eight days before settlement (the Thursday of the
#: week before), when the next contract becomes the one traded
ROLL_DAYS = 8


def third_friday(year: int, month: int) -> date:
    """The third Friday of a month."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def front_quarterly(as_of: datetime) -> datetime:
    """The settlement time (New York) of the front quarterly future at `as_of`: the first
    whose roll date (ROLL_DAYS before its settlement) is after `as_of`."""
    ny = as_of.astimezone(NY)
    year = ny.year
    while True:
        for month in QUARTER_MONTHS:
            settle = datetime.combine(third_friday(year, month), SETTLEMENT_TIME, tzinfo=NY)
            if settle - timedelta(days=ROLL_DAYS) > ny:
                return settle
        year += 1


def parity_forward(spot: float, curve: Sequence[tuple[float, float]], tau: float) -> float:
    """F(tau), points, from (tau_i years, F_i points) parity forwards (see the module
    docstring); NaN without a usable forward or spot."""
    pts = sorted(
        (t, math.log(f / spot))
        for t, f in curve
        if math.isfinite(t) and t > 0 and math.isfinite(f) and f > 0
    )
    if not pts or not (math.isfinite(spot) and spot > 0):
        return math.nan
    taus = np.array([p[0] for p in pts])
    logs = np.array([p[1] for p in pts])
    if tau <= taus[0]:
        y = logs[0] / taus[0] * tau
    elif tau >= taus[-1]:
        y = logs[-1] / taus[-1] * tau
    else:
        y = float(np.interp(tau, taus, logs))
    return float(spot * math.exp(y))


def futures_basis(
    product: str,
    ratio: float,
    spot: float,
    as_of: datetime,
    forwards: Sequence[tuple[float, float]],
    futures_price: float | None = None,
) -> FuturesBasis | None:
    """The mapped future's basis; None when neither a futures price nor a parity forward
    (and a spot) is known. `forwards`: (tau years, parity forward points) per expiry."""
    settle = front_quarterly(as_of)
    if not (math.isfinite(spot) and spot > 0):
        return None
    if futures_price is not None and math.isfinite(futures_price) and futures_price > 0:
        price, source = float(futures_price), "feed"
    else:
        tau = (settle - as_of).total_seconds() / SECONDS_PER_YEAR
        fwd = parity_forward(spot, forwards, tau)
        if not math.isfinite(fwd):
            return None
        price, source = ratio * fwd, "parity"
    return FuturesBasis(
        product=product,
        ratio=ratio,
        expiration=settle,
        price=price,
        source=source,
        basis=price - ratio * spot,
        factor=price / spot,
    )
