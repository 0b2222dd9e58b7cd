"""The expiry scope's name: which expiries an analysis sums (docs/METHOD.md "Expiry
scope"). Light on purpose (no numpy): the configuration and the CLI read it at start-up;
`hedgeflow.engine.scope` selects the expiries and sums them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")


class ScopeKind(StrEnum):
    NEAREST = "nearest"
    ZERO_DTE = "0dte"
    NEXT_SESSION = "next"
    WITHIN_DAYS = "days"
    ALL = "all"
    EXPIRY = "expiry"


#: The order the monitor's scope key cycles through (a chosen expiry goes back to nearest).
CYCLE = (
    ScopeKind.NEAREST,
    ScopeKind.ZERO_DTE,
    ScopeKind.NEXT_SESSION,
    ScopeKind.WITHIN_DAYS,
    ScopeKind.ALL,
)


@dataclass(frozen=True)
class ExpiryScope:
    """Which expiries an analysis sums. days : N for WITHIN_DAYS (calendar days, > 0);
    expiry : the settlement epoch (s) for EXPIRY."""

    kind: ScopeKind = ScopeKind.NEAREST
    days: float = 7.0
    expiry: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.days) and self.days > 0):
            raise ValueError(f"scope days must be a positive number, got {self.days!r}")
        if self.kind is ScopeKind.EXPIRY and self.expiry is None:
            raise ValueError("an EXPIRY scope needs its settlement epoch")

    @property
    def label(self) -> str:
        """Short words for titles: "nearest", "0DTE", "next session", "≤7d", "all", or the
        chosen expiry's New York date."""
        if self.kind is ScopeKind.EXPIRY and self.expiry is not None:
            return _ny(self.expiry).date().isoformat()
        if self.kind is ScopeKind.WITHIN_DAYS:
            return f"≤{self.days:g}d"
        return {
            ScopeKind.NEAREST: "nearest",
            ScopeKind.ZERO_DTE: "0DTE",
            ScopeKind.NEXT_SESSION: "next session",
            ScopeKind.ALL: "all",
        }[self.kind]

    def cycled(self) -> ExpiryScope:
        """The next scope of the cycle (nearest -> 0DTE -> next -> within N days -> all)."""
        if self.kind not in CYCLE:
            return ExpiryScope(ScopeKind.NEAREST, self.days)
        nxt = CYCLE[(CYCLE.index(self.kind) + 1) % len(CYCLE)]
        return ExpiryScope(nxt, self.days)


def parse_scope(text: str, days: float = 7.0) -> ExpiryScope:
    """`nearest`, `0dte`, `next`, `days` (N from the configuration), `Nd` (e.g. `30d`) or
    `all`; ValueError naming the choices otherwise."""
    t = text.strip().lower()
    if t.endswith("d") and t[:-1].replace(".", "", 1).isdigit():
        return ExpiryScope(ScopeKind.WITHIN_DAYS, float(t[:-1]))
    try:
        kind = ScopeKind(t)
    except ValueError:
        raise ValueError(
            f"expected nearest, 0dte, next, days, Nd (e.g. 30d) or all, got {text!r}"
        ) from None
    if kind is ScopeKind.EXPIRY:
        raise ValueError("choose one expiry with --expiry YYYY-MM-DD")
    return ExpiryScope(kind, days)


def _ny(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC).astimezone(NY)


__all__ = ["CYCLE", "ExpiryScope", "ScopeKind", "parse_scope"]
