"""The simulated market: determinism, clock, calendar, strike grids, quote sanity, trades."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgeflow.engine import clock as xclock
from hedgeflow.engine.chain import ARRAY_FIELDS, OptionChain, chain_from_dict, chain_to_dict
from hedgeflow.feeds.base import Feed, open_feed
from hedgeflow.feeds.errors import FeedError
from hedgeflow.feeds.sim import NY, SimFeed
from hedgeflow.feeds.sim.market import _smile

SYMBOLS = ("SPX", "SPY", "QQQ", "NDX", "IWM")
# Wednesday 18 Nov 2026: a regular session two days before the November monthly
# (third Friday = 20 Nov 2026).
WED = datetime(2026, 11, 18, 10, 30, tzinfo=NY)


def ny(y: int, m: int, d: int, hh: int = 10, mm: int = 30) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=NY)


def feed(seed: int = 7, start: datetime = WED, **kw: object) -> SimFeed:
    return SimFeed(seed=seed, start=start, speed=0.0, **kw)  # type: ignore[arg-type]


def assert_same_chain(a: OptionChain, b: OptionChain) -> None:
    assert a.symbol == b.symbol
    assert a.as_of == b.as_of
    assert a.spot == b.spot
    assert a.spot_note == b.spot_note
    for name in ARRAY_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=name)  # NaN == NaN here
        else:
            assert np.array_equal(x, y), name


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_same_seed_same_clock_identical(symbol: str) -> None:
    a, b = feed(), feed()
    assert_same_chain(a.chain_at(symbol, WED), b.chain_at(symbol, WED))


def test_snapshot_independent_of_poll_history() -> None:
    """The tape cache must not change the answer: forward polls, a jump back, and a fresh
    feed all give identical chains at the same clock."""
    t1, t2 = WED + timedelta(minutes=20), WED + timedelta(hours=3)
    a = feed()
    for minutes in range(0, 200, 7):
        a.chain_at("SPX", WED + timedelta(minutes=minutes))
    late = a.chain_at("SPX", t2)
    early = a.chain_at("SPX", t1)  # the clock went back
    fresh = feed()
    assert_same_chain(early, fresh.chain_at("SPX", t1))
    assert_same_chain(late, fresh.chain_at("SPX", t2))


def test_different_seed_differs() -> None:
    a, b = feed(seed=7).chain_at("SPX", WED), feed(seed=8).chain_at("SPX", WED)
    assert a.spot != b.spot
    n = min(len(a), len(b))
    assert not np.array_equal(a.open_interest[:n], b.open_interest[:n])


def test_start_day_does_not_change_the_market() -> None:
    """Snapshots depend on (seed, clock), not on where the clock started."""
    a = feed(start=ny(2026, 11, 2)).chain_at("QQQ", WED)
    b = feed(start=WED).chain_at("QQQ", WED)
    assert_same_chain(a, b)


def test_chain_json_round_trip_is_exact() -> None:
    chain = feed().chain_at("SPX", WED + timedelta(minutes=45))
    assert_same_chain(chain_from_dict(chain_to_dict(chain)), chain)


# --------------------------------------------------------------------------- clock


class FakeWall:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_clock_accelerated_advance_and_at() -> None:
    wall = FakeWall()
    f = SimFeed(seed=1, start=WED, speed=60.0, wall=wall)
    assert f.clock() == WED
    wall.t += 2.5  # 2.5 wall seconds at 60x = 150 simulated seconds
    assert f.clock() == WED + timedelta(seconds=150)
    f.advance(30)
    assert f.clock() == WED + timedelta(seconds=180)
    target = ny(2026, 11, 19, 14, 0)
    f.at(target)
    assert f.clock() == target
    wall.t += 1.0
    assert f.clock() == target + timedelta(seconds=60)


async def test_snapshot_is_at_the_clock() -> None:
    f = feed()
    async with f as entered:
        assert isinstance(entered, Feed)
        chain = await entered.snapshot("SPY")
    assert chain.as_of == WED
    assert_same_chain(chain, feed().chain_at("SPY", WED))
    exps = await f.expirations("SPY")
    assert [e.timestamp() for e in exps] == chain.expiries().tolist()


def test_frozen_clock_with_speed_zero() -> None:
    wall = FakeWall()
    f = SimFeed(seed=1, start=WED, speed=0.0, wall=wall)
    wall.t += 100.0
    assert f.clock() == WED


def test_saturday_is_closed_market_documented() -> None:
    """A Saturday clock shows Friday's close: stale spot (marked), Friday's final volume, no
    trading, only unexpired series; the first expiry is Monday's PM daily."""
    f = feed(start=ny(2026, 11, 21, 11, 0))
    sat_am = f.chain_at("SPX", ny(2026, 11, 21, 11, 0))
    sat_pm = f.chain_at("SPX", ny(2026, 11, 21, 15, 0))
    fri_close = ny(2026, 11, 20, 16, 0)
    assert sat_am.spot_note.startswith("stale")
    assert sat_am.spot == sat_pm.spot
    np.testing.assert_array_equal(sat_am.volume, sat_pm.volume)
    assert (sat_am.expiry > sat_am.as_of_epoch).all()
    first = datetime.fromtimestamp(float(sat_am.expiries()[0]), NY)
    assert first == ny(2026, 11, 23, 16, 0)
    # The spot is Friday's last print.
    fri = f.chain_at("SPX", fri_close - timedelta(seconds=1))
    assert fri.spot_note == ""
    assert abs(sat_am.spot / fri.spot - 1.0) < 2e-3


