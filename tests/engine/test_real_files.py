"""Physical invariants of the engine on every real CBOE export in tests/data/real/.

Each file is analyzed once (default expiry "next", the physical model, standard positioning)
with RuntimeWarnings turned into errors, then checked against numbers computed here from
scratch: the file is re-read by a minimal CSV reader below (not `hedgeflow.feeds.files`), greeks come
from closed-form Black-Scholes/Black-76 written here with numpy (not `hedgeflow.black76`),
and only the engine's smoothed IVs, forward and spot are taken as inputs. Expected facts
(spot, quote time, roots, expiries) are from tests/data/real/README.md; settlement times and
sessions from the NYSE calendar (16:00 close, 09:30 AM settlement); the sign rule, units
and horizon rules from DESIGN.md; the futures mapping (SPX/SPY -> ES 50, MES 5, SPY ratio 10;
NDX/QQQ -> NQ 20, MNQ 2, QQQ ratio 41) from DESIGN.md and tui/config.py; the regimes from
the CBOE volatility indices at the close of each file's date (VIX 66.04 on 2020-03-20,
27.29 on 2022-07-12, 13.83 on 2023-06-09, 12.82 on 2023-09-14, 12.35 on 2023-12-08).
"""

from __future__ import annotations

import csv
import math
import re
import warnings
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from scipy.special import ndtr

from hedgeflow.engine import labels
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import EngineModel, ImpulseRegime, MarketRegime
from hedgeflow.engine.pipeline import analyze_chain
from hedgeflow.engine.types import ExpiryAnalysis, FuturesContract, PressureCloudConfig
from hedgeflow.feeds.files import read_chain_file

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
NY = ZoneInfo("America/New_York")
YEAR_S = 365.0 * 86400.0
RATE = EngineConfig().rate  # r of the engine's default configuration
MULTIPLIER = 100.0  # every CBOE index/ETF option in these files: 100 shares per contract
R_STICKY = EngineConfig().impulse.skew_stickiness


def ny(y: int, mo: int, d: int, h: int, mi: int) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=NY)


ES = (FuturesContract("ES", 50.0), FuturesContract("MES", 5.0))
NQ = (FuturesContract("NQ", 20.0), FuturesContract("MNQ", 2.0))


@dataclass(frozen=True)
class Case:
    """What a user must see for one file, and where each fact comes from (module docstring).

    expiry : the settlement of the expiry "next" must pick (the first live one: a file saved
        after the close or on a weekend skips the expired same-day series).
    horizon : the charm integral's end (DESIGN: the expiry for a same-day expiry, today's
        close for later ones, after the close the next session's close, never past expiry).
    regimes : acceptable volatility regimes given the index's close that day.
    flip : True when the repriced profile has a flip within the +-3 % grid (measured; with
        dealers long calls and short puts the flip sits just below spot), False for the COVID
        Sunday file, where the put-heavy book keeps H < 0 across the grid.
    """

    file: str
    symbol: str
    as_of: datetime
    expiry: datetime
    horizon: datetime
    futures: tuple[FuturesContract, ...]
    ratio: float
    regimes: tuple[MarketRegime, ...]
    flip: bool = True


CALM, NORMAL, STRESSED, CRISIS = (
    MarketRegime.CALM,
    MarketRegime.NORMAL,
    MarketRegime.STRESSED,
    MarketRegime.CRISIS,
)

