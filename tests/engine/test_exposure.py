"""Dealer positions and per-strike exposures: by hand, by finite differences, by model."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from hedgeflow.engine.black76 import DAYS_PER_YEAR, greeks
from hedgeflow.engine.book import ExpiryBook
from hedgeflow.engine.books import build_expiry_book
from hedgeflow.engine.enums import PositioningModel
from hedgeflow.engine.exposure import compute_exposures, option_exposures, positions
from hedgeflow.engine.types import IVSurface
from tests.engine.smile_chains import synthetic_chain

AS_OF = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def two_strike_book(model: PositioningModel, tau_days: float = 30.0) -> ExpiryBook:
    """Two strikes: 95 (a put with OI 2000 and a call with OI 500) and 105 (a call, OI 1000).

    S = 100, r = 5 %, q = 2 %, sigma 0.22 at 95 and 0.18 at 105, multiplier 100.
    """
    S, r, q = 100.0, 0.05, 0.02
    tau = tau_days / 365.0
    K = np.array([95.0, 95.0, 105.0])
    is_call = np.array([False, True, True])
    oi = np.array([2000.0, 500.0, 1000.0])
    iv = np.array([0.22, 0.22, 0.18])
    expiration = AS_OF + timedelta(days=tau_days)
    surface = IVSurface(
        expiration, np.array([95.0, 105.0]), np.array([0.22, 0.18]), np.array([0.22, 0.18])
    )
    return ExpiryBook(
        symbol="X",
        roots=("X",),
        expiration=expiration,
        as_of=AS_OF,
        spot=S,
        forward=S * math.exp((r - q) * tau),
        r=r,
        q=q,
        tau=tau,
        strike=K,
        is_call=is_call,
        position=positions(oi, is_call, model),
        multiplier=np.full(3, 100.0),
        iv=iv,
        surface=surface,
    )


def hand_greeks(S, K, tau, sigma, r, q, call):
    """Scalar textbook formulas (Haug ch. 2): gamma, vanna (per 1.00 vol), charm per day."""
    sq = sigma * math.sqrt(tau)
    d1 = (math.log(S / K) + (r - q + 0.5 * sigma * sigma) * tau) / sq
    d2 = d1 - sq
    pdf = math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    N = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))  # noqa: E731
    eq = math.exp(-q * tau)
    gamma = eq * pdf / (S * sq)
    vanna = -eq * pdf * d2 / sigma
    common = eq * pdf * (2 * (r - q) * tau - d2 * sq) / (2 * tau * sq)
    charm = (q * eq * N(d1) if call else -q * eq * N(-d1)) - common
    return gamma, vanna, charm / 365.0


@pytest.mark.parametrize(
    ("model", "sign_put", "sign_call"),
    [
        (PositioningModel.STANDARD, -1.0, 1.0),
        (PositioningModel.FLOE, 1.0, -1.0),
        (PositioningModel.SHORT_ALL, -1.0, -1.0),
    ],
)
def test_two_strike_exposures_by_hand(model, sign_put, sign_call):
    book = two_strike_book(model)
    e = compute_exposures(book)
    S, m = 100.0, 100.0
    np.testing.assert_array_equal(e.strikes, [95.0, 105.0])
    legs = [  # strike index, K, sigma, call, OI
        (0, 95.0, 0.22, False, 2000.0),
        (0, 95.0, 0.22, True, 500.0),
        (1, 105.0, 0.18, True, 1000.0),
    ]
    gex, vex, cex = np.zeros(2), np.zeros(2), np.zeros(2)
    for i, K, sig, call, oi in legs:
        pos = (sign_call if call else sign_put) * oi
        g, v, c = hand_greeks(S, K, book.tau, sig, 0.05, 0.02, call)
        gex[i] += pos * g * m * S * S * 0.01
        vex[i] += pos * v * m * S * 0.01
        cex[i] += pos * c * m * S
    np.testing.assert_allclose(e.gamma, gex, rtol=1e-12)
    np.testing.assert_allclose(e.vanna, vex, rtol=1e-12)
    np.testing.assert_allclose(e.charm, cex, rtol=1e-12)
    assert e.spot == S and e.expiration == book.expiration


def test_floe_is_minus_standard():
    std = compute_exposures(two_strike_book(PositioningModel.STANDARD))
    floe = compute_exposures(two_strike_book(PositioningModel.FLOE))
    for a, b in ((std.gamma, floe.gamma), (std.vanna, floe.vanna), (std.charm, floe.charm)):
        np.testing.assert_array_equal(a, -b)


def test_exposures_are_dollar_delta_changes():
    """GEX = $ delta change for +1 % spot (linear), VEX per +1 vol point, CEX per day:
    checked against central differences of the dealers' share delta valued at spot."""
    book = two_strike_book(PositioningModel.STANDARD)
    S, m = book.spot, 100.0

    def dollar_delta(spot=S, dvol=0.0, dtau=0.0):
        g = greeks(spot, book.strike, book.tau + dtau, book.iv + dvol, book.r, book.q, book.is_call)
        return book.position * g.delta * m * S  # valued at today's spot

    h = 1e-5
    gex = (dollar_delta(S * (1 + h)) - dollar_delta(S * (1 - h))) / (2 * h) * 0.01
    vex = (dollar_delta(dvol=h) - dollar_delta(dvol=-h)) / (2 * h) * 0.01
    dt = h / DAYS_PER_YEAR
    cex = -(dollar_delta(dtau=dt) - dollar_delta(dtau=-dt)) / (2 * h)
    g, v, c, _ = option_exposures(book)
    np.testing.assert_allclose(g, gex, rtol=1e-6)
    np.testing.assert_allclose(v, vex, rtol=1e-6)
    np.testing.assert_allclose(c, cex, rtol=1e-5)


