"""The floe profile against the original library's outputs, field by field.

Source of every expected number: tests/data/floe-reference/expected/<case>.json,
written by floe 0.0.18 itself (run under Node with `Date.now()` pinned to the
case's `now_ms`; see tests/data/floe-reference/README.md). Inputs are the
matching cases/<case>.json, given to the port in the order floe received them
(strike-ascending file order, hence `order=np.arange(n)`).

Tolerances (README "Tolerances that make sense"): floats rtol 1e-9 (the port
sums in floe's order; what remains is `Math.exp` vs `np.exp` ulps and the IV
percent <-> decimal round trip), grid prices and zone/extremum prices exactly,
labels and counts exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hedgeflow.engine.enums import EngineModel, PositioningModel
from hedgeflow.engine.floe import (
    FLOE_FUTURES,
    analyze_hedge_flow_floe,
    compute_pressure_cloud_floe,
    floe_grid,
)
from hedgeflow.engine.types import (
    CharmIntegralConfig,
    ExposurePerExpiry,
    HedgeFlowAnalysis,
    HedgeImpulseConfig,
    IVSurface,
    PressureCloud,
    PressureCloudConfig,
)

REF = Path(__file__).parents[1] / "data" / "floe-reference"
CASES = sorted(p.stem for p in (REF / "cases").glob("*.json"))
RTOL = 1e-9

# floe's defaults where a case gives no config (floe's `config = {}`):
# HedgeImpulseConfig 3 / 0.05 / 2, CharmIntegralConfig 15, PressureCloudConfig 20 / 2.0 / 0.15
FLOE_DEFAULT_CONTRACT_MULTIPLIER = 20.0


def ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def num(x: Any) -> float:
    """A number as floe's JSON writes it (non-finite values as strings)."""
    return float(x) if not isinstance(x, str) else float(x.replace("Infinity", "inf"))


@dataclass(frozen=True)
class Run:
    case: dict[str, Any]
    expected: dict[str, Any]
    analysis: HedgeFlowAnalysis
    cloud: PressureCloud
    exposure: ExposurePerExpiry
    impulse_config: HedgeImpulseConfig


def build_inputs(
    case: dict[str, Any],
) -> tuple[
    ExposurePerExpiry, IVSurface, HedgeImpulseConfig, CharmIntegralConfig, PressureCloudConfig
]:
    expiration = ms_to_dt(case["expiration_ms"])
    exposure = ExposurePerExpiry(
        spot=float(case["spot"]),
        expiration=expiration,
        strikes=np.asarray(case["strikes"], dtype=np.float64),
        gamma=np.asarray(case["gex"], dtype=np.float64),
        vanna=np.asarray(case["vex"], dtype=np.float64),
        charm=np.asarray(case["cex"], dtype=np.float64),
    )
    iv = np.asarray(case["iv_pct"], dtype=np.float64) / 100.0  # percent -> decimal API
    surface = IVSurface(
        expiration=expiration,
        strikes=np.asarray(case["iv_strikes"], dtype=np.float64),
        raw_iv=iv,
        smoothed_iv=iv,
    )
    ic = case.get("impulse_config", {})
    impulse_config = HedgeImpulseConfig(
        range_percent=ic.get("rangePercent", 3.0),
        step_percent=ic.get("stepPercent", 0.05),
        kernel_width_strikes=ic.get("kernelWidthStrikes", 2.0),
    )
    charm_config = CharmIntegralConfig(
        time_step_minutes=case.get("charm_config", {}).get("timeStepMinutes", 15.0)
    )
    cc = case.get("cloud_config", {})
    cloud_config = PressureCloudConfig(
        contract_multiplier=cc.get("contractMultiplier", FLOE_DEFAULT_CONTRACT_MULTIPLIER),
        product=cc.get("product", "NQ"),
        reachability_multiple=cc.get("reachabilityMultiple", 2.0),
        zone_threshold=cc.get("zoneThreshold", 0.15),
    )
    return exposure, surface, impulse_config, charm_config, cloud_config