CASES = {
    c.file: c
    for c in (
        # Monday intraday; same-day NDXP (PM) live
        Case(
            "ndx_quotedata_2023-05-15.csv",
            "NDX",
            ny(2023, 5, 15, 12, 9),
            ny(2023, 5, 15, 16, 0),
            ny(2023, 5, 15, 16, 0),
            NQ,
            1.0,
            (CALM, NORMAL),
        ),
        # Monday 16:35, after the close: the same-day series expired, next is Tue 16:00
        Case(
            "qqq_quotedata_2023-06-12.csv",
            "QQQ",
            ny(2023, 6, 12, 16, 35),
            ny(2023, 6, 13, 16, 0),
            ny(2023, 6, 13, 16, 0),
            NQ,
            41.0,
            (NORMAL, STRESSED),
        ),
        # Sunday evening in the COVID crash: next is Monday's SPXW at 16:00
        Case(
            "spx_quotedata_2020-03-22.dat",
            "SPX",
            ny(2020, 3, 22, 18, 24),
            ny(2020, 3, 23, 16, 0),
            ny(2020, 3, 23, 16, 0),
            ES,
            1.0,
            (CRISIS,),
            flip=False,
        ),
        # Tuesday intraday 0DTE
        Case(
            "spx_quotedata_2022-07-12.csv",
            "SPX",
            ny(2022, 7, 12, 11, 55),
            ny(2022, 7, 12, 16, 0),
            ny(2022, 7, 12, 16, 0),
            ES,
            1.0,
            (STRESSED,),
        ),
        # Friday intraday 0DTE
        Case(
            "spx_quotedata_2023-06-09.csv",
            "SPX",
            ny(2023, 6, 9, 13, 40),
            ny(2023, 6, 9, 16, 0),
            ny(2023, 6, 9, 16, 0),
            ES,
            1.0,
            (CALM,),
        ),
        # Thursday 16:31: next is the AM-settled SPX monthly, Fri 09:30 (before the next close)
        Case(
            "spx_quotedata_2023-09-14.csv",
            "SPX",
            ny(2023, 9, 14, 16, 31),
            ny(2023, 9, 15, 9, 30),
            ny(2023, 9, 15, 9, 30),
            ES,
            1.0,
            (CALM,),
        ),
        # Saturday: Dec 8 expired; next is Monday's SPXW, the next session's close
        Case(
            "spx_quotedata_2023-12-09.csv",
            "SPX",
            ny(2023, 12, 9, 13, 49),
            ny(2023, 12, 11, 16, 0),
            ny(2023, 12, 11, 16, 0),
            ES,
            1.0,
            (CALM,),
        ),
        # Thursday 16:31: the same-day SPY series still has greeks in the file but expired
        Case(
            "spy_quotedata_2023-09-14.csv",
            "SPY",
            ny(2023, 9, 14, 16, 31),
            ny(2023, 9, 15, 16, 0),
            ny(2023, 9, 15, 16, 0),
            ES,
            10.0,
            (CALM,),
        ),
    )
}


# ------------------------------------------------------------------ independent reader


@dataclass(frozen=True)
class Rows:
    """One expiry's rows of a CBOE file, per unique strike (ascending)."""

    strike: np.ndarray
    call_oi: np.ndarray
    put_oi: np.ndarray
    call_gamma: np.ndarray  # the vendor's Gamma column, per share per point
    put_gamma: np.ndarray


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _expiry_date(text: str) -> date | None:
    for fmt in ("%a %b %d %Y", "%m/%d/%Y"):
        try:
            # a calendar date (no time of day), so no timezone is involved
            return datetime.strptime(text.strip(), fmt).date()  # noqa: DTZ007
        except ValueError:
            continue
    return None


