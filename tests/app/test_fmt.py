"""Readable units on screen: `hedgeflow.app.fmt` (values and rounding rules stated per case)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hedgeflow.app.fmt import (
    MISSING,
    fmt_age,
    fmt_contracts,
    fmt_dollars,
    fmt_expiry,
    fmt_level,
    fmt_percent,
    fmt_time_ny,
    fmt_wait,
    nice_ticks,
    strength_bar,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1234567890.0, "$1.2B"),  # DESIGN.md's example
        (-3.5e6, "-$3.5M"),
        (850.0, "$850"),
        (0.0, "$0"),
        (12_345.0, "$12.3K"),
        (123_456_789.0, "$123M"),  # no decimal at or above 100 units
        (99_940_000.0, "$99.9M"),
        (999_960_000.0, "$1.0B"),  # rounds up into the next unit, promoted
        (999.6, "$1.0K"),
        (2.5e12, "$2.5T"),
        (-0.4, "-$0"),
    ],
)
def test_fmt_dollars_known_values(value: float, text: str) -> None:
    assert fmt_dollars(value) == text


def test_fmt_dollars_signed_and_missing() -> None:
    assert fmt_dollars(3.2e8, signed=True) == "+$320M"
    assert fmt_dollars(-3.2e8, signed=True) == "-$320M"
    assert fmt_dollars(0.0, signed=True) == "$0"
    for bad in (math.nan, math.inf, -math.inf, None):
        assert fmt_dollars(bad) == MISSING


@given(st.floats(min_value=-1e15, max_value=1e15, allow_nan=False))
def test_fmt_dollars_is_short_and_keeps_the_sign(x: float) -> None:
    text = fmt_dollars(x)
    assert len(text) <= 8
    assert text.startswith("-") == (x < 0)
    assert "nan" not in text and "e" not in text.lower().replace("$", "")


@given(st.floats(min_value=1.0, max_value=9.9e14, allow_nan=False))
def test_fmt_dollars_value_within_rounding(x: float) -> None:
    text = fmt_dollars(x)[1:]
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(text[-1], 1.0)
    number = float(text[:-1] if text[-1] in "KMBT" else text)
    # one decimal (or none above 100 units): relative error below 5% after rounding
    assert abs(number * scale - x) <= max(0.05 * x, 0.5)


def test_levels_percent_contracts() -> None:
    assert fmt_level(5812.5) == "5,812.5"
    assert fmt_level(581.25) == "581.25"
    assert fmt_percent(0.142) == "14.2%"
    assert fmt_percent(0.0025, decimals=2, signed=True) == "+0.25%"
    assert fmt_contracts(-1234.4) == "-1,234"
    assert fmt_contracts(0.2) == "0"
    assert fmt_contracts(math.nan) == MISSING


def test_ages_and_times() -> None:
    assert fmt_age(7) == "7s"
    assert fmt_age(185) == "3m05s"
    assert fmt_age(3725) == "1h02m"
    assert fmt_age(-3) == "0s"
    # waits keep tenths below 10 s: a 0.1 s backoff is not "0s"
    assert fmt_wait(0.1) == "0.1s"
    assert fmt_wait(0.04) == "0s"
    assert fmt_wait(2.5) == "2.5s"
    assert fmt_wait(9.9) == "9.9s"
    assert fmt_wait(5.0) == "5s"
    assert fmt_wait(9.96) == "10s"
    assert fmt_wait(60) == "1m00s"
    assert fmt_wait(-1) == "0s"
    assert fmt_wait(math.nan) == MISSING
    t = datetime(2026, 11, 24, 15, 31, 5, tzinfo=UTC)  # EST: UTC-5
    assert fmt_time_ny(t) == "10:31:05 ET"
    exp = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    assert fmt_expiry(exp, t) == "0DTE 16:00"
    assert fmt_expiry(exp.replace(day=27), t) == "Fri 11-27 16:00"


def test_nice_ticks_inside_range_and_round() -> None:
    ticks = nice_ticks(-37e6, 41e6, 5)
    assert ticks == [-20e6, 0.0, 20e6, 40e6]
    assert nice_ticks(5806.0, 6165.0, 4) == [5900.0, 6000.0, 6100.0]
    assert nice_ticks(1.0, 1.0) == [1.0]
    assert nice_ticks(math.nan, 1.0) == []


def test_strength_bar_widths() -> None:
    assert strength_bar(1.0, 4) == "████"
    assert strength_bar(0.0, 4) == "    "
    assert strength_bar(0.5, 4) == "██  "
    assert strength_bar(2.0, 4) == "████"  # clamped
    assert len(strength_bar(math.nan, 6)) == 6


@pytest.mark.parametrize(
    ("value", "signed", "text"),
    [
        (-480909.0, False, "-481K"),
        (7312.0, True, "+7.3K"),
        (1.2e6, False, "1.2M"),
        (850.0, True, "+850"),
        (0.4, True, "0"),
        (-0.4, False, "0"),
        (999_960.0, False, "1.0M"),
        (-12_345_678.0, True, "-12.3M"),
        (float("nan"), True, "–"),
    ],
)
def test_fmt_compact_known_values(value: float, signed: bool, text: str) -> None:
    from hedgeflow.app.fmt import fmt_compact

    assert fmt_compact(value, signed=signed) == text


def test_fmt_compact_is_short_for_every_magnitude() -> None:
    """Compact figures fit a 6-cell column for any count up to a trillion: no table ever has
    to cut one."""
    from hedgeflow.app.fmt import fmt_compact

    for exp in range(13):
        for mant in (1.0, 2.5, 9.99, 9.9996):
            for sign in (1.0, -1.0):
                assert len(fmt_compact(sign * mant * 10**exp, signed=True)) <= 6
