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
from hedgeflow.types import (
    CharmIntegral,
    CharmIntegralConfig,
    DirectionalAsymmetry,
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
    "chain_to_dict",
    "make_chain",
]
