"""Engine configuration: one frozen dataclass the pipeline takes (no globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hedgeflow.engine.enums import EngineModel, PositioningModel, PositionSource
from hedgeflow.engine.types import CharmIntegralConfig, HedgeImpulseConfig, PressureCloudConfig


@dataclass(frozen=True)
class EngineConfig:
    """model : physical (default) or floe; positioning : dealer positioning model (floe model
    implies floe positioning unless set explicitly); rate : r, decimal/year, continuously
    compounded, the fallback where put-call parity implies none (`hedgeflow.engine.forward`);
    positions : start-of-day OI or the live signed-flow estimate."""

    model: EngineModel = EngineModel.PHYSICAL
    positioning: PositioningModel | None = None
    rate: float = 0.045
    positions: PositionSource = PositionSource.START_OF_DAY
    impulse: HedgeImpulseConfig = field(default_factory=HedgeImpulseConfig)
    charm: CharmIntegralConfig = field(default_factory=CharmIntegralConfig)
    cloud: PressureCloudConfig = field(default_factory=PressureCloudConfig)

    @property
    def effective_positioning(self) -> PositioningModel:
        if self.positioning is not None:
            return self.positioning
        return (
            PositioningModel.FLOE if self.model is EngineModel.FLOE else PositioningModel.STANDARD
        )