def test_auto_start_on_a_weekend_is_the_latest_session() -> None:
    f = SimFeed(start="auto", speed=0.0, wall_now=ny(2026, 11, 22, 12, 0))  # Sunday
    assert f.clock() == ny(2026, 11, 20, 10, 30)
    g = SimFeed(start="auto", speed=0.0, wall_now=ny(2026, 11, 18, 11, 0))  # in session
    assert g.clock() == ny(2026, 11, 18, 11, 0)


def test_naive_start_is_new_york_time() -> None:
    f = SimFeed(start="2026-11-18T10:30:00", speed=0.0)
    assert f.clock() == WED


# --------------------------------------------------------------------------- calendar


def test_third_friday_spx_am_and_spxw_pm() -> None:
    chain = feed().chain_at("SPX", WED)
    third_friday = date(2026, 11, 20)
    am = xclock.settlement_time("SPX", third_friday)
    pm = xclock.settlement_time("SPXW", third_friday)
    # Independent of the clock module: 09:30 and 16:00 New York on that date.
    assert am == ny(2026, 11, 20, 9, 30) and pm == ny(2026, 11, 20, 16, 0)
    spx = chain.root == "SPX"
    assert spx.any()
    assert am.timestamp() in set(chain.expiry[spx].tolist())
    for e in np.unique(chain.expiry[spx]):  # every AM series: 09:30 on a Friday
        local = datetime.fromtimestamp(float(e), NY)
        assert (local.hour, local.minute, local.weekday()) == (9, 30, 4)
        assert 15 <= local.day <= 21
    spxw_that_day = (chain.root == "SPXW") & (chain.expiry == pm.timestamp())
    assert spxw_that_day.any()
    # Same date, same strikes near the money, different settlement times.
    assert np.isin(chain.strike[spxw_that_day], chain.strike[spx]).mean() > 0.9


def test_monthly_am_series_gone_after_the_open() -> None:
    f = feed()
    before = f.chain_at("SPX", ny(2026, 11, 20, 9, 29))
    after = f.chain_at("SPX", ny(2026, 11, 20, 9, 31))
    am = ny(2026, 11, 20, 9, 30).timestamp()
    assert ((before.root == "SPX") & (before.expiry == am)).any()
    assert not (after.expiry == am).any()
    assert (after.root == "SPX").any()  # the December monthly is still listed
    # NDX lists only its AM root on the third Friday: no NDX 0DTE that day.
    ndx = f.chain_at("NDX", ny(2026, 11, 20, 10, 0))
    assert ndx.expiries()[0] > ny(2026, 11, 20, 16, 0).timestamp()


def test_early_close_settlement() -> None:
    """Friday after Thanksgiving 2026 closes at 13:00: PM dailies settle then."""
    chain = feed().chain_at("SPY", ny(2026, 11, 25, 11, 0))
    day_after = ny(2026, 11, 27, 13, 0).timestamp()
    assert day_after in set(chain.expiry.tolist())
    assert ny(2026, 11, 27, 16, 0).timestamp() not in set(chain.expiry.tolist())


