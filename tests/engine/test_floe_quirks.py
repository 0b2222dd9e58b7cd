"""The floe profile's quirks, one by one, and its invariants on random inputs.

Numbers marked "floe:" come from floe 0.0.18's algorithm as the quirk list in
tests/data/floe-reference/README.md states it (worked by hand in the comment
next to each). The `_js_*` functions below are literal, loop-by-loop
transcriptions of floe's TypeScript (`for`/`while` loops, `+=` accumulation),
written independently of the vectorized port; hypothesis checks that the port
agrees with them on random inputs.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hedgeflow.engine.enums import (
    Bias,
    CrossingDirection,
    ExtremumKind,
    ImpulseRegime,
    MarketRegime,
    Side,
)
from hedgeflow.engine.floe import (
    _asymmetry,
    _classify,
    _extrema,
    _interp_on_grid,
    _zero_crossings,
    analyze_hedge_flow_floe,
    compute_charm_integral_floe,
    compute_pressure_cloud_floe,
    derive_regime_params_floe,
    derive_spot_vol_coupling_floe,
    detect_strike_spacing_floe,
    floe_grid,
    floe_hedge_contracts,
    floe_order,
    interpolate_iv_at_strike_floe,
    js_math_round,
)
from hedgeflow.engine.types import (
    CharmIntegralConfig,
    DirectionalAsymmetry,
    ExposurePerExpiry,
    HedgeImpulseCurve,
    ImpulseExtremum,
    IVSurface,
    PressureCloudConfig,
    RegimeParams,
    ZeroCrossing,
)

REF = Path(__file__).parents[1] / "data" / "floe-reference"
NOW = datetime(2025, 6, 10, 15, 0, tzinfo=UTC)  # 11:00 New York (EDT)
EXPIRY = datetime(2025, 6, 10, 20, 0, tzinfo=UTC)  # 16:00 New York (EDT)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- builders


def exposure(strikes, gex, vex=None, cex=None, spot=100.0, expiration=EXPIRY) -> ExposurePerExpiry:
    n = len(strikes)
    return ExposurePerExpiry(
        spot=spot,
        expiration=expiration,
        strikes=np.asarray(strikes, dtype=np.float64),
        gamma=np.asarray(gex, dtype=np.float64),
        vanna=np.zeros(n) if vex is None else np.asarray(vex, dtype=np.float64),
        charm=np.zeros(n) if cex is None else np.asarray(cex, dtype=np.float64),
    )


def surface(strikes, iv_decimal) -> IVSurface:
    iv = np.asarray(iv_decimal, dtype=np.float64)
    return IVSurface(EXPIRY, np.asarray(strikes, dtype=np.float64), iv, iv)


def regime_with(atm_iv: float, spot: float, k: float = 2.0) -> RegimeParams:
    move = atm_iv / math.sqrt(252)
    return RegimeParams(
        atm_iv=atm_iv,
        skew=0.0,
        curvature=0.0,
        regime=MarketRegime.NORMAL,
        regime_iv=atm_iv,
        expected_move=move * spot,
        expected_daily_spot_move=move,
        coupling_atm=k,
    )


def hand_curve(prices, h, spot, extrema=(), crossings=()) -> HedgeImpulseCurve:
    prices = np.asarray(prices, dtype=np.float64)
    h = np.asarray(h, dtype=np.float64)
    return HedgeImpulseCurve(
        spot=spot,
        expiration=EXPIRY,
        computed_at=NOW,
        spot_vol_coupling=2.0,
        kernel_width=10.0,
        strike_spacing=5.0,
        price=prices,
        gamma=h,
        vanna=np.zeros_like(h),
        impulse=h,
        impulse_at_spot=float(np.interp(spot, prices, h)),
        slope_at_spot=0.0,
        zero_crossings=tuple(crossings),
        extrema=tuple(extrema),
        asymmetry=DirectionalAsymmetry(0.0, 0.0, 0.5, Bias.NEUTRAL, 0.0),
        regime=ImpulseRegime.NEUTRAL,
        nearest_attractor_above=None,
        nearest_attractor_below=None,
    )


# --------------------------------------------------------------------------- floe, loop by loop


def _js_round(x: float) -> float:
    # ECMAScript Math.round: the integer closest to x, ties toward +infinity
    f = math.floor(x)
    return f + 1 if x - f >= 0.5 else f


def _js_spacing(strikes: list[float]) -> float:
    if len(strikes) < 2:
        return 1.0
    gaps = [abs(strikes[i] - strikes[i - 1]) for i in range(1, len(strikes))]
    gaps = [g for g in gaps if g > 0]
    if not gaps:
        return 1.0
    counts: dict[float, int] = {}  # insertion-ordered, like a JS Map
    for g in gaps:
        r = _js_round(g * 100) / 100
        counts[r] = counts.get(r, 0) + 1
    modal, best = gaps[0], 0
    for g, c in counts.items():
        if c > best:
            best, modal = c, g
    return modal


def _js_grid(spot: float, rng: float, step_pct: float) -> list[float]:
    out = []
    price = spot * (1 - rng / 100)
    grid_max = spot * (1 + rng / 100)
    step = spot * (step_pct / 100)
    while price <= grid_max:
        out.append(price)
        price += step
    return out


def _js_interp(prices: list[float], h: list[float], x: float) -> float:
    if not prices:
        return 0.0
    if x <= prices[0]:
        return h[0]
    if x >= prices[-1]:
        return h[-1]
    for i in range(len(prices) - 1):
        if prices[i] <= x and prices[i + 1] >= x:
            t = (x - prices[i]) / (prices[i + 1] - prices[i])
            return h[i] + t * (h[i + 1] - h[i])
    return 0.0


def _js_asymmetry(prices: list[float], h: list[float], spot: float) -> tuple[float, float]:
    rng = spot * (0.5 / 100)
    up = down = 0.0
    step = prices[1] - prices[0] if len(prices) > 1 else 1.0
    for p, v in zip(prices, h, strict=True):
        if p > spot and p <= spot + rng:
            up += v * step
        if p < spot and p >= spot - rng:
            down += v * step
    return up, down


def _js_charm(minutes: float, step: float, total: float) -> list[tuple[float, float, float]]:
    out = []
    cum = 0.0
    t = minutes
    while t >= max(1.0, step):
        inst = total * math.sqrt(minutes / t)
        cum += inst * (step / 390)
        out.append((t, inst, cum))
        t -= step
    return out


# --------------------------------------------------------------------------- quirk 1: order


def test_floe_order_is_stable_net_descending() -> None:
    # net = g + v + c = [1, 3, 3, 2, 3]: descending, ties (index 1, 2, 4) in given order
    e = exposure([1, 2, 3, 4, 5], [1, 1, 2, 2, 0], [0, 1, 0, 0, 1], [0, 1, 1, 0, 2])
    np.testing.assert_array_equal(floe_order(e), [1, 2, 4, 3, 0])


@given(st.lists(st.integers(-3, 3), min_size=0, max_size=40))
def test_floe_order_matches_pythons_stable_sort(nets: list[int]) -> None:
    n = len(nets)
    e = exposure(np.arange(n) + 100.0, nets, np.zeros(n), np.zeros(n))
    expected = sorted(range(n), key=lambda i: -nets[i])  # sorted() is stable
    np.testing.assert_array_equal(floe_order(e), expected)


def test_spacing_in_floe_order_is_wrong() -> None:
    """floe: 5-point strikes received in net order 110, 100, 120, 105, 115 give gaps
    10, 20, 15, 10: modal 10, twice the true spacing, and a kernel twice as wide."""
    strikes = [100.0, 105.0, 110.0, 115.0, 120.0]
    gex = [4e6, 2e6, 5e6, 1e6, 3e6]  # net order: 110, 100, 120, 105, 115
    e = exposure(strikes, gex, spot=110.0)
    np.testing.assert_array_equal(floe_order(e), [2, 0, 4, 1, 3])
    s = surface(strikes, [0.2] * 5)
    floe_way = analyze_hedge_flow_floe(e, s, now=NOW).impulse_curve
    sorted_way = analyze_hedge_flow_floe(e, s, now=NOW, order=np.arange(5)).impulse_curve
    assert (floe_way.strike_spacing, floe_way.kernel_width) == (10.0, 20.0)
    assert (sorted_way.strike_spacing, sorted_way.kernel_width) == (5.0, 10.0)
    assert not np.allclose(floe_way.impulse, sorted_way.impulse)


def test_order_only_changes_summation_when_spacing_agrees() -> None:
    """Reversed strikes have the same gaps: same spacing, the same curve up to the
    summation order (README: ~1e-14 relative)."""
    case = json.loads((REF / "cases" / "hf_spx_crisis_neg.json").read_text())
    iv = np.asarray(case["iv_pct"]) / 100
    e = ExposurePerExpiry(
        case["spot"],
        datetime.fromtimestamp(case["expiration_ms"] / 1000, tz=UTC),
        np.asarray(case["strikes"]),
        np.asarray(case["gex"]),
        np.asarray(case["vex"]),
        np.asarray(case["cex"]),
    )
    s = IVSurface(e.expiration, np.asarray(case["iv_strikes"]), iv, iv)
    now = datetime.fromtimestamp(case["now_ms"] / 1000, tz=UTC)
    n = len(case["strikes"])
    fwd = analyze_hedge_flow_floe(e, s, now=now, order=np.arange(n))
    rev = analyze_hedge_flow_floe(e, s, now=now, order=np.arange(n)[::-1])
    a, b = fwd.impulse_curve, rev.impulse_curve
    assert a.strike_spacing == b.strike_spacing
    np.testing.assert_allclose(
        b.impulse, a.impulse, rtol=1e-12, atol=1e-12 * np.abs(a.impulse).max()
    )
    assert [x.price for x in a.extrema] == [x.price for x in b.extrema]
    assert a.regime == b.regime
    np.testing.assert_allclose(
        rev.charm_integral.total_charm_to_close, fwd.charm_integral.total_charm_to_close, rtol=1e-12
    )


def test_bad_order_and_naive_time_raise() -> None:
    e = exposure([100.0, 105.0], [1.0, 2.0])
    s = surface([100.0], [0.2])
    with pytest.raises(ValueError, match="`order`"):
        analyze_hedge_flow_floe(e, s, now=NOW, order=np.array([0, 0]))
    with pytest.raises(ValueError, match="timezone-aware"):
        analyze_hedge_flow_floe(e, s, now=datetime(2025, 6, 10, 15, 0))  # noqa: DTZ001


# --------------------------------------------------------------------------- quirk 11: rounding


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (0.5, 1.0),
        (1.5, 2.0),
        (2.5, 3.0),  # Python's round gives 2
        (-0.5, -0.0),  # JS: Math.round(-0.5) is -0
        (-1.5, -1.0),
        (-2.6, -3.0),
        (0.49999999999999994, 0.0),  # floor(x + 0.5) would give 1
        (12.5, 13.0),
        (4503599627370497.0, 4503599627370497.0),  # above 2^52 every double is an integer
    ],
)
def test_js_math_round(x: float, expected: float) -> None:
    got = float(js_math_round(x))
    assert got == expected
    assert math.copysign(1, got) == math.copysign(1, expected)


def test_spacing_rounding_and_degenerate_inputs() -> None:
    # gap 0.125 -> 12.5 cents -> Math.round half up -> 0.13 (Python's round: 0.12)
    assert detect_strike_spacing_floe(np.array([0.0, 0.125, 0.25])) == 0.13
    # duplicate strikes give zero gaps, which floe drops
    assert detect_strike_spacing_floe(np.array([100.0, 100.0, 105.0])) == 5.0
    assert detect_strike_spacing_floe(np.array([100.0, 100.0])) == 1.0
    assert detect_strike_spacing_floe(np.array([100.0])) == 1.0
    assert detect_strike_spacing_floe(np.array([])) == 1.0
    # a tie between 10 (seen first) and 5: the first seen wins
    assert detect_strike_spacing_floe(np.array([100.0, 110.0, 115.0])) == 10.0
    assert detect_strike_spacing_floe(np.array([100.0, 105.0, 115.0])) == 5.0
    # |dK| in the given order: descending strikes give the same spacing
    assert detect_strike_spacing_floe(np.array([115.0, 110.0, 105.0, 90.0])) == 5.0
    # 2.5-point strikes stored with float noise still round to 2.5
    assert detect_strike_spacing_floe(np.array([100.0, 102.50000000001, 105.0])) == 2.5


@given(
    st.lists(
        st.one_of(
            st.integers(0, 400).map(lambda i: 5000.0 + 5.0 * i),
            st.floats(1.0, 1e5, allow_nan=False),
            st.integers(0, 2000).map(lambda i: i * 0.005),  # exact cent halves
        ),
        max_size=40,
    )
)
def test_spacing_matches_floe_loop(strikes: list[float]) -> None:
    assert detect_strike_spacing_floe(np.asarray(strikes, dtype=np.float64)) == _js_spacing(strikes)


# --------------------------------------------------------------------------- quirk 2: grid


def test_grid_length_depends_on_accumulation() -> None:
    """floe: 120 points for spot 6012.5, 121 for 21512.7 (both cases in the reference set)."""
    assert len(floe_grid(6012.5, 3.0, 0.05)) == 120
    assert len(floe_grid(21512.7, 3.0, 0.05)) == 121
    assert len(floe_grid(5996.15, 1.5, 0.02)) == 150


def test_grid_is_not_an_integer_step_grid() -> None:
    spot = 6012.5
    g = floe_grid(spot, 3.0, 0.05)
    ideal = spot * (1 + np.arange(-60, 61) * 0.05 / 100)
    assert g[60] != spot  # the "spot" point is off by ~1e-11
    assert abs(g[60] - spot) < 1e-10
    assert not np.array_equal(g, ideal[: len(g)])


@given(
    st.floats(0.01, 1e6, allow_nan=False),
    st.sampled_from([0.5, 1.0, 1.5, 3.0, 5.0]),
    st.sampled_from([0.01, 0.02, 0.05, 0.1, 0.25]),
)
def test_grid_matches_floe_loop(spot: float, rng: float, step: float) -> None:
    np.testing.assert_array_equal(floe_grid(spot, rng, step), _js_grid(spot, rng, step))


def test_grid_guards_where_floe_would_hang() -> None:
    with pytest.raises(ValueError, match="step"):
        floe_grid(100.0, 3.0, 0.0)
    with pytest.raises(ValueError, match="step"):
        floe_grid(100.0, 3.0, -0.05)
    assert floe_grid(100.0, -1.0, 0.05).size == 0  # min > max: floe's loop never runs


def _spot_on_grid() -> float:
    """A spot whose grid point 60 is exactly spot (found by scanning, as floe's luck goes)."""
    for i in range(10_000):
        spot = 6000.0 + 0.05 * i
        if np.any(floe_grid(spot, 3.0, 0.05) == spot):
            return spot
    raise AssertionError("no spot on its own grid")


def test_asymmetry_skips_a_grid_point_exactly_at_spot() -> None:
    spot = _spot_on_grid()
    prices = floe_grid(spot, 3.0, 0.05)
    j = int(np.flatnonzero(prices == spot)[0])
    h = np.full(prices.size, 1.0)
    h[j] = 1e9  # at spot: in neither integral (strict > and <)
    a = _asymmetry(prices, h, spot, 0.5)
    up, down = _js_asymmetry(prices.tolist(), h.tolist(), spot)
    assert (a.upside, a.downside) == (up, down)
    assert a.upside < 1e3 and a.downside < 1e3
    # moved a hair above spot the same point is upside: a whole H*step term
    b = _asymmetry(prices, h, spot - 1e-9, 0.5)
    assert b.upside > 1e9 * (prices[1] - prices[0]) * 0.99


@given(
    st.floats(50.0, 1e5),
    st.lists(st.floats(-1e9, 1e9), min_size=121, max_size=121),
)
def test_asymmetry_matches_floe_loop(spot: float, h: list[float]) -> None:
    prices = floe_grid(spot, 3.0, 0.05)
    hh = np.asarray(h[: prices.size])
    a = _asymmetry(prices, hh, spot, 0.5)
    up, down = _js_asymmetry(prices.tolist(), hh.tolist(), spot)
    assert (a.upside, a.downside) == (up, down)
    ratio = abs(up) / (abs(down) or 1e-10)
    assert a.asymmetry_ratio == ratio


def test_asymmetry_bias_threshold() -> None:
    prices = np.array([99.0, 99.5, 100.0, 100.5, 101.0])
    # up = -10*0.5, down = -8*0.5: threshold 0.5, -5 < -4 - 0.5 -> "up"
    a = _asymmetry(prices, np.array([0, -8, 0, -10, 0.0]), 100.0, 1.0)
    assert (a.upside, a.downside, a.bias) == (-5.0, -4.0, Bias.UP)
    # up = -8.8*0.5: threshold 0.44, -4.4 < -4 - 0.44 is false -> neutral
    a = _asymmetry(prices, np.array([0, -8, 0, -8.8, 0.0]), 100.0, 1.0)
    assert a.bias is Bias.NEUTRAL
    # down = 0: the ratio uses 1e-10 (quirk 10)
    a = _asymmetry(prices, np.array([0, 0, 0, -2, 0.0]), 100.0, 1.0)
    assert (a.bias, a.asymmetry_ratio) == (Bias.UP, 1.0 / 1e-10)


# --------------------------------------------------------------------------- quirk 3: regime


def test_empty_surface_gives_atm_iv_20_percent() -> None:
    rp = derive_regime_params_floe(surface([], []), 100.0)
    assert rp.atm_iv == 0.2
    assert interpolate_iv_at_strike_floe(surface([], []), 100.0) == 20.0
    assert (rp.skew, rp.curvature, rp.implied_vol_of_vol) == (0.0, 0.0, 0.0)
    assert rp.regime is MarketRegime.STRESSED  # [0.20, 0.35)
    # corr 0 -> k = 0 -> floored at 2
    assert (rp.implied_spot_vol_corr, rp.coupling_atm) == (0.0, 2.0)


def test_interpolation_is_linear_in_percent_and_flat_outside() -> None:
    s = surface([90.0, 100.0, 110.0], [0.30, 0.20, 0.25])
    assert interpolate_iv_at_strike_floe(s, 95.0) == pytest.approx(25.0, rel=1e-15)
    assert interpolate_iv_at_strike_floe(s, 80.0) == pytest.approx(30.0, rel=1e-15)
    assert interpolate_iv_at_strike_floe(s, 130.0) == pytest.approx(25.0, rel=1e-15)
    assert interpolate_iv_at_strike_floe(surface([100.0], [0.17]), 50.0) == pytest.approx(17.0)


def test_skew_uses_the_interval_ending_at_spot() -> None:
    """floe: spot on strike 100 takes [90, 100]: (20 - 30)/10 * 100 = -100 (not [100, 110]: +50)."""
    s = surface([90.0, 100.0, 110.0], [0.30, 0.20, 0.25])
    rp = derive_regime_params_floe(s, 100.0)
    assert rp.skew == pytest.approx(-100.0, rel=1e-12)
    assert rp.implied_spot_vol_corr == -0.95  # 0.15 * -100 clamped
    # spot outside the surface: secant from first to last strike, (25 - 30)/20 * 200 = -50
    assert derive_regime_params_floe(s, 200.0).skew == pytest.approx(-50.0, rel=1e-12)


def test_curvature_nearest_strike_first_on_ties_and_zero_at_ends() -> None:
    # spot 105 is equidistant from 100 and 110: floe takes 100 (the first), neighbours 90, 110:
    # (25 - 2*20 + 30)/10^2 * 105^2 = 15 * 110.25 = 1653.75 (percent units: the unit mix-up)
    s = surface([90.0, 100.0, 110.0, 120.0], [0.30, 0.20, 0.25, 0.40])
    rp = derive_regime_params_floe(s, 105.0)
    assert rp.curvature == pytest.approx(1653.75, rel=1e-12)
    assert rp.implied_vol_of_vol == pytest.approx(math.sqrt(1653.75) * 2 * rp.atm_iv, rel=1e-12)
    assert rp.expected_daily_vol_move == pytest.approx(rp.implied_vol_of_vol / math.sqrt(252))
    assert derive_regime_params_floe(s, 80.0).curvature == 0.0  # nearest is the first strike
    assert derive_regime_params_floe(s, 125.0).curvature == 0.0  # nearest is the last
    assert derive_regime_params_floe(surface([90.0, 100.0], [0.3, 0.2]), 99.0).curvature == 0.0


def test_spot_vol_coupling_clamps() -> None:
    assert derive_spot_vol_coupling_floe(-0.95, 0.20) == pytest.approx(0.95 * 0.2 * math.sqrt(252))
    assert derive_spot_vol_coupling_floe(-0.95, 0.10) == 2.0  # 1.5 floored
    assert derive_spot_vol_coupling_floe(-0.95, 2.00) == 20.0  # 30.2 capped
    assert derive_spot_vol_coupling_floe(0.5, 0.20) == 2.0  # call skew: negative k -> 2
    # call skew on the surface: corr +0.5, k = 2
    rp = derive_regime_params_floe(surface([90.0, 110.0], [0.18, 0.22]), 100.0)
    assert (rp.implied_spot_vol_corr, rp.coupling_atm) == (0.5, 2.0)


@pytest.mark.parametrize(
    ("iv", "regime"),
    [
        (0.1499, MarketRegime.CALM),
        (0.15, MarketRegime.NORMAL),
        (0.20, MarketRegime.STRESSED),
        (0.35, MarketRegime.CRISIS),
    ],
)
def test_market_regime_bins(iv: float, regime: MarketRegime) -> None:
    assert derive_regime_params_floe(surface([100.0], [iv]), 100.0).regime is regime


# --------------------------------------------------------------------------- quirk 4: curve


def test_kernel_is_a_normalized_average_and_zero_far_away() -> None:
    """One strike: sum(w x)/sum(w) = x wherever its weight does not underflow; a strike
    far from the grid leaves G = V = 0 exactly (floe's `weightSum > 0 ? ... : 0`)."""
    e = exposure([100.0], [5e8], [3e6], spot=100.0)
    s = surface([100.0], [0.2])
    c = analyze_hedge_flow_floe(e, s, now=NOW).impulse_curve
    np.testing.assert_allclose(c.gamma, 5e8, rtol=1e-15)
    np.testing.assert_allclose(c.vanna, 3e6, rtol=1e-15)
    # H = G - (k / price) * V at each grid price (not spot), k = 2 here
    np.testing.assert_allclose(c.impulse, 5e8 - (2.0 / c.price) * 3e6, rtol=1e-15)
    far = analyze_hedge_flow_floe(exposure([1000.0], [5e8], [3e6]), s, now=NOW).impulse_curve
    assert np.all(far.gamma == 0.0) and np.all(far.impulse == 0.0)
    assert far.regime is ImpulseRegime.NEUTRAL  # mean |H| = 0


def test_impulse_at_a_grid_point_comes_from_the_left_interval() -> None:
    prices = np.array([1.0, 2.0, 3.0])
    h = np.array([0.7, 0.1, 0.3])
    # floe takes [1, 2] with t = 1: 0.7 + 1 * (0.1 - 0.7), which is not 0.1 in floating point
    assert _interp_on_grid(prices, h, 2.0) == 0.7 + 1.0 * (0.1 - 0.7) != 0.1
    assert _interp_on_grid(prices, h, 0.5) == 0.7 and _interp_on_grid(prices, h, 9.0) == 0.3
    assert _interp_on_grid(np.empty(0), np.empty(0), 1.0) == 0.0


@given(
    st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=30),
    st.floats(-5.0, 40.0),
)
def test_interpolation_matches_floe_loop(h: list[float], x: float) -> None:
    prices = floe_grid(100.0, 3.0, 0.25)[: len(h)]
    hh = h[: prices.size]
    x = 97.0 + x * 0.2
    assert _interp_on_grid(prices, np.asarray(hh), x) == _js_interp(prices.tolist(), hh, x)


