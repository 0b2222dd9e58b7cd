"""hedgeflow: the hedge-flow engine. Pure numpy/scipy functions; no I/O, no clock.

The caller passes `now`. Public names follow the original TypeScript module
(floe's hedge-flow layer) in snake_case; see DESIGN.md and docs/METHOD.md.
"""

from hedgeflow.chain import OptionChain, chain_from_dict, chain_to_dict, make_chain
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
from hedgeflow.impulse import compute_hedge_impulse_curve
from hedgeflow.pressure import compute_pressure_cloud
from hedgeflow.regime import derive_regime_params, interpolate_iv_at_strike
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

__all__ = [
    "Bias",
    "CharmIntegral",
    "CharmIntegralConfig",
    "CrossingDirection",
    "DirectionalAsymmetry",
    "EngineModel",
    "ExpiryAnalysis",
    "ExposurePerExpiry",
    "ExtremumKind",
    "FuturesContract",
    "HedgeContractEstimates",
    "HedgeFlowAnalysis",
    "HedgeImpulseConfig",
    "HedgeImpulseCurve",
    "IVSurface",
    "ImpulseExtremum",
    "ImpulseRegime",
    "MarketRegime",
    "OptionChain",
    "PositionSource",
    "PositioningModel",
    "PressureCloud",
    "PressureCloudConfig",
    "PressureLevel",
    "PressureZone",
    "RegimeEdge",
    "RegimeParams",
    "RepricedProfile",
    "Side",
    "ZeroCrossing",
    "chain_from_dict",
    "compute_hedge_impulse_curve",
    "compute_pressure_cloud",
    "derive_regime_params",
    "interpolate_iv_at_strike",
    "chain_to_dict",
    "make_chain",
]