def test_daily_and_mwf_listing() -> None:
    f = feed()
    weekdays = {}
    for sym in SYMBOLS:
        chain = f.chain_at(sym, ny(2026, 12, 1, 10, 0))  # a Tuesday
        weekdays[sym] = {
            datetime.fromtimestamp(float(e), NY).weekday()
            for e in chain.expiries()
            if float(e) < ny(2026, 12, 8, 0, 0).timestamp()
        }
    assert weekdays["SPX"] == weekdays["SPY"] == weekdays["QQQ"] == {0, 1, 2, 3, 4}
    assert weekdays["NDX"] == weekdays["IWM"] == {0, 2, 4}


# --------------------------------------------------------------------------- strikes, quotes


def modal_spacing_near(chain: OptionChain, expiry: float, band: float = 0.02) -> float:
    k = np.unique(chain.strike[chain.expiry == expiry])
    near = np.abs(k[:-1] / chain.spot - 1.0) < band
    d = np.diff(k)[near]
    values, counts = np.unique(d, return_counts=True)
    return float(values[np.argmax(counts)])


@pytest.mark.parametrize(
    ("symbol", "step", "far_step"),
    [
        ("SPX", 5.0, 25.0),
        ("SPY", 1.0, 5.0),
        ("QQQ", 1.0, 5.0),
        ("IWM", 1.0, 5.0),
        ("NDX", 25.0, 50.0),
    ],
)
def test_strike_spacing(symbol: str, step: float, far_step: float) -> None:
    chain = feed().chain_at(symbol, WED)
    for e in chain.expiries():
        assert modal_spacing_near(chain, float(e)) == step
    k = np.unique(chain.strike)
    far = k[:-1] < chain.spot * 0.85
    assert np.diff(k)[far].min() >= far_step


def test_spx_0dte_size() -> None:
    chain = feed().chain_at("SPX", WED)
    first = chain.expiry == chain.expiries()[0]
    assert 400 <= first.sum() <= 560  # ~480 options 0DTE, like the real chain
    assert 5000 <= len(chain) <= 10000


@pytest.mark.parametrize("symbol", SYMBOLS)
@pytest.mark.parametrize("when", [WED, ny(2026, 11, 18, 15, 55), ny(2026, 11, 18, 20, 0)])
def test_quotes_sane(symbol: str, when: datetime) -> None:
    c = feed().chain_at(symbol, when)
    assert np.isfinite(c.spot) and c.spot > 0
    for name in (
        "strike",
        "expiry",
        "bid",
        "ask",
        "volume",
        "open_interest",
        "multiplier",
        "vendor_iv",
    ):
        assert np.isfinite(getattr(c, name)).all(), name
    assert (c.bid >= 0).all() and (c.ask > 0).all()
    assert (c.bid <= c.ask).all()
    assert (c.open_interest >= 0).all() and (c.open_interest == np.round(c.open_interest)).all()
    # last and last_trade_time are NaN exactly where nothing traded this session.
    traded = c.volume > 0
    assert np.isfinite(c.last[traded]).all() and np.isnan(c.last[~traded]).all()
    assert np.isfinite(c.last_trade_time[traded]).all()
    assert (c.last_trade_time[traded] <= c.as_of_epoch).all()
    # Calls worth at least discounted intrinsic on the forward, roughly: ask >= intrinsic - tick.
    intrinsic = np.where(c.is_call, c.spot - c.strike, c.strike - c.spot)
    tau = (c.expiry - c.as_of_epoch) / 31_536_000.0
    assert (
        c.ask >= np.maximum(intrinsic, 0) * np.exp(-0.06 * tau) - 0.5 * c.spot * tau - 0.1
    ).all()


def test_unknown_symbol_raises_feed_error() -> None:
    with pytest.raises(FeedError, match="unknown symbol"):
        feed(symbols=["SPX"]).chain_at("QQQ", WED)