def test_zero_crossings_skip_exact_zeros() -> None:
    prices = np.arange(6.0)
    # 1 -> 0 -> -1: a*b == 0 twice, no crossing; -1 -> 3: rising at 3 + 1/4
    h = np.array([1.0, 0.0, -1.0, -1.0, 3.0, 3.0])
    zc = _zero_crossings(prices, h)
    assert zc == (ZeroCrossing(3.25, CrossingDirection.RISING),)
    assert _zero_crossings(prices, -h) == (ZeroCrossing(3.25, CrossingDirection.FALLING),)


def test_extrema_are_strict_interior_and_signed() -> None:
    prices = np.arange(9.0)
    h = np.array([5.0, 1.0, 2.0, 2.0, 1.0, -3.0, -1.0, -0.5, -4.0])
    # 0 is an end point; the plateau 2, 2 is not strict; -3 at 5 is a peak; no positive min
    ex = _extrema(prices, h)
    assert ex == (ImpulseExtremum(5.0, -3.0, ExtremumKind.PEAK),)
    # a positive local minimum or a negative local maximum is neither
    assert _extrema(np.arange(3.0), np.array([2.0, 1.0, 2.0])) == ()
    assert _extrema(np.arange(3.0), np.array([-2.0, -1.0, -2.0])) == ()
    assert _extrema(np.arange(3.0), np.array([0.0, 1.0, 0.0])) == (
        ImpulseExtremum(1.0, 1.0, ExtremumKind.BASIN),
    )