@cache
def run(name: str) -> Run:
    case = json.loads((REF / "cases" / f"{name}.json").read_text())
    expected = json.loads((REF / "expected" / f"{name}.json").read_text())
    exposure, surface, impulse_config, charm_config, cloud_config = build_inputs(case)
    now = ms_to_dt(case["now_ms"])
    analysis = analyze_hedge_flow_floe(
        exposure,
        surface,
        now=now,
        impulse_config=impulse_config,
        charm_config=charm_config,
        order=np.arange(len(case["strikes"])),
    )
    cloud = compute_pressure_cloud_floe(
        analysis.impulse_curve, analysis.regime_params, cloud_config, now=now
    )
    return Run(case, expected, analysis, cloud, exposure, impulse_config)


def close(actual: Any, expected: Any, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64),
        np.asarray([num(x) for x in np.ravel(expected)], dtype=np.float64).reshape(
            np.shape(expected)
        ),
        rtol=rtol,
        atol=0.0,
    )


def dt_ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


pytestmark = pytest.mark.parametrize("name", CASES)


def test_case_set_is_complete(name: str) -> None:
    assert (REF / "expected" / f"{name}.json").exists()
    r = run(name)
    assert r.expected["floe_version"] == "0.0.18"
    assert r.expected["kind"] == r.case["kind"] == "hedgeflow"


def test_model_tags(name: str) -> None:
    a = run(name).analysis
    assert a.model is EngineModel.FLOE
    assert a.positioning is PositioningModel.FLOE


def test_exposure_totals(name: str) -> None:
    """The charm total floe's buckets scale is the plain sum of the given CEX."""
    r = run(name)
    totals = r.expected["exposure_totals"]
    close(np.sum(r.exposure.charm), totals["totalCharmExposure"])
    close(np.sum(r.exposure.gamma), totals["totalGammaExposure"])
    close(np.sum(r.exposure.vanna), totals["totalVannaExposure"])
    net = r.exposure.gamma + r.exposure.vanna + r.exposure.charm
    close(np.sum(net), totals["totalNetExposure"])
    buckets = r.analysis.charm_integral.instantaneous_cex
    if buckets.size:  # the first bucket is at t = T: sqrt(T/T) = 1, exactly the total
        assert buckets[0] == num(totals["totalCharmExposure"])


def test_regime_params(name: str) -> None:
    r = run(name)
    exp = r.expected["analysis"]["regimeParams"]
    rp = r.analysis.regime_params
    close(rp.atm_iv, exp["atmIV"])
    close(rp.implied_spot_vol_corr, exp["impliedSpotVolCorr"])
    close(rp.implied_vol_of_vol, exp["impliedVolOfVol"])
    close(rp.expected_daily_spot_move, exp["expectedDailySpotMove"])
    close(rp.expected_daily_vol_move, exp["expectedDailyVolMove"])
    assert rp.regime.value == exp["regime"]
    assert rp.regime_iv == rp.atm_iv
    close(rp.expected_move, num(exp["expectedDailySpotMove"]) * r.case["spot"])
    # floe's corr is clamp(0.15 * skew): where it is interior, skew is recovered from it
    corr = num(exp["impliedSpotVolCorr"])
    if -0.95 < corr < 0.5:
        close(rp.skew * 0.15, corr)
    close(rp.coupling_atm, r.expected["analysis"]["impulseCurve"]["spotVolCoupling"])


def test_curve_header(name: str) -> None:
    r = run(name)
    exp = r.expected["analysis"]["impulseCurve"]
    c = r.analysis.impulse_curve
    close(c.spot_vol_coupling, exp["spotVolCoupling"])
    assert c.kernel_width == num(exp["kernelWidth"])
    assert c.strike_spacing == num(exp["strikeSpacing"])
    assert c.spot == num(exp["spot"])
    assert dt_ms(c.expiration) == exp["expiration"]
    assert dt_ms(c.computed_at) == exp["computedAt"] == r.case["now_ms"]
    assert np.isnan(c.impulse_total)


def test_curve_points(name: str) -> None:
    r = run(name)
    curve = r.expected["analysis"]["impulseCurve"]["curve"]
    c = r.analysis.impulse_curve
    assert len(c.price) == len(curve)
    # grid prices bit for bit (quirk 2)
    np.testing.assert_array_equal(c.price, [num(p["price"]) for p in curve])
    np.testing.assert_array_equal(
        floe_grid(r.case["spot"], r.impulse_config.range_percent, r.impulse_config.step_percent),
        c.price,
    )
    close(c.gamma, [p["gamma"] for p in curve])
    close(c.vanna, [p["vanna"] for p in curve])
    close(c.impulse, [p["impulse"] for p in curve])


