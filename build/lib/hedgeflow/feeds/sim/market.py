"""The market model: `SimMarket.chain_at(symbol, t)`, a pure function of the seed, the
parameters and t: exchange-like strikes and expiries, start-of-day open interest, quotes
from the smile (Black-76), and a seeded tape of customer trades (see the package docstring
for the model).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import numpy as np

from hedgeflow.engine import black76
from hedgeflow.engine import clock as xclock
from hedgeflow.engine.chain import OptionChain
from hedgeflow.feeds.errors import FeedError, FeedUnavailable
from hedgeflow.feeds.sim.catalogue import _OI_WEIGHT, UNDERLYINGS, Underlying
from hedgeflow.feeds.sim.paths import (
    _ANCHOR_SECONDS,
    _FACTORS,
    _TRADING_TIME_SHARE,
    NY,
    RTH_SECONDS,
    RTH_YEAR,
    SECONDS_PER_YEAR,
    _build_session,
    _day_number,
    _DayPaths,
    _key,
    _Levels,
    _Session,
    _SymbolDay,
    ema,
)
from hedgeflow.feeds.sim.synthetic import synthetic_underlying
from hedgeflow.feeds.tickers import parse_ticker, ticker_error

# --------------------------------------------------------------------------- the market


def _smile(z: np.ndarray, rho: float, beta: float) -> np.ndarray:
    """SVI-like smile factor f(z), f(0) = 1: f^2 = 1 + beta (rho z + sqrt(z^2 + 1) - 1).
    Positive for beta < 1 / (1 - sqrt(1 - rho^2)); slope at 0 is beta rho / 2 (put skew for
    rho < 0); wings grow like sqrt|z| (total variance linear in |k|, within Lee's bound)."""
    out: np.ndarray = np.sqrt(1.0 + beta * (rho * z + np.sqrt(z * z + 1.0) - 1.0))
    return out


def _term(tau: np.ndarray) -> np.ndarray:
    """Mild contango of ATM vol with calendar maturity tau (years)."""
    out: np.ndarray = 0.85 + 0.25 * np.sqrt(np.minimum(tau, 1.0))
    return out


def _round_to(x: np.ndarray, step: np.ndarray | float, mode: str) -> np.ndarray:
    q = x / step
    # 1e-9 guards floating noise (0.15/0.05 = 2.9999999999999996).
    r = np.floor(q + 1e-9) if mode == "down" else np.ceil(q - 1e-9)
    return np.round(r * step, 2)


class SimMarket:
    """The deterministic market behind `SimFeed`: `chain_at(symbol, t)` is a pure function of
    the seed, the parameters and t (cached internally for speed).

    symbols : the tickers it serves, or None (the default) for any valid ticker: the
    catalogue's five as catalogued, every other a seeded synthetic underlying
    (`synthetic.py`). Which symbols were asked before never changes an answer."""

    def __init__(
        self,
        *,
        seed: int = 7,
        symbols: Iterable[str] | None = None,
        jump_intensity: float = 1.0,
        skew_stickiness: float = 1.5,
        rate: float = 0.045,
        activity: float = 1.0,
    ) -> None:
        self.seed = int(seed)
        self.symbols: tuple[str, ...] | None = None
        if symbols is not None:
            listed = []
            for s in symbols:
                ticker = parse_ticker(s)
                if ticker is None:
                    raise ValueError(f"`symbols`: {ticker_error(s)}")
                listed.append(ticker)
            self.symbols = tuple(dict.fromkeys(listed))
        self.jump_intensity = float(jump_intensity)
        self.skew_stickiness = float(skew_stickiness)
        self.rate = float(rate)
        self.activity = float(activity)
        names = [*_FACTORS, *(f"own:{s}" for s in UNDERLYINGS)]
        self._levels = {name: _Levels(self.seed, name) for name in names}
        #: The processes every day's paths hold; a synthetic name's own noise is drawn
        #: when it is first asked for, from its own seed key.
        self._day_names = tuple(names)
        self._synthetic: dict[str, Underlying] = {}
        self._sessions: OrderedDict[date, _Session] = OrderedDict()
        self._paths: OrderedDict[date, _DayPaths] = OrderedDict()
        self._days: OrderedDict[tuple[str, date], _SymbolDay] = OrderedDict()
        # The caches and the tape cursor are mutated by `chain_at`: one caller at a time
        # (feeds may be polled from worker threads).
        self._lock = threading.Lock()

    def underlying(self, symbol: str) -> Underlying:
        """The catalogue's entry for a built-in symbol, else the seeded synthetic one."""
        got = UNDERLYINGS.get(symbol) or self._synthetic.get(symbol)
        if got is None:
            got = synthetic_underlying(symbol, self.seed)
            self._synthetic[symbol] = got
            self._levels[f"own:{symbol}"] = _Levels(self.seed, f"own:{symbol}")
        return got

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
        und = self.underlying(symbol)
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
        increments: dict[str, np.ndarray] = {}
        gaps: dict[str, float] = {}
        for name in self._day_names:
            increments[name], gaps[name] = self._own_path(name, s, n)
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

    def _own_path(self, name: str, s: _Session, n: int) -> tuple[np.ndarray, float]:
        """The unit-vol path of process `name` on session `s` (n seconds) and its gap."""
        rng = np.random.default_rng(_key(self.seed, "intraday", name, s.number))
        steps = rng.normal(0.0, np.sqrt(1.0 / RTH_YEAR), n)
        return (
            np.concatenate([[0.0], np.cumsum(steps)]),
            float(rng.normal(0.0, 0.35 * np.sqrt(1.0 / 252.0))),
        )

    def _symbol_path(self, symbol: str, s: _Session, paths: _DayPaths) -> tuple[float, np.ndarray]:
        """Previous close and the day's log-spot path, bridged from the gapped open to the
        day's close level."""
        und = self.underlying(symbol)
        a = und.loadings
        names = ("market", "tech", "small", f"own:{symbol}")
        if names[3] not in paths.increments:  # a synthetic name: its own noise, on demand
            n = len(paths.increments["market"]) - 1
            paths.increments[names[3]], paths.gaps[names[3]] = self._own_path(names[3], s, n)
        prev = self._log_close(symbol, _day_number(s.prev_date))
        close = self._log_close(symbol, s.number)
        unit: np.ndarray = sum(
            (w * paths.increments[nm] for w, nm in zip(a, names, strict=True) if w),
            np.zeros_like(paths.increments["market"]),
        )
        gap = sum(w * paths.gaps[nm] for w, nm in zip(a, names, strict=True) if w)
        raw = prev + und.vol * (gap + paths.vol_mult * unit)
        frac = np.arange(len(raw)) / (len(raw) - 1)
        log_path = raw + frac * (close - raw[-1])
        return float(np.exp(prev)), log_path

    # -- contracts --------------------------------------------------------------------------

    def _expiries(self, und: Underlying, s: _Session) -> tuple[list[date], list[str], list[str]]:
        """Listed (date, root, kind) of the day: dailies within 7 calendar days on the listed
        weekdays, week-ending sessions within 35 days, third Fridays within ~100 days, and
        the quarterly third Fridays (Mar/Jun/Sep/Dec) within `und.quarterly_days`."""
        out: dict[tuple[date, str], str] = {}
        sessions = s.dates
        for i, d in enumerate(sessions):
            if (d - s.date).days > 100:
                if (d - s.date).days > und.quarterly_days:
                    break
                third_friday = _third_friday(d.year, d.month)
                if d.month % 3 == 0 and (
                    d == third_friday
                    or (
                        not xclock.is_session(third_friday)
                        and d == xclock.previous_session(third_friday)
                    )
                ):
                    out[(d, und.monthly_root)] = "quarterly"
                continue
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
        out: list[np.ndarray] = []
        prev_band: tuple[float, float] | None = None
        prev_step = 0.0
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
                # Where the coarser step is not a multiple of the finer one (2.5 after 1),
                # its first strike can land within a fine step of the band's edge (82.5
                # beside 83): not listed, so no gap is narrower than the finer step.
                inner = np.concatenate(out)
                gap = np.abs(grid[:, None] - inner[None, :]).min(axis=1) if len(inner) else None
                if gap is not None:
                    grid = grid[gap > prev_step - 1e-9]
            out.append(grid)
            prev_band, prev_step = (a, b), step
        strikes = np.unique(np.round(np.concatenate(out), 6))
        return strikes[strikes > 0]

    def symbol_day(self, symbol: str, s: _Session) -> _SymbolDay:
        got = self._days.get((symbol, s.date))
        if got is not None:
            self._days.move_to_end((symbol, s.date))
            return got
        und = self.underlying(symbol)
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
        served = len(self.symbols) if self.symbols is not None else len(self._synthetic) + 5
        while len(self._days) > 2 * max(served, 1) + 2:
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
        oi: np.ndarray = np.floor(side_total * weight / side_sum + rng.random(len(strike)))
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
        ticker = parse_ticker(symbol)
        if ticker is None:
            raise FeedError(f"unknown symbol: {ticker_error(symbol)}", vendor="sim")
        symbol = ticker
        if self.symbols is not None and symbol not in self.symbols:
            raise FeedError(
                f"unknown symbol {symbol!r} (feeds.sim.symbols lists {', '.join(self.symbols)})",
                vendor="sim",
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
