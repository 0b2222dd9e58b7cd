"""The random processes behind the simulated market and the session time they run on.

Daily closes (`_Levels`: a bridged random walk computable for any day directly), one
session's exchange times and trading-time table (`_Session`), the unit-vol intraday paths of
every factor (`_DayPaths`), one underlying's static day with its tape cache (`_SymbolDay`),
and `ema`, the smile anchor's exponential moving average. Seeds come from `_key` (crc32 of
names, never the salted `hash`), so a path is a pure function of the seed and the day.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from hedgeflow.engine import clock as xclock
from hedgeflow.feeds.sim.catalogue import Underlying

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
#: Calendar days of sessions a `_Session` holds (expiries are listed to 200 days).
_HORIZON_DAYS = 215
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
    out: np.ndarray = y.reshape(-1)[:n] + x[0]
    return out


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
    trading-time table (cumulative regular-session seconds) for the next ~215 days."""

    date: dt.date
    number: int
    open: float
    close: float
    prev_date: dt.date
    knots_t: np.ndarray
    knots_c: np.ndarray
    dates: list[dt.date]  # this and the following sessions over ~215 days

    def trading_seconds(self, t: np.ndarray | float, end: np.ndarray) -> np.ndarray:
        """Regular-session seconds between t and end (end >= t), vectorized."""
        a = np.interp(t, self.knots_t, self.knots_c)
        b = np.interp(end, self.knots_t, self.knots_c)
        out: np.ndarray = np.maximum(b - a, 0.0)
        return out


def _build_session(d: date) -> _Session:
    opened = xclock.session_open(d)
    closed = xclock.session_close(d)
    assert opened is not None and closed is not None
    dates = [d]
    # Far enough for the synthetic names' quarterlies (200 days); the table's knots past
    # an expiry do not change its trading time, so the built-in names are unaffected.
    horizon = min(d + timedelta(days=_HORIZON_DAYS), xclock.CALENDAR_END - timedelta(days=7))
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
