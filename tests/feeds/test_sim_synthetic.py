"""Synthetic underlyings of the simulated market: any ticker the catalogue does not hold.

Determinism (same ticker and seed, any process), strike grids by price level, a weekly
equity's expiry calendar on the exchange calendar, and the realism checks the built-in
names pass (quotes, parity, butterflies, skew, open-interest walls, the engine's levels).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hedgeflow.engine import clock as xclock
from hedgeflow.engine.chain import ARRAY_FIELDS, OptionChain
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.pipeline import analyze_chain
from hedgeflow.engine.scope import analyze_scope
from hedgeflow.feeds.errors import FeedError
from hedgeflow.feeds.sim import NY, SimFeed
from hedgeflow.feeds.sim.catalogue import UNDERLYINGS
from hedgeflow.feeds.sim.synthetic import (
    LEVEL_RANGE,
    spacing_for,
    synthetic_underlying,
)
from hedgeflow.feeds.tickers import parse_ticker
from tests.feeds.test_sim import assert_same_chain

WED = datetime(2026, 11, 18, 10, 30, tzinfo=NY)  # two days before the November monthly
TICKERS = ("AAPL", "XYZ", "BRK.B", "A", "ZZZZZZ", "TSLA", "KO", "GME", "BF.A", "MSFT")


def ny(y: int, m: int, d: int, hh: int = 10, mm: int = 30) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=NY)


def feed(seed: int = 7, start: datetime = WED, **kw: object) -> SimFeed:
    return SimFeed(seed=seed, start=start, speed=0.0, **kw)  # type: ignore[arg-type]


def digest(c: OptionChain) -> str:
    h = hashlib.sha256(repr((c.symbol, c.spot, c.as_of.isoformat())).encode())
    for name in ARRAY_FIELDS:
        h.update(name.encode())
        h.update(np.ascontiguousarray(getattr(c, name)).tobytes())
    return h.hexdigest()


def local(e: float) -> datetime:
    return datetime.fromtimestamp(float(e), NY)


# --------------------------------------------------------------------------- tickers


@pytest.mark.parametrize(
    ("text", "ticker"),
    [
        ("aapl", "AAPL"),
        (" brk.b ", "BRK.B"),
        ("$spx", "SPX"),
        ("A", "A"),
        ("GOOGLL", "GOOGLL"),
        ("GOOGLLL", None),
        ("BRK.", None),
        ("BRK.BBB", None),
        ("12AB", None),
        ("X-Y", None),
        ("^VIX", None),
        ("", None),
        ("SP X", None),
    ],
)
def test_ticker_form(text: str, ticker: str | None) -> None:
    assert parse_ticker(text) == ticker


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("symbol", TICKERS)
def test_same_ticker_and_seed_identical_chain(symbol: str) -> None:
    a, b = feed(), feed()
    assert_same_chain(a.chain_at(symbol, WED), b.chain_at(symbol, WED))
    assert synthetic_underlying(symbol, 7) == synthetic_underlying(symbol, 7)


def test_different_tickers_and_seeds_differ() -> None:
    f = feed()
    chains = {s: f.chain_at(s, WED) for s in TICKERS}
    assert len({c.spot for c in chains.values()}) == len(TICKERS)
    assert len({digest(c) for c in chains.values()}) == len(TICKERS)
    params = {s: synthetic_underlying(s, 7) for s in TICKERS}
    assert len({(u.spot, u.vol, u.rho, u.oi_scale) for u in params.values()}) == len(TICKERS)
    other = feed(seed=8).chain_at("AAPL", WED)
    assert other.spot != chains["AAPL"].spot
    assert synthetic_underlying("AAPL", 8).spot != synthetic_underlying("AAPL", 7).spot


def test_stable_across_processes() -> None:
    """Another interpreter, with another string-hash salt, builds the same chain: the seed
    comes from blake2b of (seed, ticker), never the salted `hash`."""
    here = {s: digest(feed().chain_at(s, WED)) for s in ("AAPL", "BRK.B")}
    code = (
        "from datetime import datetime\n"
        "from hedgeflow.feeds.sim import NY, SimFeed\n"
        "from tests.feeds.test_sim_synthetic import digest\n"
        "w = datetime(2026, 11, 18, 10, 30, tzinfo=NY)\n"
        "f = SimFeed(seed=7, start=w, speed=0.0)\n"
        "print(digest(f.chain_at('AAPL', w)), digest(f.chain_at('BRK.B', w)))\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for salt in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": salt}
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            cwd=root,
            env=env,
            timeout=120,
            check=True,
        )
        assert out.stdout.split() == [here["AAPL"], here["BRK.B"]]


def test_asking_order_never_changes_an_answer() -> None:
    """A synthetic name asked first, last or alone: every chain (built-in or synthetic) is
    the same; the built-in names do not move for the synthetic ones."""
    alone_spx = feed().chain_at("SPX", WED)
    alone_xyz = feed().chain_at("XYZ", WED)
    f = feed()
    for s in ("XYZ", "AAPL", "QQQ", "KO"):
        f.chain_at(s, WED + timedelta(minutes=5))
    assert_same_chain(f.chain_at("SPX", WED), alone_spx)
    assert_same_chain(f.chain_at("XYZ", WED), alone_xyz)
    assert_same_chain(feed(symbols=["SPX"]).chain_at("SPX", WED), alone_spx)


def test_built_in_names_stay_catalogued() -> None:
    f = feed()
    for s in UNDERLYINGS:
        assert f.market.underlying(s) is UNDERLYINGS[s]


def test_restricted_sim_and_bad_tickers() -> None:
    f = feed(symbols=["AAPL", "spx"])
    assert f.symbols == ("AAPL", "SPX")
    assert f.chain_at("aapl", WED).symbol == "AAPL"
    with pytest.raises(FeedError, match="MSFT.*feeds.sim.symbols lists AAPL, SPX"):
        f.chain_at("MSFT", WED)
    with pytest.raises(FeedError, match="'X-1' is not a ticker"):
        feed().chain_at("X-1", WED)
    with pytest.raises(ValueError, match="symbols.*'12' is not a ticker"):
        feed(symbols=["AAPL", "12"])


# --------------------------------------------------------------------------- strike grids


@pytest.mark.parametrize(
    ("level", "steps"),
    [
        (5.0, (0.5, 1.0, 2.5)),
        (24.99, (0.5, 1.0, 2.5)),
        (25.0, (1.0, 2.5, 5.0)),
        (80.0, (1.0, 2.5, 5.0)),
        (180.0, (2.5, 5.0, 10.0)),
        (400.0, (5.0, 10.0, 25.0)),
        (999.0, (10.0, 25.0, 50.0)),
    ],
)
def test_spacing_by_price_level(level: float, steps: tuple[float, float, float]) -> None:
    assert spacing_for(level) == steps


def test_levels_spread_over_the_range() -> None:
    levels = np.array([synthetic_underlying(f"T{chr(65 + i % 26)}{i}", 7).spot for i in range(300)])
    assert (levels >= LEVEL_RANGE[0]).all() and (levels <= LEVEL_RANGE[1]).all()
    # log-uniform: each decade holds a fair share
    assert (levels < 25).mean() > 0.15 and (levels > 250).mean() > 0.15


def _multiple(k: np.ndarray, step: float) -> np.ndarray:
    return np.abs(k / step - np.round(k / step)) < 1e-9


@pytest.mark.parametrize("symbol", TICKERS)
def test_strike_grid_by_band(symbol: str) -> None:
    """Each expiry: no duplicate contract; near the money every strike on the near step and
    no gap wider; beyond the next band every strike on the far step, gaps of exactly it."""
    f = feed()
    c = f.chain_at(symbol, WED)
    und = f.market.underlying(symbol)
    near, mid, far = spacing_for(und.spot)
    center = f.market.symbol_day(symbol, f.market.session_of(WED.timestamp())).prev_close
    keys = np.rec.fromarrays([c.root, c.expiry, c.strike, c.is_call])
    assert len(np.unique(keys)) == len(c)
    for e in c.expiries():
        k = np.unique(c.strike[c.expiry == e])
        assert (k > 0).all()
        m = np.log(k / center)
        inner = k[(m >= und.spacing[0][0]) & (m <= und.spacing[0][1])]
        assert _multiple(inner, near).all(), (symbol, inner)
        assert len(inner) >= 8 and np.allclose(np.diff(inner), near)
        for side in (k[m < und.spacing[1][0]], k[m > und.spacing[1][1]]):
            assert _multiple(side, far).all(), (symbol, side)
            if len(side) > 1:
                assert np.allclose(np.diff(side), far)
        assert np.diff(k).min() >= near - 1e-9


@pytest.mark.parametrize("symbol", TICKERS)
def test_strikes_cover_the_moves(symbol: str) -> None:
    """Every expiry lists strikes at least 2.5 standard deviations (its ATM IV) either side of
    spot, and at least 25 % below and 20 % above."""
    c = feed().chain_at(symbol, WED)
    for e in c.expiries():
        on = c.expiry == e
        tau = (e - c.as_of_epoch) / 31_536_000.0
        atm = np.argmin(np.where(on, np.abs(c.strike - c.spot), np.inf))
        sd = c.vendor_iv[atm] * np.sqrt(tau)
        lo, hi = c.strike[on].min(), c.strike[on].max()
        assert lo <= c.spot * min(np.exp(-2.5 * sd), 0.75) + spacing_for(c.spot)[2], (symbol, e)
        assert hi >= c.spot * max(np.exp(2.5 * sd), 1.2) - spacing_for(c.spot)[2], (symbol, e)


# --------------------------------------------------------------------------- calendar


def test_weekly_equity_calendar() -> None:
    """Wednesday 18 Nov 2026: the weeklies of the next five weeks (the Friday after
    Thanksgiving closes at 13:00), the monthlies on third Fridays, and one quarterly (March)
    beyond them; every series PM-settled at the session close, New York time."""
    c = feed().chain_at("AAPL", WED)
    got = [local(e) for e in c.expiries()]
    assert got == [
        ny(2026, 11, 20, 16, 0),  # November monthly (third Friday)
        ny(2026, 11, 27, 13, 0),  # weekly, early close
        ny(2026, 12, 4, 16, 0),
        ny(2026, 12, 11, 16, 0),
        ny(2026, 12, 18, 16, 0),  # December monthly (and quarterly)
        ny(2027, 1, 15, 16, 0),  # monthlies
        ny(2027, 2, 19, 16, 0),
        ny(2027, 3, 19, 16, 0),  # March quarterly, 121 days out
    ]
    assert set(c.root.tolist()) == {"AAPL"}


def test_friday_holiday_moves_the_weekly_to_thursday() -> None:
    """Good Friday 2027 (26 March) the exchange is closed: that week's weekly settles on
    Thursday 25 March at 16:00. Juneteenth 2026 falls on the June third Friday: the June
    monthly settles on Thursday 18 June."""
    c = feed(start=ny(2027, 3, 22)).chain_at("XYZ", ny(2027, 3, 22))
    got = [local(e) for e in c.expiries()]
    assert got[0] == ny(2027, 3, 25, 16, 0)
    assert not any(d.date() == date(2027, 3, 26) for d in got)
    june = feed(start=ny(2026, 6, 1)).chain_at("XYZ", ny(2026, 6, 1))
    days = [local(e) for e in june.expiries()]
    assert ny(2026, 6, 18, 16, 0) in days
    assert not any(d.date() == date(2026, 6, 19) for d in days)


def test_settlement_1600_new_york_across_dst() -> None:
    """In February 2027 the March expiries settle after the clocks change (14 March): 16:00 New
    York is 21:00 UTC before and 20:00 UTC after."""
    c = feed(start=ny(2027, 2, 16)).chain_at("KO", ny(2027, 2, 16))
    utc_hours = {}
    for e in c.expiries():
        d = local(e)
        assert (d.hour, d.minute) == (16, 0) and d.weekday() in (3, 4)
        utc_hours[d.date()] = datetime.fromtimestamp(float(e), UTC).hour
    assert utc_hours[date(2027, 2, 19)] == 21
    assert utc_hours[date(2027, 3, 19)] == 20


def test_friday_0dte_and_am_settled_roots() -> None:
    """On an expiration Friday the weekly is a 0DTE; a ticker settled on the open (RUT) keeps
    its AM monthly at 09:30 and lists its PM weeklies under RUTW."""
    c = feed(start=ny(2026, 12, 4)).chain_at("AAPL", ny(2026, 12, 4))
    assert local(c.expiries()[0]) == ny(2026, 12, 4, 16, 0)
    rut = feed().chain_at("RUT", WED)
    am = rut.root == "RUT"
    assert {(local(e).hour, local(e).minute) for e in rut.expiry[am]} == {(9, 30)}
    for e in np.unique(rut.expiry[~am]):  # at the close: 16:00, 13:00 on 27 Nov
        assert local(e) == xclock.session_close(local(e).date())
    assert set(rut.root[~am].tolist()) == {"RUTW"}


# --------------------------------------------------------------------------- realism


@pytest.fixture(scope="module")
def chains() -> dict[str, tuple[OptionChain, SimFeed]]:
    out = {}
    for seed in (7, 8):
        f = feed(seed=seed)
        for s in TICKERS:
            out[f"{s}/{seed}"] = (f.chain_at(s, WED + timedelta(hours=1)), f)
    return out


def _pairs(c: OptionChain) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the call and the put of every (expiry, strike) listed with both."""
    calls = {
        (e, k): i
        for i, (e, k, cp) in enumerate(zip(c.expiry, c.strike, c.is_call, strict=True))
        if cp
    }
    ci, pi = [], []
    for i, (e, k, cp) in enumerate(zip(c.expiry, c.strike, c.is_call, strict=True)):
        if not cp and (e, k) in calls:
            ci.append(calls[(e, k)])
            pi.append(i)
    return np.array(ci), np.array(pi)


