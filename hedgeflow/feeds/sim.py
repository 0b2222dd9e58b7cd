"""The simulated market: the default feed, with no account and no network.

An intraday market for SPX-, SPY-, QQQ-, NDX- and IWM-like underlyings that looks
like the real thing to the engine and the screen:

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
"""

from __future__ import annotations

import asyncio
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import date as _date  # `_Session.date` shadows the type in its class body
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hedgeflow.engine import black76
from hedgeflow.engine import clock as xclock
from hedgeflow.engine.chain import OptionChain
from hedgeflow.feeds.errors import FeedError, FeedUnavailable

NY = xclock.NY
SECONDS_PER_YEAR = 31_536_000.0  # 365-day year, as the engine
RTH_SECONDS = 23_400.0  # a full regular session
RTH_YEAR = 252.0 * RTH_SECONDS  # seconds of regular trading in a trading year

#: Share of ATM total variance that accrues on trading time (the rest on calendar time).
_TRADING_TIME_SHARE = 0.5
#: Time constant of the smile anchor (EMA of spot), seconds.
_ANCHOR_SECONDS = 1800.0
#: Days per block of the bridged daily random walk of closes.
_BLOCK_DAYS = 64
#: Stationary standard deviation of the daily walk's block endpoints (unit-vol terms).
_LEVEL_SD = 0.6
#: Factor processes shared by all underlyings: market, tech, small caps.
_FACTORS = ("market", "tech", "small")


#: Block length of `ema`'s closed form: within a block the weights c^-k stay below
#: c^-256 (~1.15 for the 30-minute anchor), so the cumulative sum loses nothing.
_EMA_BLOCK = 256