def _asym(bias: Bias, ratio: float) -> DirectionalAsymmetry:
    return DirectionalAsymmetry(0.0, 0.0, 0.5, bias, ratio)


@pytest.mark.parametrize(
    ("at_spot", "bias", "ratio", "regime"),
    [
        (0.51, Bias.DOWN, 9.0, ImpulseRegime.PINNED),  # > 0.5 of mean |H|
        (0.50, Bias.NEUTRAL, 0.0, ImpulseRegime.NEUTRAL),
        (-0.31, Bias.UP, 0.0, ImpulseRegime.SQUEEZE_UP),
        (-0.31, Bias.DOWN, 0.0, ImpulseRegime.SQUEEZE_DOWN),
        (-0.31, Bias.NEUTRAL, 0.0, ImpulseRegime.EXPANSION),
        (-0.30, Bias.UP, 1.6, ImpulseRegime.SQUEEZE_UP),  # weak: needs ratio > 1.5
        (-0.30, Bias.UP, 1.5, ImpulseRegime.NEUTRAL),
        # quirk 10: a down bias means |up| < |down|, so ratio = |up|/|down| < 1: never > 1.5
        (0.0, Bias.DOWN, 0.5, ImpulseRegime.NEUTRAL),
        (0.0, Bias.DOWN, 1.6, ImpulseRegime.SQUEEZE_DOWN),
    ],
)
def test_regime_classification(
    at_spot: float, bias: Bias, ratio: float, regime: ImpulseRegime
) -> None:
    h = np.array([1.0, -1.0, 1.0, -1.0])  # mean |H| = 1
    assert _classify(h, at_spot, _asym(bias, ratio)) is regime


