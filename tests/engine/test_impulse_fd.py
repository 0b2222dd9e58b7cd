"""Finite-difference proof that the hedge impulse is H = sum_K (GEX_K - k_K VEX_K).

DESIGN.md "Hedge impulse": with every held option's IV moved by its coupling, the
central finite difference of the dealers' share delta valued at S,

    D(S') = S * sum_i pos_i m_i Delta_i(S', sigma_i(S'))                 ($)

per +1% of spot equals the strike total. Units: a move of +h % is S -> S (1 + h/100);
under the smile-translation model sigma_K(S') = Sigma(ln K - (1-R) ln(S'/S)) each strike's
IV moves by d sigma_K = (R-1) Sigma'(ln K) dS/S (decimal), i.e. by -k_K * h vol points
(= -k_K * h / 100 decimal) with k_K = -(R-1) Sigma'(ln K) vol points per 1%.

The reference D is black76.greeks' delta (the model's own definition of Delta); the
strike totals come from the engine's per-strike code (exposures, `strike_coupling`,
`strike_impulse`), so the test proves the code the screen uses, not a restatement of it.
floe's H = GEX - (k/S) VEX is shown to fail the same check.
"""

from __future__ import annotations

import numpy as np
import pytest

from hedgeflow.engine import black76
from hedgeflow.engine.book import ExpiryBook
from hedgeflow.engine.exposure import compute_exposures
from hedgeflow.engine.impulse import compute_hedge_impulse_curve, strike_impulse
from hedgeflow.engine.regime import smile_interpolant, strike_coupling
from hedgeflow.engine.reprice import compute_repriced_profile
from hedgeflow.engine.types import ExposurePerExpiry, HedgeImpulseConfig
from tests.engine.option_books import make_book

R_VALUES = (0.0, 1.0, 1.5, 2.0)


def exposures(book: ExpiryBook) -> ExposurePerExpiry:
    """The engine's per-strike exposures (hedgeflow.exposure), as the screen computes them."""
    return compute_exposures(book)


def test_engine_exposures_follow_the_design_table() -> None:
    # DESIGN.md table, from black76 greeks: GEX_K = pos gamma m S^2 0.01, VEX_K = pos vanna
    # m S 0.01, CEX_K = pos charm m S, summed over the options at each strike.
    book = BOOKS["1 day"]
    g = black76.greeks(book.spot, book.strike, book.tau, book.iv, book.r, book.q, book.is_call)
    S, w = book.spot, book.position * book.multiplier
    strikes, inv = np.unique(book.strike, return_inverse=True)
    exp = exposures(book)
    np.testing.assert_array_equal(exp.strikes, strikes)
    for got, per_option in (
        (exp.gamma, w * g.gamma * S * S * 0.01),
        (exp.vanna, w * g.vanna * S * 0.01),
        (exp.charm, w * g.charm * S),
    ):
        np.testing.assert_allclose(got, np.bincount(inv, weights=per_option), rtol=1e-12)


def strike_total(book: ExpiryBook, R: float) -> float:
    exp = exposures(book)
    return float(strike_impulse(exp, strike_coupling(book.surface, exp.strikes, R)).sum())


def dealer_dollar_delta(book: ExpiryBook, spot: float, iv: np.ndarray) -> float:
    """Dealers' share delta at spot `spot`, valued at the book's spot ($)."""
    g = black76.greeks(spot, book.strike, book.tau, iv, book.r, book.q, book.is_call)
    return float(book.spot * np.sum(book.position * book.multiplier * g.delta))


def fd_linear(book: ExpiryBook, R: float, h: float) -> float:
    """Central difference per 1% with sigma_K -> sigma_K - k_K h (k_K in vol points)."""
    k = strike_coupling(book.surface, book.strike, R)
    up = dealer_dollar_delta(book, book.spot * (1 + h / 100), book.iv - k * h / 100)
    dn = dealer_dollar_delta(book, book.spot * (1 - h / 100), book.iv + k * h / 100)
    return (up - dn) / (2 * h)


def fd_translation(book: ExpiryBook, R: float, h: float, at: float | None = None) -> float:
    """Central difference per 1% at spot `at` with the exact translated smile
    sigma_K(S') = iv_K + Sigma(ln K - (1-R) ln(S'/S)) - Sigma(ln K), valued at `at`."""
    S = book.spot
    at = S if at is None else at
    smile = smile_interpolant(book.surface)

    def iv_at(s: float) -> np.ndarray:
        return book.iv + smile(book.strike * (s / S) ** (R - 1)) - smile(book.strike)

    def d(s: float) -> float:
        g = black76.greeks(s, book.strike, book.tau, iv_at(s), book.r, book.q, book.is_call)
        return float(at * np.sum(book.position * book.multiplier * g.delta))

    return (d(at * (1 + h / 100)) - d(at * (1 - h / 100))) / (2 * h)


