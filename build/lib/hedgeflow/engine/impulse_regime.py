"""The impulse regime with hysteresis: enter and exit thresholds in the classifier's own
units, and how firmly a regime holds (docs/METHOD.md "Regimes that do not flap").

Pure and stateless like the rest of the engine: `classify(inputs, previous)` takes the
regime held before (None: classify this analysis alone) and returns the regime now and
its firmness. Whoever keeps state between analyses (the app layer) passes `previous`.

The inputs (`RegimeInputs`), each in its own unit:

    f = sum H_K / sum |H_K|                       in [-1, 1]   ("net")
    b = (downside - upside) / max(|up|, |down|)   in [-2, 2]   ("bias"; > 0: the upside
                                                  is the less stable side)
    r = |more negative window| / |other window|   in [0, inf]  ("ratio"; 0 when neither
                                                  window is negative, inf when the other
                                                  window is 0)

Entering (`enter_regime`, the rule without memory; bitwise the engine's rule before
hysteresis):

    f >= +0.10                  PINNED
    f <= -0.10                  SQUEEZE_UP (b >= 0.10), SQUEEZE_DOWN (b <= -0.10), else
                                EXPANSION
    |f| < 0.10                  a squeeze in the bias direction when r >= 1.5, else NEUTRAL

Holding (`holds`): a regime stays until an input crosses its exit threshold, half way
back from the enter threshold:

    PINNED         f >= 0.05
    EXPANSION      f <= -0.05 and |b| < 0.10 (left for a squeeze only at a squeeze's entry)
    SQUEEZE_UP     b >= 0.05 and f < 0.10 and (f <= -0.05 or r >= 1.25)
    SQUEEZE_DOWN   b <= -0.05 and f < 0.10 and (f <= -0.05 or r >= 1.25)
    NEUTRAL        while no other regime's enter condition is met

Every enter condition implies its hold condition, so a regime that is entered holds, and
a change of regime always lands on a regime whose enter condition the inputs meet.
"""

from __future__ import annotations

import math

from hedgeflow.engine.enums import ImpulseRegime
from hedgeflow.engine.types import DirectionalAsymmetry, RegimeFirmness, RegimeInputs

#: f: entered at |f| >= NET_ENTER (pinned or the negative side), left at |f| < NET_EXIT
NET_ENTER = 0.10
NET_EXIT = 0.05
#: b: a side's bias is entered at |b| >= BIAS_ENTER and left at |b| < BIAS_EXIT
BIAS_ENTER = 0.10
BIAS_EXIT = 0.05
#: r: a balanced-book squeeze is entered at r >= RATIO_ENTER and left at r < RATIO_EXIT
RATIO_ENTER = 1.5
RATIO_EXIT = 1.25
#: firmness words, by the margin to the nearest exit in dead-band widths
FIRM_BANDS = 2.0
HOLDING_BANDS = 1.0

_BAND = {
    "net": NET_ENTER - NET_EXIT,
    "bias": BIAS_ENTER - BIAS_EXIT,
    "ratio": RATIO_ENTER - RATIO_EXIT,
}

_SQUEEZE = {1: ImpulseRegime.SQUEEZE_UP, -1: ImpulseRegime.SQUEEZE_DOWN}


def regime_inputs(
    impulse_total: float, impulse_gross: float, asymmetry: DirectionalAsymmetry
) -> RegimeInputs:
    """The classifier's inputs from the strike totals ($ per +1%) and the asymmetry windows."""
    ok = math.isfinite(impulse_gross) and impulse_gross > 0 and math.isfinite(impulse_total)
    net = impulse_total / impulse_gross if ok else math.nan
    return RegimeInputs(net=net, upside=asymmetry.upside, downside=asymmetry.downside)


def bias_score(x: RegimeInputs) -> float:
    """b = (downside - upside) / max(|upside|, |downside|), 0 when both windows are 0."""
    scale = max(abs(x.upside), abs(x.downside))
    return (x.downside - x.upside) / scale if scale > 0 else 0.0


def window_ratio(x: RegimeInputs) -> float:
    """r = |more negative window| / |other window| when the more negative one is negative
    (inf when the other is 0), else 0 (no squeeze without a destabilizing side)."""
    neg, other = min(x.upside, x.downside), max(x.upside, x.downside)
    if not neg < 0:
        return 0.0
    return abs(neg) / abs(other) if other != 0 else math.inf


def _bias_side(x: RegimeInputs) -> int:
    """+1 (bias up), -1 (down) or 0 at the enter threshold: the expression the engine's
    `directional_asymmetry` uses, so the memoryless rule is bitwise the rule before."""
    up, down = x.upside, x.downside
    scale = max(abs(up), abs(down))
    if abs(up - down) < BIAS_ENTER * scale or scale == 0:
        return 0
    return 1 if up < down else -1


def enter_regime(x: RegimeInputs) -> ImpulseRegime:
    """The regime whose enter condition the inputs meet (NEUTRAL when none is)."""
    f = x.net
    if not math.isfinite(f):
        return ImpulseRegime.NEUTRAL
    side = _bias_side(x)
    if f >= NET_ENTER:
        return ImpulseRegime.PINNED
    if f <= -NET_ENTER:
        return _SQUEEZE.get(side, ImpulseRegime.EXPANSION)
    neg = min(x.upside, x.downside)
    other = max(x.upside, x.downside)
    strong = neg < 0 and (other == 0 or abs(neg) >= RATIO_ENTER * abs(other))
    if strong and side:
        return _SQUEEZE[side]
    return ImpulseRegime.NEUTRAL