def test_regime_neutral_when_curve_is_zero_or_empty() -> None:
    assert _classify(np.zeros(4), -5.0, _asym(Bias.UP, 9.0)) is ImpulseRegime.NEUTRAL
    assert _classify(np.empty(0), 0.0, _asym(Bias.NEUTRAL, 0.0)) is ImpulseRegime.NEUTRAL


# --------------------------------------------------------------------------- quirk 5: charm


def _charm(minutes: float, step: float = 15.0, cex=(1e9, -2e8, 0.0, 5e8), strikes=None):
    strikes = [95.0, 100.0, 105.0, 110.0][: len(cex)] if strikes is None else strikes
    e = exposure(strikes, np.zeros(len(cex)), cex=cex, expiration=NOW + timedelta(minutes=minutes))
    return compute_charm_integral_floe(
        e, now=NOW, config=CharmIntegralConfig(time_step_minutes=step), order=np.arange(len(cex))
    )


def test_no_buckets_with_less_than_one_step_left() -> None:
    ch = _charm(2.0)
    assert ch.minutes_remaining == 2.0
    assert ch.bucket_minutes_remaining.size == 0
    assert (ch.total_charm_to_close, ch.floe_direction) == (0.0, "neutral")
    assert ch.strike_contribution.size == 3  # charm is there, only the buckets are not