def test_quotes_sane(chains: dict) -> None:
    for name, (c, _) in chains.items():
        assert np.isfinite(c.spot) and c.spot > 0
        for field in ("bid", "ask", "vendor_iv", "open_interest", "volume"):
            assert np.isfinite(getattr(c, field)).all(), (name, field)
        assert (c.bid >= 0).all() and (c.bid <= c.ask).all(), name
        assert (c.open_interest == np.round(c.open_interest)).all()
        # penny increments below $3.00, nickels above
        big = c.ask > 3.0
        assert np.allclose(np.round(c.ask[big] / 0.05) * 0.05, c.ask[big]), name


def test_put_call_parity_within_the_spread(chains: dict) -> None:
    """C_mid - P_mid = DF (F - K) within half the two spreads (plus a tick of rounding), with
    the forward of the model's rate and the underlying's dividend yield."""
    for name, (c, f) in chains.items():
        q = f.market.underlying(c.symbol).q
        ci, pi = _pairs(c)
        tau = (c.expiry[ci] - c.as_of_epoch) / 31_536_000.0
        r = f.market.rate
        fwd = c.spot * np.exp((r - q) * tau)
        lhs = (c.bid[ci] + c.ask[ci]) / 2 - (c.bid[pi] + c.ask[pi]) / 2
        rhs = np.exp(-r * tau) * (fwd - c.strike[ci])
        room = (c.ask[ci] - c.bid[ci] + c.ask[pi] - c.bid[pi]) / 2 + 0.05
        assert (np.abs(lhs - rhs) <= room).all(), (name, np.max(np.abs(lhs - rhs) - room))