def test_from_config_and_registry() -> None:
    f = open_feed(
        "sim", {"seed": 3, "start": "2026-11-18T10:30:00-05:00", "speed": 0, "symbols": "spx,spy"}
    )
    assert isinstance(f, SimFeed)
    assert f.clock() == WED
    assert f.market.symbols == f.symbols == ("SPX", "SPY")
    assert SimFeed(start=WED).symbols is None  # any ticker
    assert SimFeed.from_config({"symbols": []}).symbols is None
    with pytest.raises(ValueError, match="feeds.sim.colour"):
        SimFeed.from_config({"colour": 1})
    with pytest.raises(ValueError, match="feeds.sim.speed"):
        SimFeed.from_config({"speed": -1})
    with pytest.raises(ValueError, match="start"):
        SimFeed.from_config({"start": "yesterday"})
    with pytest.raises(ValueError, match="symbols.*'TS-LA' is not a ticker"):
        SimFeed.from_config({"symbols": ["SPX", "TS-LA"]})
    assert SimFeed.from_config({"symbols": ["SPX", "tsla"]}).symbols == ("SPX", "TSLA")


# --------------------------------------------------------------------------- smile


def test_smile_shape() -> None:
    z = np.linspace(-12, 12, 2001)
    f = _smile(z, -0.7, 0.6)
    assert f[1000] == pytest.approx(1.0)
    assert (f > 0).all()
    # Slope at the money is beta * rho / 2 (central difference).
    h = 1e-6
    slope = (_smile(np.array(h), -0.7, 0.6) - _smile(np.array(-h), -0.7, 0.6)) / (2 * h)
    assert slope == pytest.approx(0.6 * -0.7 / 2, rel=1e-6)
    # Put skew: the put wing is above the call wing at the same distance.
    assert (f[:1000][::-1] > f[1001:]).all()


def test_atm_vol_moves_against_spot() -> None:
    """Skew stickiness R > 1: when spot falls below the smile anchor, the IV at the money
    rises (vol up, spot down), and more so with a larger R."""
    f = feed()
    day = f.market.symbol_day("SPX", f.market.session_of(WED.timestamp()))
    s = np.exp(day.log_path - day.log_anchor)
    i = int(np.argmin(s))  # spot furthest below the anchor
    t = day.session.open + i
    chain = f.chain_at("SPX", datetime.fromtimestamp(t, UTC))
    far = chain.expiry == chain.expiries()[-1]
    atm = np.argmin(np.abs(chain.strike - chain.spot) + (~far) * 1e9)
    iv = {}
    for r in (0.0, 1.0, 1.5):
        g = feed(skew_stickiness=r).chain_at("SPX", datetime.fromtimestamp(t, UTC))
        iv[r] = g.vendor_iv[atm]
    assert s[i] < 1.0
    assert iv[0.0] < iv[1.0] < iv[1.5]


# --------------------------------------------------------------------------- trades


def test_volume_non_decreasing_within_session_and_reset_next_day() -> None:
    f = feed()
    prev = None
    key = None
    for minutes in range(-60, 420, 15):  # 09:30 - 1h to after the close
        c = f.chain_at("SPY", ny(2026, 11, 18, 9, 30) + timedelta(minutes=minutes))
        k = {
            (r, e, s, cp): v
            for r, e, s, cp, v in zip(c.root, c.expiry, c.strike, c.is_call, c.volume, strict=True)
        }
        if prev is not None:
            common = set(k) & set(prev)
            assert all(k[x] >= prev[x] for x in common)
        prev, key = k, c
    assert key is not None and key.volume.sum() > 0
    next_morning = f.chain_at("SPY", ny(2026, 11, 19, 8, 0))
    assert next_morning.volume.sum() == 0
    assert np.isnan(next_morning.last).all()
    before_open = f.chain_at("SPY", ny(2026, 11, 18, 9, 0))
    assert before_open.volume.sum() == 0


def test_trades_move_live_flow() -> None:
    """Between two snapshots, traded contracts show prints at the ask (customer buys), at the
    bid (customer sells) and in between, with last_trade_time after the previous snapshot."""
    f = feed()
    a = f.chain_at("SPX", WED)
    b = f.chain_at("SPX", WED + timedelta(seconds=20))
    assert np.array_equal(a.strike, b.strike)
    traded = (b.volume > a.volume) & (b.last_trade_time > a.as_of_epoch)
    assert traded.sum() >= 5
    buys = traded & (b.last >= b.ask) & (b.last >= a.ask)
    sells = traded & (b.last <= b.bid) & (b.last <= a.bid)
    assert buys.sum() >= 1 and sells.sum() >= 1
    # Untraded contracts keep their last print.
    same = b.volume == a.volume
    np.testing.assert_array_equal(a.last[same], b.last[same])


