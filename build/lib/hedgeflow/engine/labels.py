"""Every buy / sell / stable / unstable word the screen prints, from the sign rule alone.

The sign rule (docs/METHOD.md "The sign rule"): an exposure is the change of the dealers'
option delta; the dealers' hedge trade in the underlying is its negative.

- a positive dealer delta change -> the dealers sell; negative -> they buy;
- H > 0 (delta rises with spot) -> dealers sell rallies and buy dips: dampening, stable;
  H < 0 -> dealers buy rallies and sell dips, chasing the move: amplifying, unstable;
- positive cumulative charm -> the dealers' delta rises with time -> dealers sell;
- a contract figure is already the dealers' trade (-H / (multiplier F)): negative = sell.

The words follow the numbers only, never the engine model or the positioning model: floe
positioning negates every exposure, so every word flips with it. floe's own label fields
(`floe_*`) are never used here.
"""

from __future__ import annotations

import math

from hedgeflow.engine.enums import Bias, ImpulseRegime
from hedgeflow.engine.types import PressureZone, RegimeEdge

DEALERS_SELL = "dealers sell"
DEALERS_BUY = "dealers buy"
FLAT = "flat"
UNKNOWN = "n/a"
DAMPENS = "dampens: dealers sell rallies, buy dips"
AMPLIFIES = "amplifies: dealers chase the move"
NEUTRAL_IMPULSE = "neutral: no net hedge flow"
STABLE = "stable"
UNSTABLE = "unstable"


def _sign(x: float) -> int | None:
    """+1, -1, 0, or None for NaN."""
    if math.isnan(x):
        return None
    return (x > 0) - (x < 0)


def dealer_trade(delta_change: float) -> str:
    """The dealers' hedge trade for a change of their delta (any unit): a rise means they
    sell the underlying to stay hedged, a fall that they buy. "flat" at 0, "n/a" for NaN."""
    s = _sign(delta_change)
    if s is None:
        return UNKNOWN
    return {1: DEALERS_SELL, -1: DEALERS_BUY, 0: FLAT}[s]


def impulse_effect(h: float) -> str:
    """What the dealers' hedging does to a move, from the impulse H ($ delta change per
    +1%): dampening for H > 0, amplifying for H < 0."""
    s = _sign(h)
    if s is None:
        return UNKNOWN
    return {1: DAMPENS, -1: AMPLIFIES, 0: NEUTRAL_IMPULSE}[s]


def stability(h: float) -> str:
    """ "stable" where H > 0 (dealers dampen), "unstable" where H < 0, else "flat"/"n/a"."""
    s = _sign(h)
    if s is None:
        return UNKNOWN
    return {1: STABLE, -1: UNSTABLE, 0: FLAT}[s]


def move_trade(h: float, *, up: bool) -> str:
    """The dealers' trade on a move up (or down) given the impulse H: H > 0 means their
    delta rises on the way up, so they sell into a rally and buy a dip."""
    return dealer_trade(h if up else -h)


def charm_trade(cumulative: float) -> str:
    """Label for the charm integral's cumulative dealer delta change ($): positive means the
    dealers' delta rises as time passes, so they sell (spot unchanged)."""
    trade = dealer_trade(cumulative)
    return trade if trade in (FLAT, UNKNOWN) else f"{trade} as time passes"


def _level(x: float) -> str:
    """A price in a sentence, one decimal; "n/a" when not finite."""
    return f"{x:.1f}" if math.isfinite(x) else UNKNOWN


def _count(x: float) -> str:
    a = abs(x)
    return f"{a:,.0f}" if a >= 10 else f"{a:,.1f}"


def contracts_trade(contracts: float, name: str = "") -> str:
    """Label for a dealers' futures trade per +1% (negative = sell, as computed by
    -H / (multiplier F)), e.g. "dealers sell 4,000 ES per +1%"."""
    s = _sign(contracts)
    if s is None or not math.isfinite(contracts):
        return UNKNOWN
    unit = f" {name}" if name else ""
    if s == 0:
        return f"{FLAT} per +1%"
    verb = DEALERS_BUY if s > 0 else DEALERS_SELL
    return f"{verb} {_count(contracts)}{unit} per +1%"


def edge_description(edge: RegimeEdge, spot: float) -> str:
    """A regime edge as price moving from spot outward through it, e.g.
    "above 6050.0: rising through it enters stable (dealers dampen)"."""
    above = edge.price >= spot
    where = "above" if above else "below"
    move = "rising" if above else "falling"
    state = (
        f"{STABLE} (dealers dampen)"
        if edge.stable_beyond
        else f"{UNSTABLE} (dealers chase the move)"
    )
    return f"{where} {_level(edge.price)}: {move} through it enters {state}"


def zone_description(zone: PressureZone) -> str:
    """A zone by the sign of its impulse: stability zones dampen, acceleration zones amplify,
    with the dealers' futures trade for a +1% move through it."""
    kind = "stability" if zone.impulse > 0 else "acceleration" if zone.impulse < 0 else "flat"
    text = f"{kind} zone {_level(zone.lower)}-{_level(zone.upper)}: {impulse_effect(zone.impulse)}"
    if zone.contracts.contracts:
        name, value = next(iter(zone.contracts.contracts.items()))
        text += f"; {contracts_trade(value, name)}"
    return text


_REGIME_TEXT = {
    # the regime is classified from the numbers (net strike impulse and the windows around
    # spot), so these words follow the numbers too
    ImpulseRegime.PINNED: "pinned: net H > 0, dealers sell rallies and buy dips",
    ImpulseRegime.EXPANSION: "expansion: net H < 0, dealers chase moves both ways",
    ImpulseRegime.SQUEEZE_UP: "squeeze-up: H < 0 above spot, dealers buy into a rally",
    ImpulseRegime.SQUEEZE_DOWN: "squeeze-down: H < 0 below spot, dealers sell into a decline",
    ImpulseRegime.NEUTRAL: "neutral: dealers' hedging roughly balanced",
}


def impulse_regime_description(regime: ImpulseRegime) -> str:
    """One line for the impulse regime, in the sign rule's words."""
    return _REGIME_TEXT[regime]


def bias_description(bias: Bias) -> str:
    """The directional bias: the side where dealer hedging damps price less."""
    if bias is Bias.UP:
        return "bias up: less dealer damping above spot"
    if bias is Bias.DOWN:
        return "bias down: less dealer damping below spot"
    return "no bias: both sides alike"


__all__ = [
    "bias_description",
    "impulse_regime_description",
    "AMPLIFIES",
    "DAMPENS",
    "DEALERS_BUY",
    "DEALERS_SELL",
    "FLAT",
    "STABLE",
    "UNKNOWN",
    "UNSTABLE",
    "charm_trade",
    "contracts_trade",
    "dealer_trade",
    "edge_description",
    "impulse_effect",
    "move_trade",
    "stability",
    "zone_description",
]
