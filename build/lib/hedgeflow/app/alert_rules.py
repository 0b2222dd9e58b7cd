"""The alert kinds and `[alerts]`'s rules (docs/METHOD.md "Alerts"). Light on purpose
(no numpy): the configuration reads it at start-up; `hedgeflow.app.alerts` applies it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AlertKind(StrEnum):
    REGIME = "regime"
    FLIP = "flip"
    ZONE = "zone"


@dataclass(frozen=True)
class AlertRules:
    """`[alerts]`'s rules (docs/METHOD.md "Alerts"); the defaults are config.toml's.

    regime / flip / zone : whether the kind is raised at all
    flip_margin_bp : a flip level counts as crossed once spot is past it by at least this
        many basis points of spot (0: any crossing, landing on the level included)
    regime_min_bands : a regime change is announced once the new regime's firmness is at
        least this many dead-band widths (`RegimeFirmness.bands`: 0 held by hysteresis
        only, 1 at its own enter threshold, 2 "firm"); regimes without a firmness (floe)
        are announced when confirmed. 0 (the default): every change the screen shows
    cooldown_seconds : data-clock seconds during which the same flip level or zone (symbol,
        scope, kind, level) is not raised again (kept in the log as suppressed, not
        delivered). Regime changes have no cooldown: they are confirmed over two analyses
        already, and an alert is exactly a change on screen
    """

    regime: bool = True
    flip: bool = True
    zone: bool = True
    flip_margin_bp: float = 2.0
    regime_min_bands: float = 0.0
    cooldown_seconds: float = 300.0

    def enabled(self, kind: AlertKind) -> bool:
        return {
            AlertKind.REGIME: self.regime,
            AlertKind.FLIP: self.flip,
            AlertKind.ZONE: self.zone,
        }[kind]


#: No filtering: every crossing, every confirmed regime change, no cooldown (the rule
#: of `compare_analyses` without rules).
UNFILTERED = AlertRules(flip_margin_bp=0.0, regime_min_bands=float("-inf"), cooldown_seconds=0.0)


__all__ = ["UNFILTERED", "AlertKind", "AlertRules"]