def read_rows(path: Path, expiry: date, roots: tuple[str, ...]) -> Rows:
    """Rows of `expiry` whose call symbol's root is in `roots`. Positions relative to the
    `Strike` column (README "Parser notes"): call Gamma -2, call OI -1, put Gamma +9, put
    OI +10."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    head = next(i for i, r in enumerate(rows) if r and r[0].startswith("Expiration Date"))
    s = rows[head].index("Strike")
    K, coi, poi, cg, pg = [], [], [], [], []
    for r in rows[head + 1 :]:
        if len(r) <= s + 10 or _expiry_date(r[0]) != expiry:
            continue
        m = re.match(r"[A-Z]+", r[1])
        if m is None or m.group(0) not in roots:
            continue
        K.append(_num(r[s]))
        coi.append(_num(r[s - 1]))
        cg.append(_num(r[s - 2]))
        poi.append(_num(r[s + 10]))
        pg.append(_num(r[s + 9]))
    k = np.array(K)
    uk, inv = np.unique(k, return_inverse=True)

    def per(v: list[float]) -> np.ndarray:
        return np.bincount(inv, weights=np.array(v), minlength=uk.size)

    return Rows(uk, per(coi), per(poi), per(cg), per(pg))


# ------------------------------------------------------------------ independent greeks


@dataclass(frozen=True)
class Market:
    """Spot, forward, tau and the implied q of one analysis, with per-strike IVs."""

    S: float
    F: float
    tau: float
    q: float
    strike: np.ndarray
    iv: np.ndarray

    @classmethod
    def of(cls, a: ExpiryAnalysis) -> Market:
        S, F, tau = a.spot, a.forward, a.surface.tau
        assert tau == pytest.approx((a.expiration - a.as_of).total_seconds() / YEAR_S, rel=1e-12)
        return cls(
            S, F, tau, RATE - math.log(F / S) / tau, a.surface.strikes, a.surface.smoothed_iv
        )

    def iv_at(self, strikes: np.ndarray) -> np.ndarray:
        """The smoothed IV at each of `strikes` (which must be surface strikes)."""
        idx = np.searchsorted(self.strike, strikes)
        assert np.array_equal(self.strike[idx], strikes)
        return self.iv[idx]


def phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def d1_of(S: float, K: np.ndarray, tau: float, sigma: np.ndarray, q: float) -> np.ndarray:
    return (np.log(S / K) + (RATE - q) * tau + 0.5 * sigma * sigma * tau) / (sigma * np.sqrt(tau))


def dealer_share_delta(mk: Market, rows: Rows, S: float, sigma: np.ndarray, tau: float) -> float:
    """sum pos m Delta with standard positioning (call +OI, put -OI); tau <= 0 is the payoff."""
    if tau <= 0:
        call = np.where(S > rows.strike, 1.0, np.where(S < rows.strike, 0.0, 0.5))
        put = call - 1.0
    else:
        d1 = d1_of(S, rows.strike, tau, sigma, mk.q)
        eq = math.exp(-mk.q * tau)
        call, put = eq * ndtr(d1), -eq * ndtr(-d1)
    return float(np.sum(MULTIPLIER * (rows.call_oi * call - rows.put_oi * put)))


def parabola_log_slopes(strike: np.ndarray, iv: np.ndarray) -> np.ndarray:
    """d sigma / d ln K at interior nodes: the parabola through each node and its two
    neighbours (NaN at the two ends)."""
    x = np.log(strike)
    h0, h1 = x[1:-1] - x[:-2], x[2:] - x[1:-1]
    s0, s1 = (iv[1:-1] - iv[:-2]) / h0, (iv[2:] - iv[1:-1]) / h1
    out = np.full(iv.shape, np.nan)
    out[1:-1] = (h1 * s0 + h0 * s1) / (h0 + h1)
    return out


# ------------------------------------------------------------------ fixtures


@dataclass(frozen=True)
class Result:
    case: Case
    a: ExpiryAnalysis
    floe: ExpiryAnalysis
    rows: Rows
    mk: Market


def _config(case: Case, model: EngineModel = EngineModel.PHYSICAL) -> EngineConfig:
    cloud = PressureCloudConfig(
        contract_multiplier=case.futures[0].multiplier,
        product=case.futures[0].name,
        futures=case.futures,
        futures_ratio=case.ratio,
    )
    return EngineConfig(model=model, cloud=cloud)


_CACHE: dict[str, Result] = {}


def result(name: str) -> Result:
    if name not in _CACHE:
        case = CASES[name]
        chain = read_chain_file(REAL / name)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # check 8: no warning anywhere
            a = analyze_chain(chain, config=_config(case))
            floe = analyze_chain(chain, config=_config(case, EngineModel.FLOE))
        rows = read_rows(REAL / name, a.expiration.astimezone(NY).date(), a.roots)
        _CACHE[name] = Result(case, a, floe, rows, Market.of(a))
    return _CACHE[name]


NAMES = sorted(CASES)
assert NAMES == sorted(p.name for p in REAL.iterdir() if p.suffix in (".csv", ".dat")), (
    "every real file must have a case"
)


# ------------------------------------------------------------------ 1. units and sign


@pytest.mark.parametrize("name", NAMES)
def test_analyzes_the_next_live_expiry(name: str) -> None:
    r = result(name)
    assert r.a.symbol == r.case.symbol
    assert r.a.as_of == r.case.as_of
    assert r.a.expiration == r.case.expiry
    assert r.a.expiration > r.a.as_of
    assert r.a.minutes_to_expiry == pytest.approx(
        (r.case.expiry - r.case.as_of).total_seconds() / 60.0
    )


@pytest.mark.parametrize("name", NAMES)
def test_strike_exposures_match_independent_black_scholes(name: str) -> None:
    """GEX_K = pos gamma m S^2 0.01 and VEX_K = pos vanna m S 0.01 (DESIGN units), pos from
    the file's OI (call +, put -), gamma and vanna from closed forms on the engine's
    smoothed IV, forward and spot, q implied by F = S e^{(r - q) tau}."""
    r = result(name)
    mk, rows, ex = r.mk, r.rows, r.a.exposure
    np.testing.assert_array_equal(ex.strikes, rows.strike)
    np.testing.assert_array_equal(mk.strike, rows.strike)
    d1 = d1_of(mk.S, rows.strike, mk.tau, mk.iv, mk.q)
    d2 = d1 - mk.iv * math.sqrt(mk.tau)
    eq = math.exp(-mk.q * mk.tau)
    gamma = eq * phi(d1) / (mk.S * mk.iv * math.sqrt(mk.tau))
    vanna = -eq * phi(d1) * d2 / mk.iv
    net = rows.call_oi - rows.put_oi  # a call and a put share gamma and vanna
    gex = net * gamma * MULTIPLIER * mk.S * mk.S * 0.01
    vex = net * vanna * MULTIPLIER * mk.S * 0.01
    np.testing.assert_allclose(ex.gamma, gex, rtol=0, atol=1e-9 * np.abs(gex).sum())
    np.testing.assert_allclose(ex.vanna, vex, rtol=0, atol=1e-9 * np.abs(vex).sum())


@pytest.mark.parametrize("name", NAMES)
def test_gex_agrees_with_the_vendors_gamma_column(name: str) -> None:
    """The naive vendor-greek GEX (the file's Gamma column x OI x 100 x S^2 x 0.01, call +,
    put -) has the engine's sign and order of magnitude. They differ because the vendor's
    greeks run on its own clock (intraday PM series as if settled at 16:15; after the close
    and on weekends with the last close's time to expiry), on its own IVs, rounded to 4
    decimals, and on the file's Last rather than a parity-consistent spot."""
    r = result(name)
    rows = r.rows
    vendor = float(
        np.sum((rows.call_gamma * rows.call_oi - rows.put_gamma * rows.put_oi) * MULTIPLIER)
        * r.mk.S**2
        * 0.01
    )
    engine = float(np.sum(r.a.exposure.gamma))
    assert np.sign(engine) == np.sign(vendor)
    assert 0.5 < engine / vendor < 2.0, (engine, vendor)


# ------------------------------------------------------------------ 2. hedge impulse


@pytest.mark.parametrize("name", NAMES)
def test_coupling_is_vol_points_per_percent_from_the_smile_slope(name: str) -> None:
    """k_K = -(R - 1) d sigma / d ln K (vol points per +1 %, DESIGN), the slope from the
    smoothed smile at interior strikes."""
    r = result(name)
    c = r.a.hedge_flow.impulse_curve
    np.testing.assert_array_equal(c.strikes, r.mk.strike)
    k = -(R_STICKY - 1.0) * parabola_log_slopes(r.mk.strike, r.mk.iv)
    inner = slice(1, -1)
    np.testing.assert_allclose(c.strike_coupling[inner], k[inner], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_impulse_total_is_the_dealers_delta_change_per_percent(name: str) -> None:
    """H = sum GEX_K - k_K VEX_K equals the central finite difference of the dealers' $
    delta (valued at S) for a +-0.001 % move with every strike's IV moved by -k_K vol points
    per +1 %; the repriced profile at spot equals the same total."""
    r = result(name)
    mk, rows = r.mk, r.rows
    c = r.a.hedge_flow.impulse_curve
    k = np.asarray(c.strike_coupling)
    h = 1e-5
    up = dealer_share_delta(mk, rows, mk.S * (1 + h), mk.iv - k * h, mk.tau)
    dn = dealer_share_delta(mk, rows, mk.S * (1 - h), mk.iv + k * h, mk.tau)
    fd = (up - dn) / (2 * h) * 0.01 * mk.S
    gross = float(np.sum(np.abs(c.strike_impulse)))
    assert c.impulse_total == pytest.approx(fd, abs=1e-4 * gross)
    ex = r.a.exposure
    assert c.impulse_total == pytest.approx(float(np.sum(ex.gamma - k * ex.vanna)), rel=1e-12)
    assert r.a.repriced is not None
    assert r.a.repriced.impulse_at_spot == pytest.approx(c.impulse_total, rel=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_flip_level_near_spot_and_named_nearest(name: str) -> None:
    """A flip of the repriced profile lies within 1 % of spot (measured: 0.08-0.40 % below
    spot on every file but 2020), and the named one is the nearest."""
    r = result(name)
    rep = r.a.repriced
    assert rep is not None
    if not r.case.flip:
        # none in the plotted ±3 %: the 2020 book amplifies across the whole grid; the level
        # search beyond it (issue 10 item 5) may find one further out (+9 % on that file)
        assert all(not rep.price[0] <= f.price <= rep.price[-1] for f in rep.flip_levels)
        assert np.all(rep.impulse < 0)
        return
    flips = [f.price for f in rep.flip_levels]
    assert rep.nearest_flip == min(flips, key=lambda p: abs(p - r.a.spot))
    assert abs(rep.nearest_flip / r.a.spot - 1.0) < 0.01


@pytest.mark.parametrize("name", NAMES)
def test_impulse_regime_and_words_follow_the_strike_total(name: str) -> None:
    r = result(name)
    c = r.a.hedge_flow.impulse_curve
    total = c.impulse_total
    if c.regime is ImpulseRegime.PINNED:
        assert total > 0
    if c.regime is ImpulseRegime.EXPANSION:
        assert total < 0
    word = labels.impulse_effect(total)
    assert word == (labels.DAMPENS if total > 0 else labels.AMPLIFIES)
    # standard positioning is dealers long calls, short puts: pinned on every file but the
    # put-heavy COVID Sunday
    assert (total > 0) is r.case.flip


# ------------------------------------------------------------------ 3. charm integral


def _check_charm(case: Case, a: ExpiryAnalysis, rows: Rows, horizon: datetime) -> None:
    """Horizon, bucket count (step = max(15, ceil(minutes / 100)), DESIGN), the cumulative
    at the horizon against D(S, tau(horizon)) - D(S, tau(now)) with D = sum pos m Delta S
    (the last pre-expiry point 60 s before settlement), the settlement step against the
    payoff delta, and the words."""
    ch = a.hedge_flow.charm_integral
    assert ch.horizon == horizon
    minutes = (horizon - a.computed_at).total_seconds() / 60.0
    step = max(15.0, math.ceil(minutes / 100.0))
    n = math.ceil(minutes / step - 1e-9)
    assert len(ch.cumulative_cex) == n <= 101
    assert ch.bucket_time[-1] == pytest.approx(horizon.timestamp())
    mk = Market.of(a)
    iv = mk.iv_at(rows.strike)
    tau_now = (a.expiration - a.computed_at).total_seconds() / YEAR_S
    at_expiry = horizon >= a.expiration
    tau_end = (60.0 if at_expiry else (a.expiration - horizon).total_seconds()) / YEAR_S
    d_now = dealer_share_delta(mk, rows, mk.S, iv, tau_now) * mk.S
    d_end = dealer_share_delta(mk, rows, mk.S, iv, tau_end) * mk.S
    assert ch.total_charm_to_close == pytest.approx(d_end - d_now, rel=1e-9)
    if at_expiry:
        d_pay = dealer_share_delta(mk, rows, mk.S, iv, 0.0) * mk.S
        assert ch.settlement_step == pytest.approx(d_pay - d_end, rel=1e-9, abs=1.0)
    else:
        assert ch.settlement_step == 0.0
    trade = labels.charm_trade(ch.total_charm_to_close)
    assert ("dealers sell" in trade) == (ch.total_charm_to_close > 0)
    assert ("dealers buy" in trade) == (ch.total_charm_to_close < 0)


@pytest.mark.parametrize("name", NAMES)
def test_charm_integral_horizon_and_exact_delta_difference(name: str) -> None:
    r = result(name)
    _check_charm(r.case, r.a, r.rows, r.case.horizon)


@pytest.mark.parametrize(
    ("name", "expiry", "horizon"),
    [
        # a later expiry intraday: today's close
        ("spx_quotedata_2023-06-09.csv", date(2023, 6, 16), ny(2023, 6, 9, 16, 0)),
        # a later expiry after the close: the next session's close
        ("spx_quotedata_2023-09-14.csv", date(2023, 9, 18), ny(2023, 9, 15, 16, 0)),
        # the PM series of the same date after the close: its expiry is the next close
        ("spx_quotedata_2023-09-14.csv", date(2023, 9, 15), ny(2023, 9, 15, 16, 0)),
        # Saturday, a later expiry: Monday's close (the next session)
        ("spx_quotedata_2023-12-09.csv", date(2023, 12, 15), ny(2023, 12, 11, 16, 0)),
    ],
)
def test_charm_horizon_for_later_expiries(name: str, expiry: date, horizon: datetime) -> None:
    r = result(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        a = analyze_chain(
            read_chain_file(REAL / name), expiry=expiry, config=_config(r.case), all_expiries=False
        )
    assert a.expiration.astimezone(NY).date() == expiry
    rows = read_rows(REAL / name, expiry, a.roots)
    _check_charm(r.case, a, rows, horizon)


# ------------------------------------------------------------------ 4. contracts


@pytest.mark.parametrize("name", NAMES)
def test_hedge_contracts_by_hand(name: str) -> None:
    """-H / (multiplier x F_fut), F_fut = spot x ratio; negative = dealers sell; magnitudes
    in the hundreds to tens of thousands (measured 102 NQ for QQQ to 60,304 ES for the SPX
    0DTE), never floe's millions."""
    r = result(name)
    H = r.a.hedge_flow.impulse_curve.impulse_total
    fut = r.a.spot * r.case.ratio
    assert r.a.pressure_cloud.futures_price == pytest.approx(fut, rel=1e-12)
    got = r.a.pressure_cloud.total_contracts.contracts
    assert set(got) == {c.name for c in r.case.futures}
    for c in r.case.futures:
        assert got[c.name] == pytest.approx(-H / (c.multiplier * fut), rel=1e-12)
    main = got[r.case.futures[0].name]
    assert 50 <= abs(main) <= 100_000
    verb = labels.contracts_trade(main, r.case.futures[0].name)
    assert verb.startswith(labels.DEALERS_SELL if main < 0 else labels.DEALERS_BUY)


# ------------------------------------------------------------------ 5./6. regime, move


@pytest.mark.parametrize("name", NAMES)
def test_regime_matches_the_market_that_day(name: str) -> None:
    r = result(name)
    rp = r.a.hedge_flow.regime_params
    assert rp.regime in r.case.regimes, (rp.regime, rp.regime_iv, rp.atm_iv)
    # intraday 0DTE: the regime is not classified on the calendar-clock 0DTE IV itself
    if r.a.minutes_to_expiry < 390 and r.a.expiration.date() == r.a.as_of.date():
        assert rp.regime_iv < rp.atm_iv


def test_covid_sunday_reads_crisis_and_a_calm_0dte_does_not() -> None:
    """README: ATM IV ~0.99 on 2020-03-22 (crisis); the 2023-06-09 0DTE ATM IV (0.19 on the
    engine's clock, 140 minutes left) is above the 'normal' bin on its own but the nearest
    >= 7-day expiry (Jun 16, ~0.117) is calm."""
    covid = result("spx_quotedata_2020-03-22.dat").a.hedge_flow.regime_params
    assert covid.regime is MarketRegime.CRISIS and covid.regime_iv >= 0.35
    calm = result("spx_quotedata_2023-06-09.csv").a.hedge_flow.regime_params
    assert calm.atm_iv == pytest.approx(0.19, abs=0.01)
    assert calm.regime_iv == pytest.approx(0.117, abs=0.005)
    assert calm.regime is MarketRegime.CALM


@pytest.mark.parametrize("name", NAMES)
def test_expected_move_is_spot_vol_sqrt_tau_to_the_horizon(name: str) -> None:
    r = result(name)
    rp = r.a.hedge_flow.regime_params
    tau_h = (r.case.horizon - r.a.computed_at).total_seconds() / YEAR_S
    assert rp.expected_move == pytest.approx(r.a.spot * rp.atm_iv * math.sqrt(tau_h), rel=1e-12)
    # 2023-06-09: 4300.01 x 0.1919 x sqrt(140 / 525600) = 13.47 points
    if name == "spx_quotedata_2023-06-09.csv":
        assert rp.expected_move == pytest.approx(13.47, abs=0.02)


# ------------------------------------------------------------------ 7. floe profile


@pytest.mark.parametrize("name", NAMES)
def test_floe_profile_runs_and_its_words_follow_the_sign_rule(name: str) -> None:
    """floe's contracts are impulse(spot) / (multiplier x spot x 0.01) for its fixed
    NQ/MNQ/ES/MES set (DESIGN "floe profile"); the screen's `contracts` carry the sign rule
    (minus floe's), so the words follow the numbers."""
    f = result(name).floe
    assert f.model is EngineModel.FLOE and f.repriced is None
    c = f.hedge_flow.impulse_curve
    tc = f.pressure_cloud.total_contracts
    assert set(tc.contracts) == {"NQ", "MNQ", "ES", "MES"}
    for n, m in (("NQ", 20.0), ("MNQ", 2.0), ("ES", 50.0), ("MES", 5.0)):
        assert tc.contracts[n] == pytest.approx(-c.impulse_at_spot / (m * f.spot * 0.01), rel=1e-9)
        assert tc.floe_contracts[n.lower()] == pytest.approx(-tc.contracts[n], rel=1e-12)
    verb = labels.contracts_trade(tc.contracts["ES"], "ES")
    assert verb.startswith(labels.DEALERS_BUY if tc.contracts["ES"] > 0 else labels.DEALERS_SELL)
    cum = f.hedge_flow.charm_integral.total_charm_to_close
    assert ("dealers sell" in labels.charm_trade(cum)) == (cum > 0)


def test_floe_contracts_dwarf_the_physical_ones_on_the_spx_0dte() -> None:
    """Quirk 9 of METHOD.md: floe divides $ per 1 % by a $-per-point notional, which yields
    hundreds of thousands to millions of contracts (measured 622,161 ES on 2023-06-09 against
    the physical 60,304)."""
    r = result("spx_quotedata_2023-06-09.csv")
    floe_es = abs(r.floe.pressure_cloud.total_contracts.contracts["ES"])
    phys_es = abs(r.a.pressure_cloud.total_contracts.contracts["ES"])
    assert floe_es > 100_000 > phys_es
