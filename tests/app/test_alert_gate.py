"""The alert rules with their memory: switches, the flip margin, the regime firmness
threshold and the cooldown, on sequences of analyses with explicit data times."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hedgeflow.app.alert_gate import AlertGate
from hedgeflow.app.alerts import AlertKind, AlertRules, compare_analyses
from hedgeflow.app.regime import RegimeTrack, advance, with_regime
from hedgeflow.engine.enums import ImpulseRegime
from hedgeflow.engine.types import ExpiryAnalysis, RegimeFirmness
from tests.tui.fakes import AS_OF, make_analysis, zone

FLIP = 6000.0


def _at(a: ExpiryAnalysis, seconds: float) -> ExpiryAnalysis:
    return replace(a, as_of=AS_OF + timedelta(seconds=seconds))


def _run(
    gate: AlertGate, analyses: list[ExpiryAnalysis]
) -> list[list[tuple[AlertKind, float | None, str | None]]]:
    """(kind, level, suppressed) raised at each analysis, tracks folded as the monitor does."""
    prev: ExpiryAnalysis | None = None
    before: RegimeTrack | None = None
    out = []
    for a in analyses:
        cur, after = advance(before, a)
        out.append(
            [
                (d.alert.kind, d.alert.level, d.suppressed)
                for d in gate.step(prev, cur, before, after)
            ]
        )
        prev, before = cur, after
    return out


def _spots(spots: list[float], *, step: float = 5.0) -> list[ExpiryAnalysis]:
    return [_at(make_analysis(spot=s, flips=(FLIP,)), i * step) for i, s in enumerate(spots)]


def test_a_crossing_counts_only_past_the_margin() -> None:
    gate = AlertGate(AlertRules(flip_margin_bp=5.0, cooldown_seconds=0.0))  # 3 points at 6000
    # 5999 -> 6001: 1 point past, noise; back and forth inside the margin: nothing
    got = _run(gate, _spots([5999.0, 6001.0, 5999.5, 6002.0, 6002.9]))
    assert got == [[], [], [], [], []]
    # the same level, crossed by more than the margin in one step
    got = _run(
        AlertGate(AlertRules(flip_margin_bp=5.0, cooldown_seconds=0.0)), _spots([5990.0, 6004.0])
    )
    assert got == [[], [(AlertKind.FLIP, FLIP, None)]]


def test_a_slow_grind_through_a_level_is_announced_once_past_the_margin() -> None:
    gate = AlertGate(AlertRules(flip_margin_bp=5.0, cooldown_seconds=0.0))
    got = _run(gate, _spots([5998.0, 6000.5, 6001.5, 6002.5, 6003.5, 6006.0]))
    # from 5998 in steps below the margin: announced at 6003.5 (3.5 points past), not again
    assert got == [[], [], [], [], [(AlertKind.FLIP, FLIP, None)], []]


def test_without_rules_every_crossing_counts_as_before() -> None:
    a, b = make_analysis(spot=5999.0, flips=(FLIP,)), make_analysis(spot=6000.5, flips=(FLIP,))
    assert [x.kind for x in compare_analyses(a, b)] == [AlertKind.FLIP]
    assert compare_analyses(a, b, rules=AlertRules(flip_margin_bp=5.0)) == []


def test_the_cooldown_holds_the_same_level_for_its_data_seconds() -> None:
    gate = AlertGate(AlertRules(flip_margin_bp=0.0, cooldown_seconds=60.0))
    spots = [5990.0, 6010.0, 5990.0, 6010.0, 5990.0]
    analyses = [
        _at(make_analysis(spot=s, flips=(FLIP,)), t)
        for s, t in zip(spots, [0, 10, 20, 70, 80], strict=True)
    ]
    got = _run(gate, analyses)
    assert got[1] == [(AlertKind.FLIP, FLIP, None)]  # let through at t=10
    assert got[2][0][2] is not None and "cooldown" in got[2][0][2]  # t=20: held, logged
    assert got[3] == [(AlertKind.FLIP, FLIP, None)]  # t=70: 60 s after t=10
    assert got[4][0][2] is not None  # t=80: within 60 s of t=70


def test_the_cooldown_is_per_level_and_a_drifting_level_is_the_same_level() -> None:
    gate = AlertGate(AlertRules(flip_margin_bp=0.0, cooldown_seconds=600.0))
    seq = [
        _at(make_analysis(spot=5990.0, flips=(6000.0,)), 0),
        _at(make_analysis(spot=6010.0, flips=(6000.0,)), 5),
        # the level drifted 2 points (within 10 bp): the same level, held
        _at(make_analysis(spot=5990.0, flips=(6002.0,)), 10),
        # another level 40 points away: not held
        _at(make_analysis(spot=6050.0, flips=(6040.0,)), 15),
    ]
    got = _run(gate, seq)
    assert got[1] == [(AlertKind.FLIP, 6000.0, None)]
    assert got[2][0][1] == 6002.0 and got[2][0][2] is not None
    assert got[3] == [(AlertKind.FLIP, 6040.0, None)]


def test_data_time_going_back_ends_the_cooldown() -> None:
    gate = AlertGate(AlertRules(flip_margin_bp=0.0, cooldown_seconds=600.0))
    seq = [
        _at(make_analysis(spot=s, flips=(FLIP,)), t)
        for s, t in [(5990.0, 100), (6010.0, 110), (5990.0, 5)]
    ]
    assert _run(gate, seq)[2] == [(AlertKind.FLIP, FLIP, None)]  # a replay started again


def test_switches_turn_a_kind_off() -> None:
    zones = (zone(6020.0, 6015.0, 6025.0, stable=True, spot=6000.0),)
    seq = [
        make_analysis(spot=5990.0, flips=(FLIP,), zones=zones),
        make_analysis(spot=6020.0, flips=(FLIP,), zones=zones),
    ]
    both = _run(AlertGate(AlertRules(cooldown_seconds=0.0)), seq)[1]
    assert [k for k, _, _ in both] == [AlertKind.FLIP, AlertKind.ZONE]
    assert [k for k, _, _ in _run(AlertGate(AlertRules(flip=False)), seq)[1]] == [AlertKind.ZONE]
    assert [k for k, _, _ in _run(AlertGate(AlertRules(zone=False)), seq)[1]] == [AlertKind.FLIP]


def _firm(bands: float) -> RegimeFirmness:
    return RegimeFirmness("net", 0.05 + 0.05 * bands, 0.05, 0.05 * bands, bands, "holding")


def _regime_run(gate: AlertGate, steps: list[tuple[ImpulseRegime, float]]) -> list[list[str]]:
    """Regime alerts at each analysis; `steps` are (regime of the analysis, firmness bands
    of the regime `advance` confirms), as the monitor would leave them (the fakes have no
    classifier inputs)."""
    prev: ExpiryAnalysis | None = None
    before: RegimeTrack | None = None
    out = []
    for i, (r, bands) in enumerate(steps):
        a = with_regime(_at(make_analysis(regime=r), 5.0 * i), r, _firm(bands))
        cur, after = advance(before, a)
        cur = with_regime(cur, after.confirmed, _firm(bands))
        out.append(
            [
                d.alert.message
                for d in gate.step(prev, cur, before, after)
                if d.alert.kind is AlertKind.REGIME
            ]
        )
        prev, before = cur, after
    return out


def test_a_regime_change_waits_for_the_firmness_threshold() -> None:
    p, e = ImpulseRegime.PINNED, ImpulseRegime.EXPANSION
    steps = [(p, 3.0), (e, 0.5), (e, 0.5), (e, 0.8), (e, 1.2), (e, 2.5)]
    got = _regime_run(AlertGate(AlertRules(regime_min_bands=1.0)), steps)
    # confirmed at the 3rd analysis but only marginal: announced when it reached 1 band
    assert got[:4] == [[], [], [], []]
    assert len(got[4]) == 1 and "pinned → expansion" in got[4][0] and got[5] == []
    # with the default (0): at confirmation, as the screen shows it
    got = _regime_run(AlertGate(AlertRules()), steps)
    assert len(got[2]) == 1 and sum(map(len, got)) == 1


def test_a_weak_change_that_goes_back_is_never_announced() -> None:
    p, e = ImpulseRegime.PINNED, ImpulseRegime.EXPANSION
    # (bands are the confirmed regime's: expansion is "leaving" at the 4th analysis)
    steps = [(p, 3.0), (e, 0.2), (e, 0.2), (p, -0.5), (p, 3.0), (p, 3.0)]
    assert _regime_run(AlertGate(AlertRules(regime_min_bands=1.0)), steps) == [[]] * 6


def test_every_alert_names_its_scope_and_expiry() -> None:
    zones = (zone(6020.0, 6015.0, 6025.0, stable=True, spot=6000.0),)
    prev = replace(make_analysis(spot=5990.0, flips=(FLIP,), zones=zones), scope="0DTE")
    cur = replace(make_analysis(spot=6020.0, flips=(FLIP,), zones=zones), scope="0DTE")
    alerts = compare_analyses(prev, cur)
    assert alerts and all(a.message.startswith("SPX: [0DTE · exp 2026-11-24] ") for a in alerts)
    assert all(a.scope == "0DTE" and a.expiry == cur.expiration for a in alerts)
    # and a scope switch is never compared across
    assert compare_analyses(replace(prev, scope="nearest"), cur) == []
