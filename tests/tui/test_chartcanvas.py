"""The numpy chart the impulse and charm panes draw on (hedgeflow/tui/chartcanvas.py):
every layer lands in the cells its values map to, by one mapping."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.style import Style

from hedgeflow.tui.chartcanvas import Chart, framed, margin, rich_color


def _cell_row(chart: Chart, y: float) -> int:
    """The cell row of y computed by hand: the dot row (4 a cell, 0 at the top) // 4."""
    lo, hi = chart.ylim
    return round((hi - y) / (hi - lo) * (4 * chart.height - 1)) // 4


def test_fill_covers_exactly_the_cells_between_the_value_and_zero() -> None:
    chart = Chart(10, 8, (0.0, 10.0), (-4.0, 4.0))
    chart.fill(np.array([0.0, 10.0]), np.array([3.0, 3.0]), "red")
    top, zero = _cell_row(chart, 3.0), _cell_row(chart, 0.0)
    filled = chart.chars != " "
    for c in range(10):
        rows = np.flatnonzero(filled[:, c]).tolist()
        assert rows == list(range(top, zero + 1)), c
    # inside: whole cells; the edges by half cells
    assert set(chart.chars[top + 1 : zero, :].ravel()) == {"█"}
    assert set(chart.chars[top, :]) <= {"▄", "█"} and set(chart.chars[zero, :]) <= {"▀", "█"}
    assert chart.rows()[top][0][1] == "red"


def test_fill_below_zero_and_with_a_glyph() -> None:
    chart = Chart(6, 6, (0.0, 6.0), (-3.0, 3.0))
    chart.fill(np.array([0.0, 6.0]), np.array([-2.0, -2.0]), "", glyph="▒")
    rows = np.flatnonzero((chart.chars == "▒").any(axis=1)).tolist()
    assert rows == list(range(_cell_row(chart, 0.0), _cell_row(chart, -2.0) + 1))
    assert set(chart.chars.ravel()) == {" ", "▒"}


def test_fill_only_where_the_curve_is_and_a_narrow_zone_still_shows() -> None:
    chart = Chart(20, 4, (0.0, 20.0), (0.0, 4.0))
    chart.fill(np.array([5.0, 9.0]), np.array([2.0, 2.0]), "")
    cols = np.flatnonzero((chart.chars != " ").any(axis=0))
    assert cols.min() == 5 and cols.max() == 8  # cell centres 5.5 .. 8.5 lie in [5, 9]
    narrow = Chart(20, 4, (0.0, 20.0), (0.0, 4.0))
    narrow.fill(np.array([10.1, 10.3]), np.array([3.0, 3.0]), "")
    assert np.flatnonzero((narrow.chars != " ").any(axis=0)).tolist() == [10]


def test_line_joins_points_and_breaks_at_nan() -> None:
    chart = Chart(20, 5, (0.0, 20.0), (0.0, 10.0))
    chart.line(np.array([0.0, 8.0, np.nan, 12.0, 20.0]), np.array([5.0, 5.0, 5.0, 5.0, 5.0]), "c")
    row = _cell_row(chart, 5.0)
    drawn = [c for c in range(20) if chart.chars[row, c] != " "]
    assert all(0x2800 <= ord(chart.chars[row, c]) <= 0x28FF for c in drawn)
    # the NaN breaks the line between x = 8 and x = 12: no dot there
    assert 0 in drawn and 19 in drawn and not any(9 <= c <= 10 for c in drawn)
    assert (chart.chars[np.arange(5) != row] == " ").all()


