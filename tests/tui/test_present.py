"""The status line's words for the feed's clock: simulated or recorded time never looks live."""

from __future__ import annotations

import pytest

from hedgeflow.tui.present import clock_words


@pytest.mark.parametrize(
    ("feed", "speed", "expected"),
    [
        ("sim", 1.0, ("SIMULATED", "sim clock")),
        ("sim", 30.0, ("SIMULATED", "sim clock ×30")),
        ("sim", 0.0, ("SIMULATED", "sim clock frozen")),
        ("replay", 1.0, ("REPLAY", "recorded")),
        ("replay", 60.0, ("REPLAY", "recorded ×60")),
        ("replay", 0.0, ("REPLAY", "recorded, a snapshot a poll")),
        ("file", 1.0, ("FILE", "file snapshot")),
        ("file", 0.0, ("FILE", "file snapshot")),
        ("cboe", 1.0, ("", "")),
        ("tradier", 1.0, ("", "")),
        ("schwab", 1.0, ("", "")),
    ],
)
def test_clock_words(feed: str, speed: float, expected: tuple[str, str]) -> None:
    assert clock_words(feed, speed) == expected