def test_exactly_one_step_left_gives_one_bucket() -> None:
    ch = _charm(15.0)
    total = 1e9 - 2e8 + 0.0 + 5e8
    np.testing.assert_array_equal(ch.bucket_minutes_remaining, [15.0])
    assert ch.instantaneous_cex[0] == total  # sqrt(15/15) = 1
    assert ch.total_charm_to_close == total * (15.0 / 390.0)
    assert ch.floe_direction == "buying"  # floe's label for a positive total


def test_expired_gives_zero_minutes() -> None:
    ch = _charm(-5.0)
    assert (ch.minutes_remaining, ch.total_charm_to_close, ch.floe_direction) == (
        0.0,
        0.0,
        "neutral",
    )
    assert ch.bucket_minutes_remaining.size == 0


def test_short_steps_stop_at_one_minute() -> None:
    ch = _charm(3.0, step=0.5)  # t >= max(1, 0.5): 3, 2.5, 2, 1.5, 1
    np.testing.assert_array_equal(ch.bucket_minutes_remaining, [3.0, 2.5, 2.0, 1.5, 1.0])


def test_negative_total_is_floe_selling() -> None:
    ch = _charm(60.0, cex=(-1e9, 2e8))
    assert ch.total_charm_to_close < 0 and ch.floe_direction == "selling"


