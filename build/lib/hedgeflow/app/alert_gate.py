"""What the alert rules remember between analyses of one symbol (docs/METHOD.md "Alerts").

`hedgeflow.app.alerts.compare_analyses` is pure; the gate holds the little state its
rules need, per symbol (for the latest scope and expiry analyzed; another scope or
expiry starts afresh, as the regime track does):

- the flip reference spot: the spot crossings are measured from. It stays where it was
  while spot sits past a level by less than the margin, so a slow grind through a flip
  level is announced once it is past by the margin, and noise around the level is not;
- the regime last announced: a confirmed change whose firmness is below the threshold
  is announced later if it firms up, and never if it goes back first;
- the cooldown: the same flip level or zone (symbol, scope, kind, level) raised again within
  `cooldown_seconds` of data time is kept in the log as suppressed, not shown or
  delivered. Levels within LEVEL_TOLERANCE_BP of spot of each other are the same level
  (a flip level drifts a little between analyses). The cooldown runs from the last alert
  let through; data time going backwards (a replay started again) ends it. Regime
  changes have none (confirmed over two analyses already; an alert is a change on screen).

No clock is read: times are the analyses' data times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hedgeflow.app.alerts import (
    Alert,
    AlertKind,
    AlertRules,
    compare_analyses,
    flip_crossings,
)
from hedgeflow.app.presentation import headline
from hedgeflow.app.regime import RegimeTrack
from hedgeflow.engine.enums import ImpulseRegime
from hedgeflow.engine.types import ExpiryAnalysis

#: Two levels closer than this (basis points of spot) are one level for the cooldown.
LEVEL_TOLERANCE_BP = 10.0


@dataclass(frozen=True)
class GateDecision:
    """An alert and, when it is held back, why ("cooldown: ..."); None: let through."""

    alert: Alert
    suppressed: str | None = None


@dataclass
class _Memory:
    scope: str
    expiration: datetime
    flip_ref: float
    announced: ImpulseRegime | None
    #: cooldown key -> [(data time, level)] of alerts let through, oldest first
    recent: dict[tuple[str, str, AlertKind], list[tuple[datetime, float | None]]] = field(
        default_factory=dict
    )


class AlertGate:
    """Alerts of a stream of analyses, per symbol, under `rules` (see the module doc)."""

    def __init__(self, rules: AlertRules) -> None:
        self.rules = rules
        self._memory: dict[str, _Memory] = {}

    def step(
        self,
        prev: ExpiryAnalysis | None,
        cur: ExpiryAnalysis,
        before: RegimeTrack | None,
        after: RegimeTrack | None,
    ) -> list[GateDecision]:
        """The alerts of going from `prev` to `cur` (arguments as `compare_analyses`;
        `prev` None: a first look or another scope, which raises nothing)."""
        rules = self.rules
        mem = self._memory.get(cur.symbol)
        fresh = (
            prev is None
            or mem is None
            or (mem.scope, mem.expiration) != (cur.scope, cur.expiration)
            or (prev.scope, prev.expiration) != (cur.scope, cur.expiration)
        )
        if fresh:
            confirmed = after.confirmed if after is not None else None
            mem = _Memory(cur.scope, cur.expiration, cur.spot, confirmed)
            self._memory[cur.symbol] = mem
            return []
        assert mem is not None and prev is not None
        alerts = compare_analyses(
            prev, cur, before, after, rules=rules, flip_from=mem.flip_ref, announced=mem.announced
        )
        margin = cur.spot * rules.flip_margin_bp / 1e4
        _, pending = flip_crossings(mem.flip_ref, cur.spot, headline(cur).flip_levels, margin)
        mem.flip_ref = mem.flip_ref if pending and rules.flip else cur.spot
        if after is not None and (
            not rules.regime or any(a.kind is AlertKind.REGIME for a in alerts)
        ):
            mem.announced = after.confirmed
        return [self._cooled(mem, a, cur.spot) for a in alerts]

    def _cooled(self, mem: _Memory, alert: Alert, spot: float) -> GateDecision:
        cooldown = self.rules.cooldown_seconds
        at = alert.at
        if cooldown <= 0 or at is None or alert.kind is AlertKind.REGIME:
            return GateDecision(alert)
        tol = spot * LEVEL_TOLERANCE_BP / 1e4
        key = alert.cooldown_key
        kept = [
            (t, lvl)
            for t, lvl in mem.recent.get(key, [])
            if 0.0 <= (at - t).total_seconds() < cooldown
        ]
        for t, lvl in kept:
            same = lvl is None or alert.level is None or abs(lvl - alert.level) <= tol
            if same:
                mem.recent[key] = kept
                left = cooldown - (at - t).total_seconds()
                return GateDecision(alert, f"cooldown ({left:.0f} s of data time left)")
        kept.append((at, alert.level))
        mem.recent[key] = kept
        return GateDecision(alert)
