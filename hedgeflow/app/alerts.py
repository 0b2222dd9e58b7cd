"""Alerts: what changed between two analyses of the same symbol and expiry.

A pure function of two `ExpiryAnalysis` values, so it is tested without a screen:

- the impulse regime changed and the change held (`hedgeflow.app.regime`: the new regime,
  held with hysteresis, on two consecutive analyses), which needs the regime tracks of the
  two analyses;
- spot crossed a flip level (the headline's flip levels, `hedgeflow.app.presentation`:
  the repriced profile's zero crossings, or the impulse curve's for the floe model);
- spot entered a stability or acceleration zone.

Switching expiry or symbol is not a market event, so analyses of different
expiries are never compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hedgeflow.app.fmt import fmt_level
from hedgeflow.app.presentation import firmness_words, headline
from hedgeflow.app.regime import RegimeTrack
from hedgeflow.engine.enums import ExtremumKind
from hedgeflow.engine.types import ExpiryAnalysis, PressureZone


class AlertKind(StrEnum):
    REGIME = "regime"
    FLIP = "flip"
    ZONE = "zone"


@dataclass(frozen=True)
class Alert:
    """One alert: what happened to `symbol`, a one-line message, and the level involved."""

    symbol: str
    kind: AlertKind
    message: str
    level: float | None = None


def zones(analysis: ExpiryAnalysis) -> tuple[PressureZone, ...]:
    cloud = analysis.pressure_cloud
    return (*cloud.stability_zones, *cloud.acceleration_zones)


def _zone_name(zone: PressureZone) -> str:
    return "stability zone" if zone.kind is ExtremumKind.BASIN else "acceleration zone"


def _inside(zone: PressureZone, price: float) -> bool:
    return zone.lower <= price <= zone.upper


def compare_analyses(
    prev: ExpiryAnalysis | None,
    cur: ExpiryAnalysis,
    before: RegimeTrack | None = None,
    after: RegimeTrack | None = None,
) -> list[Alert]:
    """Alerts raised by going from `prev` to `cur` (same symbol and expiry), in a fixed order:
    regime change that held, flip levels crossed (in the direction of travel), zones
    entered. `before`/`after`: the regime tracks after `prev` and after `cur`
    (`hedgeflow.app.regime.advance`); without them no regime alert is raised."""
    if prev is None or prev.symbol != cur.symbol or prev.expiration != cur.expiration:
        return []
    alerts: list[Alert] = []
    sym = cur.symbol
    if (
        before is not None
        and after is not None
        and after.follows(cur)
        and before.follows(prev)
        and before.confirmed is not after.confirmed
    ):
        firm = firmness_words(cur.hedge_flow.impulse_curve.regime_firmness)
        held = f"held {after.streak} analyses" + (f", {firm}" if firm else "")
        alerts.append(
            Alert(
                sym,
                AlertKind.REGIME,
                f"{sym}: impulse regime {before.confirmed.value} → {after.confirmed.value} "
                f"({held})",
            )
        )
    s0, s1 = prev.spot, cur.spot
    if s1 != s0:
        up = s1 > s0
        # A level counts as crossed when spot moved from strictly one side onto or past it.
        crossed = [lvl for lvl in headline(cur).flip_levels if (s0 < lvl <= s1) or (s1 <= lvl < s0)]
        for lvl in sorted(crossed, reverse=not up):
            alerts.append(
                Alert(
                    sym,
                    AlertKind.FLIP,
                    f"{sym}: spot {fmt_level(s1)} crossed flip level {fmt_level(lvl)} "
                    f"{'upward' if up else 'downward'}",
                    lvl,
                )
            )
        for zone in zones(cur):
            if _inside(zone, s1) and not _inside(zone, s0):
                alerts.append(
                    Alert(
                        sym,
                        AlertKind.ZONE,
                        f"{sym}: spot {fmt_level(s1)} entered {_zone_name(zone)} "
                        f"{fmt_level(zone.lower)}–{fmt_level(zone.upper)}",
                        zone.center,
                    )
                )
    return alerts
