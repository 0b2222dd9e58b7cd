"""The exact charm integral (hedgeflow.charm).

Reference values are computed here independently: a scalar Black-Scholes-Merton delta
written with math.erfc (not scipy, not hedgeflow.black76), and black76.greeks for charm.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgeflow.engine import black76
from hedgeflow.engine.charm import (
    MIN_TAU_SECONDS,
    charm_step_minutes,
    compute_charm_integral,
    delta_charm,
    payoff_delta,
)
from hedgeflow.engine.types import CharmIntegralConfig
from tests.engine.option_books import AS_OF, make_book

YEAR_S = 365.0 * 86400.0


def scalar_delta(
    S: float, K: float, tau: float, sigma: float, r: float, q: float, call: bool
) -> float:
    """Spot delta of BSM with dividend yield q (Hull, ch. 17): e^{-q tau} N(d1), put minus
    e^{-q tau}; N from math.erfc."""
    d1 = (math.log(S / K) + (r - q + 0.5 * sigma * sigma) * tau) / (sigma * math.sqrt(tau))
    n = 0.5 * math.erfc(-d1 / math.sqrt(2.0))
    return math.exp(-q * tau) * (n if call else n - 1.0)


def dollar_delta(book, tau: float) -> float:
    g = black76.greeks(book.spot, book.strike, tau, book.iv, book.r, book.q, book.is_call)
    return float(np.sum(book.position * book.multiplier * g.delta * book.spot))


# --------------------------------------------------------------------------- step rule


@pytest.mark.parametrize(
    ("minutes", "step", "expected"),
    [
        (390.0, 15.0, 15.0),  # a session: the configured step wins
        (4320.0, 15.0, 44.0),  # 3 days: ceil(43.2)
        (10000.0, 1.0, 100.0),
        (0.0, 15.0, 15.0),
        (1500.0, 15.0, 15.0),  # exactly 100 buckets of 15 minutes
        (1501.0, 15.0, 16.0),
    ],
)
def test_step_rule(minutes: float, step: float, expected: float) -> None:
    assert charm_step_minutes(minutes, step) == expected


def test_step_rejects_bad_step() -> None:
    with pytest.raises(ValueError, match="time_step_minutes"):
        charm_step_minutes(100.0, 0.0)


@pytest.mark.parametrize("horizon", [timedelta(hours=6.5), timedelta(days=3)])
def test_bucket_count_and_last_bucket_at_horizon(horizon: timedelta) -> None:
    book = make_book(tau_days=4.0)
    ci = compute_charm_integral(book, now=AS_OF, horizon=AS_OF + horizon)
    assert 1 <= ci.cumulative_cex.size <= 101
    assert ci.bucket_time[-1] == pytest.approx((AS_OF + horizon).timestamp(), abs=1e-6)
    assert ci.bucket_minutes_remaining[-1] == pytest.approx(0.0, abs=1e-9)
    step = charm_step_minutes(horizon.total_seconds() / 60.0, 15.0) * 60.0
    np.testing.assert_allclose(np.diff(ci.bucket_time)[:-1], step)
    assert ci.minutes_remaining == pytest.approx(horizon.total_seconds() / 60.0)
    assert ci.settlement_step == 0.0  # the horizon is not the expiry
    assert np.all(ci.strike_settlement_step == 0.0)


def test_session_bucket_count_exact() -> None:
    book = make_book(tau_days=2.0)
    ci = compute_charm_integral(book, now=AS_OF, horizon=AS_OF + timedelta(minutes=390))
    assert ci.cumulative_cex.size == 26


# --------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("tau_hours", [6.5, 0.5, 30.0])
def test_cumulative_plus_settlement_is_exact_delta_difference(tau_hours: float) -> None:
    # A strike exactly at spot exercises the 0.5 payoff delta.
    strikes = np.array([5400.0, 5480.0, 5500.0, 5520.0, 5600.0])
    book = make_book(tau_days=tau_hours / 24.0, strikes=strikes)
    ci = compute_charm_integral(book, now=AS_OF, horizon=book.expiration)
    payoff = payoff_delta(book.spot, book.strike, book.is_call)
    assert payoff[book.strike == 5500.0].tolist() == [-0.5, 0.5]
    tau_now = (book.expiration - AS_OF).total_seconds() / YEAR_S
    exact = float(np.sum(book.position * book.multiplier * book.spot * payoff)) - dollar_delta(
        book, tau_now
    )
    assert ci.cumulative_cex[-1] + ci.settlement_step == pytest.approx(exact, rel=1e-10)
    assert ci.settlement_step != 0.0
    # The last bucket is the last pre-expiry point (tau = 60 s), not the payoff. At 60 s the
    # ATM d1 has sigma*sqrt(tau) ~ 2e-4 in its denominator, so black76's ln(F/K) and the
    # kernel's ln(S/K) + (r-q) tau differ by ~1e-13 in delta: rel 1e-8, not 1e-10.
    assert ci.cumulative_cex[-1] == pytest.approx(
        dollar_delta(book, MIN_TAU_SECONDS / YEAR_S) - dollar_delta(book, tau_now), rel=1e-8
    )
    np.testing.assert_allclose(ci.strike_settlement_step.sum(), ci.settlement_step, rtol=1e-10)


@pytest.mark.parametrize("call", [True, False])
def test_one_option_matches_independent_scalar_computation(call: bool) -> None:
    book = make_book(
        strikes=np.array([5530.0]),
        puts=not call,
        calls=call,
        tau_days=3.0,
        position=np.array([7.0]),
    )
    now = AS_OF + timedelta(minutes=7)
    horizon = AS_OF + timedelta(hours=20)
    ci = compute_charm_integral(book, now=now, horizon=horizon, config=CharmIntegralConfig(10.0))
    K, sigma = float(book.strike[0]), float(book.iv[0])
    tau_now = (book.expiration - now).total_seconds() / YEAR_S
    d_now = scalar_delta(book.spot, K, tau_now, sigma, book.r, book.q, call)
    expected = []
    for t in ci.bucket_time:
        tau = (book.expiration.timestamp() - t) / YEAR_S
        d = scalar_delta(book.spot, K, tau, sigma, book.r, book.q, call)
        expected.append(7.0 * 100.0 * book.spot * (d - d_now))
    np.testing.assert_allclose(ci.cumulative_cex, expected, rtol=1e-9, atol=1e-6)
    assert ci.strike_contribution.tolist() == pytest.approx([ci.total_charm_to_close], rel=1e-12)


def test_long_otm_call_delta_decays_so_dealers_buy() -> None:
    # Dealers long an OTM call: its delta falls with time, cumulative < 0, hedge flow > 0.
    book = make_book(
        strikes=np.array([5600.0]), puts=False, tau_days=0.25, position=np.array([1.0])
    )
    ci = compute_charm_integral(book, now=AS_OF, horizon=book.expiration)
    assert np.all(np.diff(ci.cumulative_cex) <= 0) and ci.cumulative_cex[0] < 0
    tau_now = (book.expiration - AS_OF).total_seconds() / YEAR_S
    assert ci.cumulative_cex[-1] + ci.settlement_step == pytest.approx(
        -dollar_delta(book, tau_now), rel=1e-10
    )


def test_instantaneous_cex_matches_black76_charm() -> None:
    book = make_book(tau_days=2.0)
    now = AS_OF + timedelta(minutes=3)
    ci = compute_charm_integral(book, now=now, horizon=now + timedelta(hours=6))
    w = book.position * book.multiplier * book.spot
    tau_now = (book.expiration - now).total_seconds() / YEAR_S
    g = black76.greeks(book.spot, book.strike, tau_now, book.iv, book.r, book.q, book.is_call)
    assert ci.cex_now == pytest.approx(float(np.sum(w * g.charm)), rel=1e-10)
    tau_end = (book.expiration.timestamp() - ci.bucket_time) / YEAR_S
    g = black76.greeks(
        book.spot,
        book.strike[None, :],
        tau_end[:, None],
        book.iv[None, :],
        book.r,
        book.q,
        book.is_call[None, :],
    )
    np.testing.assert_allclose(ci.instantaneous_cex, (g.charm * w).sum(axis=1), rtol=1e-9)


def test_cumulative_is_the_integral_of_instantaneous_cex() -> None:
    # Far from expiry charm is smooth: trapezoid of the per-day rate over 1-minute buckets
    # reproduces the exact delta difference (an independent link between the two outputs).
    book = make_book(tau_days=3.0)
    horizon = AS_OF + timedelta(hours=1)
    ci = compute_charm_integral(book, now=AS_OF, horizon=horizon, config=CharmIntegralConfig(1.0))
    days = np.concatenate(([0.0], (ci.bucket_time - AS_OF.timestamp()) / 86400.0))
    rate = np.concatenate(([ci.cex_now], ci.instantaneous_cex))
    trapezoid = float(np.sum(0.5 * (rate[1:] + rate[:-1]) * np.diff(days)))
    assert ci.total_charm_to_close == pytest.approx(trapezoid, rel=1e-4)


def test_strike_contributions_sum_to_total() -> None:
    book = make_book(tau_days=0.2)
    ci = compute_charm_integral(book, now=AS_OF, horizon=book.expiration)
    assert np.all(np.diff(ci.contribution_strikes) > 0)
    assert ci.strike_contribution.sum() == pytest.approx(ci.total_charm_to_close, rel=1e-9)
    assert ci.fraction_of_total.sum() == pytest.approx(1.0, rel=1e-9)


def test_lean_kernel_matches_black76() -> None:
    rng = np.random.default_rng(3)
    K = rng.uniform(4000, 7000, 300)
    tau = rng.uniform(1e-5, 0.5, 300)
    sigma = rng.uniform(0.05, 1.0, 300)
    call = rng.random(300) < 0.5
    d, c = delta_charm(5500.0, K, tau, sigma, 0.05, 0.02, call)
    g = black76.greeks(5500.0, K, tau, sigma, 0.05, 0.02, call)
    np.testing.assert_allclose(d, g.delta, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(c, g.charm, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- edges


def test_inside_last_minute_everything_is_payoff() -> None:
    book = make_book(tau_days=0.5)
    now = book.expiration - timedelta(seconds=30)
    ci = compute_charm_integral(book, now=now, horizon=book.expiration)
    assert ci.total_charm_to_close == 0.0
    assert ci.settlement_step == 0.0
    assert ci.cex_now == 0.0


def test_horizon_before_now_gives_no_bucket() -> None:
    book = make_book()
    ci = compute_charm_integral(book, now=AS_OF, horizon=AS_OF - timedelta(minutes=5))
    assert ci.cumulative_cex.size == 0
    assert ci.total_charm_to_close == 0.0
    assert ci.minutes_remaining == 0.0


def test_horizon_after_expiry_is_the_expiry() -> None:
    book = make_book(tau_days=0.1)
    late = compute_charm_integral(book, now=AS_OF, horizon=book.expiration + timedelta(hours=3))
    exact = compute_charm_integral(book, now=AS_OF, horizon=book.expiration)
    assert late.horizon == book.expiration
    np.testing.assert_array_equal(late.cumulative_cex, exact.cumulative_cex)
    assert late.settlement_step == exact.settlement_step


def test_bad_options_are_masked_and_counted() -> None:
    book = make_book(tau_days=0.3)
    iv = book.iv.copy()
    iv[[3, 10]] = [np.nan, 0.0]
    bad = replace(book, iv=iv)
    keep = np.isfinite(iv) & (iv > 0)
    good = replace(
        book,
        strike=book.strike[keep],
        is_call=book.is_call[keep],
        position=book.position[keep],
        multiplier=book.multiplier[keep],
        iv=iv[keep],
    )
    a = compute_charm_integral(bad, now=AS_OF, horizon=book.expiration)
    b = compute_charm_integral(good, now=AS_OF, horizon=book.expiration)
    assert a.masked_options == 2 and b.masked_options == 0
    np.testing.assert_allclose(a.cumulative_cex, b.cumulative_cex, rtol=1e-12)


def test_absurd_multiplier_or_position_is_masked() -> None:
    # A corrupted multiplier (1e302) would overflow every $ sum; it is a bad input.
    book = make_book(tau_days=0.3)
    m = book.multiplier.copy()
    m[4] = 1e302
    pos = book.position.copy()
    pos[7] = 1e300
    ci = compute_charm_integral(
        replace(book, multiplier=m, position=pos), now=AS_OF, horizon=book.expiration
    )
    assert ci.masked_options == 2
    assert np.all(np.isfinite(ci.cumulative_cex)) and np.isfinite(ci.settlement_step)


def test_naive_times_rejected() -> None:
    book = make_book()
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_charm_integral(book, now=AS_OF.replace(tzinfo=None), horizon=book.expiration)


@settings(max_examples=40, deadline=None)
@given(
    spot=st.floats(50.0, 20000.0),
    tau_minutes=st.floats(0.0, 10 * 1440.0),
    start_minutes=st.floats(-60.0, 3000.0),
    horizon_minutes=st.floats(-60.0, 20000.0),
    vol=st.floats(0.02, 3.0),
    seed=st.integers(0, 2**16),
    step=st.floats(0.5, 120.0),
)
def test_random_books_are_finite_and_exact(
    spot: float,
    tau_minutes: float,
    start_minutes: float,
    horizon_minutes: float,
    vol: float,
    seed: int,
    step: float,
) -> None:
    rng = np.random.default_rng(seed)
    strikes = np.unique(np.round(spot * rng.uniform(0.7, 1.3, rng.integers(1, 40)), 2))
    book = make_book(
        spot=spot,
        tau_days=max(tau_minutes, 1e-3) / 1440.0,
        strikes=strikes,
        params=(vol, 0.0, 0.0),
        seed=seed,
    )
    now = AS_OF + timedelta(minutes=start_minutes)
    horizon = AS_OF + timedelta(minutes=horizon_minutes)
    ci = compute_charm_integral(book, now=now, horizon=horizon, config=CharmIntegralConfig(step))
    assert ci.cumulative_cex.size <= 101
    for arr in (ci.cumulative_cex, ci.instantaneous_cex, ci.strike_contribution):
        assert np.all(np.isfinite(arr))
    assert math.isfinite(ci.settlement_step) and math.isfinite(ci.cex_now)
    if horizon >= book.expiration and now < horizon:
        payoff = payoff_delta(book.spot, book.strike, book.is_call)
        tau_now = (book.expiration - now).total_seconds()
        d_now = (
            float(np.sum(book.position * book.multiplier * book.spot * payoff))
            if tau_now < MIN_TAU_SECONDS
            else dollar_delta(book, tau_now / YEAR_S)
        )
        exact = float(np.sum(book.position * book.multiplier * book.spot * payoff)) - d_now
        scale = float(np.sum(np.abs(book.position * book.multiplier * book.spot)))
        assert ci.total_charm_to_close + ci.settlement_step == pytest.approx(
            exact, rel=1e-9, abs=1e-12 * scale
        )