def ema(x: np.ndarray, alpha: float) -> np.ndarray:
    """Exponential moving average y[0] = x[0], y[n] = alpha x[n] + (1 - alpha) y[n-1].

    The same recursion as `scipy.signal.lfilter([alpha], [1, alpha - 1], x,
    zi=[(1 - alpha) x[0]])` (equal to within ~1e-15 of the level), without importing scipy.signal
    (0.2 s and ~26 MB at start-up). Written in closed form per block of `_EMA_BLOCK`
    samples, y[k] = c^k (y[-1] + alpha sum_{j<=k} c^-j x[j]) with c = 1 - alpha, and
    a short loop carrying each block's last value into the next: the growing weights
    c^-j of a one-shot closed form would cost precision over a whole day.
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    if n == 0:
        return x.copy()
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"ema: alpha must be in (0, 1], got {alpha!r}")
    c = 1.0 - alpha
    if c == 0.0:
        return x.copy()
    # short blocks for fast decay, so that c^-k stays far from overflow (1e300)
    b = max(1, min(_EMA_BLOCK, n, int(690.0 / -np.log(c))))
    blocks = -(-n // b)
    # The filter is affine (weights sum to 1 with y[-1] = x[0]); filtering x - x[0] keeps
    # the sums near zero, where rounding is relative to the moves rather than the level.
    padded = np.zeros(blocks * b)
    padded[:n] = x - x[0]
    xb = padded.reshape(blocks, b)
    k = np.arange(b, dtype=float)
    grow = c**k  # c^k
    # zero-state response of each block: y_loc[k] = alpha sum_{j<=k} c^(k-j) x[j]
    local = np.cumsum(xb * (alpha / grow), axis=1) * grow
    # each block starts from the previous block's last output, decayed by c^(k+1)
    starts = np.empty(blocks)
    prev = 0.0  # y[-1] = x[0] makes y[0] = x[0]
    ends = local[:, -1]
    carry = c**b
    for i in range(blocks):
        starts[i] = prev
        prev = ends[i] + carry * prev
    y = local + starts[:, None] * (grow * c)
    out: NDArray[np.float64] = y.reshape(-1)[:n] + x[0]
    return out


@dataclass(frozen=True)
class Underlying:
    """Static description of one simulated underlying.

    spot : reference level, points; vol : base ATM vol (decimal, trading-time annualized);
    q : dividend yield, decimal/year; spacing : ((k_lo, k_hi, step), ...) strike step inside
    the log-moneyness band [k_lo, k_hi], innermost (finest) first; the last band covers the
    rest; grid : minimal (k_lo, k_hi) listed range of an expiry; loadings : weights on
    (market, tech, small, own noise), unit variance in total.
    """

    symbol: str
    spot: float
    vol: float
    q: float
    daily_root: str
    daily_weekdays: frozenset[int]
    monthly_root: str
    pm_on_monthly: bool
    spacing: tuple[tuple[float, float, float], ...]
    grid: tuple[float, float]
    tick_small: float
    tick_large: float
    tick_switch: float
    min_spread: float
    max_spread: float
    walls: tuple[tuple[float, float], ...]
    oi_scale: float
    put_call_oi: float
    prints_per_day: float
    loadings: tuple[float, float, float, float]
    rho: float = -0.7
    beta: float = 0.6


_EVERY_DAY = frozenset({0, 1, 2, 3, 4})
_MWF = frozenset({0, 2, 4})

UNDERLYINGS: dict[str, Underlying] = {
    "SPX": Underlying(
        symbol="SPX",
        spot=6000.0,
        vol=0.14,
        q=0.013,
        daily_root="SPXW",
        daily_weekdays=_EVERY_DAY,
        monthly_root="SPX",
        pm_on_monthly=True,
        spacing=((-0.12, 0.07, 5.0), (-0.20, 0.15, 25.0), (-0.35, 0.30, 50.0), (-9.0, 9.0, 100.0)),
        grid=(-0.15, 0.07),
        tick_small=0.05,
        tick_large=0.10,
        tick_switch=3.0,
        min_spread=0.10,
        max_spread=4.0,
        walls=((100.0, 7.0), (50.0, 4.5), (25.0, 3.5)),
        oi_scale=1.0e6,
        put_call_oi=1.8,
        prints_per_day=30_000.0,
        loadings=(1.0, 0.0, 0.0, 0.0),
    ),
    "SPY": Underlying(
        symbol="SPY",
        spot=598.0,
        vol=0.14,
        q=0.012,
        daily_root="SPY",
        daily_weekdays=_EVERY_DAY,
        monthly_root="SPY",
        pm_on_monthly=False,
        spacing=((-0.10, 0.07, 1.0), (-9.0, 9.0, 5.0)),
        grid=(-0.15, 0.07),
        tick_small=0.01,
        tick_large=0.01,
        tick_switch=3.0,
        min_spread=0.01,
        max_spread=0.40,
        walls=((10.0, 4.0), (5.0, 2.5)),
        oi_scale=1.0e6,
        put_call_oi=1.5,
        prints_per_day=30_000.0,
        loadings=(0.9998, 0.0, 0.0, 0.02),
    ),
    "QQQ": Underlying(
        symbol="QQQ",
        spot=515.0,
        vol=0.19,
        q=0.006,
        daily_root="QQQ",
        daily_weekdays=_EVERY_DAY,
        monthly_root="QQQ",
        pm_on_monthly=False,
        spacing=((-0.10, 0.08, 1.0), (-9.0, 9.0, 5.0)),
        grid=(-0.15, 0.08),
        tick_small=0.01,
        tick_large=0.01,
        tick_switch=3.0,
        min_spread=0.01,
        max_spread=0.40,
        walls=((10.0, 4.0), (5.0, 2.5)),
        oi_scale=7.0e5,
        put_call_oi=1.4,
        prints_per_day=20_000.0,
        loadings=(0.85, 0.5265, 0.0, 0.02),
    ),
    "NDX": Underlying(
        symbol="NDX",
        spot=21_000.0,
        vol=0.19,
        q=0.007,
        daily_root="NDXP",
        daily_weekdays=_MWF,
        monthly_root="NDX",
        pm_on_monthly=False,
        spacing=((-0.06, 0.05, 25.0), (-0.12, 0.10, 50.0), (-9.0, 9.0, 100.0)),
        grid=(-0.15, 0.08),
        tick_small=0.05,
        tick_large=0.10,
        tick_switch=3.0,
        min_spread=0.50,
        max_spread=15.0,
        walls=((1000.0, 6.0), (500.0, 4.0), (250.0, 2.5)),
        oi_scale=3.0e4,
        put_call_oi=1.2,
        prints_per_day=3_000.0,
        loadings=(0.85, 0.5268, 0.0, 0.0),
    ),
    "IWM": Underlying(
        symbol="IWM",
        spot=224.0,
        vol=0.21,
        q=0.012,
        daily_root="IWM",
        daily_weekdays=_MWF,
        monthly_root="IWM",
        pm_on_monthly=False,
        spacing=((-0.15, 0.10, 1.0), (-9.0, 9.0, 5.0)),
        grid=(-0.18, 0.10),
        tick_small=0.01,
        tick_large=0.01,
        tick_switch=3.0,
        min_spread=0.01,
        max_spread=0.30,
        walls=((10.0, 4.0), (5.0, 2.5)),
        oi_scale=3.0e5,
        put_call_oi=1.6,
        prints_per_day=8_000.0,
        loadings=(0.8, 0.0, 0.6, 0.0),
        rho=-0.5,
    ),
}

#: Expiry kinds and their share of a symbol's open interest scale.
_OI_WEIGHT = {"daily": 0.15, "weekly": 0.45, "monthly": 0.5, "monthly-main": 2.5}

_CONFIG_KEYS = (
    "seed",
    "start",
    "speed",
    "symbols",
    "jump_intensity",
    "skew_stickiness",
    "rate",
    "activity",
    "delay_seconds",
)


def _key(*parts: str | int) -> list[int]:
    """A stable integer key for a seed sequence (crc32 of names; never the salted `hash`)."""
    out: list[int] = []
    for p in parts:
        out.append(zlib.crc32(p.encode()) if isinstance(p, str) else int(p) + 1_000_000)
    return out


def _day_number(d: date) -> int:
    return (d - date(1970, 1, 1)).days


# --------------------------------------------------------------------------- daily closes


class _Levels:
    """Daily close levels of a unit-vol process (annual vol 1 on calendar days), as a random
    walk bridged between block endpoints drawn iid N(0, _LEVEL_SD^2): any day's level is
    computable directly (no recursion from an origin), and the walk is mean-reverting."""

    def __init__(self, seed: int, name: str) -> None:
        self._seed = seed
        self._name = name
        self._blocks: dict[int, np.ndarray] = {}

    def _endpoint(self, b: int) -> float:
        rng = np.random.default_rng(_key(self._seed, "endpoint", self._name, b))
        return float(rng.normal(0.0, _LEVEL_SD))

    def _block(self, b: int) -> np.ndarray:
        got = self._blocks.get(b)
        if got is None:
            rng = np.random.default_rng(_key(self._seed, "walk", self._name, b))
            steps = rng.normal(0.0, np.sqrt(1.0 / 365.0), _BLOCK_DAYS)
            walk = np.concatenate([[0.0], np.cumsum(steps)])
            frac = np.arange(_BLOCK_DAYS + 1) / _BLOCK_DAYS
            x0, x1 = self._endpoint(b), self._endpoint(b + 1)
            got = x0 + frac * (x1 - x0) + walk - frac * walk[-1]
            self._blocks[b] = got
        return got

    def at(self, day: int) -> float:
        b, i = divmod(day, _BLOCK_DAYS)
        return float(self._block(b)[i])


# --------------------------------------------------------------------------- market days


@dataclass
class _Session:
    """One exchange session: its date, day number, open/close epochs, and the local
    trading-time table (cumulative regular-session seconds) for the next ~110 days."""

    date: _date
    number: int
    open: float
    close: float
    prev_date: _date
    knots_t: np.ndarray
    knots_c: np.ndarray
    dates: list[_date]  # this and the following sessions over ~110 days

    def trading_seconds(self, t: np.ndarray | float, end: np.ndarray) -> np.ndarray:
        """Regular-session seconds between t and end (end >= t), vectorized."""
        a = np.interp(t, self.knots_t, self.knots_c)
        b = np.interp(end, self.knots_t, self.knots_c)
        seconds: NDArray[np.float64] = np.maximum(b - a, 0.0)
        return seconds


def _build_session(d: date) -> _Session:
    opened = xclock.session_open(d)
    closed = xclock.session_close(d)
    assert opened is not None and closed is not None
    dates = [d]
    horizon = d + timedelta(days=110)
    while dates[-1] < horizon:
        dates.append(xclock.next_session(dates[-1]))
    opens = np.array([xclock.session_open(x).timestamp() for x in dates])  # type: ignore[union-attr]
    closes = np.array([xclock.session_close(x).timestamp() for x in dates])  # type: ignore[union-attr]
    lengths = closes - opens
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    knots_t = np.column_stack([opens, closes]).reshape(-1)
    knots_c = np.column_stack([cum[:-1], cum[1:]]).reshape(-1)
    return _Session(
        date=d,
        number=_day_number(d),
        open=float(opens[0]),
        close=float(closes[0]),
        prev_date=xclock.previous_session(d),
        knots_t=knots_t,
        knots_c=knots_c,
        dates=dates,
    )


@dataclass
class _DayPaths:
    """Unit-vol intraday paths of every process on one session (before bridging), the day's
    vol multiplier and the jumps; symbols combine them with their loadings."""

    increments: dict[str, np.ndarray]  # per process: cumulative unit BM from the open, len n
    gaps: dict[str, float]
    vol_mult: float


# --------------------------------------------------------------------------- per symbol day


@dataclass
class _SymbolDay:
    """Everything static about one underlying on one session, plus the tape cache."""

    und: Underlying
    session: _Session
    prev_close: float
    log_path: np.ndarray  # log spot per second from the open (len = session seconds + 1)
    log_anchor: np.ndarray  # EMA of log spot (smile anchor)
    vol: float  # the day's base ATM vol (trading-time annualized)
    root: np.ndarray
    strike: np.ndarray
    expiry: np.ndarray
    is_call: np.ndarray
    open_interest: np.ndarray
    # the tape, sorted by time
    trade_time: np.ndarray
    trade_index: np.ndarray
    trade_size: np.ndarray
    trade_price: np.ndarray
    # incremental tape state (volume, last, last trade time after `cursor` trades)
    cursor: int = 0
    volume: np.ndarray | None = None
    last: np.ndarray | None = None
    last_time: np.ndarray | None = None

    def spot_at(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Spot and smile anchor at times t (epoch s): the one-second grid during the session,
        the previous close before the open, the last print after the close."""
        n = len(self.log_path)
        i = np.clip(np.floor(t - self.session.open), 0, n - 1).astype(np.int64)
        logs = self.log_path[i]
        anchor = self.log_anchor[i]
        pre = t < self.session.open
        if np.any(pre):
            lp = np.log(self.prev_close)
            logs = np.where(pre, lp, logs)
            anchor = np.where(pre, lp, anchor)
        return np.exp(logs), np.exp(anchor)

    def tape_until(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Volume, last price and last trade time of every contract after the trades at or
        before t. Incremental for polls moving forward; recomputed from the open when the
        clock went back, with identical results (integer sums, last-occurrence selection)."""
        n = int(np.searchsorted(self.trade_time, t, side="right"))
        if self.volume is None or n < self.cursor:
            m = len(self.strike)
            self.volume = np.zeros(m)
            self.last = np.full(m, np.nan)
            self.last_time = np.full(m, np.nan)
            self.cursor = 0
        assert self.last is not None and self.last_time is not None
        if n > self.cursor:
            idx = self.trade_index[self.cursor : n]
            self.volume += np.bincount(
                idx, weights=self.trade_size[self.cursor : n], minlength=len(self.strike)
            )
            # The last trade of each contract in the chunk: first occurrence in reverse order.
            uniq, first_rev = np.unique(idx[::-1], return_index=True)
            pos = self.cursor + (len(idx) - 1 - first_rev)
            self.last[uniq] = self.trade_price[pos]
            self.last_time[uniq] = self.trade_time[pos]
            self.cursor = n
        return self.volume, self.last, self.last_time


# --------------------------------------------------------------------------- the market


def _smile(z: np.ndarray, rho: float, beta: float) -> np.ndarray:
    """SVI-like smile factor f(z), f(0) = 1: f^2 = 1 + beta (rho z + sqrt(z^2 + 1) - 1).
    Positive for beta < 1 / (1 - sqrt(1 - rho^2)); slope at 0 is beta rho / 2 (put skew for
    rho < 0); wings grow like sqrt|z| (total variance linear in |k|, within Lee's bound)."""
    f: NDArray[np.float64] = np.sqrt(1.0 + beta * (rho * z + np.sqrt(z * z + 1.0) - 1.0))
    return f


def _term(tau: np.ndarray) -> np.ndarray:
    """Mild contango of ATM vol with calendar maturity tau (years)."""
    term: NDArray[np.float64] = 0.85 + 0.25 * np.sqrt(np.minimum(tau, 1.0))
    return term


def _round_to(x: np.ndarray, step: np.ndarray | float, mode: str) -> np.ndarray:
    q = x / step
    # 1e-9 guards floating noise (0.15/0.05 = 2.9999999999999996).
    r = np.floor(q + 1e-9) if mode == "down" else np.ceil(q - 1e-9)
    return np.round(r * step, 2)


class SimMarket:
    """The deterministic market behind `SimFeed`: `chain_at(symbol, t)` is a pure function of
    the seed, the parameters and t (cached internally for speed)."""

    def __init__(
        self,
        *,
        seed: int = 7,
        symbols: Iterable[str] = tuple(UNDERLYINGS),
        jump_intensity: float = 1.0,
        skew_stickiness: float = 1.5,
        rate: float = 0.045,
        activity: float = 1.0,
    ) -> None:
        self.seed = int(seed)
        self.symbols = tuple(s.upper() for s in symbols)
        for s in self.symbols:
            if s not in UNDERLYINGS:
                raise ValueError(
                    f"`symbols`: unknown sim symbol {s!r} (known: {', '.join(UNDERLYINGS)})"
                )
        self.jump_intensity = float(jump_intensity)
        self.skew_stickiness = float(skew_stickiness)
        self.rate = float(rate)
        self.activity = float(activity)
        names = [*_FACTORS, *(f"own:{s}" for s in UNDERLYINGS)]
        self._levels = {name: _Levels(self.seed, name) for name in names}
        self._sessions: OrderedDict[date, _Session] = OrderedDict()
        self._paths: OrderedDict[date, _DayPaths] = OrderedDict()
        self._days: OrderedDict[tuple[str, date], _SymbolDay] = OrderedDict()
        # The caches and the tape cursor are mutated by `chain_at`: one caller at a time
        # (feeds may be polled from worker threads).
        self._lock = threading.Lock()

    # -- calendar ---------------------------------------------------------------------------

    def session_of(self, t: float) -> _Session:
        """The session whose state holds at t: today's from midnight New York on a session day
        (pre-open, open, after the close), else the most recent session."""
        d = datetime.fromtimestamp(t, NY).date()
        try:
            if not xclock.is_session(d):
                d = xclock.previous_session(d)
            got = self._sessions.get(d)
            if got is None:
                got = _build_session(d)
                self._sessions[d] = got
                while len(self._sessions) > 8:
                    self._sessions.popitem(last=False)
        except ValueError as exc:
            raise FeedUnavailable(
                f"simulated clock outside the exchange calendar: {exc}", vendor="sim"
            ) from None
        return got

    # -- spot -------------------------------------------------------------------------------

    def _log_close(self, symbol: str, day: int) -> float:
        und = UNDERLYINGS[symbol]
        a = und.loadings
        u = (
            a[0] * self._levels["market"].at(day)
            + a[1] * self._levels["tech"].at(day)
            + a[2] * self._levels["small"].at(day)
            + a[3] * self._levels[f"own:{symbol}"].at(day)
        )
        return float(np.log(und.spot) + und.vol * u)

    def _day_paths(self, s: _Session) -> _DayPaths:
        got = self._paths.get(s.date)
        if got is not None:
            return got
        n = int(round(s.close - s.open))
        sd = np.sqrt(1.0 / RTH_YEAR)
        increments: dict[str, np.ndarray] = {}
        gaps: dict[str, float] = {}
        for name in self._levels:
            rng = np.random.default_rng(_key(self.seed, "intraday", name, s.number))
            steps = rng.normal(0.0, sd, n)
            increments[name] = np.concatenate([[0.0], np.cumsum(steps)])
            gaps[name] = float(rng.normal(0.0, 0.35 * np.sqrt(1.0 / 252.0)))
        rng = np.random.default_rng(_key(self.seed, "day", s.number))
        vol_mult = float(np.exp(rng.normal(0.0, 0.15)))
        # Jumps on the market factor: Poisson count, uniform times, slightly negative sizes
        # (unit-vol terms: 0.03 is ~0.4% on SPX).
        k = rng.poisson(self.jump_intensity * n / RTH_SECONDS)
        if k:
            at = rng.integers(1, n + 1, k)
            size = rng.normal(-0.007, 0.03, k)
            jumps = np.zeros(n + 1)
            np.add.at(jumps, at, size)
            increments["market"] = increments["market"] + np.cumsum(jumps)
        got = _DayPaths(increments=increments, gaps=gaps, vol_mult=vol_mult)
        self._paths[s.date] = got
        while len(self._paths) > 3:
            self._paths.popitem(last=False)
        return got

    def _symbol_path(self, symbol: str, s: _Session, paths: _DayPaths) -> tuple[float, np.ndarray]:
        """Previous close and the day's log-spot path, bridged from the gapped open to the
        day's close level."""
        und = UNDERLYINGS[symbol]
        a = und.loadings
        names = ("market", "tech", "small", f"own:{symbol}")
        prev = self._log_close(symbol, _day_number(s.prev_date))
        close = self._log_close(symbol, s.number)
        unit = sum(w * paths.increments[nm] for w, nm in zip(a, names, strict=True) if w)
        gap = sum(w * paths.gaps[nm] for w, nm in zip(a, names, strict=True) if w)
        raw = np.asarray(prev + und.vol * (gap + paths.vol_mult * unit))
        frac = np.arange(len(raw)) / (len(raw) - 1)
        log_path = raw + frac * (close - raw[-1])
        return float(np.exp(prev)), log_path

    # -- contracts --------------------------------------------------------------------------

    def _expiries(self, und: Underlying, s: _Session) -> tuple[list[date], list[str], list[str]]:
        """Listed (date, root, kind) of the day: dailies within 7 calendar days on the listed
        weekdays, week-ending sessions within 35 days, third Fridays within ~100 days."""
        out: dict[tuple[date, str], str] = {}
        sessions = s.dates
        for i, d in enumerate(sessions):
            if (d - s.date).days > 100:
                break
            nxt = sessions[i + 1] if i + 1 < len(sessions) else None
            week_end = nxt is None or nxt.isocalendar()[1] != d.isocalendar()[1]
            third_friday = _third_friday(d.year, d.month)
            is_monthly = d == third_friday or (
                not xclock.is_session(third_friday) and d == xclock.previous_session(third_friday)
            )
            if is_monthly:
                out[(d, und.monthly_root)] = "monthly-main"
                if und.pm_on_monthly:
                    out[(d, und.daily_root)] = "monthly"
            elif (d - s.date).days <= 35 and week_end and d.weekday() >= 3:
                out.setdefault((d, und.daily_root), "weekly")
            elif (d - s.date).days <= 7 and d.weekday() in und.daily_weekdays:
                out.setdefault((d, und.daily_root), "daily")
        keys = sorted(out)
        return [k[0] for k in keys], [k[1] for k in keys], [out[k] for k in keys]

    def _strikes(self, und: Underlying, center: float, lo: float, hi: float) -> np.ndarray:
        """Exchange-like strike grid in [center e^lo, center e^hi]: each band's step inside its
        log-moneyness band, finest first."""
        out = []
        prev_band: tuple[float, float] | None = None
        for k_lo, k_hi, step in und.spacing:
            a, b = max(k_lo, lo), min(k_hi, hi)
            if b <= a:
                continue
            grid = np.arange(
                np.ceil(center * np.exp(a) / step) * step, center * np.exp(b) + 1e-9, step
            )
            if prev_band is not None:
                k = np.log(grid / center)
                grid = grid[(k < prev_band[0]) | (k > prev_band[1])]
            out.append(grid)
            prev_band = (a, b)
        strikes = np.unique(np.round(np.concatenate(out), 6))
        return strikes[strikes > 0]

    def symbol_day(self, symbol: str, s: _Session) -> _SymbolDay:
        got = self._days.get((symbol, s.date))
        if got is not None:
            self._days.move_to_end((symbol, s.date))
            return got
        und = UNDERLYINGS[symbol]
        paths = self._day_paths(s)
        prev_close, log_path = self._symbol_path(symbol, s, paths)
        alpha = 1.0 - np.exp(-1.0 / _ANCHOR_SECONDS)
        log_anchor = ema(log_path, alpha)
        vol = und.vol * paths.vol_mult
        dates, roots, kinds = self._expiries(und, s)
        settle = xclock.settlement_epochs(np.array(roots), np.array(dates, dtype="datetime64[D]"))
        rng = np.random.default_rng(_key(self.seed, "contracts", symbol, s.number))
        cols: dict[str, list[np.ndarray]] = {
            k: [] for k in ("root", "strike", "expiry", "is_call", "oi")
        }
        for d, root, kind, e in zip(dates, roots, kinds, settle, strict=True):
            if e <= s.open - 86_400.0:
                continue
            tau = max(e - s.open, 0.0) / SECONDS_PER_YEAR
            sd = vol * np.sqrt(max(tau, 1.0 / 365.0))
            lo = max(-max(-und.grid[0], 6.0 * sd), -0.95)
            hi = min(max(und.grid[1], 3.5 * sd), 1.5)
            k_grid = self._strikes(und, prev_close, lo, hi)
            m = len(k_grid)
            strike = np.concatenate([k_grid, k_grid])
            is_call = np.concatenate([np.ones(m, bool), np.zeros(m, bool)])
            oi = self._open_interest(
                und, kind, d == s.date, tau, vol, prev_close, strike, is_call, rng
            )
            cols["root"].append(np.full(2 * m, root))
            cols["strike"].append(strike)
            cols["expiry"].append(np.full(2 * m, e))
            cols["is_call"].append(is_call)
            cols["oi"].append(oi)
        strike = np.concatenate(cols["strike"])
        expiry = np.concatenate(cols["expiry"])
        is_call = np.concatenate(cols["is_call"])
        order = np.lexsort((~is_call, strike, expiry))  # by expiry, strike, calls first
        day = _SymbolDay(
            und=und,
            session=s,
            prev_close=prev_close,
            log_path=log_path,
            log_anchor=log_anchor,
            vol=vol,
            root=np.concatenate(cols["root"])[order],
            strike=strike[order],
            expiry=expiry[order],
            is_call=is_call[order],
            open_interest=np.concatenate(cols["oi"])[order],
            trade_time=np.empty(0),
            trade_index=np.empty(0, np.int64),
            trade_size=np.empty(0),
            trade_price=np.empty(0),
        )
        self._make_tape(day)
        self._days[(symbol, s.date)] = day
        while len(self._days) > 2 * max(len(self.symbols), 1) + 2:
            self._days.popitem(last=False)
        return day

    def _open_interest(
        self,
        und: Underlying,
        kind: str,
        same_day: bool,
        tau: float,
        vol: float,
        center: float,
        strike: np.ndarray,
        is_call: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Start-of-day open interest: calls centred a little above the money, puts heavier and
        further below, fat tails, walls at round strikes, lognormal noise; integer contracts."""
        total = und.oi_scale * _OI_WEIGHT[kind] * (2.0 if same_day and kind == "daily" else 1.0)
        total *= 0.5 + 0.5 * min(1.0, tau * 365.0 / 30.0) if kind != "monthly-main" else 1.0
        sd = vol * np.sqrt(tau + 45.0 / 365.0)
        z = np.log(strike / center) / sd
        call = np.exp(-0.5 * ((z - 0.6) / 1.2) ** 2) + 0.12 * np.exp(-0.5 * (z / 3.0) ** 2)
        put = np.exp(-0.5 * ((z + 1.3) / 1.6) ** 2) + 0.15 * np.exp(-0.5 * (z / 4.0) ** 2)
        # The shapes are densities in price: a strike's share grows with the gap it covers,
        # so OI far out (25/50/100-point strikes) is not thinned by the coarser listing.
        k = np.unique(strike)
        gap = np.gradient(k) if len(k) > 1 else np.ones(1)
        local_gap = gap[np.searchsorted(k, strike)]
        shape = np.where(is_call, call, put) * local_gap
        wall = np.ones_like(strike)
        for mult, factor in und.walls:
            # A wall is a round strike among finer ones (on a 25-point stretch every strike is
            # a multiple of 25, and none stands out for it).
            on = (np.abs(strike / mult - np.round(strike / mult)) < 1e-9) & (mult > 1.5 * local_gap)
            wall = np.where(on, np.maximum(wall, factor), wall)
        noise = rng.lognormal(0.0, 0.7, len(strike))
        weight = shape * wall * noise
        side_total = np.where(is_call, 1.0, und.put_call_oi) / (1.0 + und.put_call_oi) * total
        side_sum = np.where(is_call, weight[is_call].sum(), weight[~is_call].sum())
        oi: NDArray[np.float64] = np.floor(side_total * weight / side_sum + rng.random(len(strike)))
        return oi

    # -- quotes -----------------------------------------------------------------------------

    def _quote(
        self,
        day: _SymbolDay,
        t: np.ndarray | float,
        idx: np.ndarray,
        spot_time: np.ndarray | float | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Bid, ask, theoretical price, IV (decimal, calendar clock) and spot of contracts
        `idx` priced at times t (scalar or per element) with the spot of `spot_time`
        (default t). Contracts must be unexpired at t."""
        und = day.und
        t_arr = np.broadcast_to(np.asarray(t, dtype=np.float64), idx.shape)
        S, A = day.spot_at(
            t_arr
            if spot_time is None
            else np.broadcast_to(np.asarray(spot_time, dtype=np.float64), idx.shape)
        )
        K = day.strike[idx]
        E = day.expiry[idx]
        call = day.is_call[idx]
        tau = (E - t_arr) / SECONDS_PER_YEAR
        t_trade = day.session.trading_seconds(t_arr, E) / RTH_YEAR
        v = day.vol * _term(tau)
        w = v * v * (_TRADING_TIME_SHARE * t_trade + (1.0 - _TRADING_TIME_SHARE) * tau)
        F = S * np.exp((self.rate - und.q) * tau)
        z = (np.log(K / F) + self.skew_stickiness * np.log(S / A)) / np.sqrt(w)
        sigma = np.clip(np.sqrt(w / tau) * _smile(z, und.rho, und.beta), 0.02, 6.0)
        theo = black76.price(F, K, tau, sigma, self.rate, call)
        theo = np.maximum(theo, 0.0)
        spread = np.clip(0.03 * theo, und.min_spread, und.max_spread)
        tick_bid = np.where(theo - spread / 2 >= und.tick_switch, und.tick_large, und.tick_small)
        tick_ask = np.where(theo + spread / 2 >= und.tick_switch, und.tick_large, und.tick_small)
        bid = np.maximum(_round_to(theo - spread / 2, tick_bid, "down"), 0.0)
        ask = np.maximum(_round_to(theo + spread / 2, tick_ask, "up"), und.tick_small)
        return bid, ask, theo, sigma, S

    # -- the tape ---------------------------------------------------------------------------

    def _make_tape(self, day: _SymbolDay) -> None:
        s, und = day.session, day.und
        rng = np.random.default_rng(_key(self.seed, "tape", und.symbol, s.number))
        length = s.close - s.open
        n = int(rng.poisson(und.prints_per_day * self.activity * length / RTH_SECONDS))
        alive = day.expiry > s.open + 60.0
        if n == 0 or not alive.any():
            return
        # U-shaped intraday intensity: uniform mixed with the arcsine law.
        u = np.where(rng.random(n) < 0.7, rng.random(n), rng.beta(0.5, 0.5, n))
        times = np.sort(s.open + 1.0 + u * (length - 2.0))
        # Contract weights: near the money in the day's standard deviations, short-dated first.
        tau = np.maximum(day.expiry - s.open, 0.0) / SECONDS_PER_YEAR
        tt = day.session.trading_seconds(s.open, day.expiry) / RTH_YEAR
        sd = day.vol * np.sqrt(np.maximum(tt, 0.25 / 252.0))
        z = np.log(day.strike / day.prev_close) / sd
        days_out = tau * 365.0
        exp_w = np.where(days_out < 1.0, 6.0, 1.0 / (1.0 + days_out) ** 0.7)
        weight = np.where(alive, exp_w * (np.exp(-0.5 * (z / 1.3) ** 2) + 0.01), 0.0)
        idx = rng.choice(len(weight), size=n, p=weight / weight.sum())
        # Drop prints after their contract settled (a 0DTE's last second is fine).
        ok = times < day.expiry[idx] - 1.0
        times, idx = times[ok], idx[ok]
        n = len(idx)
        size = 1.0 + rng.geometric(0.15, n)
        block = rng.random(n) < 0.02
        size = np.where(block, np.round(rng.uniform(50, 800, n)), size)
        side_u = rng.random(n)
        bid, ask, _, _, _ = self._quote(day, times, idx)
        tick = np.where(ask >= und.tick_switch, und.tick_large, und.tick_small)
        mid = np.maximum(np.round(np.round((bid + ask) / 2.0 / tick) * tick, 2), und.tick_small)
        # Customers buy at the ask (45%), sell at the bid (40%, never at a zero bid) and
        # print near the mid (15%).
        buy = (side_u < 0.45) | ((side_u < 0.85) & (bid <= 0.0))
        sell = ~buy & (side_u < 0.85)
        price = np.where(buy, ask, np.where(sell, bid, mid))
        day.trade_time = times
        day.trade_index = idx.astype(np.int64)
        day.trade_size = size.astype(np.float64)
        day.trade_price = price

    # -- snapshots --------------------------------------------------------------------------

    def chain_at(
        self, symbol: str, when: datetime, *, source: str = "sim", delay: float = 0.0
    ) -> OptionChain:
        """The chain of `symbol` with quotes as of `when` (aware); pure in (seed, params, when)."""
        symbol = symbol.upper()
        if symbol not in self.symbols:
            raise FeedError(
                f"unknown symbol {symbol!r} (the sim knows {', '.join(self.symbols)})", vendor="sim"
            )
        if when.tzinfo is None:
            raise ValueError("`when` must be timezone-aware")
        with self._lock:
            return self._chain_at(symbol, when, source, delay)

    def _chain_at(self, symbol: str, when: datetime, source: str, delay: float) -> OptionChain:
        t = when.timestamp()
        s = self.session_of(t)
        day = self.symbol_day(symbol, s)
        idx = np.flatnonzero(day.expiry > t)
        # While the market is closed quotes do not move: before the open they stand as at the
        # open with the previous close as spot, after the close as at the close.
        # (An AM series settling at the open is priced a second before it.)
        t_quote = np.minimum(min(max(t, s.open), s.close), day.expiry[idx] - 1.0)
        bid, ask, _, sigma, S = self._quote(day, t_quote, idx, spot_time=t)
        volume, last, last_time = day.tape_until(t)
        in_session = s.open <= t < s.close
        return OptionChain(
            symbol=symbol,
            spot=float(S[0]) if len(S) else float(day.spot_at(np.array([t]))[0][0]),
            as_of=when.astimezone(UTC),
            root=day.root[idx],
            strike=day.strike[idx],
            expiry=day.expiry[idx],
            is_call=day.is_call[idx],
            bid=bid,
            ask=ask,
            last=last[idx],
            last_trade_time=last_time[idx],
            volume=volume[idx].copy(),
            open_interest=day.open_interest[idx],
            multiplier=np.full(len(idx), 100.0),
            vendor_iv=sigma,
            source=source,
            delay_seconds=delay,
            spot_note="" if in_session else "stale: market closed",
        )


def _third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


# --------------------------------------------------------------------------- the feed


def _parse_start(value: Any, wall_now: datetime) -> datetime:
    """ "now", "auto" (now during a session, else 10:30 New York on the latest session), an
    ISO-8601 string or a datetime; a time without offset is New York time."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str) and value.strip().lower() == "now":
        return wall_now
    elif isinstance(value, str) and value.strip().lower() == "auto":
        d = wall_now.astimezone(NY).date()
        if xclock.is_session(d):
            o, c = xclock.session_open(d), xclock.session_close(d)
            assert o is not None and c is not None
            if o <= wall_now < c:
                return wall_now
            if wall_now < o:
                d = xclock.previous_session(d)
        else:
            d = xclock.previous_session(d)
        return datetime(d.year, d.month, d.day, 10, 30, tzinfo=NY)
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"`start`: {value!r} is not 'now', 'auto' or an ISO-8601 time"
            ) from None
    else:
        raise ValueError(f"`start` must be 'now', 'auto' or an ISO-8601 time, not {value!r}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=NY)
    return when


class SimFeed:
    """The simulated market as a `Feed`.

    The clock is `start + speed * (wall seconds since start or the last `at`)`, plus any
    `advance`; speed 0 freezes it so tests drive it explicitly. `clock()` is what the
    monitor measures data age against. `chain_at(symbol, when)` is the deterministic core.
    """

    name = "sim"

    def __init__(
        self,
        *,
        seed: int = 7,
        start: Any = "auto",
        speed: float = 1.0,
        symbols: Iterable[str] = tuple(UNDERLYINGS),
        jump_intensity: float = 1.0,
        skew_stickiness: float = 1.5,
        rate: float = 0.045,
        activity: float = 1.0,
        delay_seconds: float = 0.0,
        wall: Callable[[], float] = time.monotonic,
        wall_now: datetime | None = None,
    ) -> None:
        if speed < 0:
            raise ValueError("`speed` must be >= 0 (0 freezes the simulated clock)")
        if delay_seconds < 0:
            raise ValueError("`delay_seconds` must be >= 0")
        self.market = SimMarket(
            seed=seed,
            symbols=symbols,
            jump_intensity=jump_intensity,
            skew_stickiness=skew_stickiness,
            rate=rate,
            activity=activity,
        )
        self.speed = float(speed)
        self.delay_seconds = float(delay_seconds)
        self._wall = wall
        start_dt = _parse_start(start, wall_now or datetime.now(UTC))
        self._t0 = round(start_dt.timestamp(), 6)
        self._w0 = wall()

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> SimFeed:
        """Build from a `[feeds.sim]` table: seed, start, speed, symbols (list or comma string),
        jump_intensity (jumps per session), skew_stickiness (R), rate, activity (trade rate
        multiplier), delay_seconds. Unknown keys and bad values raise ValueError naming them."""
        unknown = sorted(set(section) - set(_CONFIG_KEYS))
        if unknown:
            raise ValueError(
                f"unknown key `feeds.sim.{unknown[0]}` (known: {', '.join(_CONFIG_KEYS)})"
            )
        kw: dict[str, Any] = {}
        for key in (
            "speed",
            "jump_intensity",
            "skew_stickiness",
            "rate",
            "activity",
            "delay_seconds",
        ):
            if key in section:
                value = section[key]
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int | float)
                    or not np.isfinite(value)
                ):
                    raise ValueError(f"`feeds.sim.{key}` must be a number, not {value!r}")
                if key != "rate" and value < 0:
                    raise ValueError(f"`feeds.sim.{key}` must be >= 0")
                kw[key] = float(value)
        if "skew_stickiness" in kw and not 0.0 <= kw["skew_stickiness"] <= 3.0:
            raise ValueError("`feeds.sim.skew_stickiness` must be in [0, 3]")
        if "seed" in section:
            seed = section["seed"]
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ValueError(f"`feeds.sim.seed` must be a non-negative integer, not {seed!r}")
            kw["seed"] = seed
        if "start" in section:
            kw["start"] = section["start"]
        if "symbols" in section:
            raw = section["symbols"]
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            kw["symbols"] = [str(x).strip().upper() for x in items if str(x).strip()]
        try:
            return cls(**kw)
        except ValueError as exc:
            msg = str(exc)
            raise ValueError(msg if "feeds.sim" in msg else f"`feeds.sim`: {msg}") from None

    # -- clock ------------------------------------------------------------------------------

    def _now(self) -> float:
        return round(self._t0 + self.speed * (self._wall() - self._w0), 6)

    def clock(self) -> datetime:
        """The simulated now (aware, UTC), microsecond resolution."""
        return datetime.fromtimestamp(self._now(), UTC)

    def advance(self, seconds: float) -> datetime:
        """Move the simulated clock forward (or back, if negative) by `seconds`."""
        self._t0 = round(self._t0 + float(seconds), 6)
        return self.clock()

    def at(self, when: datetime) -> datetime:
        """Set the simulated clock to `when` (aware); it runs on from there at `speed`."""
        if when.tzinfo is None:
            raise ValueError("`when` must be timezone-aware")
        self._t0 = round(when.timestamp(), 6)
        self._w0 = self._wall()
        return self.clock()

    # -- Feed protocol ----------------------------------------------------------------------

    async def __aenter__(self) -> SimFeed:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def chain_at(self, symbol: str, when: datetime) -> OptionChain:
        """Deterministic snapshot of `symbol` at clock time `when` (quotes as of when - delay)."""
        as_of = when - timedelta(seconds=self.delay_seconds) if self.delay_seconds else when
        return self.market.chain_at(symbol, as_of, source="sim", delay=self.delay_seconds)

    async def snapshot(self, symbol: str) -> OptionChain:
        # A poll is ~1 ms, but the first one of a simulated day builds the day (tens of ms;
        # the exchange calendar on first use, ~0.3 s): off the event loop.
        return await asyncio.to_thread(self.chain_at, symbol, self.clock())

    async def expirations(self, symbol: str) -> list[datetime]:
        chain = await asyncio.to_thread(self.chain_at, symbol, self.clock())
        return [datetime.fromtimestamp(float(e), UTC) for e in chain.expiries()]