# A margin term: (bands, measure, value, threshold); >= 0 bands while the condition holds.
_Term = tuple[float, str, float, float]


def _above(measure: str, value: float, threshold: float) -> _Term:
    return ((value - threshold) / _BAND[measure], measure, value, threshold)


def _below(measure: str, value: float, threshold: float) -> _Term:
    return ((threshold - value) / _BAND[measure], measure, value, threshold)


def _all(*terms: _Term) -> _Term:
    """A conjunction holds by its weakest term."""
    return min(terms, key=lambda t: t[0])


def _any(*terms: _Term) -> _Term:
    """A disjunction holds by its strongest term."""
    return max(terms, key=lambda t: t[0])


def _margin(regime: ImpulseRegime, x: RegimeInputs) -> _Term | None:
    """The term that decides whether `regime` holds on `x` (None without an impulse)."""
    f = x.net
    if not math.isfinite(f):
        return None
    b, r = bias_score(x), window_ratio(x)
    if regime is ImpulseRegime.PINNED:
        return _above("net", f, NET_EXIT)
    if regime is ImpulseRegime.EXPANSION:
        bias = _below("bias", b, BIAS_ENTER) if b >= 0 else _above("bias", b, -BIAS_ENTER)
        return _all(_below("net", f, -NET_EXIT), bias)
    if regime in (ImpulseRegime.SQUEEZE_UP, ImpulseRegime.SQUEEZE_DOWN):
        up = regime is ImpulseRegime.SQUEEZE_UP
        bias = _above("bias", b, BIAS_EXIT) if up else _below("bias", b, -BIAS_EXIT)
        negative = _any(_below("net", f, -NET_EXIT), _above("ratio", r, RATIO_EXIT))
        return _all(bias, _below("net", f, NET_ENTER), negative)
    # NEUTRAL lasts until another regime is entered: the nearest of their enter thresholds
    # (a balanced-book squeeze needs both its bias and its ratio: the farther of the two).
    bias = _below("bias", abs(b), BIAS_ENTER)
    bias = (bias[0], "bias", b, math.copysign(BIAS_ENTER, b) if b else BIAS_ENTER)
    squeeze = _any(bias, _below("ratio", r, RATIO_ENTER))
    return _all(_below("net", f, NET_ENTER), _above("net", f, -NET_ENTER), squeeze)


def holds(regime: ImpulseRegime, x: RegimeInputs) -> bool:
    """True when `regime`, held before, still holds on `x` (module docstring)."""
    if enter_regime(x) is regime:
        return True  # entered now (also guards the thresholds' last-bit rounding)
    if regime is ImpulseRegime.NEUTRAL:
        return False
    # A boundary that is another regime's enter threshold goes to that regime at equality
    # (the same expressions as `enter_regime`): expansion ends at a squeeze's bias, a
    # squeeze at pinned's f.
    if regime is ImpulseRegime.EXPANSION and _bias_side(x) != 0:
        return False
    if regime in _SQUEEZE.values() and x.net >= NET_ENTER:
        return False
    term = _margin(regime, x)
    return term is not None and term[0] >= 0


def firmness(regime: ImpulseRegime, x: RegimeInputs) -> RegimeFirmness | None:
    """How firmly `regime` holds on `x`: its nearest exit (None without an impulse).
    For a regime that no longer holds on `x` (one shown until a change is confirmed) the
    bands are <= 0 and the words "leaving"."""
    term = _margin(regime, x)
    if term is None:
        return None
    bands, measure, value, threshold = term
    if not holds(regime, x):
        bands = min(bands, 0.0)  # at a strict boundary the margin is 0 but the regime left
    if bands >= FIRM_BANDS:
        words = "firm"
    elif bands >= HOLDING_BANDS:
        words = "holding"
    elif bands >= 0 and holds(regime, x):
        words = "marginal"
    else:
        words = "leaving"
    return RegimeFirmness(
        measure=measure,
        value=value,
        threshold=threshold,
        distance=abs(bands) * _BAND[measure] if math.isfinite(bands) else math.inf,
        bands=bands,
        words=words,
    )


def classify(
    x: RegimeInputs, previous: ImpulseRegime | None = None
) -> tuple[ImpulseRegime, RegimeFirmness | None]:
    """The regime on `x` given the one held before, and how firmly it holds.

    previous : the regime held on the previous analysis of the same symbol and expiry
        (None: classify `x` alone, the entering rule)
    A held regime stays while its hold condition is met; otherwise (or without one) the
    regime is `enter_regime(x)`, whose enter condition the inputs meet.
    """
    if previous is not None and holds(previous, x):
        regime = previous
    else:
        regime = enter_regime(x)
    return regime, firmness(regime, x)


__all__ = [
    "BIAS_ENTER",
    "BIAS_EXIT",
    "NET_ENTER",
    "NET_EXIT",
    "RATIO_ENTER",
    "RATIO_EXIT",
    "bias_score",
    "classify",
    "enter_regime",
    "firmness",
    "holds",
    "regime_inputs",
    "window_ratio",
]
