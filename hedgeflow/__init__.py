"""hedgeflow: the hedge-flow engine. Pure numpy/scipy functions; no I/O, no clock.

The caller passes `now`. Public names follow the original TypeScript module
(floe's hedge-flow layer) in snake_case; see DESIGN.md and docs/METHOD.md.
"""

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
