"""Regime parameters, smile interpolation and spot-vol coupling (hedgeflow.regime).

Known values come from closed forms stated next to each test: a smile quadratic in
x = ln(K/F) is recovered exactly by the fit and by the interpolant; slopes are checked
against central finite differences of the interpolated smile and of the translation model
sigma_K(S') = Sigma(ln K - (1 - R) ln(S'/S)).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hedgeflow.engine.enums import MarketRegime
from hedgeflow.engine.regime import (
    classify_regime,
    derive_regime_params,
    fit_atm_smile,
    interpolate_iv_at_strike,
    modal_strike_spacing,
    smile_interpolant,
    strike_coupling,
    trading_time_fraction,
    trading_time_iv,
)
from hedgeflow.engine.types import IVSurface

EXP = datetime(2026, 1, 5, 21, 0, tzinfo=UTC)
A, B, C = 0.16, -0.45, 3.0  # sigma = A + B x + C x^2, x = ln(K/F)


def quad_surface(strikes: np.ndarray, forward: float, tau: float = 0.01) -> IVSurface:
    x = np.log(strikes / forward)
    iv = A + B * x + C * x * x
    return IVSurface(EXP, strikes, iv.copy(), iv, forward=forward, tau=tau)


def svi_like(strikes: np.ndarray, forward: float) -> np.ndarray:
    """A smooth, non-polynomial smile in x = ln(K/F) (hyperbola plus tilt)."""
    x = np.log(strikes / forward)
    return 0.14 - 0.35 * x + 0.12 * np.sqrt((x - 0.01) ** 2 + 0.02**2)


# --------------------------------------------------------------------------- interpolation


def test_interpolant_reproduces_nodes_and_quadratic_between_them():
    k = np.arange(5500.0, 6505.0, 5.0)
    s = quad_surface(k, 6001.3)
    np.testing.assert_allclose(interpolate_iv_at_strike(s, k), s.smoothed_iv, rtol=0, atol=1e-15)
    # Bessel slopes are exact for a quadratic in ln K and cubic Hermite reproduces it
    q = np.array([5502.5, 5777.7, 6001.3, 6333.3, 6499.9])
    x = np.log(q / 6001.3)
    np.testing.assert_allclose(interpolate_iv_at_strike(s, q), A + B * x + C * x * x, rtol=1e-12)


def test_interpolant_is_flat_beyond_the_ends_and_nan_for_bad_strikes():
    k = np.arange(5500.0, 6505.0, 5.0)
    s = quad_surface(k, 6000.0)
    out = interpolate_iv_at_strike(s, np.array([1000.0, 5000.0, 7000.0, 1e9, 0.0, -5.0, np.nan]))
    assert out[0] == out[1] == s.smoothed_iv[0]
    assert out[2] == out[3] == s.smoothed_iv[-1]
    assert np.isnan(out[4:]).all()
    assert np.all(strike_coupling(s, np.array([1000.0, 7000.0]), 1.5) == 0.0)


def test_interpolant_masks_and_counts_bad_ivs():
    k = np.arange(5900.0, 6105.0, 5.0)
    s = quad_surface(k, 6000.0)
    iv = s.smoothed_iv.copy()
    iv[[3, 10, 20]] = [np.nan, -0.1, np.inf]
    bad = IVSurface(EXP, k, iv, iv, forward=6000.0, tau=0.01)
    smile = smile_interpolant(bad)
    assert smile.masked == 3
    # the masked nodes are interpolated by the quadratic through the others (exactly)
    np.testing.assert_allclose(smile(k), s.smoothed_iv, rtol=1e-12)


def test_strike_coupling_matches_a_finite_difference_of_the_smile():
    f = 6000.0
    k = np.arange(5400.0, 6605.0, 5.0)
    iv = svi_like(k, f)
    s = IVSurface(EXP, k, iv, iv, forward=f, tau=0.01)
    q = np.concatenate((k[5:-5:7], [5511.1, 5998.7, 6001.0, 6444.4]))
    h = 1e-3  # points; the interpolant is C1, so the central difference converges
    fd = q * (interpolate_iv_at_strike(s, q + h) - interpolate_iv_at_strike(s, q - h)) / (2 * h)
    for r in (0.0, 1.5, 2.0, 3.0):
        np.testing.assert_allclose(strike_coupling(s, q, r), -(r - 1.0) * fd, rtol=1e-6, atol=1e-12)


def test_strike_coupling_against_the_analytic_smile_slope():
    """For Sigma(x) = A + B x + C x^2 the slope d sigma / d ln K = B + 2 C x exactly, so
    k_K = -(R - 1)(B + 2 C x_K) in vol points per 1%."""
    f = 6010.0
    k = np.arange(5500.0, 6505.0, 5.0)
    s = quad_surface(k, f)
    x = np.log(k / f)
    np.testing.assert_allclose(strike_coupling(s, k, 1.5), -0.5 * (B + 2 * C * x), rtol=1e-9)
    assert np.all(strike_coupling(s, k, 1.0) == 0.0)  # sticky strike: no vanna term
    # R is clamped to [0, 3]
    np.testing.assert_array_equal(strike_coupling(s, k, 7.0), strike_coupling(s, k, 3.0))
    np.testing.assert_array_equal(strike_coupling(s, k, -2.0), strike_coupling(s, k, 0.0))
    with pytest.raises(ValueError, match="skew_stickiness"):
        strike_coupling(s, k, float("nan"))


# --------------------------------------------------------------------------- fit


@pytest.mark.parametrize("tau_h", [1e-6, 2.0 / 24 / 365, 0.05, 1.0])
@pytest.mark.parametrize("forward", [6000.0, 6002.7])
def test_fit_recovers_a_quadratic_smile_exactly(tau_h: float, forward: float):
    k = np.arange(5000.0, 7005.0, 5.0)
    a, b, c = fit_atm_smile(quad_surface(k, forward), forward, tau_h)
    assert a == pytest.approx(A, rel=1e-10)
    assert b == pytest.approx(B, rel=1e-8)
    assert c == pytest.approx(C, rel=1e-6)


def test_fit_uses_at_least_seven_strikes_and_degrades_below_three():
    k = np.arange(5000.0, 7005.0, 5.0)
    p = derive_regime_params(quad_surface(k, 6000.0), 6000.0, horizon_tau=1e-9)
    assert p.diagnostics["fit_strikes"] >= 7
    # 2 valid points: a line through them, c = 0
    k2 = np.array([5990.0, 6010.0])
    iv2 = np.array([0.17, 0.15])
    s2 = IVSurface(EXP, k2, iv2, iv2, forward=6000.0, tau=0.01)
    a, b, c = fit_atm_smile(s2, 6000.0, 0.01)
    assert c == 0.0
    assert b == pytest.approx(-0.02 / math.log(6010.0 / 5990.0), rel=1e-12)
    s1 = IVSurface(EXP, k2[:1], iv2[:1], iv2[:1], forward=6000.0, tau=0.01)
    assert fit_atm_smile(s1, 6000.0, 0.01) == (0.17, 0.0, 0.0)
    empty = IVSurface(EXP, k2, np.full(2, np.nan), np.full(2, np.nan))
    with pytest.raises(ValueError, match="surface"):
        fit_atm_smile(empty, 6000.0, 0.01)


def test_modal_strike_spacing():
    mixed = np.concatenate((np.arange(5000.0, 5900.0, 25.0), np.arange(5900.0, 6100.0, 5.0)))
    assert modal_strike_spacing(mixed) == 5.0
    noisy = np.arange(100.0, 110.0, 0.5) + np.random.default_rng(1).normal(0, 1e-9, 20)
    assert modal_strike_spacing(np.sort(noisy)) == 0.5
    assert modal_strike_spacing(np.array([1.0, 2.0, 4.0])) == 1.0  # tie -> smaller
    assert math.isnan(modal_strike_spacing(np.array([5.0, 5.0])))


# --------------------------------------------------------------------------- regime


@pytest.mark.parametrize(
    ("iv", "regime"),
    [
        (0.0, MarketRegime.CALM),
        (np.nextafter(0.15, 0), MarketRegime.CALM),
        (0.15, MarketRegime.NORMAL),
        (np.nextafter(0.20, 0), MarketRegime.NORMAL),
        (0.20, MarketRegime.STRESSED),
        (np.nextafter(0.35, 0), MarketRegime.STRESSED),
        (0.35, MarketRegime.CRISIS),
        (2.5, MarketRegime.CRISIS),
    ],
)
def test_regime_bins_are_half_open(iv: float, regime: MarketRegime):
    assert classify_regime(float(iv)) is regime


def test_regime_nan_raises():
    with pytest.raises(ValueError, match="NaN"):
        classify_regime(float("nan"))


def test_trading_time_conversion():
    # intraday: every remaining minute trades; 252 sessions of 6.5 h vs 365 days of 24 h
    factor = math.sqrt((252 * 6.5) / (365 * 24))
    assert 1 / factor == pytest.approx(2.313, abs=1e-3)  # DESIGN.md: "about 2.3 times"
    tau = 2.0 / 24 / 365
    assert trading_time_iv(0.40, tau) == pytest.approx(0.40 * factor, rel=1e-12)
    # continuous at one session, and -> 1 for long expiries
    s = 6.5 / 24 / 365
    assert trading_time_fraction(s) == pytest.approx(1 / 252, rel=1e-12)
    assert trading_time_fraction(s * (1 + 1e-12)) == pytest.approx(1 / 252, rel=1e-9)
    assert trading_time_iv(0.2, 1.0) == pytest.approx(0.2, rel=2e-3)
    assert trading_time_iv(0.2, float("nan")) == 0.2


def test_zero_dte_calendar_iv_does_not_read_as_crisis():
    """0DTE SPX with 3 h left quoted at 40% on the calendar clock: 17.3% in trading time."""
    k = np.arange(5500.0, 6505.0, 5.0)
    x = np.log(k / 6000.0)
    iv = 0.40 - 0.9 * x + 8 * x * x
    tau = 3.0 / 24 / 365
    s = IVSurface(EXP, k, iv, iv, forward=6000.0, tau=tau)
    p = derive_regime_params(s, 6000.0, horizon_tau=tau)
    assert p.atm_iv == pytest.approx(0.40, rel=1e-9)
    assert p.regime is MarketRegime.NORMAL
    assert p.regime_iv == pytest.approx(0.40 * math.sqrt(252 * 6.5 / (365 * 24)), rel=1e-12)
    assert p.expected_daily_spot_move == pytest.approx(p.regime_iv / math.sqrt(252), rel=1e-12)
    # the caller's regime IV wins
    q = derive_regime_params(s, 6000.0, horizon_tau=tau, regime_iv=0.36)
    assert q.regime is MarketRegime.CRISIS and q.regime_iv == 0.36


def test_regime_params_fields_and_units():
    f, spot, tau_h = 6005.0, 6000.0, 0.004
    k = np.arange(5500.0, 6505.0, 5.0)
    s = quad_surface(k, f, tau=0.02)
    p = derive_regime_params(s, spot, horizon_tau=tau_h, skew_stickiness=1.5)
    assert p.atm_iv == pytest.approx(A, rel=1e-10)
    assert p.skew == pytest.approx(B, rel=1e-8)
    assert p.curvature == pytest.approx(2 * C, rel=1e-6)
    assert p.expected_move == pytest.approx(spot * A * math.sqrt(tau_h), rel=1e-10)
    assert p.coupling_atm == pytest.approx(-1.5 * B, rel=1e-8)
    assert p.coupling_fixed_strike == pytest.approx(-0.5 * B, rel=1e-8)
    assert p.skew_stickiness == 1.5
    assert p.diagnostics["masked_iv"] == 0
    with pytest.raises(ValueError, match="spot"):
        derive_regime_params(s, 0.0, horizon_tau=tau_h)


@pytest.mark.parametrize("r", [0.0, 1.0, 1.5, 2.0])
def test_coupling_atm_units_against_the_translation_model(r: float):
    """k_ATM in vol points per 1%: under sigma_K(S') = Sigma(ln K - (1 - R) ln(S'/S)) the ATM
    IV sigma_{K=S'}(S') moves by -k_ATM vol points for a +1% move (central difference)."""
    spot = 6000.0
    k = np.arange(5500.0, 6505.0, 5.0)
    s = quad_surface(k, spot)
    p = derive_regime_params(s, spot, horizon_tau=0.01, skew_stickiness=r)

    def sigma(K: float, s_new: float) -> float:
        x = math.log(K / spot) - (1 - r) * math.log(s_new / spot)
        return A + B * x + C * x * x

    h = 1e-4  # percent
    up, dn = spot * (1 + h / 100), spot * (1 - h / 100)
    atm_move = (sigma(up, up) - sigma(dn, dn)) * 100 / (2 * h)  # vol points per 1%
    assert -p.coupling_atm == pytest.approx(atm_move, rel=1e-6, abs=1e-12)
    fixed_move = (sigma(spot, up) - sigma(spot, dn)) * 100 / (2 * h)
    assert -p.coupling_fixed_strike == pytest.approx(fixed_move, rel=1e-6, abs=1e-12)


# --------------------------------------------------------------------------- properties


@st.composite
def random_surface(draw: st.DrawFn) -> tuple[IVSurface, float]:
    n = draw(st.integers(1, 80))
    spacing = draw(st.sampled_from([0.5, 1.0, 5.0, 25.0]))
    offsets = draw(hnp.arrays(np.int64, n, elements=st.integers(-150, 150), unique=True))
    k = np.sort(4000.0 + spacing * offsets.astype(np.float64))
    iv = draw(hnp.arrays(np.float64, n, elements=st.floats(0.01, 3.0)))
    forward = float(draw(st.floats(3800.0, 4200.0)))
    tau = draw(st.floats(1e-6, 2.0))
    return IVSurface(EXP, k, iv, iv, forward=forward, tau=tau), forward


@settings(max_examples=80, deadline=None)
@given(
    sf=random_surface(),
    tau_h=st.floats(0.0, 1.0),
    r=st.floats(-1.0, 5.0),
)
def test_random_smiles_give_finite_regime_params(
    sf: tuple[IVSurface, float], tau_h: float, r: float
):
    surface, spot = sf
    p = derive_regime_params(surface, spot, horizon_tau=tau_h, skew_stickiness=r)
    for v in (
        p.atm_iv,
        p.skew,
        p.curvature,
        p.regime_iv,
        p.expected_move,
        p.expected_daily_spot_move,
        p.coupling_atm,
        p.coupling_fixed_strike,
    ):
        assert math.isfinite(v)
    assert p.atm_iv > 0 and p.regime_iv > 0 and p.expected_move >= 0
    assert 0.0 <= p.skew_stickiness <= 3.0
    q = np.linspace(3000.0, 5000.0, 57)
    iv = interpolate_iv_at_strike(surface, q)
    assert np.all(iv > 0) and np.isfinite(strike_coupling(surface, q, r)).all()


def test_at_log_matches_value_and_slope_everywhere() -> None:
    """`SmileInterpolant.at_log` (used by the repriced profile) is the same function as
    `__call__` and `log_slope`, inside the nodes, on them and beyond both ends."""
    from datetime import UTC, datetime

    import numpy as np

    from hedgeflow.engine.regime import smile_interpolant
    from hedgeflow.engine.types import IVSurface

    strikes = np.array([4700.0, 4800.0, 4900.0, 5000.0, 5050.0, 5100.0, 5300.0])
    iv = np.array([0.31, 0.26, 0.22, 0.19, 0.18, 0.175, 0.17])
    surface = IVSurface(datetime(2025, 1, 2, 21, tzinfo=UTC), strikes, iv, iv, 5000.0, 0.01)
    smile = smile_interpolant(surface)
    K = np.concatenate((np.linspace(4500.0, 5500.0, 997), strikes))
    value, slope = smile.at_log(np.log(K))
    np.testing.assert_allclose(value, smile(K), rtol=1e-13, atol=0)
    np.testing.assert_allclose(slope, smile.log_slope(K), rtol=1e-12, atol=1e-14)
