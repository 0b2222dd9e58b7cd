"""Small hand-built analyses and feeds for the TUI's pure-function and failure tests.

`make_analysis` builds a complete `ExpiryAnalysis` whose every number is chosen here,
so alert and export tests know the right answer without running the engine. The
Pilot and snapshot tests use the real simulated feed and pipeline instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from hedgeflow.engine.chain import OptionChain
from hedgeflow.engine.enums import (
    Bias,
    CrossingDirection,
    EngineModel,
    ExtremumKind,
    ImpulseRegime,
    MarketRegime,
    PositioningModel,
    Side,
)
from hedgeflow.engine.types import (
    CharmIntegral,
    DirectionalAsymmetry,
    ExpiryAnalysis,
    ExposurePerExpiry,
    HedgeContractEstimates,
    HedgeFlowAnalysis,
    HedgeImpulseCurve,
    ImpulseExtremum,
    IVSurface,
    PressureCloud,
    PressureLevel,
    PressureZone,
    RegimeEdge,
    RegimeParams,
    RepricedProfile,
    ZeroCrossing,
)
from hedgeflow.feeds.errors import FeedUnavailable

AS_OF = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)  # 10:30 New York
EXPIRY = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)  # 16:00 New York


def zone(
    center: float, lower: float, upper: float, *, stable: bool, spot: float, es: float = -100.0
) -> PressureZone:
    return PressureZone(
        center=center,
        lower=lower,
        upper=upper,
        strength=0.5,
        side=Side.ABOVE if center > spot else Side.BELOW,
        kind=ExtremumKind.BASIN if stable else ExtremumKind.PEAK,
        impulse=1e8 if stable else -1e8,
        contracts=HedgeContractEstimates({"ES": es, "MES": 10 * es}),
    )


def make_analysis(
    *,
    symbol: str = "SPX",
    spot: float = 6000.0,
    regime: ImpulseRegime = ImpulseRegime.PINNED,
    flips: Sequence[float] = (5980.0,),
    zones: Sequence[PressureZone] = (),
    edges: Sequence[RegimeEdge] = (),
    expiration: datetime = EXPIRY,
    repriced: bool = True,
) -> ExpiryAnalysis:
    price = np.linspace(spot * 0.97, spot * 1.03, 121)
    impulse = 1e6 * np.sin((price - spot) / 20.0)
    strikes = np.arange(spot - 100, spot + 101, 25.0)
    zeros = np.zeros_like(strikes)
    crossings = tuple(ZeroCrossing(p, CrossingDirection.RISING) for p in flips)
    curve = HedgeImpulseCurve(
        spot=spot,
        expiration=expiration,
        computed_at=AS_OF,
        spot_vol_coupling=0.8,
        kernel_width=10.0,
        strike_spacing=5.0,
        price=price,
        gamma=impulse,
        vanna=np.zeros_like(price),
        impulse=impulse,
        impulse_at_spot=0.0,
        slope_at_spot=5e4,
        zero_crossings=() if repriced else crossings,
        extrema=(ImpulseExtremum(spot + 30.0, 1e6, ExtremumKind.BASIN),),
        asymmetry=DirectionalAsymmetry(1.0, -2.0, 0.5, Bias.DOWN, 2.0),
        regime=regime,
        nearest_attractor_above=spot + 30.0,
        nearest_attractor_below=None,
        impulse_total=3.2e8,
    )
    charm = CharmIntegral(
        spot=spot,
        expiration=expiration,
        computed_at=AS_OF,
        horizon=expiration,
        minutes_remaining=330.0,
        total_charm_to_close=-4.0e8,
        settlement_step=0.0,
        bucket_minutes_remaining=np.array([300.0, 200.0, 100.0, 0.0]),
        bucket_time=np.array([0.0, 1.0, 2.0, 3.0]),
        instantaneous_cex=np.array([-1e8, -2e8, -3e8, -4e8]),
        cumulative_cex=np.array([-1e8, -2e8, -3e8, -4e8]),
        contribution_strikes=strikes,
        strike_contribution=zeros,
        fraction_of_total=zeros,
    )
    params = RegimeParams(
        atm_iv=0.16,
        skew=-0.8,
        curvature=1.0,
        regime=MarketRegime.NORMAL,
        regime_iv=0.16,
        expected_move=40.0,
        expected_daily_spot_move=0.01,
        coupling_atm=1.2,
        coupling_fixed_strike=0.4,
    )
    cloud = PressureCloud(
        spot=spot,
        expiration=expiration,
        computed_at=AS_OF,
        stability_zones=tuple(z for z in zones if z.kind is ExtremumKind.BASIN),
        acceleration_zones=tuple(z for z in zones if z.kind is ExtremumKind.PEAK),
        regime_edges=tuple(edges),
        levels=PressureLevel(
            price, np.zeros_like(price), np.zeros_like(price), np.zeros_like(price), {}
        ),
        total_contracts=HedgeContractEstimates({"ES": -1066.0, "MES": -10660.0}),
    )
    return ExpiryAnalysis(
        symbol=symbol,
        expiration=expiration,
        roots=("SPXW",),
        as_of=AS_OF,
        computed_at=AS_OF,
        spot=spot,
        forward=spot + 1.0,
        minutes_to_expiry=330.0,
        model=EngineModel.PHYSICAL,
        positioning=PositioningModel.STANDARD,
        positions="start-of-day",
        surface=IVSurface(expiration, strikes, zeros + 0.16, zeros + 0.16, spot + 1.0, 0.001),
        exposure=ExposurePerExpiry(spot, expiration, strikes, zeros, zeros, zeros),
        hedge_flow=HedgeFlowAnalysis(
            EngineModel.PHYSICAL, PositioningModel.STANDARD, params, curve, charm
        ),
        pressure_cloud=cloud,
        repriced=RepricedProfile(
            price, impulse, crossings, min(flips, key=lambda p: abs(p - spot)) if flips else None
        )
        if repriced
        else None,
        expirations=(expiration, expiration + timedelta(days=1)),
    )


class FlakyFeed:
    """Wraps a real feed; while `failing` is set, every snapshot raises `error` (default
    FeedUnavailable, an outage)."""

    def __init__(self, inner: object, error: Exception | None = None) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", "flaky")
        self.delay_seconds = getattr(inner, "delay_seconds", 0.0)
        self.failing = False
        self.error = error
        self.calls = 0

    async def __aenter__(self) -> FlakyFeed:
        await self.inner.__aenter__()  # type: ignore[attr-defined]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.inner.__aexit__(*exc)  # type: ignore[attr-defined]

    async def snapshot(self, symbol: str) -> OptionChain:
        self.calls += 1
        if self.failing:
            if self.error is not None:
                raise self.error
            raise FeedUnavailable(
                "simulated outage (HTTP 503 after retries)", vendor="flaky", status=503
            )
        return await self.inner.snapshot(symbol)  # type: ignore[attr-defined]

    async def expirations(self, symbol: str) -> list[datetime]:
        return await self.inner.expirations(symbol)  # type: ignore[attr-defined]

    def clock(self) -> datetime:
        return self.inner.clock()  # type: ignore[attr-defined]
