"""Repriced impulse profile and the all-expiry zero-gamma line (hedgeflow.reprice).

The FD proof that H(S) is the strike total, and that H(S') is the derivative of the
dealers' delta under the translation model, lives in test_impulse_fd.py.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from hedgeflow.engine.enums import CrossingDirection
from hedgeflow.engine.regime import smile_interpolant
from hedgeflow.engine.reprice import (
    attach_zero_gamma,
    compute_repriced_profile,
    smile_value_and_slope,
    zero_gamma_profile,
)
from tests.engine.option_books import SKEWED, make_book, smile


def scalar_h(S: float, K: float, tau: float, sigma: float, k: float, r: float, q: float) -> float:
    """(GEX - k VEX) per contract share at spot S: gamma S^2 0.01 - k vanna S 0.01 with the
    BSM closed forms gamma = e^{-q tau} phi(d1) / (S sigma sqrt(tau)),
    vanna = -e^{-q tau} phi(d1) d2 / sigma (Haug, "The Complete Guide", 2.2)."""
    st_ = sigma * math.sqrt(tau)
    d1 = (math.log(S / K) + (r - q + 0.5 * sigma * sigma) * tau) / st_
    d2 = d1 - st_
    pdf = math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    gamma = math.exp(-q * tau) * pdf / (S * st_)
    vanna = -math.exp(-q * tau) * pdf * d2 / sigma
    return gamma * S * S * 0.01 - k * vanna * S * 0.01


def test_smile_evaluation_matches_the_regime_interpolant() -> None:
    book = make_book(strikes=np.arange(5000.0, 6001.0, 50.0))
    sm = smile_interpolant(book.surface)
    K = np.concatenate(([4000.0, 5000.0], np.linspace(5001.0, 5999.0, 37), [6000.0, 7500.0]))
    value, slope = smile_value_and_slope(sm, np.log(K)[None, :])
    np.testing.assert_allclose(value[0], sm(K), rtol=1e-13)
    np.testing.assert_allclose(slope[0], sm.log_slope(K), rtol=1e-12, atol=1e-15)
    assert slope[0, 0] == 0.0 and slope[0, -1] == 0.0  # flat beyond the ends


@pytest.mark.parametrize("R", [0.0, 0.5, 1.5, 2.0, 3.0])
def test_one_option_matches_scalar_translation_model(R: float) -> None:
    # The smile is quadratic in ln K, which the Bessel-slope Hermite reproduces exactly, so
    # sigma(S') = quadratic(ln K - (1-R) ln(S'/S) - ln F) and k = -(R-1) * its derivative.
    strikes = np.arange(5000.0, 6001.0, 10.0)
    pos = np.zeros(strikes.size)
    j = int(np.flatnonzero(strikes == 5450.0)[0])
    pos[j] = -3.0
    book = make_book(strikes=strikes, puts=False, tau_days=2.0, position=pos)
    prices = np.array([5300.0, 5420.0, 5500.0, 5560.0, 5700.0])
    prof = compute_repriced_profile(book, prices, skew_stickiness=R)
    a, b, c = SKEWED
    lnF = math.log(book.forward)
    expected = []
    for s in prices:
        x = math.log(5450.0) - (1 - R) * math.log(s / book.spot) - lnF
        sigma = a + b * x + c * x * x
        k = -(R - 1) * (b + 2 * c * x)
        expected.append(-3.0 * 100.0 * scalar_h(s, 5450.0, book.tau, sigma, k, book.r, book.q))
    np.testing.assert_allclose(prof.impulse, expected, rtol=1e-9)
    assert prof.skew_stickiness == R


def test_sticky_strike_is_fixed_iv_gamma() -> None:
    book = make_book(tau_days=0.4)
    prices = book.spot * (1 + np.arange(-40, 41) * 0.001)
    prof = compute_repriced_profile(book, prices, skew_stickiness=1.0)
    line, levels = zero_gamma_profile([book], prices)
    np.testing.assert_allclose(prof.impulse, line, rtol=1e-12)
    assert levels == tuple(c.price for c in prof.flip_levels)


def test_surface_slope_override() -> None:
    book = make_book(tau_days=0.4)
    prices = book.spot * (1 + np.arange(-5, 6) * 0.002)
    sm = smile_interpolant(book.surface)
    same = compute_repriced_profile(book, prices, surface_slope=sm.slope)
    ref = compute_repriced_profile(book, prices)
    np.testing.assert_array_equal(same.impulse, ref.impulse)
    # Zero node slopes: no coupling at the nodes, so H(S) is the fixed-IV gamma total.
    flat = compute_repriced_profile(book, prices, surface_slope=np.zeros_like(sm.slope))
    gamma_only, _ = zero_gamma_profile([book], np.array([book.spot]))
    assert flat.impulse_at_spot == pytest.approx(gamma_only[0], rel=1e-12)
    assert flat.impulse_at_spot != pytest.approx(ref.impulse_at_spot, rel=1e-3)
    with pytest.raises(ValueError, match="surface_slope"):
        compute_repriced_profile(book, prices, surface_slope=np.zeros(3))


def test_stickiness_is_clamped() -> None:
    book = make_book(tau_days=0.4)
    prices = book.spot * (1 + np.arange(-5, 6) * 0.002)
    high = compute_repriced_profile(book, prices, skew_stickiness=7.0)
    three = compute_repriced_profile(book, prices, skew_stickiness=3.0)
    np.testing.assert_array_equal(high.impulse, three.impulse)
    assert high.skew_stickiness == 3.0


def _two_wall_book():
    # Rows are (put, call) per strike: dealers short 2500 puts at 5400 (negative gamma
    # below) and long 2000 calls at 5600 (positive gamma above).
    pos = np.array([-2500.0, 0.0, 0.0, 2000.0])
    return make_book(strikes=np.array([5400.0, 5600.0]), tau_days=2.0, position=pos)


def test_flip_level_is_located_and_directed() -> None:
    book = _two_wall_book()
    prices = np.arange(5300.0, 5700.1, 2.0)
    prof = compute_repriced_profile(book, prices, skew_stickiness=1.0)
    assert len(prof.flip_levels) == 1
    flip = prof.flip_levels[0]
    assert flip.direction is CrossingDirection.RISING  # negative below, positive above
    assert prof.nearest_flip == flip.price

    def h(s: float) -> float:
        total = 0.0
        for K, p in ((5400.0, -2500.0), (5600.0, 2000.0)):
            sigma = float(smile(np.log(K / book.forward)))
            total += p * 100.0 * scalar_h(s, K, book.tau, sigma, 0.0, book.r, book.q)
        return total

    exact = brentq(h, 5400.0, 5600.0, xtol=1e-10)
    assert flip.price == pytest.approx(exact, abs=0.05)  # linear interpolation on a 2-pt grid
    i = np.searchsorted(prices, flip.price)
    assert prof.impulse[i - 1] < 0 < prof.impulse[i]


def test_mirror_positions_mirror_the_profile() -> None:
    book = make_book(tau_days=0.5)
    prices = book.spot * (1 + np.arange(-30, 31) * 0.001)
    a = compute_repriced_profile(book, prices, skew_stickiness=1.5)
    b = compute_repriced_profile(
        replace(book, position=-book.position), prices, skew_stickiness=1.5
    )
    np.testing.assert_allclose(b.impulse, -a.impulse, rtol=1e-12)
    assert [c.price for c in a.flip_levels] == pytest.approx([c.price for c in b.flip_levels])
    assert all(
        x.direction != y.direction for x, y in zip(a.flip_levels, b.flip_levels, strict=True)
    )


def test_nearest_flip_is_nearest_spot() -> None:
    book = make_book(tau_days=0.3, strikes=np.arange(4900.0, 6100.0, 5.0))
    prices = book.spot * (1 + np.arange(-60, 61) * 0.0005)
    prof = compute_repriced_profile(book, prices)
    assert len(prof.flip_levels) >= 2
    dist = [abs(c.price - book.spot) for c in prof.flip_levels]
    assert prof.nearest_flip == prof.flip_levels[int(np.argmin(dist))].price


def test_expired_book_is_flat_zero() -> None:
    book = make_book(tau_days=30.0 / 86400.0)  # 30 s left: payoff only
    prof = compute_repriced_profile(book, np.linspace(5400.0, 5600.0, 11))
    assert np.all(prof.impulse == 0.0)
    assert prof.flip_levels == () and prof.nearest_flip is None


def test_bad_options_are_masked_and_counted() -> None:
    book = make_book(tau_days=0.5)
    iv = book.iv.copy()
    iv[5] = np.nan
    pos = book.position.copy()
    pos[9] = np.inf
    prices = np.linspace(5400.0, 5600.0, 21)
    bad = compute_repriced_profile(replace(book, iv=iv, position=pos), prices)
    keep = np.ones(book.strike.size, dtype=bool)
    keep[[5, 9]] = False
    good = replace(
        book,
        strike=book.strike[keep],
        is_call=book.is_call[keep],
        position=book.position[keep],
        multiplier=book.multiplier[keep],
        iv=book.iv[keep],
    )
    ref = compute_repriced_profile(good, prices)
    assert bad.masked_options == 2 and ref.masked_options == 0
    np.testing.assert_allclose(bad.impulse, ref.impulse, rtol=1e-12)


@pytest.mark.parametrize(
    "prices", [np.array([5500.0, 5400.0]), np.array([]), np.array([5400.0, np.nan])]
)
def test_bad_grid_rejected(prices: np.ndarray) -> None:
    with pytest.raises(ValueError, match="prices"):
        compute_repriced_profile(make_book(), prices)


def test_zero_gamma_sums_expiries_and_skips_expired() -> None:
    near = make_book(tau_days=0.3, seed=1)
    far = make_book(tau_days=9.0, seed=2, strikes=np.arange(5000.0, 6001.0, 25.0))
    gone = make_book(tau_days=10.0 / 86400.0, seed=3)
    prices = np.linspace(5300.0, 5700.0, 81)
    both, levels = zero_gamma_profile([near, far, gone], prices)
    a, _ = zero_gamma_profile([near], prices)
    b, _ = zero_gamma_profile([far], prices)
    np.testing.assert_allclose(both, a + b, rtol=1e-12)
    for lvl in levels:
        i = np.searchsorted(prices, lvl)
        assert np.sign(both[i - 1]) != np.sign(both[i])
    empty, none = zero_gamma_profile([], prices)
    assert np.all(empty == 0.0) and none == ()


def test_attach_zero_gamma_fills_the_profile() -> None:
    book = make_book(tau_days=0.3)
    prices = book.spot * (1 + np.arange(-20, 21) * 0.002)
    prof = attach_zero_gamma(compute_repriced_profile(book, prices), [book])
    line, levels = zero_gamma_profile([book], prices)
    np.testing.assert_array_equal(prof.zero_gamma, line)
    np.testing.assert_array_equal(prof.zero_gamma_price, prices)
    assert prof.zero_gamma_levels == levels


@settings(max_examples=40, deadline=None)
@given(
    spot=st.floats(20.0, 20000.0),
    tau_days=st.floats(0.0, 60.0),
    R=st.floats(-1.0, 4.0),
    a=st.floats(0.03, 2.0),
    b=st.floats(-2.0, 1.0),
    c=st.floats(0.0, 10.0),
    seed=st.integers(0, 2**16),
    n=st.integers(1, 60),
)
def test_random_books_give_finite_profiles(
    spot: float, tau_days: float, R: float, a: float, b: float, c: float, seed: int, n: int
) -> None:
    rng = np.random.default_rng(seed)
    strikes = np.unique(np.round(spot * rng.uniform(0.6, 1.4, n), 2))
    book = make_book(spot=spot, tau_days=tau_days, strikes=strikes, params=(a, b, c), seed=seed)
    book = replace(
        book,
        iv=np.maximum(book.iv, 0.01),
        surface=replace(book.surface, smoothed_iv=np.maximum(book.surface.smoothed_iv, 0.01)),
    )
    prices = spot * (1 + np.arange(-int(rng.integers(1, 80)), 81) * 0.001)
    prof = compute_repriced_profile(book, prices, skew_stickiness=R)
    assert np.all(np.isfinite(prof.impulse)) and math.isfinite(prof.impulse_at_spot)
    assert all(prices[0] <= f.price <= prices[-1] for f in prof.flip_levels)
    line, _ = zero_gamma_profile([book], prices)
    assert np.all(np.isfinite(line))
