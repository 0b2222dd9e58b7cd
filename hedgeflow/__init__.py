"""hedgeflow: the hedge-flow engine. Pure numpy/scipy functions; no I/O, no clock.

The caller passes `now`. Public names follow the original TypeScript module
(floe's hedge-flow layer) in snake_case; see DESIGN.md and docs/METHOD.md.

The public names are loaded on first use (PEP 562 module `__getattr__`), so importing a
light module such as `hedgeflow.chain` or `hedgeflow.clock` does not import scipy
(~0.3 s and ~50 MB at start-up); `from hedgeflow import analyze_chain` works as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hedgeflow.book import ExpiryBook
    from hedgeflow.chain import OptionChain, chain_from_dict, chain_to_dict, make_chain
    from hedgeflow.charm import compute_charm_integral
    from hedgeflow.config import EngineConfig
    from hedgeflow.enums import (
        Bias,
        CrossingDirection,
        EngineModel,
        ExtremumKind,
        ImpulseRegime,
        MarketRegime,
        PositioningModel,
        PositionSource,
        Side,
    )
    from hedgeflow.exposure import compute_exposures, positions
    from hedgeflow.floe import (
        analyze_hedge_flow_floe,
        compute_pressure_cloud_floe,
        derive_regime_params_floe,
        interpolate_iv_at_strike_floe,
    )
    from hedgeflow.flow import LiveFlow, live_positions, update_live_flow
    from hedgeflow.impulse import compute_hedge_impulse_curve
    from hedgeflow.pipeline import AnalysisError, analyze_chain, analyze_hedge_flow, live_expiries
    from hedgeflow.pressure import compute_pressure_cloud
    from hedgeflow.regime import derive_regime_params, interpolate_iv_at_strike
    from hedgeflow.reprice import compute_repriced_profile, zero_gamma_profile
    from hedgeflow.smile import SkippedExpiry, build_expiry_book
    from hedgeflow.types import (
        CharmIntegral,
        CharmIntegralConfig,
        DirectionalAsymmetry,
        ExpiryAnalysis,
        ExposurePerExpiry,
        FuturesContract,
        HedgeContractEstimates,
        HedgeFlowAnalysis,
        HedgeImpulseConfig,
        HedgeImpulseCurve,
        ImpulseExtremum,
        IVSurface,
        PressureCloud,
        PressureCloudConfig,
        PressureLevel,
        PressureZone,
        RegimeEdge,
        RegimeParams,
        RepricedProfile,
        ZeroCrossing,
    )

#: public name -> the module that defines it
_WHERE: dict[str, str] = {
    "AnalysisError": "hedgeflow.pipeline",
    "analyze_chain": "hedgeflow.pipeline",
    "analyze_hedge_flow": "hedgeflow.pipeline",
    "analyze_hedge_flow_floe": "hedgeflow.floe",
    "Bias": "hedgeflow.enums",
    "build_expiry_book": "hedgeflow.smile",
    "chain_from_dict": "hedgeflow.chain",
    "chain_to_dict": "hedgeflow.chain",
    "CharmIntegral": "hedgeflow.types",
    "CharmIntegralConfig": "hedgeflow.types",
    "compute_charm_integral": "hedgeflow.charm",
    "compute_exposures": "hedgeflow.exposure",
    "compute_hedge_impulse_curve": "hedgeflow.impulse",
    "compute_pressure_cloud": "hedgeflow.pressure",
    "compute_pressure_cloud_floe": "hedgeflow.floe",
    "compute_repriced_profile": "hedgeflow.reprice",
    "CrossingDirection": "hedgeflow.enums",
    "derive_regime_params": "hedgeflow.regime",
    "derive_regime_params_floe": "hedgeflow.floe",
    "DirectionalAsymmetry": "hedgeflow.types",
    "EngineConfig": "hedgeflow.config",
    "EngineModel": "hedgeflow.enums",
    "ExpiryAnalysis": "hedgeflow.types",
    "ExpiryBook": "hedgeflow.book",
    "ExposurePerExpiry": "hedgeflow.types",
    "ExtremumKind": "hedgeflow.enums",
    "FuturesContract": "hedgeflow.types",
    "HedgeContractEstimates": "hedgeflow.types",
    "HedgeFlowAnalysis": "hedgeflow.types",
    "HedgeImpulseConfig": "hedgeflow.types",
    "HedgeImpulseCurve": "hedgeflow.types",
    "ImpulseExtremum": "hedgeflow.types",
    "ImpulseRegime": "hedgeflow.enums",
    "interpolate_iv_at_strike": "hedgeflow.regime",
    "interpolate_iv_at_strike_floe": "hedgeflow.floe",
    "IVSurface": "hedgeflow.types",
    "live_expiries": "hedgeflow.pipeline",
    "live_positions": "hedgeflow.flow",
    "LiveFlow": "hedgeflow.flow",
    "make_chain": "hedgeflow.chain",
    "MarketRegime": "hedgeflow.enums",
    "OptionChain": "hedgeflow.chain",
    "PositioningModel": "hedgeflow.enums",
    "positions": "hedgeflow.exposure",
    "PositionSource": "hedgeflow.enums",
    "PressureCloud": "hedgeflow.types",
    "PressureCloudConfig": "hedgeflow.types",
    "PressureLevel": "hedgeflow.types",
    "PressureZone": "hedgeflow.types",
    "RegimeEdge": "hedgeflow.types",
    "RegimeParams": "hedgeflow.types",
    "RepricedProfile": "hedgeflow.types",
    "Side": "hedgeflow.enums",
    "SkippedExpiry": "hedgeflow.smile",
    "update_live_flow": "hedgeflow.flow",
    "zero_gamma_profile": "hedgeflow.reprice",
    "ZeroCrossing": "hedgeflow.types",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'hedgeflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


__all__ = [
    "AnalysisError",
    "analyze_chain",
    "analyze_hedge_flow",
    "analyze_hedge_flow_floe",
    "Bias",
    "build_expiry_book",
    "chain_from_dict",
    "chain_to_dict",
    "CharmIntegral",
    "CharmIntegralConfig",
    "compute_charm_integral",
    "compute_exposures",
    "compute_hedge_impulse_curve",
    "compute_pressure_cloud",
    "compute_pressure_cloud_floe",
    "compute_repriced_profile",
    "CrossingDirection",
    "derive_regime_params",
    "derive_regime_params_floe",
    "DirectionalAsymmetry",
    "EngineConfig",
    "EngineModel",
    "ExpiryAnalysis",
    "ExpiryBook",
    "ExposurePerExpiry",
    "ExtremumKind",
    "FuturesContract",
    "HedgeContractEstimates",
    "HedgeFlowAnalysis",
    "HedgeImpulseConfig",
    "HedgeImpulseCurve",
    "ImpulseExtremum",
    "ImpulseRegime",
    "interpolate_iv_at_strike",
    "interpolate_iv_at_strike_floe",
    "IVSurface",
    "live_expiries",
    "live_positions",
    "LiveFlow",
    "make_chain",
    "MarketRegime",
    "OptionChain",
    "PositioningModel",
    "positions",
    "PositionSource",
    "PressureCloud",
    "PressureCloudConfig",
    "PressureLevel",
    "PressureZone",
    "RegimeEdge",
    "RegimeParams",
    "RepricedProfile",
    "Side",
    "SkippedExpiry",
    "update_live_flow",
    "zero_gamma_profile",
    "ZeroCrossing",
]