def test_no_butterfly_arbitrage_in_mids(chains: dict) -> None:
    """Call and put mids are convex in strike on every expiry (within a tick of rounding),
    and no butterfly can be bought for less than nothing at the quotes."""
    for name, (c, _) in chains.items():
        for e in c.expiries():
            for call in (True, False):
                on = (c.expiry == e) & (c.is_call == call)
                order = np.argsort(c.strike[on])
                k = c.strike[on][order]
                mid = ((c.bid + c.ask) / 2)[on][order]
                bid, ask = c.bid[on][order], c.ask[on][order]
                w1 = (k[2:] - k[1:-1]) / (k[2:] - k[:-2])
                w3 = 1.0 - w1
                fly_mid = w1 * mid[:-2] - mid[1:-1] + w3 * mid[2:]
                assert fly_mid.min() >= -0.05 - 1e-9, (name, e, call, fly_mid.min())
                fly_cost = w1 * ask[:-2] - bid[1:-1] + w3 * ask[2:]
                assert fly_cost.min() >= -1e-9, (name, e, call)


def _near(c: OptionChain, days: float) -> float:
    exps = c.expiries()
    return float(exps[np.argmin(np.abs((exps - c.as_of_epoch) / 86_400.0 - days))])


def _iv(c: OptionChain, e: float, strike: float, call: bool) -> float:
    ok = (c.expiry == e) & (c.is_call == call)
    return float(c.vendor_iv[np.argmin(np.where(ok, np.abs(c.strike - strike), np.inf))])


