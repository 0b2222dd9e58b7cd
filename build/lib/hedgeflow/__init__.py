"""hedgeflow: the hedge-flow engine. Pure numpy/scipy functions; no I/O, no clock.

The caller passes `now`. Public names follow the original TypeScript module
(floe's hedge-flow layer) in snake_case; see docs/METHOD.md.

The public names are loaded on first use (PEP 562 module `__getattr__`), so importing a
light module such as `hedgeflow.engine.chain` or `hedgeflow.engine.clock` does not import scipy
(~0.3 s and ~50 MB at start-up); `from hedgeflow import analyze_chain` works as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hedgeflow.engine.book import ExpiryBook
    from hedgeflow.engine.books import build_expiry_book
    from hedgeflow.engine.chain import OptionChain, chain_from_dict, chain_to_dict, make_chain
    from hedgeflow.engine.charm import compute_charm_integral
    from hedgeflow.engine.config import EngineConfig
    from hedgeflow.engine.enums import (
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
    from hedgeflow.engine.exposure import compute_exposures, positions
    from hedgeflow.engine.floe import (
        analyze_hedge_flow_floe,
        compute_pressure_cloud_floe,
        derive_regime_params_floe,
        interpolate_iv_at_strike_floe,
    )
    from hedgeflow.engine.flow import LiveFlow, live_positions, update_live_flow
    from hedgeflow.engine.impulse import compute_hedge_impulse_curve
    from hedgeflow.engine.pipeline import (
        AnalysisError,
        analyze_chain,
        analyze_hedge_flow,
        live_expiries,
    )
    from hedgeflow.engine.pressure import compute_pressure_cloud
    from hedgeflow.engine.regime import derive_regime_params, interpolate_iv_at_strike
    from hedgeflow.engine.reprice import compute_repriced_profile, zero_gamma_profile
    from hedgeflow.engine.smile import SkippedExpiry
    from hedgeflow.engine.types import (
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
    "AnalysisError": "hedgeflow.engine.pipeline",
    "analyze_chain": "hedgeflow.engine.pipeline",
    "analyze_hedge_flow": "hedgeflow.engine.pipeline",
    "analyze_hedge_flow_floe": "hedgeflow.engine.floe",
    "Bias": "hedgeflow.engine.enums",
    "build_expiry_book": "hedgeflow.engine.books",
    "chain_from_dict": "hedgeflow.engine.chain",
    "chain_to_dict": "hedgeflow.engine.chain",
    "CharmIntegral": "hedgeflow.engine.types",
    "CharmIntegralConfig": "hedgeflow.engine.types",
    "compute_charm_integral": "hedgeflow.engine.charm",
    "compute_exposures": "hedgeflow.engine.exposure",
    "compute_hedge_impulse_curve": "hedgeflow.engine.impulse",
    "compute_pressure_cloud": "hedgeflow.engine.pressure",
    "compute_pressure_cloud_floe": "hedgeflow.engine.floe",
    "compute_repriced_profile": "hedgeflow.engine.reprice",
    "CrossingDirection": "hedgeflow.engine.enums",
    "derive_regime_params": "hedgeflow.engine.regime",
    "derive_regime_params_floe": "hedgeflow.engine.floe",
    "DirectionalAsymmetry": "hedgeflow.engine.types",
    "EngineConfig": "hedgeflow.engine.config",
    "EngineModel": "hedgeflow.engine.enums",
    "ExpiryAnalysis": "hedgeflow.engine.types",
    "ExpiryBook": "hedgeflow.engine.book",
    "ExposurePerExpiry": "hedgeflow.engine.types",
    "ExtremumKind": "hedgeflow.engine.enums",
    "FuturesContract": "hedgeflow.engine.types",
    "HedgeContractEstimates": "hedgeflow.engine.types",
    "HedgeFlowAnalysis": "hedgeflow.engine.types",
    "HedgeImpulseConfig": "hedgeflow.engine.types",
    "HedgeImpulseCurve": "hedgeflow.engine.types",
    "ImpulseExtremum": "hedgeflow.engine.types",
    "ImpulseRegime": "hedgeflow.engine.enums",
    "interpolate_iv_at_strike": "hedgeflow.engine.regime",
    "interpolate_iv_at_strike_floe": "hedgeflow.engine.floe",
    "IVSurface": "hedgeflow.engine.types",
    "live_expiries": "hedgeflow.engine.pipeline",
    "live_positions": "hedgeflow.engine.flow",
    "LiveFlow": "hedgeflow.engine.flow",
    "make_chain": "hedgeflow.engine.chain",
    "MarketRegime": "hedgeflow.engine.enums",
    "OptionChain": "hedgeflow.engine.chain",
    "PositioningModel": "hedgeflow.engine.enums",
    "positions": "hedgeflow.engine.exposure",
    "PositionSource": "hedgeflow.engine.enums",
    "PressureCloud": "hedgeflow.engine.types",
    "PressureCloudConfig": "hedgeflow.engine.types",
    "PressureLevel": "hedgeflow.engine.types",
    "PressureZone": "hedgeflow.engine.types",
    "RegimeEdge": "hedgeflow.engine.types",
    "RegimeParams": "hedgeflow.engine.types",
    "RepricedProfile": "hedgeflow.engine.types",
    "Side": "hedgeflow.engine.enums",
    "SkippedExpiry": "hedgeflow.engine.smile",
    "update_live_flow": "hedgeflow.engine.flow",
    "zero_gamma_profile": "hedgeflow.engine.reprice",
    "ZeroCrossing": "hedgeflow.engine.types",
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