def test_multi_day_expiry_counts_wall_clock_minutes() -> None:
    """Across a DST change: 7 days and 2 hours of wall-clock minutes, all of them buckets."""
    minutes = 7 * 1440 + 120.0
    ch = _charm(minutes)
    assert ch.minutes_remaining == minutes
    want = _js_charm(minutes, 15.0, 1e9 - 2e8 + 0.0 + 5e8)
    assert len(ch.cumulative_cex) == len(want) == 680
    np.testing.assert_array_equal(ch.cumulative_cex, [w[2] for w in want])
    # inflated: far more than 7.08 days of the current daily CEX
    assert ch.total_charm_to_close > 7.08 * 1.3e9 * 5


@given(
    st.floats(0.0, 20_000.0),
    st.sampled_from([0.25, 1.0, 5.0, 7.5, 15.0, 30.0]),
    st.floats(-1e12, 1e12),
)
def test_charm_buckets_match_floe_loop(minutes: float, step: float, total: float) -> None:
    now_ms = 1_749_567_600_000
    exp_ms = now_ms + round(minutes * 60_000)
    e = exposure([100.0], [0.0], cex=[total], expiration=EPOCH + timedelta(milliseconds=exp_ms))
    ch = compute_charm_integral_floe(
        e,
        now=EPOCH + timedelta(milliseconds=now_ms),
        config=CharmIntegralConfig(time_step_minutes=step),
    )
    want = _js_charm((exp_ms - now_ms) / 60_000, step, total)
    assert ch.bucket_minutes_remaining.tolist() == [w[0] for w in want]
    assert ch.instantaneous_cex.tolist() == [w[1] for w in want]
    assert ch.cumulative_cex.tolist() == [w[2] for w in want]