def test_impulse_and_slope_at_spot(name: str) -> None:
    r = run(name)
    exp = r.expected["analysis"]["impulseCurve"]
    c = r.analysis.impulse_curve
    close(c.impulse_at_spot, exp["impulseAtSpot"])
    close(c.slope_at_spot, exp["slopeAtSpot"])


def test_zero_crossings(name: str) -> None:
    r = run(name)
    exp = r.expected["analysis"]["impulseCurve"]["zeroCrossings"]
    got = r.analysis.impulse_curve.zero_crossings
    assert len(got) == len(exp)
    assert [z.direction.value for z in got] == [x["direction"] for x in exp]
    close([z.price for z in got], [x["price"] for x in exp])


def test_extrema(name: str) -> None:
    r = run(name)
    exp = r.expected["analysis"]["impulseCurve"]["extrema"]
    got = r.analysis.impulse_curve.extrema
    assert len(got) == len(exp)
    assert [e.kind.value for e in got] == [x["type"] for x in exp]
    assert [e.price for e in got] == [num(x["price"]) for x in exp]  # grid prices
    close([e.impulse for e in got], [x["impulse"] for x in exp])


def test_asymmetry(name: str) -> None:
    r = run(name)
    exp = r.expected["analysis"]["impulseCurve"]["asymmetry"]
    a = r.analysis.impulse_curve.asymmetry
    close(a.upside, exp["upside"])
    close(a.downside, exp["downside"])
    close(a.asymmetry_ratio, exp["asymmetryRatio"])
    assert a.integration_range_percent == num(exp["integrationRangePercent"])
    assert a.bias.value == exp["bias"]


def test_regime_and_attractors(name: str) -> None:
    r = run(name)
    exp = r.expected["analysis"]["impulseCurve"]
    c = r.analysis.impulse_curve
    assert c.regime.value == exp["regime"]
    for got, want in (
        (c.nearest_attractor_above, exp["nearestAttractorAbove"]),
        (c.nearest_attractor_below, exp["nearestAttractorBelow"]),
    ):
        assert (got is None) == (want is None)
        if want is not None:
            assert got == num(want)


def test_charm_integral(name: str) -> None:
    r = run(name)
    exp = r.expected["analysis"]["charmIntegral"]
    ch = r.analysis.charm_integral
    assert ch.minutes_remaining == num(exp["minutesRemaining"])
    close(ch.total_charm_to_close, exp["totalCharmToClose"])
    assert ch.floe_direction == exp["direction"]
    assert ch.spot == num(exp["spot"])
    assert dt_ms(ch.expiration) == exp["expiration"]
    assert dt_ms(ch.computed_at) == exp["computedAt"]
    assert ch.horizon == ch.expiration
    assert ch.settlement_step == 0.0
    buckets = exp["buckets"]
    assert len(ch.bucket_minutes_remaining) == len(buckets)
    np.testing.assert_array_equal(
        ch.bucket_minutes_remaining, [num(b["minutesRemaining"]) for b in buckets]
    )
    close(ch.instantaneous_cex, [b["instantaneousCEX"] for b in buckets])
    close(ch.cumulative_cex, [b["cumulativeCEX"] for b in buckets])
    # bucket_time: epoch seconds at which t minutes are left
    close(
        ch.bucket_time,
        [
            r.case["now_ms"] / 1000 + (ch.minutes_remaining - num(b["minutesRemaining"])) * 60
            for b in buckets
        ],
    )


def test_strike_contributions(name: str) -> None:
    r = run(name)
    exp = r.expected["analysis"]["charmIntegral"]["strikeContributions"]
    ch = r.analysis.charm_integral
    assert len(ch.contribution_strikes) == len(exp)
    np.testing.assert_array_equal(ch.contribution_strikes, [num(x["strike"]) for x in exp])
    close(ch.strike_contribution, [x["charmExposure"] for x in exp])
    close(ch.fraction_of_total, [x["fractionOfTotal"] for x in exp])