def otm_book(tau_days: float, strikes: np.ndarray, seed: int) -> ExpiryBook:
    """Index-like open interest: mostly out-of-the-money (customers buy puts below spot and
    sell calls above), decaying away from spot; standard positioning (call +OI, put -OI)."""
    spot = 5500.0
    rng = np.random.default_rng(seed)
    K = np.repeat(strikes, 2)
    is_call = np.tile([False, True], strikes.size)
    otm = np.where(is_call, K > spot, K < spot)
    oi = (
        rng.integers(500, 5000, K.size)
        * np.where(otm, 1.0, 0.15)
        * np.exp(-np.abs(K / spot - 1) / 0.04)
    )
    return make_book(
        spot=spot, tau_days=tau_days, strikes=strikes, position=np.where(is_call, oi, -oi)
    )


BOOKS = {
    "1 day": otm_book(1.0, np.arange(5000.0, 6001.0, 25.0), 0),
    "6 hours": otm_book(0.25, np.arange(5300.0, 5701.0, 10.0), 4),
    "30 days": make_book(tau_days=30.0, strikes=np.arange(4400.0, 6301.0, 50.0), seed=9),
}


@pytest.mark.parametrize("name", list(BOOKS))
@pytest.mark.parametrize("R", R_VALUES)
def test_central_difference_equals_gex_minus_k_vex(name: str, R: float) -> None:
    book = BOOKS[name]
    expected = strike_total(book, R)
    fd = fd_linear(book, R, 0.002)
    assert fd == pytest.approx(expected, rel=1e-5)
    # Second order: halving h cuts the error about 4 times (O(h^2) for a central difference).
    e1 = abs(fd_linear(book, R, 0.2) - expected)
    e2 = abs(fd_linear(book, R, 0.1) - expected)
    assert 3.0 < e1 / e2 < 5.0


@pytest.mark.parametrize("R", R_VALUES)
def test_impulse_curve_headline_is_the_fd(R: float) -> None:
    # The number the screen shows as the impulse at spot (the curve's strike total).
    book = BOOKS["6 hours"]
    curve = compute_hedge_impulse_curve(
        exposures(book), book.surface, now=book.as_of, config=HedgeImpulseConfig(skew_stickiness=R)
    )
    assert curve.impulse_total == pytest.approx(fd_linear(book, R, 0.002), rel=1e-5)


@pytest.mark.parametrize("R", R_VALUES)
def test_exact_translation_model_agrees(R: float) -> None:
    book = BOOKS["1 day"]
    assert fd_translation(book, R, 0.002) == pytest.approx(strike_total(book, R), rel=1e-5)


@pytest.mark.parametrize("R", [0.0, 1.5, 2.0])
def test_floe_k_over_s_form_fails(R: float) -> None:
    # floe: H = GEX - (k/S) VEX shrinks the vanna term by S; with skew it misses the FD.
    book = BOOKS["1 day"]
    exp = exposures(book)
    k = strike_coupling(book.surface, exp.strikes, R)
    floe = float(np.sum(exp.gamma - k / book.spot * exp.vanna))
    fd = fd_linear(book, R, 0.002)
    # The vanna term is material here (> 5% of H); floe misses it by > 1000x the tolerance
    # the physical form meets, and its value is gamma alone to 1 part in S.
    assert abs(floe - fd) > 5e-2 * abs(fd)
    assert floe == pytest.approx(float(np.sum(exp.gamma)), rel=1e-3)
    assert float(np.sum(exp.gamma - k * exp.vanna)) == pytest.approx(fd, rel=1e-5)


def test_floe_form_coincides_only_at_sticky_strike() -> None:
    book = BOOKS["1 day"]
    exp = exposures(book)
    k = strike_coupling(book.surface, exp.strikes, 1.0)
    assert np.all(k == 0.0)
    assert float(np.sum(exp.gamma)) == pytest.approx(fd_linear(book, 1.0, 0.002), rel=1e-5)


@pytest.mark.parametrize("name", list(BOOKS))
@pytest.mark.parametrize("R", R_VALUES)
def test_repriced_profile_at_spot_is_the_strike_total(name: str, R: float) -> None:
    book = BOOKS[name]
    prices = book.spot * (1 + np.arange(-30, 31) * 0.001)
    prof = compute_repriced_profile(book, prices, skew_stickiness=R)
    total = strike_total(book, R)
    assert prof.impulse_at_spot == pytest.approx(total, rel=1e-10)
    assert prof.impulse[30] == pytest.approx(total, rel=1e-10)  # spot is on the grid


@pytest.mark.parametrize("R", R_VALUES)
def test_repriced_profile_off_spot_is_the_translated_fd(R: float) -> None:
    # At S' != S the profile is the FD of the dealers' delta under the same translation
    # model (IVs at S' from the smile translated by (1-R) ln(S'/S)), valued at S'.
    book = BOOKS["6 hours"]
    prices = book.spot * np.array([0.97, 0.985, 0.995, 1.0, 1.004, 1.02, 1.035])
    prof = compute_repriced_profile(book, prices, skew_stickiness=R)
    fd = [fd_translation(book, R, 0.005, at=p) for p in prices]
    scale = np.max(np.abs(fd))
    np.testing.assert_allclose(prof.impulse, fd, rtol=1e-4, atol=1e-5 * scale)