def test_strike_contributions_drop_zeros_and_sort_stably() -> None:
    ch = _charm(60.0, cex=(2.0, -5.0, 0.0, 5.0, -2.0), strikes=[1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(ch.contribution_strikes, [2.0, 4.0, 1.0, 5.0])
    np.testing.assert_array_equal(ch.strike_contribution, [-5.0, 5.0, 2.0, -2.0])
    np.testing.assert_array_equal(ch.fraction_of_total, [5 / 14, 5 / 14, 2 / 14, 2 / 14])


def test_charm_step_must_be_positive() -> None:
    with pytest.raises(ValueError, match="time_step_minutes"):
        _charm(60.0, step=0.0)


# --------------------------------------------------------------------------- quirk 6, 8, 9: cloud


def test_noise_becomes_a_zone_and_thresholds_are_per_type() -> None:
    """A trough of a few dollars beside a basin of billions is an acceleration zone of
    full relative strength: the threshold compares it with peaks only."""
    spot = 100.0
    prices = floe_grid(spot, 3.0, 0.05)
    h = 1e9 * np.exp(-(((prices - 98.0) / 0.3) ** 2)) - 3.0 * np.exp(
        -(((prices - 101.0) / 0.2) ** 2)
    )
    ex = _extrema(prices, h)
    assert [e.kind for e in ex] == [ExtremumKind.BASIN, ExtremumKind.PEAK]
    cloud = compute_pressure_cloud_floe(
        hand_curve(prices, h, spot, ex), regime_with(0.2, spot), PressureCloudConfig(), now=NOW
    )
    (acc,) = cloud.acceleration_zones
    reach = 0.2 / math.sqrt(252) * spot * 2.0
    prox = math.exp(-((abs(acc.center - spot) / reach) ** 2))
    assert acc.strength == pytest.approx(prox, rel=1e-12)  # |H|/max|H| = 1 among peaks
    assert acc.impulse > -3.01 and acc.floe_trade_type == "long" and acc.side is Side.ABOVE
    (stab,) = cloud.stability_zones
    assert stab.side is Side.BELOW and stab.floe_trade_type == "long"
    assert stab.floe_hedge_type == "passive" and acc.floe_hedge_type == "aggressive"


def test_zone_threshold_drops_small_extrema_and_sorts_by_strength() -> None:
    spot = 100.0
    prices = np.linspace(97.0, 103.0, 13)  # step 0.5
    h = np.array([0, 1.0, 0, 0.1, 0, 0.5, 0, 0.2, 0, 0.9, 0, 0.3, 0])
    ex = _extrema(prices, h)
    cloud = compute_pressure_cloud_floe(
        hand_curve(prices, h, spot, ex),
        regime_with(2.0, spot),  # wide reach: proximity near 1
        PressureCloudConfig(zone_threshold=0.25),
        now=NOW,
    )
    # 0.1 and 0.2 are below 0.25 of the largest basin (1.0); the rest sorted by strength
    # strengths 1.0*0.990, 0.9*0.996, 0.5*0.999, 0.3*0.994 (proximity, reach 25.2 points)
    assert [z.center for z in cloud.stability_zones] == [97.5, 101.5, 99.5, 102.5]
    strengths = [z.strength for z in cloud.stability_zones]
    assert strengths == sorted(strengths, reverse=True)
    assert cloud.acceleration_zones == ()


def test_zone_bounds_stop_past_half_or_at_the_curve_end() -> None:
    spot = 100.0
    prices = np.arange(95.0, 106.0)  # 95 .. 105
    h = np.array([3.0, 4.0, 5.0, 8.0, 10.0, 6.0, 5.0, 4.9, 1.0, 2.0, 1.0])
    ex = _extrema(prices, h)
    assert [e.price for e in ex] == [99.0, 104.0]
    cloud = compute_pressure_cloud_floe(
        hand_curve(prices, h, spot, ex), regime_with(0.5, spot), PressureCloudConfig(), now=NOW
    )
    by_center = {z.center: z for z in cloud.stability_zones}
    # centre 99 (H 10, half 5): walking left, 8 and 5 are not < 5, 4 at 96 is: stop there;
    # walking right, 6 and 5 are not, 4.9 at 102 is
    assert (by_center[99.0].lower, by_center[99.0].upper) == (96.0, 102.0)
    # centre 104 (H 2, half 1): no point is < 1 on either side (1.0 is not): the curve ends
    assert (by_center[104.0].lower, by_center[104.0].upper) == (95.0, 105.0)
    # the mirror image: peaks walk to the first H > half (strictly), same bounds
    cloud = compute_pressure_cloud_floe(
        hand_curve(prices, -h, spot, _extrema(prices, -h)),
        regime_with(0.5, spot),
        PressureCloudConfig(),
        now=NOW,
    )
    assert [(z.center, z.lower, z.upper) for z in cloud.acceleration_zones] == [
        (99.0, 96.0, 102.0),
        (104.0, 95.0, 105.0),
    ]


def test_zone_side_at_spot_is_above() -> None:
    prices = np.arange(98.0, 103.0)
    h = np.array([0.0, 1.0, 2.0, 1.0, 0.0])
    ex = _extrema(prices, h)
    cloud = compute_pressure_cloud_floe(
        hand_curve(prices, h, 100.0, ex), regime_with(0.2, 100.0), PressureCloudConfig(), now=NOW
    )
    assert cloud.stability_zones[0].side is Side.ABOVE
    assert cloud.stability_zones[0].floe_trade_type == "short"


def test_contracts_fixed_set_config_multiplier_and_signs() -> None:
    spot = 5000.0
    prices = np.array([4990.0, 5000.0, 5010.0])
    h = np.array([1e9, 2e9, -1e9])
    cloud = compute_pressure_cloud_floe(
        hand_curve(prices, h, spot),
        regime_with(0.2, spot),
        PressureCloudConfig(contract_multiplier=7.0, product="SPY"),
        now=NOW,
    )
    lv = cloud.levels
    # expectedHedgeContracts uses the config multiplier; hedgeContracts the fixed set
    np.testing.assert_allclose(lv.expected_hedge_contracts, h / (7.0 * spot * 0.01), rtol=1e-15)
    np.testing.assert_allclose(lv.hedge_contracts["es"], h / (50.0 * spot * 0.01), rtol=1e-15)
    np.testing.assert_allclose(lv.hedge_contracts["mnq"], h / (2.0 * spot * 0.01), rtol=1e-15)
    assert lv.floe_hedge_type == ("passive", "passive", "aggressive")
    # total at spot: floe's sign (positive H, positive contracts) and the sign rule (dealers sell)
    tc = cloud.total_contracts
    assert tc.floe_contracts["es"] == pytest.approx(2e9 / (50 * spot * 0.01))
    assert tc.contracts["ES"] == -tc.floe_contracts["es"] < 0
    assert set(tc.contracts) == {"NQ", "MNQ", "ES", "MES"}


def test_non_finite_contracts_become_zero() -> None:
    got = floe_hedge_contracts(np.array([np.inf, np.nan, 1.0]), 100.0)
    np.testing.assert_array_equal(got["nq"], [0.0, 0.0, 1.0 / (20 * 100.0 * 0.01)])
    assert np.all(floe_hedge_contracts(np.array([1.0]), 0.0)["es"] == 0.0)  # denominator 0


@pytest.mark.parametrize(
    ("price", "direction", "floe_type", "stable_beyond"),
    [
        # below spot, H + -> - rising in price: H > 0 below the edge, i.e. beyond it
        (99.0, CrossingDirection.FALLING, "stable-to-unstable", True),
        (99.0, CrossingDirection.RISING, "unstable-to-stable", False),
        (101.0, CrossingDirection.RISING, "stable-to-unstable", True),
        (101.0, CrossingDirection.FALLING, "unstable-to-stable", False),
    ],
)
def test_regime_edges(
    price: float, direction: CrossingDirection, floe_type: str, stable_beyond: bool
) -> None:
    """floe's transitionType describes the move from the edge toward spot (quirk 8):
    beyond the edge is stable exactly when floe calls it 'stable-to-unstable'."""
    prices = np.arange(95.0, 106.0)
    cloud = compute_pressure_cloud_floe(
        hand_curve(prices, np.ones(11), 100.0, crossings=[ZeroCrossing(price, direction)]),
        regime_with(0.2, 100.0),
        PressureCloudConfig(),
        now=NOW,
    )
    (edge,) = cloud.regime_edges
    assert (edge.price, edge.floe_transition_type, edge.stable_beyond) == (
        price,
        floe_type,
        stable_beyond,
    )


# --------------------------------------------------------------------------- properties

finite = st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)


@st.composite
def random_inputs(draw):
    spot = draw(st.floats(1.0, 1e5))
    n = draw(st.integers(0, 25))
    strikes = draw(
        st.lists(st.floats(0.5, 1.5), min_size=n, max_size=n).map(lambda x: [spot * v for v in x])
    )
    gex = draw(st.lists(finite, min_size=n, max_size=n))
    vex = draw(st.lists(finite, min_size=n, max_size=n))
    cex = draw(st.lists(finite, min_size=n, max_size=n))
    m = draw(st.integers(0, 12))
    iv_strikes = sorted(set(draw(st.lists(st.floats(0.5, 1.5), min_size=m, max_size=m))))
    ivs = draw(st.lists(st.floats(0.01, 3.0), min_size=len(iv_strikes), max_size=len(iv_strikes)))
    minutes = draw(st.floats(-100.0, 20_000.0))
    return spot, strikes, gex, vex, cex, [spot * k for k in iv_strikes], ivs, minutes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_inputs(), st.booleans())
