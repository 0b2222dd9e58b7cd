"""The by-strike model (`app.strikes`): rows nearest spot, descending, the right array per
exposure and side, spot and levels between the strikes they fall between, bar scale."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from hedgeflow.app.strikes import Greek, Split, strike_bars
from hedgeflow.engine.types import ExposurePerExpiry, RightExposure

EXP = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
K = np.array([90.0, 95.0, 100.0, 105.0, 110.0, 115.0])


def _side(scale: float) -> RightExposure:
    base = np.array([1.0, -2.0, 4.0, -8.0, 0.0, 3.0]) * scale
    return RightExposure(base * 1e3, base * 1e2, base * 10, base * 1e6)


def exposure(spot: float = 101.0) -> ExposurePerExpiry:
    calls, puts = _side(1.0), _side(-0.5)
    tot = {n: getattr(calls, n) + getattr(puts, n) for n in ("gamma", "vanna", "charm", "delta")}
    return ExposurePerExpiry(spot, EXP, K, **tot, calls=calls, puts=puts)


def test_rows_nearest_spot_descending_with_spot_marker_between() -> None:
    m = strike_bars(exposure(), Greek.GEX, Split.NET, max_rows=4)
    # 4 rows: spot's marker + the 3 nearest strikes that carry exposure (110 has none)
    assert [r.strike for r in m.rows] == [105.0, 100.0, 95.0]
    assert [(mk.name, mk.after) for mk in m.markers] == [("spot", 1)]  # between 105 and 100
    assert m.hidden_above == 1 and m.hidden_below == 1  # 115 above, 90 below
    # net = calls + puts = base * 0.5 * 1e3: 100 -> +2,000, 105 -> -4,000
    assert [r.net for r in m.rows] == [-4000.0, 2000.0, -1000.0]
    assert [r.net_text for r in m.rows] == ["-$4.0K", "+$2.0K", "-$1.0K"]
    assert m.scale == 4000.0 and m.fraction(-4000.0) == -1.0 and m.fraction(2000.0) == 0.5
    # the total is over every strike, not only those shown: (1-2+4-8+0+3) * 500
    assert m.total == pytest.approx(-1000.0) and m.total_text == "-$1.0K"
    assert m.unit == "$/+1%"


@pytest.mark.parametrize(("greek", "scale"), [(Greek.VEX, 1e2), (Greek.CEX, 10), (Greek.DEX, 1e6)])
def test_each_greek_reads_its_own_array(greek: Greek, scale: float) -> None:
    m = strike_bars(exposure(), greek, Split.SIDES, max_rows=10)
    row = next(r for r in m.rows if r.strike == 105.0)
    assert row.call == -8.0 * scale and row.put == 4.0 * scale and row.net == -4.0 * scale
    # sides: the scale is the largest single side shown, here the calls' -8 at 105
    assert m.scale == 8.0 * scale


def test_levels_inside_the_shown_strikes_only() -> None:
    levels = [("flip", 97.5), ("zero γ", 200.0), ("none", math.nan)]
    m = strike_bars(exposure(), Greek.GEX, Split.NET, max_rows=7)
    assert [mk.name for mk in m.markers] == ["spot"]
    m = strike_bars(exposure(), Greek.GEX, Split.NET, max_rows=7, levels=levels)
    # 7 rows: spot and the flip (inside the strikes) take two, zero γ (outside) none:
    # all 5 strikes with exposure fit (110 has none)
    assert [r.strike for r in m.rows] == [115.0, 105.0, 100.0, 95.0, 90.0]
    names = [(mk.name, mk.after) for mk in m.markers]
    assert names == [("spot", 2), ("flip", 3)]
    assert "zero γ" not in [n for n, _ in names]  # 200 is beyond the strikes shown
    assert m.markers[0].text.startswith("spot ")
    # one row fewer: the 4 strikes nearest spot; the flip still lies among them
    m = strike_bars(exposure(), Greek.GEX, Split.NET, max_rows=6, levels=levels)
    assert [r.strike for r in m.rows] == [105.0, 100.0, 95.0, 90.0]


def test_without_dex_or_sides_it_says_unavailable() -> None:
    bare = ExposurePerExpiry(100.0, EXP, K, np.ones(6), np.ones(6), np.ones(6))
    assert strike_bars(bare, Greek.GEX, Split.NET, max_rows=5).available
    assert not strike_bars(bare, Greek.DEX, Split.NET, max_rows=5).available
    assert not strike_bars(bare, Greek.GEX, Split.SIDES, max_rows=5).available
    assert strike_bars(bare, Greek.DEX, Split.NET, max_rows=5).total_text == "–"


def test_greek_cycle_and_units() -> None:
    assert [g.value for g in (Greek.GEX, Greek.GEX.next(), Greek.DEX.next())] == [
        "GEX",
        "VEX",
        "GEX",
    ]
    assert {g.unit for g in Greek} == {"$/+1%", "$/vol pt", "$/day", "$ of underlying"}
