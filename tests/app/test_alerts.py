"""Alerts between two analyses: regime change, flip level crossed, zone entered."""

from __future__ import annotations

from datetime import timedelta

from hedgeflow.app.alerts import AlertKind, compare_analyses
from hedgeflow.app.presentation import headline
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


def test_regime_change() -> None:
    prev = make_analysis(regime=ImpulseRegime.PINNED)
    cur = make_analysis(regime=ImpulseRegime.EXPANSION)
    alerts = compare_analyses(prev, cur)
    assert [a.kind for a in alerts] == [AlertKind.REGIME]
    assert "pinned → expansion" in alerts[0].message
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