def test_line_merges_its_dots_into_a_braille_cell_and_takes_a_filled_one() -> None:
    chart = Chart(4, 2, (0.0, 4.0), (0.0, 8.0))
    chart.line(np.array([0.0, 4.0]), np.array([7.9, 7.9]), "a")
    first = ord(chart.chars[0, 1]) - 0x2800
    chart.line(np.array([0.0, 4.0]), np.array([4.1, 4.1]), "b")
    merged = ord(chart.chars[0, 1]) - 0x2800
    assert merged & first == first and merged != first  # the second line's dots added
    chart.fill(np.array([0.0, 4.0]), np.array([-1.0, -1.0]), "f")  # below the plot: nothing
    chart.fill(np.array([0.0, 4.0]), np.array([2.0, 2.0]), "f")
    chart.line(np.array([0.0, 4.0]), np.array([1.0, 1.0]), "c")
    assert 0x2800 <= ord(chart.chars[1, 0]) <= 0x28FF  # a line over a fill: braille


def test_rules_take_only_free_cells_and_points_land_in_their_cell() -> None:
    chart = Chart(10, 5, (0.0, 10.0), (-5.0, 5.0))
    chart.points([2.0], [0.0], "◆", "m")
    chart.hline(0.0, "z")
    chart.vline(7.0, "s")
    row, col = _cell_row(chart, 0.0), round(7.0 / 10.0 * 19) // 2
    assert chart.chars[row, round(2.0 / 10.0 * 19) // 2] == "◆"  # kept under the rule
    assert (chart.chars[row] == "─").sum() == 9  # every cell of the row but the ◆
    assert chart.chars[0, col] == "│" and chart.chars[row, col] == "─"
    chart.points([50.0, np.nan], [0.0, 1.0], "×", "m")  # outside / not finite: ignored
    assert "×" not in chart.chars


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-100.0, 100.0), min_size=2, max_size=40),
    st.integers(4, 60),
    st.integers(2, 20),
)
def test_fill_edge_and_line_meet_in_the_same_cell(ys: list[float], width: int, height: int) -> None:
    """Wherever a column's fill ends, it ends in the row the same value maps to: the layers
    share one mapping, so a curve and its zone never drift apart."""
    y = np.array(ys)
    x = np.linspace(0.0, 1.0, y.size)
    chart = Chart(width, height, (0.0, 1.0), (min(y.min(), 0.0) - 1, max(y.max(), 0.0) + 1))
    chart.fill(x, y, "f")
    centres = (np.arange(width) + 0.5) / width
    v = np.interp(centres, x, y)
    for c in range(width):
        rows = np.flatnonzero(chart.chars[:, c] != " ")
        assert rows.size, c
        far = rows.min() if v[c] >= 0 else rows.max()
        assert far == _cell_row(chart, float(v[c])), (c, v[c])


def test_framed_places_labels_ticks_and_keeps_every_line_the_pane_width() -> None:
    chart = Chart(40, 10, (100.0, 200.0), (-10.0, 10.0))
    yticks = [(-10.0, "-$10"), (0.0, "$0"), (10.0, "$10")]
    xticks = [(100.0, "100"), (150.0, "150"), (200.0, "200"), (151.0, "151")]
    strips = framed(chart, yticks=yticks, xticks=xticks, axis_style="", label_style="", width=50)
    assert len(strips) == chart.height + 2
    assert all(s.cell_length == 50 for s in strips)
    text = [s.text for s in strips]
    lw = margin(yticks)
    assert lw == 5
    for v, label in yticks:
        assert text[_cell_row(chart, v)][:lw] == f"{label:>{lw - 1}}┤"
    axis, labels = text[-2], text[-1]
    assert axis[lw - 1] == "└"
    col150 = round(0.5 * 79) // 2
    assert axis[lw + col150] == "┬" and "150" in labels
    assert "151" not in labels  # a label that would touch another is left out
    assert labels.index("150") <= lw + col150 <= labels.index("150") + 2


@pytest.mark.parametrize(
    ("color", "rich"),
    [((1, 2, 255), "#0102ff"), (3, "color(3)"), ("default", ""), ("gray", "bright_black")],
)
def test_rich_color_parses(color: object, rich: str) -> None:
    assert rich_color(color) == rich  # type: ignore[arg-type]
    Style.parse(rich or "none")  # every chart colour must be one Rich can draw
