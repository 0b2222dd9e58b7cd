"""Hedge impulse per strike, the density curve and its analysis (hedgeflow.impulse).

Sources of known values: the Gaussian kernel's closed forms (peak 1/(sqrt(pi) lambda),
e^-1 at one width, unit integral); trapezoid integrals of linear curves (exact); Black-76
greeks (hedgeflow.black76) and a central finite difference of the dealers' delta for the
Taylor expansion H_K = GEX_K - k_K VEX_K.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hedgeflow.engine import black76
from hedgeflow.engine.enums import Bias, CrossingDirection, ExtremumKind, ImpulseRegime
from hedgeflow.engine.impulse import (
    classify_impulse_regime,
    compute_hedge_impulse_curve,
    directional_asymmetry,
    find_extrema,
    find_zero_crossings,
    nearest_attractors,
    price_grid,
    slope_at,
    strike_impulse,
    window_integral,
)
from hedgeflow.engine.regime import strike_coupling
from hedgeflow.engine.types import (
    DirectionalAsymmetry,
    ExposurePerExpiry,
    HedgeImpulseConfig,
    ImpulseExtremum,
    IVSurface,
)

NOW = datetime(2026, 1, 5, 16, 0, tzinfo=UTC)
EXP = datetime(2026, 1, 5, 21, 0, tzinfo=UTC)
SPOT = 6000.0


def surface_for(strikes: np.ndarray, forward: float = SPOT, tau: float = 0.001) -> IVSurface:
    x = np.log(strikes / forward)
    iv = 0.16 - 0.45 * x + 3.0 * x * x
    return IVSurface(EXP, strikes, iv.copy(), iv, forward=forward, tau=tau)


def exposure_for(
    strikes: np.ndarray, gamma: np.ndarray, vanna: np.ndarray | None = None, spot: float = SPOT
) -> ExposurePerExpiry:
    vanna = np.zeros_like(gamma) if vanna is None else vanna
    return ExposurePerExpiry(spot, EXP, strikes, gamma, vanna, np.zeros_like(gamma))


# --------------------------------------------------------------------------- the density


def test_density_integrates_to_the_strike_total():
    rng = np.random.default_rng(7)
    k = np.arange(5950.0, 6055.0, 5.0)
    g = rng.normal(0, 1e9, k.size)
    v = rng.normal(0, 1e8, k.size)
    cfg = HedgeImpulseConfig(range_percent=5.0, step_percent=0.02)
    c = compute_hedge_impulse_curve(exposure_for(k, g, v), surface_for(k), now=NOW, config=cfg)
    h_k = g - strike_coupling(surface_for(k), k, 1.5) * v
    assert c.impulse_total == pytest.approx(h_k.sum(), rel=1e-12)
    np.testing.assert_allclose(c.strike_impulse, h_k, rtol=1e-12)
    # trapezoid with step 1.2 points << lambda = 10 points is spectrally accurate
    assert np.trapezoid(c.impulse, c.price) == pytest.approx(h_k.sum(), rel=1e-9)
    assert np.trapezoid(c.gamma, c.price) == pytest.approx(g.sum(), rel=1e-9)
    np.testing.assert_allclose(
        c.gamma + c.vanna, c.impulse, rtol=1e-9, atol=1e-6 * abs(c.impulse).max()
    )


def test_single_strike_is_a_gaussian_of_the_right_width_and_peak():
    k = np.array([SPOT])
    h = 2.5e9
    cfg = HedgeImpulseConfig(range_percent=1.0, step_percent=0.01, kernel_width_strikes=2.0)
    c = compute_hedge_impulse_curve(
        exposure_for(k, np.array([h])), surface_for(k), now=NOW, config=cfg
    )
    # no spacing with one strike: the grid step (0.6 points) stands in, lambda = 1.2 points
    assert c.strike_spacing == pytest.approx(SPOT * 0.01 / 100, rel=1e-12)
    lam = c.kernel_width
    assert lam == pytest.approx(1.2, rel=1e-12)
    peak = h / (math.sqrt(math.pi) * lam)
    assert c.impulse_at_spot == pytest.approx(peak, rel=1e-12)
    np.testing.assert_allclose(
        c.impulse, peak * np.exp(-(((c.price - SPOT) / lam) ** 2)), rtol=1e-12
    )
    # one width away: peak / e
    at_lam = np.interp(SPOT + lam, c.price, c.impulse)
    assert at_lam == pytest.approx(peak / math.e, rel=2e-3)  # linear interpolation error
    assert c.slope_at_spot == pytest.approx(0.0, abs=1e-9 * peak)
    assert c.regime is ImpulseRegime.PINNED
    assert c.extrema == (ImpulseExtremum(SPOT, c.impulse_at_spot, ExtremumKind.BASIN),)
    assert c.nearest_attractor_above == c.nearest_attractor_below == SPOT


def test_kernel_width_uses_the_modal_spacing():
    k = np.concatenate((np.arange(5000.0, 5900.0, 25.0), np.arange(5900.0, 6100.0, 5.0)))
    c = compute_hedge_impulse_curve(exposure_for(k, np.ones(k.size)), surface_for(k), now=NOW)
    assert c.strike_spacing == 5.0 and c.kernel_width == 10.0


@pytest.mark.parametrize(("rng_pct", "step"), [(3.0, 0.05), (2.0, 0.07), (1.0, 0.3), (0.05, 0.05)])
def test_spot_is_exactly_on_the_grid(rng_pct: float, step: float):
    spot = 5987.37
    p = price_grid(spot, rng_pct, step)
    n = round(rng_pct / step)
    assert p.size == 2 * n + 1 and p[n] == spot
    assert np.all(np.diff(p) > 0)
    assert p[0] == pytest.approx(spot * (1 - n * step / 100), rel=1e-15)


def test_curve_is_zero_not_nan_where_weights_underflow():
    k = np.array([100.0, 105.0])  # 6000 is ~1200 kernel widths away
    c = compute_hedge_impulse_curve(
        exposure_for(k, np.array([1e12, -1e12])), surface_for(k), now=NOW
    )
    assert np.all(c.impulse == 0.0) and np.all(np.isfinite(c.gamma))
    assert c.impulse_at_spot == 0.0 and c.slope_at_spot == 0.0
    assert c.zero_crossings == () and c.extrema == ()
    assert c.asymmetry.bias is Bias.NEUTRAL and math.isnan(c.asymmetry.asymmetry_ratio)


def test_slope_at_spot_is_the_analytic_derivative():
    rng = np.random.default_rng(3)
    k = np.arange(5900.0, 6105.0, 5.0)
    g = rng.normal(0, 1e9, k.size)
    cfg = HedgeImpulseConfig(step_percent=0.001, range_percent=0.5)
    c = compute_hedge_impulse_curve(exposure_for(k, g), surface_for(k), now=NOW, config=cfg)
    fd = slope_at(c.price, c.impulse, SPOT)  # central difference, step 0.06 points
    assert c.slope_at_spot == pytest.approx(fd, rel=1e-4, abs=1e-6 * np.abs(c.impulse).max() / 10)


def test_unsorted_strikes_are_sorted():
    k = np.arange(5950.0, 6055.0, 5.0)
    g = np.linspace(-1e9, 2e9, k.size)
    a = compute_hedge_impulse_curve(exposure_for(k, g), surface_for(k), now=NOW)
    order = np.random.default_rng(0).permutation(k.size)
    b = compute_hedge_impulse_curve(exposure_for(k[order], g[order]), surface_for(k), now=NOW)
    np.testing.assert_allclose(a.impulse, b.impulse, rtol=1e-12, atol=1e-3)
    np.testing.assert_array_equal(a.strikes, b.strikes)


def test_unsorted_strikes_with_a_nan_between_them():
    k = np.array([6010.0, np.nan, 5990.0, 6000.0])
    g = np.array([1e9, 5e9, 2e9, -1e9])
    c = compute_hedge_impulse_curve(exposure_for(k, g), surface_for(np.sort(k[[0, 2, 3]])), now=NOW)
    np.testing.assert_array_equal(c.strikes, [5990.0, 6000.0, 6010.0])
    np.testing.assert_array_equal(c.strike_impulse, [2e9, -1e9, 1e9])
    assert c.diagnostics["masked strikes"] == 1


def test_non_finite_inputs_are_masked_and_counted():
    k = np.arange(5950.0, 6055.0, 5.0)
    rng = np.random.default_rng(5)
    g, v = rng.normal(0, 1e9, k.size), rng.normal(0, 1e8, k.size)
    g_bad, v_bad, k_bad = g.copy(), v.copy(), k.copy()
    g_bad[2], v_bad[7], k_bad[11] = np.nan, np.inf, np.nan
    c = compute_hedge_impulse_curve(exposure_for(k_bad, g_bad, v_bad), surface_for(k), now=NOW)
    assert c.diagnostics["nonfinite gamma exposure"] == 1
    assert c.diagnostics["nonfinite vanna exposure"] == 1
    assert c.diagnostics["nonfinite or non-positive strike"] == 1
    assert c.diagnostics["masked strikes"] == 3
    keep = np.ones(k.size, dtype=bool)
    keep[[2, 7, 11]] = False
    ref = compute_hedge_impulse_curve(
        exposure_for(k[keep], g[keep], v[keep]), surface_for(k), now=NOW
    )
    assert c.impulse_total == ref.impulse_total
    np.testing.assert_array_equal(c.impulse, ref.impulse)
    assert np.isfinite(c.impulse).all() and ref.diagnostics == {}


def test_no_usable_smile_gives_gamma_only_and_says_so():
    k = np.arange(5950.0, 6055.0, 5.0)
    rng = np.random.default_rng(2)
    g, v = rng.normal(0, 1e9, k.size), rng.normal(0, 1e8, k.size)
    nan = np.full(k.size, np.nan)
    c = compute_hedge_impulse_curve(exposure_for(k, g, v), IVSurface(EXP, k, nan, nan), now=NOW)
    assert c.diagnostics == {"no smile slope: coupling 0": k.size}
    assert np.all(c.strike_coupling == 0.0)
    assert c.impulse_total == pytest.approx(g.sum(), rel=1e-12)


def test_absurd_magnitudes_are_masked_without_overflow():
    """A corrupted multiplier or strike column (1e300) must neither overflow (warnings are
    errors in this run) nor leak into the totals: such strikes are masked and counted."""
    k = np.array([5990.0, 6000.0, 6010.0, 1e300])
    g = np.array([1e9, 1e300, -1e9, 2e9])
    v = np.array([1e8, 0.0, 1e305, 0.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        c = compute_hedge_impulse_curve(exposure_for(k, g, v), surface_for(k[:3]), now=NOW)
    assert c.diagnostics["exposure beyond $1e30"] == 2
    assert c.diagnostics["masked strikes"] == 2
    np.testing.assert_array_equal(c.strikes, [5990.0, 1e300])
    assert c.impulse_total == pytest.approx(1e9 - 1e8 * c.strike_coupling[0] + 2e9, rel=1e-12)
    assert np.isfinite(c.impulse).all() and math.isfinite(c.slope_at_spot)


def test_bad_arguments_raise_with_the_argument_named():
    k = np.arange(5950.0, 6055.0, 5.0)
    e, s = exposure_for(k, np.ones(k.size)), surface_for(k)
    with pytest.raises(ValueError, match="now"):
        compute_hedge_impulse_curve(e, s, now=datetime(2026, 1, 5, 16))  # noqa: DTZ001
    with pytest.raises(ValueError, match="step_percent"):
        compute_hedge_impulse_curve(e, s, now=NOW, config=HedgeImpulseConfig(step_percent=0))
    with pytest.raises(ValueError, match="spot"):
        compute_hedge_impulse_curve(exposure_for(k, np.ones(k.size), spot=np.nan), s, now=NOW)
    with pytest.raises(ValueError, match="coupling"):
        strike_impulse(e, np.ones(3))


# --------------------------------------------------------------------------- H = GEX - k VEX


@pytest.mark.parametrize("r", [0.0, 1.0, 1.5, 2.0])
def test_hedge_impulse_is_the_dealers_delta_change_with_coupled_ivs(r: float):
    """Dealers' $ delta valued at S, D(h) = S sum pos m Delta(S(1+h/100), K, sigma_K(S')), with
    sigma_K(S') = Sigma(ln K - (1 - R) ln(S'/S)) (DESIGN.md): the central difference in h
    (percent) equals sum_K (GEX_K - k_K VEX_K) (Taylor; the smile is quadratic in ln K so
    the interpolant's slope is exact)."""
    spot, tau, m = SPOT, 1.5 / 365, 100.0
    k = np.arange(5700.0, 6305.0, 25.0)
    oi = 1000.0 + 500.0 * np.cos(k / 37.0)
    strikes = np.concatenate((k, k))
    is_call = np.concatenate((np.ones(k.size, bool), np.zeros(k.size, bool)))
    pos = np.concatenate((oi, -1.7 * oi))  # standard positioning, more puts than calls

    def sigma(kk: np.ndarray, s_new: float) -> np.ndarray:
        x = np.log(kk / spot) - (1 - r) * np.log(s_new / spot)
        return 0.16 - 0.45 * x + 3.0 * x * x

    g = black76.greeks(spot, strikes, tau, sigma(strikes, spot), 0.0, 0.0, is_call)
    gex_o = pos * g.gamma * m * spot * spot * 0.01
    vex_o = pos * g.vanna * m * spot * 0.01
    gex = gex_o[: k.size] + gex_o[k.size :]
    vex = vex_o[: k.size] + vex_o[k.size :]
    surface = IVSurface(EXP, k, sigma(k, spot), sigma(k, spot), forward=spot, tau=tau)
    coupling = strike_coupling(surface, k, r)
    expo = ExposurePerExpiry(spot, EXP, k, gex, vex, np.zeros(k.size))
    h_k = strike_impulse(expo, coupling)

    def dollar_delta(h: float) -> float:
        s_new = spot * (1 + h / 100)
        d = black76.greeks(s_new, strikes, tau, sigma(strikes, s_new), 0.0, 0.0, is_call).delta
        return float(spot * np.sum(pos * m * d))

    h = 1e-3
    fd = (dollar_delta(h) - dollar_delta(-h)) / (2 * h)
    assert fd == pytest.approx(h_k.sum(), rel=1e-6)
    if r != 1.0:  # the vanna term matters: gamma alone (or the original's GEX - (k/S) VEX)
        # misses it by far more than the finite difference's error
        assert abs(fd - h_k.sum()) < 0.01 * abs(fd - gex.sum())
        assert abs(fd - h_k.sum()) < 0.01 * abs(fd - (gex - coupling / spot * vex).sum())
    curve = compute_hedge_impulse_curve(
        expo, surface, now=NOW, config=HedgeImpulseConfig(skew_stickiness=r)
    )
    assert curve.impulse_total == pytest.approx(fd, rel=1e-6)


# --------------------------------------------------------------------------- analysis


def test_zero_crossings_interpolated_with_direction():
    p = np.arange(0.0, 11.0)
    v = np.array([-2.0, -1.0, 1.0, 3.0, 3.0, 1.0, -1.0, -3.0, -1.0, 0.0, 2.0])
    z = find_zero_crossings(p, v, tol=0.0)
    assert [c.price for c in z] == [1.5, 5.5, 9.0]  # the exact zero at 9 is found exactly
    assert [c.direction for c in z] == [
        CrossingDirection.RISING,
        CrossingDirection.FALLING,
        CrossingDirection.RISING,
    ]
    # a wiggle around zero below tol is ignored
    w = np.array([1.0, 1e-4, -1e-4, 1e-4, -1.0])
    z2 = find_zero_crossings(np.arange(5.0), w, tol=1e-3)
    assert len(z2) == 1 and z2[0].price == 2.0 and z2[0].direction is CrossingDirection.FALLING
    # an underflow gap of exact zeros is split in the middle
    z3 = find_zero_crossings(np.arange(6.0), np.array([1.0, 0, 0, 0, 0, -1.0]), tol=0.0)
    assert [c.price for c in z3] == [2.5]


def test_extrema_basins_and_peaks_above_tolerance():
    p = np.arange(0.0, 9.0)
    v = np.array([0.0, 2.0, 5.0, 2.0, -1.0, -4.0, -1.0, 0.001, 0.0])
    e = find_extrema(p, v, tol=0.01)
    assert e == (
        ImpulseExtremum(2.0, 5.0, ExtremumKind.BASIN),
        ImpulseExtremum(5.0, -4.0, ExtremumKind.PEAK),
    )
    assert len(find_extrema(p, v, tol=0.0)) == 3  # the 0.001 bump counts without tolerance
    # plateau counted once; end points never
    assert len(find_extrema(np.arange(5.0), np.array([5.0, 1.0, 3.0, 3.0, 1.0]), 0.0)) == 1
    assert nearest_attractors(e, 3.0) == (None, 2.0)
    assert nearest_attractors(e, 1.0) == (2.0, None)


def test_asymmetry_on_a_linear_curve():
    """H(P) = P - S: upside integral over [S, S(1+a)] = (aS)^2 / 2 exactly (trapezoid of a
    line), downside = -(aS)^2 / 2; the window end 0.33% is off the grid."""
    spot = 6000.0
    p = price_grid(spot, 3.0, 0.05)
    a = directional_asymmetry(p, p - spot, spot, 0.33)
    half = (0.0033 * spot) ** 2 / 2
    assert a.upside == pytest.approx(half, rel=1e-9)
    assert a.downside == pytest.approx(-half, rel=1e-9)
    assert a.bias is Bias.DOWN  # the downside is the less stable side
    assert a.asymmetry_ratio == pytest.approx(-1.0, rel=1e-9)
    # constant curve: windows equal, neutral, ratio 1
    b = directional_asymmetry(p, np.full(p.size, -2.0), spot, 0.5)
    assert b.upside == pytest.approx(-2.0 * 30.0) and b.bias is Bias.NEUTRAL
    assert b.asymmetry_ratio == pytest.approx(1.0)
    # hand-computed on a 3-point window: spot half-weighted
    q = np.array([-1.0, 0.0, 1.0, 2.0]) + 100.0
    assert window_integral(q, np.array([4.0, 2.0, 6.0, 8.0]), 100.0, 102.0) == 4.0 + 7.0
    c = directional_asymmetry(q, np.array([-5.0, -5.0, 1.0, 1.0]), 100.0, 1.0)
    assert (c.upside, c.downside) == (-2.0, -5.0)
    assert c.bias is Bias.DOWN and c.asymmetry_ratio == 2.5


def asym(up: float, down: float) -> DirectionalAsymmetry:
    """Window integrals given directly; bias by the documented 10% rule."""
    scale = max(abs(up), abs(down))
    if abs(up - down) < 0.1 * scale or scale == 0:
        bias = Bias.NEUTRAL
    else:
        bias = Bias.UP if up < down else Bias.DOWN
    return DirectionalAsymmetry(up, down, 0.5, bias, float("nan"))


def test_impulse_regime_thresholds():
    assert classify_impulse_regime(1.0, 10.0, asym(-5, -1)) is ImpulseRegime.PINNED
    assert classify_impulse_regime(0.99, 10.0, asym(-5, 1)) is ImpulseRegime.SQUEEZE_UP
    assert classify_impulse_regime(-1.0, 10.0, asym(-5, 1)) is ImpulseRegime.SQUEEZE_UP
    assert classify_impulse_regime(-1.0, 10.0, asym(1, -5)) is ImpulseRegime.SQUEEZE_DOWN
    assert classify_impulse_regime(-1.0, 10.0, asym(-2, -2)) is ImpulseRegime.EXPANSION
    # balanced book: squeeze only with a strong one-sided negative window
    assert classify_impulse_regime(0.0, 10.0, asym(-1.4, 1)) is ImpulseRegime.NEUTRAL
    assert classify_impulse_regime(0.0, 10.0, asym(1, 1)) is ImpulseRegime.NEUTRAL
    assert classify_impulse_regime(0.0, 0.0, asym(-5, 1)) is ImpulseRegime.NEUTRAL
    assert classify_impulse_regime(float("nan"), 1.0, asym(-5, 1)) is ImpulseRegime.NEUTRAL


def test_headline_regime_follows_the_strike_total_not_the_density_at_spot():
    """A strong positive wall 30 points away and a weaker negative one at spot: the density
    at spot is negative but the dealers' net impulse is positive -> pinned."""
    k = np.array([5970.0, 5975.0, 5980.0, 5995.0, 6000.0, 6005.0])
    g = np.array([3e9, 3e9, 3e9, -1e9, -1e9, -1e9])
    c = compute_hedge_impulse_curve(exposure_for(k, g), surface_for(k), now=NOW)
    assert c.impulse_at_spot < 0 < c.impulse_total
    assert c.regime is ImpulseRegime.PINNED
    assert c.nearest_attractor_below is not None and c.nearest_attractor_below < 5985.0


# --------------------------------------------------------------------------- properties


@st.composite
def random_exposure(draw: st.DrawFn) -> ExposurePerExpiry:
    n = draw(st.integers(0, 60))
    spacing = draw(st.sampled_from([0.5, 1.0, 5.0, 25.0]))
    offsets = draw(hnp.arrays(np.int64, n, elements=st.integers(-200, 200), unique=True))
    strikes = np.sort(SPOT + spacing * offsets.astype(np.float64))
    finite = st.floats(-1e13, 1e13, allow_nan=False)
    g = draw(hnp.arrays(np.float64, n, elements=finite))
    v = draw(hnp.arrays(np.float64, n, elements=finite))
    return exposure_for(strikes, g, v)


@settings(max_examples=60, deadline=None)
@given(
    expo=random_exposure(),
    r=st.floats(-1.0, 4.0),
    kw=st.floats(0.5, 5.0),
)
def test_random_finite_exposures_give_finite_numbers(expo: ExposurePerExpiry, r: float, kw: float):
    k = np.arange(5000.0, 7005.0, 5.0)
    cfg = HedgeImpulseConfig(skew_stickiness=r, kernel_width_strikes=kw)
    c = compute_hedge_impulse_curve(expo, surface_for(k), now=NOW, config=cfg)
    for arr in (c.price, c.impulse, c.gamma, c.vanna, c.strike_impulse, c.strike_coupling):
        assert np.isfinite(arr).all()
    for x in (
        c.impulse_at_spot,
        c.slope_at_spot,
        c.impulse_total,
        c.kernel_width,
        c.asymmetry.upside,
        c.asymmetry.downside,
        c.spot_vol_coupling,
    ):
        assert math.isfinite(x)
    assert c.diagnostics == {}
    assert all(c.price[0] <= z.price <= c.price[-1] for z in c.zero_crossings)
    assert all(math.isfinite(e.impulse) for e in c.extrema)
    assert isinstance(c.regime, ImpulseRegime)