def test_cloud_header(name: str) -> None:
    r = run(name)
    exp = r.expected["pressureCloud"]
    assert r.cloud.spot == num(exp["spot"])
    assert dt_ms(r.cloud.expiration) == exp["expiration"]
    assert dt_ms(r.cloud.computed_at) == exp["computedAt"]


@pytest.mark.parametrize("kind", ["stabilityZones", "accelerationZones"])
def test_pressure_zones(name: str, kind: str) -> None:
    r = run(name)
    exp = r.expected["pressureCloud"][kind]
    got = r.cloud.stability_zones if kind == "stabilityZones" else r.cloud.acceleration_zones
    assert len(got) == len(exp)
    for z, x in zip(got, exp, strict=True):
        assert (z.center, z.lower, z.upper) == (num(x["center"]), num(x["lower"]), num(x["upper"]))
        close(z.strength, x["strength"])
        assert z.side.value == x["side"]
        assert z.floe_trade_type == x["tradeType"]
        assert z.floe_hedge_type == x["hedgeType"]
        assert z.kind.value == ("basin" if kind == "stabilityZones" else "peak")


def test_zone_impulse_and_contracts(name: str) -> None:
    """A zone's impulse is H at its centre (a grid price), so its floe contracts are floe's
    hedgeContracts of that price level; the sign-rule contracts are their negatives."""
    r = run(name)
    levels = {num(x["price"]): x for x in r.expected["pressureCloud"]["priceLevels"]}
    curve = {num(p["price"]): p for p in r.expected["analysis"]["impulseCurve"]["curve"]}
    for z in r.cloud.stability_zones + r.cloud.acceleration_zones:
        close(z.impulse, curve[z.center]["impulse"])
        for key, sign_name, _mult in FLOE_FUTURES:
            close(z.contracts.floe_contracts[key], levels[z.center]["hedgeContracts"][key])
            assert z.contracts.contracts[sign_name] == -z.contracts.floe_contracts[key]


def test_regime_edges(name: str) -> None:
    r = run(name)
    exp = r.expected["pressureCloud"]["regimeEdges"]
    got = r.cloud.regime_edges
    assert len(got) == len(exp)
    close([e.price for e in got], [x["price"] for x in exp])
    assert [e.floe_transition_type for e in got] == [x["transitionType"] for x in exp]
    # stable_beyond from floe's own curve: the first grid point beyond the edge,
    # moving away from spot, has H > 0
    prices = np.array([num(p["price"]) for p in r.expected["analysis"]["impulseCurve"]["curve"]])
    h = np.array([num(p["impulse"]) for p in r.expected["analysis"]["impulseCurve"]["curve"]])
    spot = r.case["spot"]
    for e in got:
        beyond = (
            np.flatnonzero(prices > e.price)[0]
            if e.price >= spot
            else np.flatnonzero(prices < e.price)[-1]
        )
        assert e.stable_beyond == bool(h[beyond] > 0)


def test_price_levels(name: str) -> None:
    r = run(name)
    exp = r.expected["pressureCloud"]["priceLevels"]
    lv = r.cloud.levels
    assert len(lv.price) == len(exp)
    np.testing.assert_array_equal(lv.price, [num(x["price"]) for x in exp])
    close(lv.stability_score, [x["stabilityScore"] for x in exp])
    close(lv.acceleration_score, [x["accelerationScore"] for x in exp])
    close(lv.expected_hedge_contracts, [x["expectedHedgeContracts"] for x in exp])
    assert set(lv.hedge_contracts) == {"nq", "mnq", "es", "mes"}
    for key in ("nq", "mnq", "es", "mes"):
        close(lv.hedge_contracts[key], [x["hedgeContracts"][key] for x in exp])
    assert lv.floe_hedge_type == tuple(x["hedgeType"] for x in exp)


def test_total_contracts(name: str) -> None:
    """floe reports no total; ours is floe's contract formula at impulseAtSpot."""
    r = run(name)
    h_spot = num(r.expected["analysis"]["impulseCurve"]["impulseAtSpot"])
    spot = r.case["spot"]
    tc = r.cloud.total_contracts
    for key, sign_name, mult in FLOE_FUTURES:
        close(tc.floe_contracts[key], h_spot / (mult * spot * 0.01))
        assert tc.contracts[sign_name] == -tc.floe_contracts[key]
