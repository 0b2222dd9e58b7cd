"""The impulse regime with hysteresis: enter and exit thresholds in the classifier's own
units, firmness, and the rule on any sequence (docs/METHOD.md "Regimes that do not flap")."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hedgeflow.engine.enums import ImpulseRegime
from hedgeflow.engine.impulse import classify_impulse_regime
from hedgeflow.engine.impulse_regime import (
    bias_score,
    classify,
    enter_regime,
    firmness,
    holds,
    window_ratio,
)
from hedgeflow.engine.types import RegimeInputs
from tests.engine.test_impulse import asym

P, E, N = ImpulseRegime.PINNED, ImpulseRegime.EXPANSION, ImpulseRegime.NEUTRAL
SU, SD = ImpulseRegime.SQUEEZE_UP, ImpulseRegime.SQUEEZE_DOWN


def x(net: float, up: float = 1.0, down: float = 1.0) -> RegimeInputs:
    return RegimeInputs(net=net, upside=up, downside=down)


def biased(net: float, b: float) -> RegimeInputs:
    """Inputs with f = net and bias b (both windows negative: b = (down - up)/10, the more
    negative one at -10 so that b = 0.10 is exactly the threshold in binary too)."""
    if b >= 0:
        return x(net, -10.0, -10.0 + 10.0 * b)
    return x(net, -10.0 - 10.0 * b, -10.0)


def walk(start: ImpulseRegime | None, inputs: list[RegimeInputs]) -> list[ImpulseRegime]:
    out, prev = [], start
    for xi in inputs:
        prev, _ = classify(xi, prev)
        out.append(prev)
    return out


def old_rule(f_total: float, gross: float, up: float, down: float) -> ImpulseRegime:
    """The classifier before hysteresis, verbatim: the memoryless rule must stay it."""
    if not (math.isfinite(gross) and gross > 0 and math.isfinite(f_total)):
        return N
    f = f_total / gross
    scale = max(abs(up), abs(down))
    if abs(up - down) < 0.10 * scale or scale == 0:
        side = 0
    else:
        side = 1 if up < down else -1
    squeeze = {1: SU, -1: SD}
    if f >= 0.10:
        return P
    if f <= -0.10:
        return squeeze.get(side, E)
    neg, other = min(up, down), max(up, down)
    strong = neg < 0 and (other == 0 or abs(neg) >= 1.5 * abs(other))
    if strong and side:
        return squeeze[side]
    return N


# ------------------------------------------------------------------ thresholds, one by one


def test_net_enters_at_010_and_leaves_below_005() -> None:
    # positive windows: no squeeze, the net axis alone decides
    fs = [0.20, 0.06, 0.05, 0.049, 0.08, 0.0999, 0.10, 0.051]
    assert walk(None, [x(f) for f in fs]) == [P, P, P, N, N, N, P, P]
    neg = [-0.20, -0.06, -0.05, -0.049, -0.09, -0.10]
    assert walk(None, [x(f, -1.0, -1.0) for f in neg]) == [E, E, E, N, N, E]


def test_bias_enters_at_010_and_leaves_below_005() -> None:
    bs = [0.20, 0.06, 0.05, 0.049, 0.09, 0.10, -0.06, -0.09, -0.10, -0.051, -0.049]
    assert walk(None, [biased(-0.3, b) for b in bs]) == [SU, SU, SU, E, E, SU, E, E, SD, SD, E]
    assert bias_score(biased(-0.3, 0.06)) == pytest.approx(0.06)


def test_a_balanced_book_squeeze_enters_at_ratio_15_and_leaves_below_125() -> None:
    # f = 0: the upside window negative, |up| / down = r, bias up
    rs = [1.6, 1.3, 1.25, 1.2, 1.45, 1.5]
    got = walk(None, [x(0.0, -r, 1.0) for r in rs])
    assert got == [SU, SU, SU, N, N, SU]
    assert window_ratio(x(0.0, -1.3, 1.0)) == pytest.approx(1.3)
    assert window_ratio(x(0.0, -1.3, 0.0)) == math.inf
    assert window_ratio(x(0.0, 1.0, 2.0)) == 0.0
    # a balanced squeeze is also left when the book turns pinned (f >= 0.10 enters pinned)
    assert walk(SU, [x(0.10, -2.0, 1.0)]) == [P]


def test_expansion_is_left_for_a_squeeze_only_at_the_squeeze_entry() -> None:
    assert walk(E, [biased(-0.3, 0.099), biased(-0.3, -0.099)]) == [E, E]
    assert walk(E, [biased(-0.3, 0.10)]) == [SU]
    assert walk(E, [biased(-0.3, -0.10)]) == [SD]


def test_no_impulse_is_neutral_without_a_firmness() -> None:
    for prev in (None, P, E, SU, SD, N):
        regime, firm = classify(x(math.nan, -5.0, 1.0), prev)
        assert regime is N and firm is None


# ------------------------------------------------------------------ firmness


def test_firmness_is_the_nearest_exit_in_the_classifiers_units() -> None:
    regime, firm = classify(x(0.20))
    assert regime is P and firm is not None
    assert (firm.measure, firm.threshold, firm.words) == ("net", 0.05, "firm")
    assert firm.value == 0.20
    assert firm.distance == pytest.approx(0.15) and firm.bands == pytest.approx(3.0)
    assert classify(x(0.12))[1].words == "holding"  # type: ignore[union-attr]
    held = classify(x(0.08), P)[1]
    assert held is not None and held.words == "marginal" and held.bands == pytest.approx(0.6)
    # a squeeze far from its net exit but near its bias exit: the bias binds
    sq = classify(biased(-0.5, 0.07), SU)[1]
    assert sq is not None and (sq.measure, sq.threshold, sq.words) == ("bias", 0.05, "marginal")
    assert sq.distance == pytest.approx(0.02)
    # neutral ends when another regime enters: the nearest enter threshold
    nt = classify(x(0.07))[1]
    assert nt is not None and (nt.measure, nt.threshold) == ("net", 0.10)
    assert nt.distance == pytest.approx(0.03)


# ------------------------------------------------------------------ the rule on any sequence

nets = st.one_of(
    st.floats(-1.0, 1.0),
    st.sampled_from([0.1, -0.1, 0.05, -0.05, 0.0, 0.0999, -0.0999, math.nan]),
)
windows = st.one_of(
    st.floats(-3.0, 3.0),
    st.sampled_from([0.0, 1.0, -1.0, -1.5, -1.25, 1.1, -1.1, 0.95]),
)
inputs = st.builds(RegimeInputs, net=nets, upside=windows, downside=windows)
regimes = st.one_of(st.none(), st.sampled_from(list(ImpulseRegime)))


@given(st.floats(-2.0, 2.0), st.floats(0.0, 2.0), windows, windows)
@example(-0.1, 1.0, -1.0, -1.0)
@example(0.0, 1.0, -1.5, 1.0)
def test_the_memoryless_rule_is_the_rule_before(
    total: float, gross: float, up: float, down: float
) -> None:
    expected = old_rule(total, gross, up, down)
    assert classify_impulse_regime(total, gross, asym(up, down)) is expected


@given(regimes, st.lists(inputs, min_size=1, max_size=30))
def test_a_change_needs_an_enter_threshold_and_nothing_flips_inside_the_dead_band(
    start: ImpulseRegime | None, seq: list[RegimeInputs]
) -> None:
    prev = start
    for xi in seq:
        regime, firm = classify(xi, prev)
        entered = enter_regime(xi)
        assert holds(entered, xi)  # an entered regime holds
        if prev is not None and holds(prev, xi):
            assert regime is prev  # inside the dead band: no change
        elif regime is not prev:
            assert regime is entered  # the inputs meet the new regime's enter condition
        if math.isfinite(xi.net):
            assert firm is not None and firm.bands >= 0 and firm.distance >= 0
            assert firm == firmness(regime, xi)
            words = "firm" if firm.bands >= 2 else "holding" if firm.bands >= 1 else "marginal"
            assert firm.words == words
        else:
            assert regime is N and firm is None
        prev = regime


@given(st.sampled_from([P, E, SU, SD]), st.lists(st.floats(0.0, 1.0), min_size=2, max_size=30))
def test_inputs_wandering_inside_the_dead_band_never_flip_flop(
    regime: ImpulseRegime, us: list[float]
) -> None:
    """Enter a regime, then wander anywhere between its exit and enter thresholds (the
    dead band, where the memoryless rule would say something else): it holds throughout."""
    band = {
        P: lambda u: x(0.05 + 0.0499 * u),
        E: lambda u: x(-0.05 - 0.0499 * u, -1.0, -1.0),
        SU: lambda u: biased(-0.3, 0.05 + 0.0499 * u),
        SD: lambda u: biased(-0.3, -0.05 - 0.0499 * u),
    }[regime]
    seq = walk(regime, [band(u) for u in us])
    assert set(seq) == {regime}
    memoryless = {enter_regime(band(u)) for u in us}
    assert regime not in memoryless  # the band is where only hysteresis holds it