def test_random_inputs_never_raise_and_stay_finite(inputs, floe_sorted: bool) -> None:
    spot, strikes, gex, vex, cex, iv_k, ivs, minutes = inputs
    e = exposure(strikes, gex, vex, cex, spot=spot, expiration=NOW + timedelta(minutes=minutes))
    s = surface(iv_k, ivs)
    order = None if floe_sorted else np.arange(len(strikes))
    a = analyze_hedge_flow_floe(e, s, now=NOW, order=order)
    cloud = compute_pressure_cloud_floe(
        a.impulse_curve, a.regime_params, PressureCloudConfig(), now=NOW
    )

    rp = a.regime_params
    for x in (
        rp.atm_iv,
        rp.skew,
        rp.curvature,
        rp.expected_move,
        rp.coupling_atm,
        rp.implied_spot_vol_corr,
        rp.implied_vol_of_vol,
        rp.expected_daily_vol_move,
    ):
        assert math.isfinite(x)
    assert 2.0 <= rp.coupling_atm <= 20.0
    assert -0.95 <= rp.implied_spot_vol_corr <= 0.5
    c = a.impulse_curve
    assert c.price.size in (120, 121)
    for arr in (c.price, c.gamma, c.vanna, c.impulse):
        assert np.all(np.isfinite(arr))
    for x in (
        c.impulse_at_spot,
        c.slope_at_spot,
        c.asymmetry.upside,
        c.asymmetry.downside,
        c.asymmetry.asymmetry_ratio,
        c.kernel_width,
        c.strike_spacing,
    ):
        assert math.isfinite(x)
    assert all(math.isfinite(z.price) for z in c.zero_crossings)
    assert all(math.isfinite(x.price) and math.isfinite(x.impulse) for x in c.extrema)
    ch = a.charm_integral
    assert ch.minutes_remaining >= 0
    for arr in (ch.instantaneous_cex, ch.cumulative_cex, ch.fraction_of_total, ch.bucket_time):
        assert np.all(np.isfinite(arr))
    assert math.isfinite(ch.total_charm_to_close)
    assert ch.floe_direction in ("buying", "selling", "neutral")
    lv = cloud.levels
    for arr in (
        lv.stability_score,
        lv.acceleration_score,
        lv.expected_hedge_contracts,
        *lv.hedge_contracts.values(),
    ):
        assert np.all(np.isfinite(arr))
    assert np.all(lv.stability_score >= 0) and np.all(lv.acceleration_score >= 0)
    for z in cloud.stability_zones + cloud.acceleration_zones:
        assert 0.0 <= z.strength <= 1.0
        assert z.lower <= z.center <= z.upper
        assert all(math.isfinite(v) for v in z.contracts.contracts.values())
    assert len(cloud.regime_edges) == len(c.zero_crossings)