def test_positions_models():
    oi = np.array([10.0, 20.0, 30.0])
    call = np.array([True, False, True])
    np.testing.assert_array_equal(positions(oi, call, PositioningModel.STANDARD), [10, -20, 30])
    np.testing.assert_array_equal(positions(oi, call, PositioningModel.FLOE), [-10, 20, -30])
    np.testing.assert_array_equal(positions(oi, call, PositioningModel.SHORT_ALL), [-10, -20, -30])
    np.testing.assert_array_equal(positions(oi, call, "floe"), [-10, 20, -30])


def test_under_a_minute_no_greek_exposure():
    book = two_strike_book(PositioningModel.STANDARD, tau_days=59.0 / 86400.0)
    e = compute_exposures(book)
    assert (e.gamma == 0).all() and (e.vanna == 0).all() and (e.charm == 0).all()
    # from 60 s on the greeks count (strikes at the money, where a minute still has gamma)
    at_money = np.array([100.0, 100.0, 100.02])
    later = replace(
        two_strike_book(PositioningModel.STANDARD, tau_days=61.0 / 86400.0), strike=at_money
    )
    assert (compute_exposures(later).gamma != 0).all()
    sooner = replace(book, strike=at_money)
    assert (compute_exposures(sooner).gamma == 0).all()


def test_unheld_nan_greek_is_zero_held_one_propagates():
    book = two_strike_book(PositioningModel.STANDARD)
    nan_iv = replace(book, iv=np.array([0.22, np.nan, 0.18]))
    unheld = replace(nan_iv, position=np.array([-2000.0, 0.0, 1000.0]))
    e = compute_exposures(unheld)
    assert np.isfinite(e.gamma).all()
    e2 = compute_exposures(nan_iv)
    assert np.isnan(e2.gamma[0]) and np.isfinite(e2.gamma[1])


def test_chain_with_open_interest_at_two_strikes():
    chain, truth = synthetic_chain(minutes=3 * 1440.0, step=10.0, width=0.08)
    oi = np.where(np.isin(chain.strike, [4900.0, 5100.0]), 1000.0, 0.0)
    chain = replace(chain, open_interest=oi)
    book = build_expiry_book(chain, truth["expiry"], r=0.045, positioning=PositioningModel.STANDARD)
    e = compute_exposures(book)
    assert np.all(np.diff(e.strikes) > 0)
    held = np.isin(e.strikes, [4900.0, 5100.0])
    assert (e.gamma[~held] == 0).all() and (e.charm[~held] == 0).all()
    # by hand at the book's own S, q and smoothed IV: calls +1000, puts -1000 at each strike
    for K in (4900.0, 5100.0):
        sig = book.surface.smoothed_iv[book.surface.strikes == K][0]
        gex = vex = cex = 0.0
        for call, pos in ((True, 1000.0), (False, -1000.0)):
            g, v, c = hand_greeks(book.spot, K, book.tau, sig, book.r, book.q, call)
            gex += pos * g * 100 * book.spot**2 * 0.01
            vex += pos * v * 100 * book.spot * 0.01
            cex += pos * c * 100 * book.spot
        i = int(np.flatnonzero(e.strikes == K)[0])
        assert e.gamma[i] == pytest.approx(gex, rel=1e-10, abs=1e-6)
        assert e.vanna[i] == pytest.approx(vex, rel=1e-10, abs=1e-6)
        assert e.charm[i] == pytest.approx(cex, rel=1e-10)