def test_spot_paths_correlate_like_the_etfs_they_mimic() -> None:
    f = feed()
    t = [WED + timedelta(minutes=m) for m in range(0, 330, 5)]
    spx = np.array([f.chain_at("SPX", x).spot for x in t])
    spy = np.array([f.chain_at("SPY", x).spot for x in t])
    r1, r2 = np.diff(np.log(spx)), np.diff(np.log(spy))
    assert np.corrcoef(r1, r2)[0, 1] > 0.95
    assert 5.0 < spx.mean() / spy.mean() < 15.0


# --------------------------------------------------------------------------- calendar edges


def test_holiday_and_early_close() -> None:
    f = feed()
    wed_close = f.chain_at("SPY", ny(2026, 11, 25, 16, 0))
    thanksgiving = f.chain_at("SPY", ny(2026, 11, 26, 12, 0))
    assert thanksgiving.spot_note.startswith("stale")
    assert thanksgiving.spot == wed_close.spot
    # Friday 27 Nov 2026 closes at 13:00: live at 12:59, closed at 13:30.
    assert f.chain_at("SPY", ny(2026, 11, 27, 12, 59)).spot_note == ""
    late = f.chain_at("SPY", ny(2026, 11, 27, 13, 30))
    assert late.spot_note.startswith("stale")
    assert (late.expiry > ny(2026, 11, 27, 13, 30).timestamp()).all()


def test_monday_open_follows_friday_close() -> None:
    f = feed()
    fri = f.chain_at("SPX", ny(2026, 11, 20, 15, 59))
    mon = f.chain_at("SPX", ny(2026, 11, 23, 9, 31))
    assert mon.spot_note == "" and fri.spot_note == ""
    assert abs(np.log(mon.spot / fri.spot)) < 0.03  # an overnight gap, not a new market
    assert 0 < mon.volume.sum() < fri.volume.sum()


def test_delayed_sim_quotes() -> None:
    f = SimFeed(seed=7, start=WED, speed=0.0, delay_seconds=900.0)
    c = f.chain_at("SPY", f.clock())
    assert c.as_of == WED - timedelta(minutes=15)
    assert c.delay_seconds == 900.0
    assert_same_chain(c, replace_source(feed().chain_at("SPY", WED - timedelta(minutes=15)), c))


def replace_source(a: OptionChain, like: OptionChain) -> OptionChain:
    from dataclasses import replace

    return replace(a, delay_seconds=like.delay_seconds)


# --------------------------------------------------------------------------- properties


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    minutes=st.integers(0, 7 * 24 * 60),
    symbol=st.sampled_from(SYMBOLS),
)
def test_invariants_hold_at_any_time(seed: int, minutes: int, symbol: str) -> None:
    """For any seed and any minute of a week (sessions, nights, the weekend): finite quotes,
    0 <= bid <= ask, only unexpired series, sorted by expiry, keys unique, and the same
    answer twice."""
    when = ny(2026, 11, 16, 0, 0) + timedelta(minutes=minutes)
    f = feed(seed=seed, start=when)
    c = f.chain_at(symbol, when)
    assert np.isfinite(c.spot) and c.spot > 0
    assert np.isfinite(c.bid).all() and np.isfinite(c.ask).all()
    assert ((c.bid >= 0) & (c.bid <= c.ask)).all()
    assert (c.expiry > c.as_of_epoch).all()
    assert (np.diff(c.expiry) >= 0).all()
    keys = np.rec.fromarrays([c.root, c.expiry, c.strike, c.is_call])
    assert len(np.unique(keys)) == len(c)
    assert_same_chain(c, feed(seed=seed, start=when).chain_at(symbol, when))


def test_listed_symbols_do_not_change_the_market() -> None:
    assert_same_chain(feed(symbols=["SPY"]).chain_at("SPY", WED), feed().chain_at("SPY", WED))
