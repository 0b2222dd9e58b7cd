"""The time axis of the history and heatmap panes (`hedgeflow.tui.painted.time_axis`)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hedgeflow.app.fmt import NY
from hedgeflow.tui.painted import clock_label, time_axis

T0 = datetime(2026, 11, 24, 10, 30, tzinfo=NY).timestamp()
LABEL = re.compile(r"\d\d:\d\d(?::\d\d)?")


def _labels(row: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group()) for m in LABEL.finditer(row)]


def _axis(span: float, n: int, every: int) -> str:
    return time_axis(n, every, lambda c: T0 + span * c / (n - 1), T0 + span)


def test_a_session_minutes_old_is_labelled_to_the_second() -> None:
    row = _axis(40.0, 72, 12)  # labels ~7 s apart: HH:MM alone would repeat 10:30
    got = _labels(row)
    assert [text for _, text in got] == sorted({text for _, text in got})  # distinct, rising
    assert all(len(text) == 8 for _, text in got)
    assert got[0] == (0, "10:30:00") and got[-1] == (72 - 8, "10:30:40")


def test_a_long_session_is_labelled_to_the_minute() -> None:
    got = _labels(_axis(6.5 * 3600, 100, 16))
    assert all(len(text) == 5 for _, text in got)
    assert got[0][1] == "10:30" and got[-1] == (95, "17:00")


@given(
    span=st.floats(1.0, 30 * 86400.0),
    n=st.integers(1, 300),
    every=st.integers(12, 60),
)
def test_labels_fit_do_not_touch_and_end_with_the_newest(span: float, n: int, every: int) -> None:
    row = time_axis(n, every, lambda c: T0 + span * c / max(n - 1, 1), T0 + span)
    assert len(row) == n
    got = _labels(row)
    if n < 8:
        return  # no room for a whole label: whatever fits of the newest
    newest = got[-1]
    assert newest[0] + len(newest[1]) == n  # right-aligned
    assert newest[1] == clock_label(T0 + span, seconds=len(newest[1]) == 8)
    for (a, ta), (b, tb) in zip(got, got[1:], strict=False):
        assert b > a + len(ta)  # at least one blank between two labels
        assert ta != tb


def test_a_session_seconds_old_repeats_no_label() -> None:
    got = _labels(_axis(0.6, 80, 12))  # every analysis within one second
    assert got == [(72, "10:30:00")]


@pytest.mark.parametrize("n", [0, 3])
def test_a_row_too_narrow_for_a_label_is_still_the_row(n: int) -> None:
    assert len(time_axis(n, 12, lambda c: T0 + c, T0 + 60.0)) == n
