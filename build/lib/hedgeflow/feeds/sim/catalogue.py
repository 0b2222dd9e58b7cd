"""The catalogue of simulated underlyings: levels, vols, strike grids, expiry schedules,
factor loadings (`UNDERLYINGS`), and how open interest splits across expiry kinds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Underlying:
    """Static description of one simulated underlying.

    spot : reference level, points; vol : base ATM vol (decimal, trading-time annualized);
    q : dividend yield, decimal/year; spacing : ((k_lo, k_hi, step), ...) strike step inside
    the log-moneyness band [k_lo, k_hi], innermost (finest) first; the last band covers the
    rest; grid : minimal (k_lo, k_hi) listed range of an expiry; loadings : weights on
    (market, tech, small, own noise), unit variance in total; quarterly_days : how far out
    (calendar days) the third Fridays of March, June, September and December are listed
    beyond the monthlies (0: none, as for the five built-in underlyings).
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
    quarterly_days: int = 0


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
_OI_WEIGHT = {
    "daily": 0.15,
    "weekly": 0.45,
    "monthly": 0.5,
    "monthly-main": 2.5,
    "quarterly": 1.2,
}
