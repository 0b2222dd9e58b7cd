"""Pressure cloud (hedgeflow.pressure): contracts by hand, zones on Gaussian curves whose
half-maximum points and integrals are known in closed form, edges, levels, properties.

Closed forms: a Gaussian A exp(-((P - c)/lam)^2) falls to A/2 at c +- lam sqrt(ln 2), and
its integral over that interval is A lam sqrt(pi) erf(sqrt(ln 2)).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import erf

from hedgeflow.engine.enums import CrossingDirection, ExtremumKind, MarketRegime, Side
from hedgeflow.engine.impulse import (
    analyze_curve,
    compute_hedge_impulse_curve,
    find_extrema,
    find_zero_crossings,
)
from hedgeflow.engine.pressure import (
    compute_pressure_cloud,
    hedge_contracts,
    integral_between,
    zone_bounds,
)
from hedgeflow.engine.types import (
    ExposurePerExpiry,
    FuturesContract,
    HedgeImpulseCurve,
    IVSurface,
    PressureCloudConfig,
    RegimeParams,
    ZeroCrossing,
)

NOW = datetime(2026, 1, 5, 16, 0, tzinfo=UTC)
EXP = datetime(2026, 1, 5, 21, 0, tzinfo=UTC)
SPOT = 5000.0
CFG = PressureCloudConfig()  # ES 50, MES 5, ratio 1


def regime(expected_move: float = 50.0) -> RegimeParams:
    return RegimeParams(
        atm_iv=0.16,
        skew=-0.4,
        curvature=4.0,
        regime=MarketRegime.NORMAL,
        regime_iv=0.16,
        expected_move=expected_move,
        expected_daily_spot_move=0.16 / math.sqrt(252),
    )


def curve_from(
    price: np.ndarray,
    values: np.ndarray,
    *,
    total: float = float("nan"),
    lam: float = 10.0,
    spot: float = SPOT,
) -> HedgeImpulseCurve:
    tol = 1e-3 * float(np.abs(values).max())
    a = analyze_curve(price, values, spot, impulse_total=total, impulse_gross=abs(total), eps=1e-3)
    return HedgeImpulseCurve(
        spot=spot,
        expiration=EXP,
        computed_at=NOW,
        spot_vol_coupling=0.0,
        kernel_width=lam,
        strike_spacing=lam / 2,
        price=price,
        gamma=values,
        vanna=np.zeros_like(values),
        impulse=values,
        impulse_at_spot=a.impulse_at_spot,
        slope_at_spot=a.slope_at_spot,
        zero_crossings=find_zero_crossings(price, values, tol),
        extrema=find_extrema(price, values, tol),
        asymmetry=a.asymmetry,
        regime=a.regime,
        nearest_attractor_above=a.nearest_attractor_above,
        nearest_attractor_below=a.nearest_attractor_below,
        impulse_total=total,
    )


def grid(spot: float = SPOT, step: float = 0.05) -> np.ndarray:
    return spot * (1 + np.arange(-60, 61) * step / 100)


def gauss(p: np.ndarray, a: float, c: float, lam: float) -> np.ndarray:
    return a * np.exp(-(((p - c) / lam) ** 2))


# --------------------------------------------------------------------------- contracts


def test_contracts_by_hand_spx_es():
    """H = +$1e9 per 1% on SPX, ES $50/point at 5000: the dealers' delta rises by $1e9 on
    a +1% move, so they sell 1e9 / (50 * 5000) = 4000 ES (MES: 40,000)."""
    c = curve_from(grid(), gauss(grid(), 1e7, SPOT, 10.0))
    cloud = compute_pressure_cloud(
        c, regime(), CFG, now=NOW, futures_price=5000.0, impulse_total=1e9
    )
    assert cloud.total_contracts.contracts == {"ES": -4000.0, "MES": -40000.0}
    assert cloud.futures_price == 5000.0
    assert hedge_contracts(-1e9, CFG, 5000.0) == {"ES": 4000.0, "MES": 40000.0}


def test_contracts_use_spot_times_ratio_without_a_live_futures_price():
    """SPY at 500 with ES at ~10x: H = +$2.5e8 per 1% -> -2.5e8 / (50 * 5000) = -1000 ES."""
    spy = 500.0
    cfg = replace(CFG, futures_ratio=10.0)
    c = curve_from(grid(spy), gauss(grid(spy), 1e7, spy, 1.0), spot=spy, lam=1.0)
    for fut in (None, float("nan"), -1.0):
        cloud = compute_pressure_cloud(
            c, regime(5.0), cfg, now=NOW, futures_price=fut, impulse_total=2.5e8
        )
        assert cloud.futures_price == 5000.0
        assert cloud.total_contracts.contracts["ES"] == pytest.approx(-1000.0, rel=1e-15)
    nq = replace(cfg, futures=(FuturesContract("NQ", 20.0), FuturesContract("MNQ", 2.0)))
    cloud = compute_pressure_cloud(
        c, regime(5.0), nq, now=NOW, futures_price=20000.0, impulse_total=-4e8
    )
    assert cloud.total_contracts.contracts == {"NQ": 1000.0, "MNQ": 10000.0}


def test_total_falls_back_to_the_curve_total_and_its_integral():
    p = grid()
    v = gauss(p, 1e7, SPOT, 10.0)
    c = curve_from(p, v, total=3e8)
    assert compute_pressure_cloud(
        c, regime(), CFG, now=NOW, futures_price=5000.0
    ).total_contracts.contracts["ES"] == pytest.approx(-3e8 / 250000.0)
    c2 = curve_from(p, v)  # NaN total: the curve's integral, 1e7 * 10 * sqrt(pi)
    es = compute_pressure_cloud(c2, regime(), CFG, now=NOW, futures_price=5000.0).total_contracts
    assert es.contracts["ES"] == pytest.approx(-1e8 * math.sqrt(math.pi) / 250000.0, rel=1e-6)


# --------------------------------------------------------------------------- zones


def test_zone_bounds_and_integral_on_gaussians():
    p = SPOT * (1 + np.arange(-600, 601) * 0.005 / 100)  # 0.25-point grid
    lam = 10.0
    v = gauss(p, 4e7, 5040.0, lam) + gauss(p, -3e7, 4950.0, lam)
    c = curve_from(p, v, total=1e9)
    cloud = compute_pressure_cloud(c, regime(), CFG, now=NOW, futures_price=SPOT)
    (basin,), (peak,) = cloud.stability_zones, cloud.acceleration_zones
    half = lam * math.sqrt(math.log(2))
    assert basin.center == pytest.approx(5040.0, abs=0.13)
    assert basin.lower == pytest.approx(5040.0 - half, abs=1e-3)
    assert basin.upper == pytest.approx(5040.0 + half, abs=1e-3)
    assert peak.lower == pytest.approx(4950.0 - half, abs=1e-3)
    exact = 4e7 * lam * math.sqrt(math.pi) * erf(math.sqrt(math.log(2)))
    assert basin.impulse == pytest.approx(exact, rel=1e-4)
    assert basin.contracts.contracts["ES"] == pytest.approx(-basin.impulse / (50 * SPOT), rel=1e-15)
    assert peak.impulse < 0 < peak.contracts.contracts["ES"]
    assert basin.kind is ExtremumKind.BASIN and peak.kind is ExtremumKind.PEAK
    assert basin.side is Side.ABOVE and peak.side is Side.BELOW
    assert basin.peak_density == pytest.approx(4e7, rel=1e-4)
    # strength = rel * proximity, reach = 2 * expected move = 100 points
    assert cloud.reach == 100.0
    assert basin.strength == pytest.approx(
        math.exp(-(((basin.center - SPOT) / 100) ** 2)), rel=1e-6
    )
    assert peak.strength == pytest.approx(
        0.75 * math.exp(-(((peak.center - SPOT) / 100) ** 2)), rel=1e-3
    )


def test_zone_threshold_is_relative_to_the_global_maximum():
    """A trough at 5% of the basin is noise for the global rule (floe's per-type rule would
    keep it as an acceleration zone)."""
    p = grid()
    v = gauss(p, 1e8, 5010.0, 10.0) + gauss(p, -5e6, 4970.0, 10.0)
    c = curve_from(p, v, total=1e9)
    assert {e.kind for e in c.extrema} == {ExtremumKind.BASIN, ExtremumKind.PEAK}
    cloud = compute_pressure_cloud(c, regime(), CFG, now=NOW)
    assert len(cloud.stability_zones) == 1 and cloud.acceleration_zones == ()
    low = compute_pressure_cloud(c, regime(), replace(CFG, zone_threshold=0.04), now=NOW)
    assert len(low.acceleration_zones) == 1


def test_zones_sorted_by_strength_and_bounds_clip_to_the_grid():
    p = grid()
    v = gauss(p, 1e8, 5120.0, 80.0) + gauss(p, 0.9e8, 5005.0, 10.0) + gauss(p, 0.8e8, 4960.0, 10.0)
    cloud = compute_pressure_cloud(curve_from(p, v, total=1e9), regime(), CFG, now=NOW)
    s = [z.strength for z in cloud.stability_zones]
    assert s == sorted(s, reverse=True) and len(s) == 3
    edge = [z for z in cloud.stability_zones if z.center > 5080][0]
    assert edge.upper == p[-1]  # the wide Gaussian never falls to half inside the grid
    assert all(z.lower <= z.center <= z.upper for z in cloud.stability_zones)


def test_ripples_inside_a_stronger_zone_are_folded_into_it():
    """Two maxima 22 points apart with lam = 10: the dip between them stays above half of
    the stronger, so the weaker is a ripple of the same zone, not a second zone."""
    p = SPOT * (1 + np.arange(-300, 301) * 0.01 / 100)
    v = gauss(p, 1e8, 5000.0, 10.0) + gauss(p, 0.9e8, 5022.0, 10.0)
    c = curve_from(p, v, total=1e9)
    assert sum(e.kind is ExtremumKind.BASIN for e in c.extrema) == 2
    (zone,) = compute_pressure_cloud(c, regime(), CFG, now=NOW).stability_zones
    assert zone.lower < 5000.0 and zone.upper > 5022.0
    # far apart they stay two zones
    w = gauss(p, 1e8, 4980.0, 10.0) + gauss(p, 0.9e8, 5030.0, 10.0)
    assert (
        len(
            compute_pressure_cloud(
                curve_from(p, w, total=1e9), regime(), CFG, now=NOW
            ).stability_zones
        )
        == 2
    )


def test_zone_bounds_hand_computed():
    p = np.arange(0.0, 7.0)
    v = np.array([0.0, 1.0, 3.0, 4.0, 2.0, 1.0, 0.0])
    lo, hi = zone_bounds(p, v, np.array([3]))
    assert lo[0] == 1.5 and hi[0] == 4.0  # 2.0 = half of 4 is reached exactly at 4
    assert integral_between(p, v, np.array([1.5]), np.array([4.0]))[0] == pytest.approx(
        0.5 * 0.5 * (2.0 + 3.0) + 3.5 + 3.0
    )


# --------------------------------------------------------------------------- edges and levels


def test_regime_edges_describe_moves_from_spot_outward():
    p = grid()
    # + below 4980, - between, + above 5020
    v = gauss(p, 1e8, 4950.0, 10.0) - gauss(p, 1e8, 5000.0, 10.0) + gauss(p, 1e8, 5050.0, 10.0)
    c = curve_from(p, v, total=1e9)
    below, above = c.zero_crossings
    assert (
        below.direction is CrossingDirection.FALLING and above.direction is CrossingDirection.RISING
    )
    cloud = compute_pressure_cloud(c, regime(), CFG, now=NOW)
    assert [e.stable_beyond for e in cloud.regime_edges] == [True, True]
    flipped = curve_from(p, -v, total=-1e9)
    cloud2 = compute_pressure_cloud(flipped, regime(), CFG, now=NOW)
    assert [e.stable_beyond for e in cloud2.regime_edges] == [False, False]


def test_edge_at_spot_counts_as_above():
    c = curve_from(grid(), grid() - SPOT, total=1.0)
    c = replace(c, zero_crossings=(ZeroCrossing(SPOT, CrossingDirection.RISING),))
    cloud = compute_pressure_cloud(c, regime(), CFG, now=NOW)
    assert cloud.regime_edges[0].stable_beyond is True


def test_levels_scores_and_contracts():
    p = grid()
    v = gauss(p, 1e8, 5010.0, 10.0) - gauss(p, 5e7, 4980.0, 10.0)
    cloud = compute_pressure_cloud(
        curve_from(p, v, total=1e9), regime(), CFG, now=NOW, futures_price=SPOT
    )
    lv = cloud.levels
    assert np.all((lv.stability_score >= 0) & (lv.stability_score <= 1))
    assert np.all((lv.acceleration_score >= 0) & (lv.acceleration_score <= 1))
    assert np.all((lv.stability_score == 0) | (lv.acceleration_score == 0))
    # cells sum to the curve's trapezoid integral
    assert lv.hedge_contracts["ES"].sum() == pytest.approx(
        -np.trapezoid(v, p) / (50 * SPOT), rel=1e-12
    )
    np.testing.assert_allclose(lv.expected_hedge_contracts, lv.hedge_contracts["ES"], rtol=1e-15)
    assert np.all(np.sign(lv.hedge_contracts["MES"]) == -np.sign(v))


def test_reach_floors_at_the_kernel_width():
    c = curve_from(grid(), gauss(grid(), 1e7, SPOT, 10.0), lam=10.0)
    assert compute_pressure_cloud(c, regime(0.1), CFG, now=NOW).reach == 10.0
    nan_move = compute_pressure_cloud(c, regime(float("nan")), CFG, now=NOW)
    assert nan_move.reach == pytest.approx(2 * SPOT * 0.16 / math.sqrt(252))


def test_bad_config_and_clock_raise():
    c = curve_from(grid(), gauss(grid(), 1e7, SPOT, 10.0))
    with pytest.raises(ValueError, match="now"):
        compute_pressure_cloud(c, regime(), CFG, now=datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="zone_threshold"):
        compute_pressure_cloud(c, regime(), replace(CFG, zone_threshold=2.0), now=NOW)
    with pytest.raises(ValueError, match="futures_ratio"):
        compute_pressure_cloud(c, regime(), replace(CFG, futures_ratio=0.0), now=NOW)


# --------------------------------------------------------------------------- end to end


@settings(max_examples=40, deadline=None)
@given(
    gex=hnp.arrays(np.float64, 41, elements=st.floats(-1e12, 1e12, allow_nan=False)),
    vex=hnp.arrays(np.float64, 41, elements=st.floats(-1e11, 1e11, allow_nan=False)),
)
def test_random_exposures_give_a_finite_cloud(gex: np.ndarray, vex: np.ndarray):
    k = np.arange(4900.0, 5105.0, 5.0)
    x = np.log(k / SPOT)
    iv = 0.16 - 0.45 * x + 3 * x * x
    s = IVSurface(EXP, k, iv, iv, forward=SPOT, tau=0.001)
    c = compute_hedge_impulse_curve(
        ExposurePerExpiry(SPOT, EXP, k, gex, vex, np.zeros(41)), s, now=NOW
    )
    cloud = compute_pressure_cloud(c, regime(), CFG, now=NOW, impulse_total=c.impulse_total)
    for z in cloud.stability_zones + cloud.acceleration_zones:
        vals = (z.center, z.lower, z.upper, z.strength, z.impulse, *z.contracts.contracts.values())
        assert all(math.isfinite(x) for x in vals)
        assert 0 <= z.strength <= 1 and z.lower <= z.center <= z.upper
        assert (z.impulse > 0) == (z.kind is ExtremumKind.BASIN) or z.impulse == 0
    assert all(math.isfinite(x) for x in cloud.total_contracts.contracts.values())
    for arr in (
        cloud.levels.stability_score,
        cloud.levels.acceleration_score,
        cloud.levels.expected_hedge_contracts,
        *cloud.levels.hedge_contracts.values(),
    ):
        assert np.isfinite(arr).all()