def test_smile_level_and_put_skew(chains: dict) -> None:
    """ATM IV ~30 days within the drawn range (times the term structure), put skew (95 % put
    above the 105 % call), steeper in vol terms on the nearest expiry than at 30 days."""
    for name, (c, _) in chains.items():
        e30 = _near(c, 30.0)
        atm = 0.5 * (_iv(c, e30, c.spot, True) + _iv(c, e30, c.spot, False))
        assert 0.12 <= atm <= 1.0, (name, atm)
        assert _iv(c, e30, 0.95 * c.spot, False) > _iv(c, e30, 1.05 * c.spot, True), name
        e0 = c.expiries()[0]
        step = spacing_for(c.spot)[0]
        near = _iv(c, e0, c.spot - 2 * step, False) - _iv(c, e0, c.spot + 2 * step, True)
        far = _iv(c, e30, c.spot - 2 * step, False) - _iv(c, e30, c.spot + 2 * step, True)
        assert near > far > 0, (name, near, far)


def wall_ratios(c: OptionChain, mult: float) -> np.ndarray:
    """Open interest of each strike that is a multiple of `mult` (within +-15 % of spot,
    expiries within 100 days) over the mean of its two listed neighbours, same expiry and
    side: how much a round strike stands out locally."""
    out = []
    for e in c.expiries():
        if e - c.as_of_epoch > 100 * 86_400.0:
            continue
        for call in (True, False):
            on = (c.expiry == e) & (c.is_call == call)
            order = np.argsort(c.strike[on])
            k, oi = c.strike[on][order], c.open_interest[on][order]
            for i in range(1, len(k) - 1):
                if _multiple(k[i : i + 1], mult)[0] and abs(k[i] / c.spot - 1) < 0.15:
                    out.append(oi[i] / max(0.5 * (oi[i - 1] + oi[i + 1]), 1.0))
    return np.array(out)