def test_unsorted_book_is_aggregated_by_strike():
    book = two_strike_book(PositioningModel.STANDARD)
    order = np.array([2, 0, 1])
    shuffled = replace(
        book,
        strike=book.strike[order],
        is_call=book.is_call[order],
        position=book.position[order],
        multiplier=book.multiplier[order],
        iv=book.iv[order],
    )
    a, b = compute_exposures(book), compute_exposures(shuffled)
    np.testing.assert_array_equal(a.strikes, b.strikes)
    np.testing.assert_allclose(a.gamma, b.gamma, rtol=1e-15)


def test_many_books_at_once_equal_one_by_one():
    from hedgeflow.engine.books import build_expiry_books
    from hedgeflow.engine.exposure import compute_exposures_many

    chain, _ = synthetic_chain(
        minutes=120.0, step=10.0, width=0.08, extra_expiries=(1440.0, 9000.0)
    )
    books, _ = build_expiry_books(chain, r=0.045, positioning=PositioningModel.STANDARD)
    books.append(two_strike_book(PositioningModel.FLOE, tau_days=30.0 / 86400.0))  # < 60 s
    books.append(two_strike_book(PositioningModel.SHORT_ALL))
    many = compute_exposures_many(books)
    assert compute_exposures_many([]) == []
    for book, got in zip(books, many, strict=True):
        one = compute_exposures(book)
        np.testing.assert_array_equal(got.strikes, one.strikes)
        for name in ("gamma", "vanna", "charm", "delta"):
            np.testing.assert_array_equal(getattr(got, name), getattr(one, name))
        for side in ("calls", "puts"):
            for name in ("gamma", "vanna", "charm", "delta"):
                np.testing.assert_array_equal(
                    getattr(getattr(got, side), name), getattr(getattr(one, side), name)
                )
        assert got.spot == one.spot and got.expiration == one.expiration


def hand_delta(S, K, tau, sigma, r, q, call):
    """Scalar textbook spot delta: e^{-q tau} N(d1) for a call, -e^{-q tau} N(-d1) for a put."""
    d1 = (math.log(S / K) + (r - q + 0.5 * sigma * sigma) * tau) / (sigma * math.sqrt(tau))
    N = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))  # noqa: E731
    eq = math.exp(-q * tau)
    return eq * N(d1) if call else -eq * N(-d1)


def test_dex_by_hand_on_two_strikes_calls_and_puts_apart():
    """DEX_K = pos * delta * m * S, per right and in total, on the two-strike book by hand:
    at 95 the dealers are short 2000 puts (long delta) and long 500 calls; at 105 long
    1000 calls."""
    book = two_strike_book(PositioningModel.STANDARD)
    e = compute_exposures(book)
    S, m, tau = 100.0, 100.0, book.tau
    put95 = -2000.0 * hand_delta(S, 95.0, tau, 0.22, 0.05, 0.02, False) * m * S
    call95 = 500.0 * hand_delta(S, 95.0, tau, 0.22, 0.05, 0.02, True) * m * S
    call105 = 1000.0 * hand_delta(S, 105.0, tau, 0.18, 0.05, 0.02, True) * m * S
    assert e.delta is not None and e.calls is not None and e.puts is not None
    np.testing.assert_allclose(e.delta, [put95 + call95, call105], rtol=1e-12)
    np.testing.assert_allclose(e.calls.delta, [call95, call105], rtol=1e-12)
    np.testing.assert_allclose(e.puts.delta, [put95, 0.0], rtol=1e-12, atol=1e-9)
    # short puts are long delta; every number positive here, and in $ of underlying:
    # 2000 puts x 100 shares x |delta| ~0.2 x $100 ~ $4M
    assert put95 > 0 and 1e6 < put95 < 1e7
    for name in ("gamma", "vanna", "charm", "delta"):
        total = getattr(e, name)
        np.testing.assert_allclose(
            getattr(e.calls, name) + getattr(e.puts, name), total, rtol=1e-12, atol=1e-9
        )
    # the puts' gamma at 95 is the dealers' short gamma there (negative), by hand
    g, _, _ = hand_greeks(S, 95.0, tau, 0.22, 0.05, 0.02, False)
    assert e.puts.gamma[0] == pytest.approx(-2000.0 * g * m * S * S * 0.01, rel=1e-12)


