"""The transport's pure parts: the speed ladder, jump parsing (New York time, DST) and the
bar's position."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from hedgeflow.app.transport import SPEEDS, JumpError, TapeView, next_speed, parse_jump


def test_speed_ladder_steps_rung_by_rung_and_holds_at_the_ends() -> None:
    up = [1.0]
    while next_speed(up[-1], 1) != up[-1]:
        up.append(next_speed(up[-1], 1))
    assert tuple(up) == SPEEDS == (1, 2, 5, 10, 30, 60, 120, 300)
    down = [300.0]
    while next_speed(down[-1], -1) != down[-1]:
        down.append(next_speed(down[-1], -1))
    assert tuple(reversed(down)) == SPEEDS


@pytest.mark.parametrize(
    ("speed", "up", "down"),
    [(7.0, 10.0, 5.0), (0.5, 1.0, 1.0), (1000.0, 300.0, 300.0), (0.0, 1.0, 0.0)],
)
def test_speeds_off_the_ladder(speed: float, up: float, down: float) -> None:
    assert next_speed(speed, 1) == up
    assert next_speed(speed, -1) == down


@pytest.mark.parametrize(
    ("text", "day", "utc"),
    [
        # winter: EST (UTC-5)
        ("10:30", date(2026, 11, 24), "2026-11-24T15:30:00"),
        ("9:30:15", date(2026, 11, 24), "2026-11-24T14:30:15"),
        # summer: EDT (UTC-4)
        ("10:30", date(2026, 7, 15), "2026-07-15T14:30:00"),
        # the DST days themselves: the market hours are after the switch
        ("10:30", date(2026, 3, 8), "2026-03-08T14:30:00"),  # spring forward (EDT)
        ("10:30", date(2026, 11, 1), "2026-11-01T15:30:00"),  # fall back (EST)
        ("01:30", date(2026, 11, 1), "2026-11-01T05:30:00"),  # happens twice: the first (EDT)
        # ISO: no offset = New York; with one, as given; the tape's day is ignored
        ("2026-07-15T10:30", date(2026, 11, 24), "2026-07-15T14:30:00"),
        ("2026-11-24 10:30:00-05:00", date(2026, 1, 2), "2026-11-24T15:30:00"),
        ("2026-11-24T15:30:00Z", date(2026, 1, 2), "2026-11-24T15:30:00"),
    ],
)
def test_jump_times(text: str, day: date, utc: str) -> None:
    when = parse_jump(text, day)
    assert when.tzinfo is not None
    assert when == datetime.fromisoformat(utc).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "type a time"),
        ("   ", "type a time"),
        ("25:00", "not a time of day"),
        ("10:75", "not a time of day"),
        ("10:30:99", "not a time of day"),
        ("half past ten", "not a time"),
        ("10.30", "not a time"),
        ("2026-13-01T10:00", "not a time"),
        ("02:30", "does not exist"),  # skipped on 2026-03-08
    ],
)
def test_bad_jumps_are_one_line(text: str, words: str) -> None:
    with pytest.raises(JumpError) as err:
        parse_jump(text, date(2026, 3, 8))
    line = str(err.value)
    assert words in line and "\n" not in line


def test_tape_view_position_and_day() -> None:
    start = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 New York
    end = start + timedelta(hours=2)
    v = TapeView(start + timedelta(minutes=30), start, end, 60.0, False)
    assert v.position == pytest.approx(0.25)
    assert not v.at_end and not v.multi_day
    assert v.tape_day == date(2026, 11, 24)
    past = TapeView(end + timedelta(hours=9), start, end, 1.0, False)
    assert past.position == 1.0 and past.at_end
    assert past.tape_day == date(2026, 11, 24)  # the end's day, not the clock run past it
    assert TapeView(start - timedelta(1), start, end, 1.0, True).position == 0.0
    assert TapeView(start, start, start, 1.0, True).position == 1.0
    two = TapeView(start, start, end + timedelta(days=1), 1.0, False)
    assert two.multi_day
