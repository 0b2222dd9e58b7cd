"""Sign-rule labels (hedgeflow.labels).

The rule (DESIGN.md "Sign language"): an exposure is the change of the dealers' delta;
their hedge trade is its negative. The positioning models `standard` and `floe` are mirror
images (pos_floe = -pos_standard), so every exposure, impulse, contract figure and charm
total negates, and every word must flip with it.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import numpy as np
import pytest

from hedgeflow.engine import black76, labels
from hedgeflow.engine.enums import Bias, ExtremumKind, ImpulseRegime, PositioningModel, Side
from hedgeflow.engine.floe import analyze_hedge_flow_floe, compute_pressure_cloud_floe
from hedgeflow.engine.impulse import compute_hedge_impulse_curve
from hedgeflow.engine.pressure import compute_pressure_cloud
from hedgeflow.engine.regime import derive_regime_params
from hedgeflow.engine.types import (
    ExposurePerExpiry,
    HedgeContractEstimates,
    IVSurface,
    PressureCloudConfig,
    PressureZone,
    RegimeEdge,
)

NOW = datetime(2026, 1, 5, 16, 0, tzinfo=UTC)
EXP = datetime(2026, 1, 5, 21, 0, tzinfo=UTC)
SPOT = 6000.0
TAU = 5.0 / 24 / 365
SWAPS = (  # longest phrases first: DAMPENS contains "dealers sell"
    (labels.DAMPENS, labels.AMPLIFIES),
    (labels.DEALERS_SELL, labels.DEALERS_BUY),
    ("stability zone", "acceleration zone"),
    (labels.UNSTABLE, labels.STABLE),  # "unstable" contains "stable": swap it first
    ("(dealers dampen)", "(dealers chase the move)"),
)


def flip(text: str) -> str:
    """Swap every sign word for its opposite (via placeholders, so pairs do not collide)."""
    for i, (a, b) in enumerate(SWAPS):
        text = text.replace(a, f"\0{i}a\0").replace(b, f"\0{i}b\0")
    for i, (a, b) in enumerate(SWAPS):
        text = text.replace(f"\0{i}a\0", b).replace(f"\0{i}b\0", a)
    return text


# --------------------------------------------------------------------------- the rule itself


def test_dealer_trade_follows_the_sign_rule():
    assert labels.dealer_trade(1e9) == "dealers sell"  # their delta rises: they sell
    assert labels.dealer_trade(-3.0) == "dealers buy"
    assert labels.dealer_trade(0.0) == "flat"
    assert labels.dealer_trade(float("nan")) == "n/a"


def test_impulse_words():
    assert labels.impulse_effect(2.0) == "dampens: dealers sell rallies, buy dips"
    assert labels.impulse_effect(-2.0) == "amplifies: dealers chase the move"
    assert labels.stability(2.0) == "stable" and labels.stability(-2.0) == "unstable"
    # H > 0: on the way up their delta rises (sell), on the way down it falls (buy)
    assert labels.move_trade(5.0, up=True) == "dealers sell"
    assert labels.move_trade(5.0, up=False) == "dealers buy"
    assert labels.move_trade(-5.0, up=True) == "dealers buy"


def test_charm_and_contracts():
    assert labels.charm_trade(4e8) == "dealers sell as time passes"  # not floe's "buying"
    assert labels.charm_trade(-4e8) == "dealers buy as time passes"
    assert labels.charm_trade(0.0) == "flat"
    assert labels.contracts_trade(-4000.0, "ES") == "dealers sell 4,000 ES per +1%"
    assert labels.contracts_trade(12.4, "MES") == "dealers buy 12 MES per +1%"
    assert labels.contracts_trade(0.25) == "dealers buy 0.2 per +1%"
    assert labels.contracts_trade(0.0, "ES") == "flat per +1%"
    assert labels.contracts_trade(float("nan"), "ES") == "n/a"


def test_edge_and_zone_descriptions():
    up = labels.edge_description(RegimeEdge(6050.0, stable_beyond=True), SPOT)
    assert up == "above 6050.0: rising through it enters stable (dealers dampen)"
    down = labels.edge_description(RegimeEdge(5950.0, stable_beyond=False), SPOT)
    assert down == "below 5950.0: falling through it enters unstable (dealers chase the move)"
    zone = PressureZone(
        center=6010.0,
        lower=6000.0,
        upper=6020.0,
        strength=0.8,
        side=Side.ABOVE,
        kind=ExtremumKind.BASIN,
        impulse=1e9,
        contracts=HedgeContractEstimates({"ES": -4000.0, "MES": -40000.0}),
    )
    assert labels.zone_description(zone) == (
        "stability zone 6000.0-6020.0: dampens: dealers sell rallies, buy dips; "
        "dealers sell 4,000 ES per +1%"
    )


# --------------------------------------------------------------------------- both models


def positions(model: PositioningModel, oi: np.ndarray, is_call: np.ndarray) -> np.ndarray:
    if model is PositioningModel.STANDARD:
        return np.where(is_call, oi, -oi)  # dealers long calls, short puts
    return np.where(is_call, -oi, oi)  # floe: the mirror image


def analyze(model: PositioningModel, engine: str = "physical") -> dict[str, object]:
    """A 0DTE SPX-like book under one positioning model: exposures from Black-76 greeks
    (DESIGN.md table), the impulse curve, the cloud and the charm to a later time."""
    k = np.arange(5850.0, 6155.0, 5.0)
    strikes = np.concatenate((k, k))
    is_call = np.concatenate((np.ones(k.size, bool), np.zeros(k.size, bool)))
    oi = np.concatenate(
        (
            800 + 4000 * np.exp(-(((k - 6050) / 15) ** 2)),  # call wall above
            900 + 5000 * np.exp(-(((k - 5950) / 15) ** 2)),  # put wall below
        )
    )
    pos = positions(model, oi, is_call)
    x = np.log(strikes / SPOT)
    iv = 0.14 - 0.5 * x + 6 * x * x
    g = black76.greeks(SPOT, strikes, TAU, iv, 0.04, 0.01, is_call)
    m = 100.0

    def per_strike(v: np.ndarray) -> np.ndarray:
        return v[: k.size] + v[k.size :]

    expo = ExposurePerExpiry(
        SPOT,
        EXP,
        k,
        per_strike(pos * g.gamma * m * SPOT * SPOT * 0.01),
        per_strike(pos * g.vanna * m * SPOT * 0.01),
        per_strike(pos * g.charm * m * SPOT),
    )
    kk = k
    smile = 0.14 - 0.5 * np.log(kk / SPOT) + 6 * np.log(kk / SPOT) ** 2
    surface = IVSurface(EXP, kk, smile, smile, forward=SPOT, tau=TAU)
    if engine == "floe":
        # the floe engine on the same numbers, strikes in ascending order for both models
        # (floe's own net-exposure order would change with the sign, quirk 1)
        flow = analyze_hedge_flow_floe(expo, surface, now=NOW, order=np.arange(k.size))
        cloud = compute_pressure_cloud_floe(
            flow.impulse_curve, flow.regime_params, PressureCloudConfig(), now=NOW
        )
        return {
            "curve": flow.impulse_curve,
            "cloud": cloud,
            "charm": flow.charm_integral.total_charm_to_close,
        }
    regime = derive_regime_params(surface, SPOT, horizon_tau=TAU)
    curve = compute_hedge_impulse_curve(expo, surface, now=NOW)
    cloud = compute_pressure_cloud(
        curve, regime, PressureCloudConfig(), now=NOW, impulse_total=curve.impulse_total
    )
    later = black76.greeks(SPOT, strikes, TAU / 2, iv, 0.04, 0.01, is_call).delta
    charm = float(np.sum(pos * m * SPOT * (later - g.delta)))
    return {"curve": curve, "cloud": cloud, "charm": charm}


def words(text: str) -> str:
    """The label without its numbers (floe's zone bounds are grid walks that need not
    mirror exactly under negation; its words must)."""
    return re.sub(r"[0-9][0-9,.]*", "#", text)


def test_every_word_flips_under_the_floe_engine_too():
    std = analyze(PositioningModel.STANDARD, "floe")
    flo = analyze(PositioningModel.FLOE, "floe")
    c_s, c_f = std["curve"], flo["curve"]
    k_s, k_f = std["cloud"], flo["cloud"]
    assert c_f.impulse_at_spot == pytest.approx(-c_s.impulse_at_spot, rel=1e-12)
    assert flo["charm"] == pytest.approx(-std["charm"], rel=1e-12)
    assert std["charm"] != 0
    pairs = [
        (labels.impulse_effect(c_s.impulse_at_spot), labels.impulse_effect(c_f.impulse_at_spot)),
        (labels.charm_trade(std["charm"]), labels.charm_trade(flo["charm"])),
    ]
    pairs += [
        (labels.contracts_trade(v, n), labels.contracts_trade(k_f.total_contracts.contracts[n], n))
        for n, v in k_s.total_contracts.contracts.items()
    ]
    assert len(k_s.stability_zones) == len(k_f.acceleration_zones) > 0
    for zs, zf in zip(k_s.stability_zones, k_f.acceleration_zones, strict=True):
        pairs.append((labels.zone_description(zs), labels.zone_description(zf)))
    for zs, zf in zip(k_s.acceleration_zones, k_f.stability_zones, strict=True):
        pairs.append((labels.zone_description(zs), labels.zone_description(zf)))
    for es, ef in zip(k_s.regime_edges, k_f.regime_edges, strict=True):
        pairs.append((labels.edge_description(es, SPOT), labels.edge_description(ef, SPOT)))
    assert len(pairs) > 4
    for s, f in pairs:
        assert words(f) == flip(words(s)), (s, f)


def test_every_word_flips_with_the_positioning_model():
    std, flo = analyze(PositioningModel.STANDARD), analyze(PositioningModel.FLOE)
    c_s, c_f = std["curve"], flo["curve"]
    k_s, k_f = std["cloud"], flo["cloud"]

    # the numbers negate ...
    assert c_f.impulse_total == pytest.approx(-c_s.impulse_total, rel=1e-12)
    np.testing.assert_allclose(
        c_f.impulse, -c_s.impulse, rtol=1e-12, atol=1e-9 * abs(c_s.impulse).max()
    )
    assert flo["charm"] == pytest.approx(-std["charm"], rel=1e-12)
    for name in ("ES", "MES"):
        assert k_f.total_contracts.contracts[name] == pytest.approx(
            -k_s.total_contracts.contracts[name], rel=1e-12
        )
    # ... so the words flip
    pairs = [
        (labels.impulse_effect(c_s.impulse_total), labels.impulse_effect(c_f.impulse_total)),
        (labels.impulse_effect(c_s.impulse_at_spot), labels.impulse_effect(c_f.impulse_at_spot)),
        (labels.stability(c_s.impulse_total), labels.stability(c_f.impulse_total)),
        (labels.charm_trade(std["charm"]), labels.charm_trade(flo["charm"])),
        (
            labels.move_trade(c_s.impulse_total, up=True),
            labels.move_trade(c_f.impulse_total, up=True),
        ),
    ]
    pairs += [
        (
            labels.contracts_trade(k_s.total_contracts.contracts[n], n),
            labels.contracts_trade(k_f.total_contracts.contracts[n], n),
        )
        for n in ("ES", "MES")
    ]
    # standard stability zones are floe acceleration zones at the same places
    assert len(k_s.stability_zones) == len(k_f.acceleration_zones) > 0
    assert len(k_s.acceleration_zones) == len(k_f.stability_zones) > 0
    for zs, zf in [
        *zip(k_s.stability_zones, k_f.acceleration_zones, strict=True),
        *zip(k_s.acceleration_zones, k_f.stability_zones, strict=True),
    ]:
        assert zf.center == zs.center and zf.lower == pytest.approx(zs.lower, rel=1e-12)
        pairs.append((labels.zone_description(zs), labels.zone_description(zf)))
    assert len(k_s.regime_edges) == len(k_f.regime_edges) > 0
    for es, ef in zip(k_s.regime_edges, k_f.regime_edges, strict=True):
        assert ef.stable_beyond is not es.stable_beyond
        pairs.append((labels.edge_description(es, SPOT), labels.edge_description(ef, SPOT)))

    for s, f in pairs:
        assert s != f
        assert f == flip(s), (s, f)


def test_words_agree_with_each_other_under_standard_positioning():
    """Dealers long calls at a call wall above spot: H > 0 there (stable); the contract
    label for a +1% move says "sell" exactly when the impulse label says "dampens"."""
    res = analyze(PositioningModel.STANDARD)
    curve, cloud = res["curve"], res["cloud"]
    dampens = labels.impulse_effect(curve.impulse_total) == labels.DAMPENS
    sells = labels.contracts_trade(cloud.total_contracts.contracts["ES"], "ES").startswith(
        labels.DEALERS_SELL
    )
    assert dampens == sells
    wall = [z for z in cloud.stability_zones if abs(z.center - 6050.0) < 15]
    assert wall and "dealers sell" in labels.zone_description(wall[0])
    assert math.isfinite(res["charm"])


def test_regime_and_bias_words_follow_the_sign_rule():
    assert "dealers sell rallies and buy dips" in labels.impulse_regime_description(
        ImpulseRegime.PINNED
    )
    assert "dealers buy into a rally" in labels.impulse_regime_description(ImpulseRegime.SQUEEZE_UP)
    assert "dealers sell into a decline" in labels.impulse_regime_description(
        ImpulseRegime.SQUEEZE_DOWN
    )
    assert all(labels.impulse_regime_description(r) for r in ImpulseRegime)
    # a squeeze-up needs H < 0 above spot: on a rally the dealers' delta falls, they buy
    assert labels.move_trade(-1.0, up=True) == labels.DEALERS_BUY
    assert labels.bias_description(Bias.UP).startswith("bias up")
    assert labels.bias_description(Bias.NEUTRAL) == "no bias: both sides alike"
