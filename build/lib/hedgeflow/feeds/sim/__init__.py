"""The simulated market: the default feed, with no account and no network.

An intraday market for SPX-, SPY-, QQQ-, NDX- and IWM-like underlyings, and for any other
ticker (1-6 letters, optionally .CLASS) a seeded synthetic equity (`synthetic.py`: level,
strike increments by price, smile, open-interest walls, weeklies/monthlies/quarterlies,
all PM-settled), that looks like the real thing to the engine and the screen:

- Calendar: the real NYSE sessions and settlement times from `hedgeflow.engine.clock`
  (AM-settled SPX/NDX monthlies at 09:30, PM roots at the close, 13:00 on early-close
  days). Expiries from 0DTE (daily for SPX/SPY/QQQ, Mon/Wed/Fri for NDX/IWM) through
  the weekly Fridays to the next three monthlies (third Friday: AM "SPX" plus PM
  "SPXW"; NDX lists only its AM root that day).
- Strikes: exchange-like grids (SPX 5 near the money, 25/50/100 further out; SPY, QQQ,
  IWM $1 then $5; NDX 25/50/100), fixed for the day around the previous close.
- Spot: a seeded path on a one-second grid. Each underlying loads on shared market,
  tech and small-cap factors plus its own noise (SPY tracks SPX, QQQ tracks NDX), with
  overnight gaps and occasional jumps. Daily closes follow a bridged random walk that
  is computable for any day directly, so a snapshot never depends on the start day.
- Smile: an SVI-like function of standardized moneyness z = ln(K/F)/sqrt(w) (put skew,
  steepening as expiry nears), ATM total variance accruing half on trading time and
  half on calendar time (a 0DTE IV on the calendar clock reads ~1.8x a 30-day one), and
  spot-vol coupling by smile translation with skew stickiness R (default 1.5) around an
  anchor that re-centres with a 30-minute EMA of spot:
  z = (ln(K/F) + R ln(S/A)) / sqrt(w)  (R = 0 sticky moneyness, R = 1 sticky strike).
- Quotes: Black-76 on F = S e^{(r-q) tau} from the smile, exchange ticks (SPX/NDX 0.05
  below 3.00 else 0.10, ETFs 0.01), spreads widening with price, far wings bid 0.
- Open interest (start of day, constant intraday): concentrated near the money, puts
  heavier and lower than calls, walls at round strikes, monthlies dominant.
- Trades: a seeded tape per session (U-shaped intraday intensity, concentrated on
  short-dated near-the-money contracts) of customer buys at the ask, sells at the bid
  and some mid prints, which move volume, `last` and `last_trade_time`, so the
  live-flow estimate moves positioning.

Time is explicit and deterministic. The sim's clock is `start + speed * (wall elapsed)`
(speed 0 freezes it) and can be driven with `advance(seconds)` / `at(time)`; the
snapshot is a pure function of (configuration, seed, clock): `chain_at(symbol, when)`
gives the same arrays whatever was asked before. Outside regular hours (nights,
weekends, holidays) the market is closed: spot stays at the last print (marked
`spot_note = "stale: market closed"`), quotes stand as at the close (before the open:
as at the open, with the previous close as spot; a vendor's IV on such a snapshot is on
that clock, as with real after-hours files), volumes keep the last session's totals and nothing trades; expired series are dropped.
On a session day before the open the new day's open interest and strikes apply and
volume is zero. `start = "auto"` picks now during a session, else 10:30 New York on
the most recent session, so the monitor has a live market on a weekend.

Modules: `catalogue` (the underlyings), `synthetic` (an underlying for any other ticker),
`paths` (the random processes and session time), `market` (`SimMarket`, the chain as a
pure function of time), `feed` (`SimFeed`).
"""

from hedgeflow.feeds.sim.catalogue import UNDERLYINGS, Underlying
from hedgeflow.feeds.sim.feed import SimFeed
from hedgeflow.feeds.sim.market import SimMarket
from hedgeflow.feeds.sim.paths import NY, ema

__all__ = ["NY", "UNDERLYINGS", "SimFeed", "SimMarket", "Underlying", "ema"]
