"""The impulse regime held across analyses of one symbol and expiry, and when a change of
regime holds (docs/METHOD.md "Regimes that do not flap").

The engine classifies each analysis on its own and exposes the classifier's inputs; the
hysteresis needs the regime held before, which only the caller knows. `advance(track,
analysis)` is that step, pure: it re-classifies the analysis with the previous regime
(`hedgeflow.engine.impulse_regime.classify`), returns the analysis with the held regime
and its firmness in place of the memoryless ones (so every surface that reads the
analysis, through `presentation.headline`, shows the held regime), and the new track.

A change of regime *holds* once the new regime has been held on CONFIRM_ANALYSES
consecutive analyses; `RegimeTrack.confirmed` is the latest regime that held, and the
regime alert (`hedgeflow.app.alerts`) fires when it changes.

The floe model keeps the original's rule and output unchanged (no hysteresis, no
firmness); only the confirmation applies to its alerts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from hedgeflow.engine.enums import EngineModel, ImpulseRegime
from hedgeflow.engine.impulse_regime import classify
from hedgeflow.engine.types import ExpiryAnalysis, RegimeFirmness

#: a new regime must be held on this many consecutive analyses before it is announced
CONFIRM_ANALYSES = 2


@dataclass(frozen=True)
class RegimeTrack:
    """The held impulse regime of one symbol, expiry and engine model.

    regime : held on the latest analysis; streak : consecutive analyses (the latest
        included) on which it was held, >= 1;
    confirmed : the latest regime that held for CONFIRM_ANALYSES analyses (at the start,
        the first analysis's regime: a first look is no change);
    analyses : analyses folded into this track.
    """

    symbol: str
    expiration: datetime
    model: EngineModel
    regime: ImpulseRegime
    streak: int
    confirmed: ImpulseRegime
    analyses: int = 1

    def follows(self, a: ExpiryAnalysis) -> bool:
        """True when `a` continues this track (same symbol, expiry and model)."""
        return (self.symbol, self.expiration, self.model) == (a.symbol, a.expiration, a.model)


def with_regime(
    a: ExpiryAnalysis, regime: ImpulseRegime, firmness: RegimeFirmness | None
) -> ExpiryAnalysis:
    """`a` with its impulse curve's regime and firmness replaced (nothing else changes)."""
    curve = a.hedge_flow.impulse_curve
    if curve.regime is regime and curve.regime_firmness == firmness:
        return a
    curve = replace(curve, regime=regime, regime_firmness=firmness)
    return replace(a, hedge_flow=replace(a.hedge_flow, impulse_curve=curve))


def advance(track: RegimeTrack | None, a: ExpiryAnalysis) -> tuple[ExpiryAnalysis, RegimeTrack]:
    """Fold analysis `a` into `track` (None, or another symbol, expiry or model: a fresh
    start). Returns `a` with the held regime and firmness, and the new track."""
    same = track is not None and track.follows(a)
    previous = track.regime if track is not None and same else None
    curve = a.hedge_flow.impulse_curve
    regime = curve.regime
    if curve.regime_inputs is not None:  # physical: hysteresis on the classifier's inputs
        regime, firmness = classify(curve.regime_inputs, previous)
        a = with_regime(a, regime, firmness)
    if track is None or not same:
        return a, RegimeTrack(a.symbol, a.expiration, a.model, regime, 1, regime)
    streak = track.streak + 1 if regime is track.regime else 1
    confirmed = regime if streak >= CONFIRM_ANALYSES else track.confirmed
    return a, RegimeTrack(
        a.symbol, a.expiration, a.model, regime, streak, confirmed, track.analyses + 1
    )


def held_regimes(
    analyses: Iterable[ExpiryAnalysis], track: RegimeTrack | None = None
) -> Iterator[tuple[ExpiryAnalysis, RegimeTrack]]:
    """`advance` over a sequence of analyses (of one symbol, in time order)."""
    for a in analyses:
        a, track = advance(track, a)
        yield a, track
