"""Alerts between two analyses: regime change, flip level crossed, zone entered."""

from __future__ import annotations

from datetime import timedelta

from hedgeflow.app.alerts import AlertKind, compare_analyses
from hedgeflow.app.presentation import headline
from hedgeflow.app.regime import advance
from hedgeflow.engine.enums import ImpulseRegime
from tests.tui.fakes import EXPIRY, make_analysis, zone


def test_no_alert_without_a_previous_or_across_expiries() -> None:
    cur = make_analysis(spot=6000.0)
    assert compare_analyses(None, cur) == []
    other_expiry = make_analysis(
        spot=5900.0, expiration=EXPIRY + timedelta(days=1), regime=ImpulseRegime.EXPANSION
    )
    assert compare_analyses(other_expiry, cur) == []
    assert compare_analyses(make_analysis(symbol="SPY", spot=5900.0), cur) == []


def _regime_alerts(regimes: list[ImpulseRegime]) -> list[list[str]]:
    """The regime alerts raised at each analysis of a sequence with these regimes, the
    tracks folded as the monitor folds them (`advance` before `compare_analyses`)."""
    prev, before, out = None, None, []
    for r in regimes:
        cur, after = advance(before, make_analysis(regime=r))
        alerts = compare_analyses(prev, cur, before, after)
        out.append([a.message for a in alerts if a.kind is AlertKind.REGIME])
        prev, before = cur, after
    return out


def test_a_regime_change_alerts_once_it_held_two_analyses() -> None:
    p, e = ImpulseRegime.PINNED, ImpulseRegime.EXPANSION
    alerts = _regime_alerts([p, e, e, e])
    assert alerts[:2] == [[], []] and alerts[3] == []
    assert len(alerts[2]) == 1 and "pinned → expansion (held 2 analyses)" in alerts[2][0]


def test_a_one_analysis_blip_raises_no_regime_alert() -> None:
    p, e, u = ImpulseRegime.PINNED, ImpulseRegime.EXPANSION, ImpulseRegime.SQUEEZE_UP
    assert _regime_alerts([p, e, p, u, p, e, p, p]) == [[]] * 8
    # a change to a third regime that holds names the regime confirmed before it
    alerts = _regime_alerts([p, e, u, u])
    assert alerts[3] and "pinned → squeeze-up" in alerts[3][0]


def test_no_regime_alert_without_the_tracks() -> None:
    prev = make_analysis(regime=ImpulseRegime.PINNED)
    cur = make_analysis(regime=ImpulseRegime.EXPANSION)
    assert compare_analyses(prev, cur) == []
    assert compare_analyses(cur, cur) == []


def test_flip_crossed_upward_and_downward_in_travel_order() -> None:
    flips = (5990.0, 6010.0, 6050.0)
    prev = make_analysis(spot=5980.0, flips=flips)
    cur = make_analysis(spot=6020.0, flips=flips)
    up = compare_analyses(prev, cur)
    assert [(a.kind, a.level) for a in up] == [(AlertKind.FLIP, 5990.0), (AlertKind.FLIP, 6010.0)]
    assert all("upward" in a.message for a in up)
    down = compare_analyses(cur, prev)
    assert [a.level for a in down] == [6010.0, 5990.0]
    assert all("downward" in a.message for a in down)


def test_landing_exactly_on_a_flip_counts_once() -> None:
    flips = (6000.0,)
    a = make_analysis(spot=5995.0, flips=flips)
    b = make_analysis(spot=6000.0, flips=flips)
    c = make_analysis(spot=6004.0, flips=flips)
    assert [x.kind for x in compare_analyses(a, b)] == [AlertKind.FLIP]
    assert compare_analyses(b, c) == []  # left the level, did not cross it again


def test_curve_crossings_are_the_flips_without_a_repriced_profile() -> None:
    a = make_analysis(spot=5970.0, flips=(5980.0,), repriced=False)
    b = make_analysis(spot=5985.0, flips=(5980.0,), repriced=False)
    assert headline(b).flip_levels == (5980.0,)
    assert headline(b).nearest_flip == 5980.0
    assert [x.kind for x in compare_analyses(a, b)] == [AlertKind.FLIP]


def test_zone_entered_not_when_staying_inside() -> None:
    z = zone(6025.0, 6015.0, 6035.0, stable=True, spot=6000.0)
    outside = make_analysis(spot=6000.0, flips=(), zones=(z,))
    inside = make_analysis(spot=6020.0, flips=(), zones=(z,))
    inside2 = make_analysis(spot=6030.0, flips=(), zones=(z,))
    alerts = compare_analyses(outside, inside)
    assert [(a.kind, a.level) for a in alerts] == [(AlertKind.ZONE, 6025.0)]
    assert "stability zone" in alerts[0].message
    assert compare_analyses(inside, inside2) == []
    assert compare_analyses(inside, outside) == []  # leaving is not an entry
