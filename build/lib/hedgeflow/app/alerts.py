"""Alerts: what changed between two analyses of the same symbol and expiry scope.

A pure function of two `ExpiryAnalysis` values, so it is tested without a screen:

- the impulse regime changed and the change held (`hedgeflow.app.regime`: the new regime,
  held with hysteresis, on two consecutive analyses), which needs the regime tracks of the
  two analyses; with `AlertRules` only once the new regime's firmness reaches
  `regime_min_bands` (dead-band widths, `RegimeFirmness.bands`);
- spot crossed a flip level (the headline's flip levels, `hedgeflow.app.presentation`:
  the repriced profile's zero crossings, or the impulse curve's for the floe model), with
  `AlertRules` only once spot is past it by `flip_margin_bp` basis points of spot;
- spot entered a stability or acceleration zone.

Switching expiry, scope or symbol is not a market event, so analyses of different
expiries or scopes are never compared. Every alert names the scope and the expiry it
refers to (`scope_words`), in its message and its fields: two panes on two scopes never
read as one. What is remembered between analyses (the flip reference spot, the regime
last announced, the cooldown) is `hedgeflow.app.alert_rules.AlertGate`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hedgeflow.app.alert_rules import UNFILTERED, AlertKind, AlertRules
from hedgeflow.app.fmt import fmt_level
from hedgeflow.app.presentation import firmness_words, headline
from hedgeflow.app.regime import RegimeTrack
from hedgeflow.engine.enums import ExtremumKind, ImpulseRegime
from hedgeflow.engine.expiry_scope import NY
from hedgeflow.engine.types import ExpiryAnalysis, PressureZone, RegimeFirmness


@dataclass(frozen=True)
class Alert:
    """One alert: what happened to `symbol` on which scope, a one-line message, and the
    numbers that fired it.

    at : the analysis' data time (the feed's clock: recorded time in a replay, simulated
        time in the sim), aware
    scope : the analysis' scope label ("nearest", "0DTE", "≤7d", "all", an expiry date);
        expiry : the nearest expiry in that scope (its settlement time)
    level : points: the flip level crossed, the zone's center; None for a regime change
    spot_before / spot_after : points, the previous and this analysis' spot
    direction : "up" / "down" for a crossing or a zone entered from below / above
    regime_before / regime_after, firmness : a regime change (firmness of the new regime)
    zone : (lower, upper) edges in points of the zone entered; zone_kind "stability" or
        "acceleration"
    """

    symbol: str
    kind: AlertKind
    message: str
    level: float | None = None
    at: datetime | None = None
    scope: str = ""
    expiry: datetime | None = None
    spot_before: float | None = None
    spot_after: float | None = None
    direction: str | None = None
    regime_before: ImpulseRegime | None = None
    regime_after: ImpulseRegime | None = None
    firmness: RegimeFirmness | None = None
    zone: tuple[float, float] | None = None
    zone_kind: str | None = None

    @property
    def cooldown_key(self) -> tuple[str, str, AlertKind]:
        """What "the same alert" is for the cooldown, with its level (matched with a
        tolerance by `hedgeflow.app.alert_gate`)."""
        return (self.symbol, self.scope, self.kind)


def scope_words(a: ExpiryAnalysis) -> str:
    """The scope and expiry an analysis is of, for alert messages: "0DTE · exp 2026-12-07",
    "2026-12-18" for one chosen expiry."""
    day = a.expiration.astimezone(NY).date().isoformat()
    return day if a.scope == day else f"{a.scope} · exp {day}"


def zones(analysis: ExpiryAnalysis) -> tuple[PressureZone, ...]:
    cloud = analysis.pressure_cloud
    return (*cloud.stability_zones, *cloud.acceleration_zones)


def _zone_name(zone: PressureZone) -> str:
    return "stability" if zone.kind is ExtremumKind.BASIN else "acceleration"


def _inside(zone: PressureZone, price: float) -> bool:
    return zone.lower <= price <= zone.upper


def flip_crossings(
    ref: float, spot: float, levels: tuple[float, ...] | list[float], margin: float
) -> tuple[list[float], bool]:
    """Flip levels crossed going from `ref` to `spot` (points), in the direction of travel,
    that spot is past by at least `margin` points; and whether a crossed level is still
    within the margin (pending: the caller keeps `ref` until spot goes on or comes back).
    A level counts as crossed when spot moved from strictly one side onto or past it."""
    if spot == ref:
        return [], False
    up = spot > ref
    crossed = sorted(
        (lvl for lvl in levels if (ref < lvl <= spot) or (spot <= lvl < ref)), reverse=not up
    )
    fired = [lvl for lvl in crossed if abs(spot - lvl) >= margin]
    return fired, len(fired) < len(crossed)


def compare_analyses(
    prev: ExpiryAnalysis | None,
    cur: ExpiryAnalysis,
    before: RegimeTrack | None = None,
    after: RegimeTrack | None = None,
    *,
    rules: AlertRules = UNFILTERED,
    flip_from: float | None = None,
    announced: ImpulseRegime | None = None,
) -> list[Alert]:
    """Alerts raised by going from `prev` to `cur` (same symbol, expiry and scope), in a
    fixed order: regime change that held, flip levels crossed (in the direction of
    travel), zones entered. `before`/`after`: the regime tracks after `prev` and after
    `cur` (`hedgeflow.app.regime.advance`); without them no regime alert is raised.
    `rules`: switches and thresholds (default: none). `flip_from`: the spot flip crossings
    are measured from (default `prev.spot`; the gate keeps it while a crossing is within
    the margin). `announced`: the regime last announced (default `before.confirmed`)."""
    if (
        prev is None
        or prev.symbol != cur.symbol
        or prev.expiration != cur.expiration
        or prev.scope != cur.scope
    ):
        return []
    alerts: list[Alert] = []
    sym = cur.symbol
    where = f"{sym}: [{scope_words(cur)}]"
    common = {"at": cur.as_of, "scope": cur.scope, "expiry": cur.expiration}
    s0, s1 = prev.spot, cur.spot
    if rules.regime and before is not None and after is not None:
        was = announced if announced is not None else before.confirmed
        firm = cur.hedge_flow.impulse_curve.regime_firmness
        if (
            after.follows(cur)
            and before.follows(prev)
            and was is not after.confirmed
            and (firm is None or firm.bands >= rules.regime_min_bands)
        ):
            words = firmness_words(firm)
            held = f"held {after.streak} analyses" + (f", {words}" if words else "")
            alerts.append(
                Alert(
                    sym,
                    AlertKind.REGIME,
                    f"{where} impulse regime {was.value} → {after.confirmed.value} ({held})",
                    spot_before=s0,
                    spot_after=s1,
                    regime_before=was,
                    regime_after=after.confirmed,
                    firmness=firm,
                    **common,  # type: ignore[arg-type]
                )
            )
    if rules.flip:
        ref = s0 if flip_from is None else flip_from
        margin = cur.spot * rules.flip_margin_bp / 1e4
        fired, _ = flip_crossings(ref, s1, headline(cur).flip_levels, margin)
        up = s1 > ref
        for lvl in fired:
            alerts.append(
                Alert(
                    sym,
                    AlertKind.FLIP,
                    f"{where} spot {fmt_level(s1)} crossed flip level {fmt_level(lvl)} "
                    f"{'upward' if up else 'downward'}",
                    lvl,
                    spot_before=ref,
                    spot_after=s1,
                    direction="up" if up else "down",
                    **common,  # type: ignore[arg-type]
                )
            )
    if rules.zone and s1 != s0:
        for zone in zones(cur):
            if _inside(zone, s1) and not _inside(zone, s0):
                name = _zone_name(zone)
                alerts.append(
                    Alert(
                        sym,
                        AlertKind.ZONE,
                        f"{where} spot {fmt_level(s1)} entered {name} zone "
                        f"{fmt_level(zone.lower)}–{fmt_level(zone.upper)}",
                        zone.center,
                        spot_before=s0,
                        spot_after=s1,
                        direction="up" if s1 > s0 else "down",
                        zone=(zone.lower, zone.upper),
                        zone_kind=name,
                        **common,  # type: ignore[arg-type]
                    )
                )
    return alerts


__all__ = [
    "UNFILTERED",
    "Alert",
    "AlertKind",
    "AlertRules",
    "compare_analyses",
    "flip_crossings",
    "scope_words",
    "zones",
]
