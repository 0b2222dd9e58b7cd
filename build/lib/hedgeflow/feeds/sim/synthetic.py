"""Seeded synthetic underlyings: any ticker the catalogue does not hold, as a weekly-listed
US equity or ETF whose every parameter is drawn from the ticker and the sim's seed.

`synthetic_underlying(symbol, seed)` is a pure function: the parameters come from a
generator seeded with blake2b of (seed, ticker) (never the salted `hash`), so the same
ticker and seed give the same underlying in every process, and different tickers differ.
The draws, in this order:

- reference level: log-uniform on [$5, $1,000];
- ATM vol (trading-time annualized): log-uniform on [0.18, 0.65]; skew rho on
  [-0.60, -0.25] (milder than an index's -0.7), wings beta on [0.40, 0.90];
- dividend yield: none for 40% of names, else uniform on [0.3%, 3.5%];
- liquidity: open-interest scale log-uniform on [1e4, 5e5] contracts per expiry weight,
  which also sets the tape's prints per day and the spreads (wider for thin names);
- put/call open-interest ratio on [0.6, 1.3] (single names carry more calls than indexes);
- factor loadings: market on [0.35, 0.80], tech for half the names, small caps for 30%,
  the rest own noise (unit variance in total).

Strikes follow the listing practice of US equity options by price level: near the money
$0.50 / $1 / $2.50 / $5 / $10 (for reference levels below $25 / $100 / $250 / $600 /
above) over +-10 % or 6 increments, whichever is wider, the next increment (1 / 2.5 / 5 /
10 / 25) out to +-28 % or 4 of its increments beyond, and the one after (2.5 / 5 / 10 /
25 / 50) further out; every expiry lists at least those two bands, so that a $6 name has
strikes from $2.50 to $15 and the engine has enough of them on the nearest expiry.
Open-interest walls stand at round strikes: the first of 1, 2.5, 5, 10, 25, 50, 100, ...
at least 10 near-the-money steps (x5) and at least 4 steps (x3).

Expiries: weeklies on the last session of each week for five weeks (the Thursday when
the Friday is a holiday, from the exchange calendar), monthlies on the third Friday
within 100 days, quarterlies (March, June, September, December) within 200 days; all
PM-settled at the session close (16:00 New York, 13:00 on an early close), as equity
options. A ticker that the exchange calendar settles on the open (RUT, VIX) keeps its AM
monthly root and lists its weeklies under `<ticker>W`, as those indexes do.
Quotes: penny increments below $3.00, nickels above.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from hedgeflow.engine import clock as xclock
from hedgeflow.feeds.sim.catalogue import Underlying

#: Near-the-money strike increment by reference level: (level below, near, next, far).
SPACING_TIERS: tuple[tuple[float, float, float, float], ...] = (
    (25.0, 0.5, 1.0, 2.5),
    (100.0, 1.0, 2.5, 5.0),
    (250.0, 2.5, 5.0, 10.0),
    (600.0, 5.0, 10.0, 25.0),
    (math.inf, 10.0, 25.0, 50.0),
)
#: Near-the-money increments at least this many either side of the level, then this many
#: of the next increment beyond them (a $6 name lists $0.50 strikes from $3 to $9).
NEAR_STEPS = 6
MID_STEPS = 4
#: Round numbers a wall can stand on.
_ROUND = (1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0)
#: Reference levels drawn, dollars.
LEVEL_RANGE = (5.0, 1000.0)
VOL_RANGE = (0.18, 0.65)


def spacing_for(level: float) -> tuple[float, float, float]:
    """The (near, next, far) strike increments, dollars, of an underlying at `level`."""
    for bound, near, mid, far in SPACING_TIERS:
        if level < bound:
            return near, mid, far
    raise AssertionError("the last tier is unbounded")


def spacing_bands(level: float) -> tuple[tuple[float, float, float], ...]:
    """`Underlying.spacing` of a name at `level`: ((k_lo, k_hi, step), ...), the near step
    within +-max(10 %, NEAR_STEPS steps) in log-moneyness, the next step out to
    +-max(28 %, that plus MID_STEPS of its own steps), the far step beyond."""
    near, mid, far = spacing_for(level)
    n = max(0.10, math.log1p(NEAR_STEPS * near / level))
    m = max(0.28, n + math.log1p(MID_STEPS * mid / level))
    return ((-n, n, near), (-m, m, mid), (-9.0, 9.0, far))


def _round_above(x: float) -> float:
    return next(r for r in _ROUND if r >= x - 1e-9)


def _rng(symbol: str, seed: int) -> np.random.Generator:
    digest = hashlib.blake2b(
        f"{int(seed)}:{symbol}".encode(), digest_size=16, person=b"hedgeflow-sim"
    ).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def synthetic_underlying(symbol: str, seed: int) -> Underlying:
    """The seeded underlying of `symbol` (a valid ticker, upper case) under sim seed `seed`."""
    rng = _rng(symbol, seed)
    spot = round(_log_uniform(rng, *LEVEL_RANGE), 2)
    vol = _log_uniform(rng, *VOL_RANGE)
    rho = float(rng.uniform(-0.60, -0.25))
    beta = float(rng.uniform(0.40, 0.90))
    q = 0.0 if rng.random() < 0.4 else float(rng.uniform(0.003, 0.035))
    oi_scale = _log_uniform(rng, 1.0e4, 5.0e5)
    put_call = float(rng.uniform(0.6, 1.3))
    market = float(rng.uniform(0.35, 0.80))
    tech = float(rng.uniform(0.0, 0.5)) if rng.random() < 0.5 else 0.0
    small = float(rng.uniform(0.0, 0.4)) if rng.random() < 0.3 else 0.0
    own = math.sqrt(max(1.0 - market**2 - tech**2 - small**2, 0.05))
    norm = math.sqrt(market**2 + tech**2 + small**2 + own**2)
    # Liquidity in [0, 1] from the open-interest scale: thin names quote wider.
    thin = 1.0 - (math.log(oi_scale) - math.log(1.0e4)) / (math.log(5.0e5) - math.log(1.0e4))
    near = spacing_for(spot)[0]
    spacing = spacing_bands(spot)
    am = xclock.is_am_settled(symbol)
    return Underlying(
        symbol=symbol,
        spot=spot,
        vol=vol,
        q=q,
        daily_root=f"{symbol}W" if am else symbol,
        daily_weekdays=frozenset(),  # weeklies only: no Monday-Thursday dailies
        monthly_root=symbol,
        pm_on_monthly=am,
        spacing=spacing,
        # every expiry lists at least the near and next bands, and 30 % below, 25 % above
        grid=(min(-0.30, spacing[1][0]), max(0.25, spacing[1][1])),
        tick_small=0.01,
        tick_large=0.05,
        tick_switch=3.0,
        min_spread=round(0.02 + 0.08 * thin, 2),
        max_spread=round(max(0.10, spot * (0.002 + 0.006 * thin)), 2),
        walls=((_round_above(10.0 * near), 5.0), (_round_above(4.0 * near), 3.0)),
        oi_scale=oi_scale,
        put_call_oi=put_call,
        prints_per_day=float(np.clip(oi_scale * 0.01, 300.0, 10_000.0)),
        loadings=(market / norm, tech / norm, small / norm, own / norm),
        rho=rho,
        beta=beta,
        quarterly_days=200,
    )