def test_open_interest_walls_and_concentration(chains: dict) -> None:
    """Round strikes carry more open interest than their neighbours (the median wall strike
    at least twice its neighbours' mean), and open interest gathers near the money (in the
    name's own standard deviations: a volatile name spreads it wider in percent)."""
    for name, (c, f) in chains.items():
        tested = 0
        for mult, _ in f.market.underlying(c.symbol).walls:
            ratios = wall_ratios(c, mult)
            if len(ratios) >= 2:  # a $8 name has no 5-dollar strike within 15 %
                assert np.median(ratios) > 2.0, (name, mult, ratios)
                tested += 1
        assert tested, name
        # Within one 60-day standard deviation of spot: 0.35-0.37 for the built-in names.
        sd = f.market.underlying(c.symbol).vol * np.sqrt(60.0 / 365.0)
        live = c.expiry - c.as_of_epoch < 100 * 86_400.0
        near = live & (np.abs(np.log(c.strike / c.spot)) < sd)
        share = c.open_interest[near].sum() / c.open_interest[live].sum()
        assert 0.2 <= share <= 0.6, (name, share)


def test_the_engine_finds_plausible_levels(chains: dict) -> None:
    """The full analysis runs without error; walls, max pain and the nearest flip are listed
    strikes or levels within the chain's range, walls within 25 % of spot."""
    config = EngineConfig()
    for name, (c, _) in chains.items():
        a = analyze_scope(c, config=config)
        lv = a.levels
        assert lv is not None, name
        assert np.isfinite(a.spot) and a.forward > 0
        for level in (lv.call_wall, lv.put_wall, lv.abs_gamma, lv.max_pain):
            assert level is not None and level in set(c.strike.tolist()), (name, level)
            assert abs(level / c.spot - 1) < 0.25, (name, level, c.spot)
        assert lv.expected_move > 0
        if lv.nearest_flip is not None:
            assert c.strike.min() <= lv.nearest_flip <= c.strike.max(), name


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    ticker=st.from_regex(r"[A-Z]{1,6}(\.[A-Z]{1,2})?", fullmatch=True),
    seed=st.integers(0, 10_000),
    minutes=st.integers(0, 7 * 24 * 60),
)
def test_the_engine_analyzes_any_ticker(ticker: str, seed: int, minutes: int) -> None:
    """Any ticker, any seed, any minute of a week (sessions, nights, the weekend): a valid
    chain that the engine analyzes into finite numbers."""
    when = ny(2026, 11, 16, 0, 0) + timedelta(minutes=minutes)
    c = feed(seed=seed, start=when).chain_at(ticker, when)
    assert c.symbol == ticker and np.isfinite(c.spot) and c.spot > 0
    assert ((c.bid >= 0) & (c.bid <= c.ask)).all()
    assert (c.expiry > c.as_of_epoch).all()
    a = analyze_chain(c, config=EngineConfig())
    assert a.symbol == ticker and np.isfinite(a.forward)
    assert np.isfinite(a.hedge_flow.impulse_curve.impulse).all()


def test_a_fifty_symbol_watchlist_analyzes() -> None:
    """Fifty tickers, low-priced names among them (a $6 name needs its $0.50 strikes out to
    +-6 steps, or its weekly has too few IVs for the engine): every one analyzes."""
    f = feed()
    names = [f"{a}{b}{c}" for a in "QWXZ" for b in "AEIOU" for c in "KMNRST"][:50]
    levels = [f.market.underlying(s).spot for s in names]
    assert min(levels) < 12.0  # the case that failed
    for s in names:
        a = analyze_chain(f.chain_at(s, WED), config=EngineConfig())
        assert a.symbol == s and np.isfinite(a.hedge_flow.impulse_curve.impulse).all()
