"""The impulse regime across analyses of one symbol and expiry: hysteresis, and a change
shown and announced only once it holds (docs/METHOD.md "Regimes that do not flap").

The engine classifies each analysis on its own and exposes the classifier's inputs; the
hysteresis needs the regime held before, which only the caller knows. `advance(track,
analysis)` is that step, pure:

1. held: the analysis re-classified with the previously held regime
   (`hedgeflow.engine.impulse_regime.classify`: enter and exit thresholds);
2. confirmed: a new held regime becomes the regime once it has been held on
   CONFIRM_ANALYSES consecutive analyses (the first analysis's regime is confirmed at
   once: a first look is no change);
3. the analysis is returned with the confirmed regime and its firmness on the current
   inputs in place of the memoryless ones, so every surface that reads it (through
   `presentation.headline`) shows the same regime; while a change awaits confirmation
   the firmness says "leaving". The regime alert (`hedgeflow.app.alerts`) fires when the
   confirmed regime changes.

The floe model keeps the original's rule and output unchanged (no hysteresis, no
firmness, its own regime shown); only the confirmation applies, to its alerts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from hedgeflow.app.session import SymbolSession
from hedgeflow.engine.chain import OptionChain
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import EngineModel, ImpulseRegime, PositionSource
from hedgeflow.engine.impulse_regime import classify, firmness
from hedgeflow.engine.types import ExpiryAnalysis, RegimeFirmness

#: a new regime must be held on this many consecutive analyses before it is announced
CONFIRM_ANALYSES = 2


@dataclass(frozen=True)
class RegimeTrack:
    """The impulse regime of one symbol, expiry and engine model across analyses.

    regime : held (with hysteresis) on the latest analysis; streak : consecutive analyses
        (the latest included) on which it was held, >= 1;
    confirmed : the regime shown and announced: the latest held regime that lasted
        CONFIRM_ANALYSES analyses (at the start, the first analysis's regime);
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
    a: ExpiryAnalysis, regime: ImpulseRegime, firm: RegimeFirmness | None
) -> ExpiryAnalysis:
    """`a` with its impulse curve's regime and firmness replaced (nothing else changes)."""
    curve = a.hedge_flow.impulse_curve
    if curve.regime is regime and curve.regime_firmness == firm:
        return a
    curve = replace(curve, regime=regime, regime_firmness=firm)
    return replace(a, hedge_flow=replace(a.hedge_flow, impulse_curve=curve))


def advance(track: RegimeTrack | None, a: ExpiryAnalysis) -> tuple[ExpiryAnalysis, RegimeTrack]:
    """Fold analysis `a` into `track` (None, or another symbol, expiry or model: a fresh
    start). Returns `a` with the confirmed regime and its firmness, and the new track."""
    same = track is not None and track.follows(a)
    curve = a.hedge_flow.impulse_curve
    inputs = curve.regime_inputs
    held = curve.regime  # floe: the original's rule, as it is
    if inputs is not None:  # physical: hysteresis on the classifier's inputs
        held, _ = classify(inputs, track.regime if track is not None and same else None)
    if track is None or not same:
        new = RegimeTrack(a.symbol, a.expiration, a.model, held, 1, held)
    else:
        streak = track.streak + 1 if held is track.regime else 1
        confirmed = held if streak >= CONFIRM_ANALYSES else track.confirmed
        new = RegimeTrack(
            a.symbol, a.expiration, a.model, held, streak, confirmed, track.analyses + 1
        )
    if inputs is not None:
        a = with_regime(a, new.confirmed, firmness(new.confirmed, inputs))
    return a, new


def settled(a: ExpiryAnalysis) -> bool:
    """True when the held regime on `a` does not depend on the regime before it (every
    previous regime gives the same result: the inputs are outside every dead band)."""
    inputs = a.hedge_flow.impulse_curve.regime_inputs
    if inputs is None:
        return True  # floe: its own regime, no hysteresis
    return len({classify(inputs, p)[0] for p in (None, *ImpulseRegime)}) == 1


def regime_over_session(
    older: Iterable[Callable[[], ExpiryAnalysis]], latest: ExpiryAnalysis, limit: int = 30
) -> tuple[ExpiryAnalysis, int]:
    """The regime of `latest` as the monitor would have shown it after the analyses before
    it (`analyze` of a recording). `older`: the earlier analyses of the same session,
    newest first, each computed on demand. Reads back only as far as needed: to two
    consecutive analyses with the same history-free regime (from there every history
    gives the same confirmed regime), another expiry, a failed analysis (AnalysisError)
    or `limit` analyses, then folds forward. Returns `latest` with the confirmed regime
    and its firmness, and the number of analyses folded (latest included)."""
    from hedgeflow.engine.pipeline import AnalysisError

    back: list[ExpiryAnalysis] = []
    for make in older:
        if len(back) >= limit:
            break
        try:
            a = make()
        except AnalysisError:
            break
        if (a.symbol, a.expiration, a.model) != (latest.symbol, latest.expiration, latest.model):
            break
        back.append(a)
        newer = back[-2] if len(back) > 1 else latest
        if settled(a) and settled(newer) and _alone(a) is _alone(newer):
            break
    track: RegimeTrack | None = None
    for a in reversed(back):
        _, track = advance(track, a)
    held, _ = advance(track, latest)
    return held, len(back) + 1


def earlier_analyses(
    symbol: str,
    chains: Iterable[OptionChain],
    config: EngineConfig,
    expiry: float,
    limit: int = 30,
) -> list[Callable[[], ExpiryAnalysis]]:
    """The analyses of the recorded snapshots of `symbol` before the last one of its latest
    session (at most `limit`), newest first, each computed on demand for expiry `expiry`
    (settlement epoch) with the live positions of its own time when `config` asks for
    live positions. `chains`: the recording's snapshots in order."""
    from hedgeflow.engine.pipeline import analyze_chain

    session = SymbolSession(symbol)
    recent: deque[tuple[OptionChain, np.ndarray | None]] = deque(maxlen=limit + 1)
    live = config.positions is PositionSource.LIVE
    for chain in chains:
        if chain.symbol.upper() != session.symbol:
            continue
        session.update(chain)
        if session.current is not chain:
            continue  # an older or repeated snapshot, ignored as the monitor ignores it
        if session.first is chain:
            recent.clear()  # a new session (or the first snapshot after the open)
        recent.append((chain, session.positions(config) if live else None))
    earlier = list(recent)[:-1]

    def thunk(chain: OptionChain, positions: np.ndarray | None) -> Callable[[], ExpiryAnalysis]:
        return lambda: analyze_chain(chain, config=config, expiry=expiry, positions=positions)

    return [thunk(c, p) for c, p in reversed(earlier)][:limit]


def _alone(a: ExpiryAnalysis) -> ImpulseRegime:
    """The regime of `a` on its own (the engine's, or floe's)."""
    return a.hedge_flow.impulse_curve.regime