def test_dex_is_minus_under_floe_positioning():
    std = compute_exposures(two_strike_book(PositioningModel.STANDARD))
    floe = compute_exposures(two_strike_book(PositioningModel.FLOE))
    assert std.delta is not None and floe.delta is not None
    np.testing.assert_array_equal(std.delta, -floe.delta)


def test_dex_finite_difference_relates_to_gex():
    """Moving spot at fixed IV: d DEX / dS * S * 0.01 = GEX + 0.01 * DEX (the dealers'
    delta changes by GEX per 1 %, and the delta they hold is valued at the new spot)."""
    for book in (
        two_strike_book(PositioningModel.STANDARD),
        two_strike_book(PositioningModel.SHORT_ALL, tau_days=2.0),
    ):
        S, h = book.spot, 2e-6
        up = compute_exposures(replace(book, spot=S * (1 + h)))
        down = compute_exposures(replace(book, spot=S * (1 - h)))
        e = compute_exposures(book)
        assert up.delta is not None and down.delta is not None and e.delta is not None
        fd = (up.delta - down.delta) / (2 * h) * 0.01
        np.testing.assert_allclose(fd, e.gamma + 0.01 * e.delta, rtol=1e-5)
        # and the gamma part alone: the delta change valued at today's spot
        fd_fixed = (up.delta / (1 + h) - down.delta / (1 - h)) / (2 * h) * 0.01
        np.testing.assert_allclose(fd_fixed, e.gamma, rtol=1e-5)


def test_dex_under_a_minute_is_the_payoff_delta():
    """Below 60 s the delta is the payoff's: the put at 95 and the call at 105 are out of
    the money (0), the call at 95 in the money (+500 x 100 x $100)."""
    book = two_strike_book(PositioningModel.STANDARD, tau_days=59.0 / 86400.0)
    e = compute_exposures(book)
    assert e.delta is not None
    np.testing.assert_allclose(e.delta, [500.0 * 100.0 * 100.0, 0.0])
    at_money = replace(book, strike=np.array([100.0, 100.0, 105.0]))
    e2 = compute_exposures(at_money)
    assert e2.delta is not None
    # at the strike: half a share each, the puts' -0.5 x -2000 and the calls' +0.5 x 500
    assert e2.delta[0] == pytest.approx((0.5 * 2000.0 + 0.5 * 500.0) * 100.0 * 100.0)


def test_sum_exposures_over_expiries_on_the_union_of_strikes():
    """Two expiries with different strikes: every array (DEX and each right included) is
    the sum strike by strike, a strike listed in one expiry only keeps its own value."""
    from hedgeflow.engine.exposure import sum_exposures

    near = compute_exposures(two_strike_book(PositioningModel.STANDARD, tau_days=2.0))
    far_book = two_strike_book(PositioningModel.STANDARD, tau_days=30.0)
    far = compute_exposures(replace(far_book, strike=np.array([95.0, 95.0, 110.0])))
    s = sum_exposures([near, far])
    np.testing.assert_array_equal(s.strikes, [95.0, 105.0, 110.0])
    for name in ("gamma", "vanna", "charm", "delta"):
        a, b = getattr(near, name), getattr(far, name)
        np.testing.assert_allclose(getattr(s, name), [a[0] + b[0], a[1], b[1]], rtol=1e-15)
        for side in ("calls", "puts"):
            a, b = getattr(getattr(near, side), name), getattr(getattr(far, side), name)
            got = getattr(getattr(s, side), name)
            np.testing.assert_allclose(got, [a[0] + b[0], a[1], b[1]], rtol=1e-15)
    assert s.spot == near.spot and s.expiration == near.expiration
    bare = replace(far, delta=None, calls=None)
    t = sum_exposures([near, bare])
    assert t.delta is None and t.calls is None and t.puts is not None
    with pytest.raises(ValueError, match="no exposures"):
        sum_exposures([])
