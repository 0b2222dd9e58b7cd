"""The expiry clock. Known values come from the NYSE holiday/early-close schedule (nyse.com
"Holidays & Trading Hours") and the US DST rules (second Sunday of March, first Sunday of
November); each expected instant is written in UTC so EST (UTC-5) vs EDT (UTC-4) is explicit."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgeflow.engine import clock
from hedgeflow.engine.clock import (
    NY,
    is_am_settled,
    is_session,
    minutes_between,
    next_session,
    next_session_close,
    previous_session,
    session_close,
    session_open,
    settlement_epochs,
    settlement_time,
    trading_minutes_between,
    year_fraction,
)


def utc(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def ny(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=NY)


# --- sessions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "close_utc"),
    [
        # Around the March 2023 switch (Sun Mar 12): Friday EST, Monday EDT.
        (date(2023, 3, 10), utc(2023, 3, 10, 21)),
        (date(2023, 3, 13), utc(2023, 3, 13, 20)),
        # Around the November 2023 switch (Sun Nov 5): Friday EDT, Monday EST.
        (date(2023, 11, 3), utc(2023, 11, 3, 20)),
        (date(2023, 11, 6), utc(2023, 11, 6, 21)),
        # Early closes at 13:00 New York.
        (date(2023, 11, 24), utc(2023, 11, 24, 18)),  # day after Thanksgiving, EST
        (date(2024, 12, 24), utc(2024, 12, 24, 18)),  # Christmas Eve, EST
        (date(2023, 7, 3), utc(2023, 7, 3, 17)),  # July 3rd, EDT
        (date(2022, 11, 25), utc(2022, 11, 25, 18)),
    ],
)
def test_session_close_exact(day: date, close_utc: datetime) -> None:
    got = session_close(day)
    assert got is not None
    assert got == close_utc
    assert got.timestamp() == close_utc.timestamp()
    assert got.tzinfo is NY
    opened = session_open(day)
    assert opened is not None and opened.astimezone(NY).time() == time(9, 30)


@pytest.mark.parametrize(
    "day",
    [
        date(2023, 6, 17),  # Saturday
        date(2023, 6, 18),  # Sunday
        date(2023, 6, 19),  # Juneteenth (NYSE holiday since 2022)
        date(2024, 3, 29),  # Good Friday
        date(2023, 12, 25),  # Christmas
        date(2023, 11, 23),  # Thanksgiving
        date(2025, 1, 9),  # national day of mourning (President Carter): ad hoc closure
    ],
)
def test_non_sessions(day: date) -> None:
    assert not is_session(day)
    assert session_close(day) is None
    assert session_open(day) is None


def test_previous_and_next_session() -> None:
    assert previous_session(date(2024, 4, 1)) == date(2024, 3, 28)  # over Good Friday + weekend
    assert previous_session(date(2023, 6, 20)) == date(2023, 6, 16)  # over Juneteenth
    assert next_session(date(2023, 6, 16)) == date(2023, 6, 20)
    assert previous_session(date(2023, 6, 21)) == date(2023, 6, 20)


def test_next_session_close() -> None:
    # Before the close on a session day: today's close.
    assert next_session_close(ny(2023, 6, 15, 15, 59)) == utc(2023, 6, 15, 20)
    assert next_session_close(ny(2023, 6, 15, 4, 0)) == utc(2023, 6, 15, 20)
    # At or after the close: the next session's close (Friday).
    assert next_session_close(ny(2023, 6, 15, 16, 0)) == utc(2023, 6, 16, 20)
    assert next_session_close(ny(2023, 6, 15, 23, 0)) == utc(2023, 6, 16, 20)
    # Friday after the close -> Tuesday, because Monday June 19 2023 is Juneteenth.
    assert next_session_close(ny(2023, 6, 16, 16, 30)) == utc(2023, 6, 20, 20)
    # Weekend -> Monday; holiday -> next day's early close.
    assert next_session_close(ny(2023, 9, 16, 12, 0)) == utc(2023, 9, 18, 20)
    assert next_session_close(ny(2023, 11, 23, 12, 0)) == utc(2023, 11, 24, 18)
    # Early close day: 13:30 is already after the close.
    assert next_session_close(ny(2023, 11, 24, 13, 30)) == utc(2023, 11, 27, 21)
    # Given in another zone, same instant.
    assert next_session_close(utc(2023, 6, 15, 19, 59)) == utc(2023, 6, 15, 20)
    with pytest.raises(ValueError, match="aware"):
        next_session_close(datetime(2023, 6, 15, 12))  # noqa: DTZ001


# --- settlement ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("root", "am"),
    [
        ("SPX", True),
        ("NDX", True),
        ("RUT", True),
        ("VIX", True),
        ("VIXW", True),
        ("SPXW", False),
        ("XSP", False),
        ("NDXP", False),
        ("RUTW", False),
        ("SPY", False),
        ("QQQ", False),
        ("IWM", False),
        ("AAPL", False),
        ("spx", True),
    ],
)
def test_is_am_settled(root: str, am: bool) -> None:
    assert is_am_settled(root, date(2023, 6, 16)) is am


def test_third_friday_spx_vs_spxw() -> None:
    d = date(2023, 6, 16)
    assert settlement_time("SPX", d) == utc(2023, 6, 16, 13, 30)  # 09:30 EDT
    assert settlement_time("SPXW", d) == utc(2023, 6, 16, 20)  # 16:00 EDT
    ep = settlement_epochs(np.array(["SPX", "SPXW", "SPX"]), np.array([d, d, d]))
    assert ep.dtype == np.float64
    assert ep[1] - ep[0] == 6.5 * 3600
    assert ep[0] == ep[2]


@pytest.mark.parametrize(
    ("root", "day", "expected"),
    [
        # PM roots across both DST switches: EST vs EDT epochs.
        ("SPXW", date(2023, 3, 10), utc(2023, 3, 10, 21)),
        ("SPXW", date(2023, 3, 13), utc(2023, 3, 13, 20)),
        ("SPY", date(2023, 11, 3), utc(2023, 11, 3, 20)),
        ("SPY", date(2023, 11, 6), utc(2023, 11, 6, 21)),
        # AM roots across both switches.
        ("SPX", date(2023, 3, 17), utc(2023, 3, 17, 13, 30)),
        ("SPX", date(2023, 11, 17), utc(2023, 11, 17, 14, 30)),
        ("NDX", date(2023, 5, 19), utc(2023, 5, 19, 13, 30)),
        # Early closes: PM series settle at 13:00.
        ("SPXW", date(2023, 11, 24), utc(2023, 11, 24, 18)),
        ("QQQ", date(2024, 12, 24), utc(2024, 12, 24, 18)),
        ("SPXW", date(2023, 7, 3), utc(2023, 7, 3, 17)),
        # Good Friday 2024 (Mar 29): moves to Thursday's close.
        ("SPXW", date(2024, 3, 29), utc(2024, 3, 28, 20)),
        # Good Friday 2014 was the April third Friday: SPX settled on Thursday's open (SOQ
        # on April 17, 2014, per Cboe's notice for that expiration).
        ("SPX", date(2014, 4, 18), utc(2014, 4, 17, 13, 30)),
        # A Saturday expiration date (OCC's pre-2015 convention) -> Friday.
        ("SPY", date(2014, 4, 19), utc(2014, 4, 17, 20)),
        ("SPY", date(2013, 6, 22), utc(2013, 6, 21, 20)),
        ("SPX", date(2013, 6, 22), utc(2013, 6, 21, 13, 30)),
        # Juneteenth 2023 (Monday) -> the previous Friday.
        ("SPXW", date(2023, 6, 19), utc(2023, 6, 16, 20)),
    ],
)
def test_settlement_time(root: str, day: date, expected: datetime) -> None:
    got = settlement_time(root, day)
    assert got == expected
    assert got.tzinfo is NY
    assert settlement_epochs(np.array([root]), np.array([day]))[0] == expected.timestamp()


def test_settlement_epochs_vectorized_inputs() -> None:
    roots = np.array(["SPXW", "SPX", "SPXW", "SPY"])
    dates = np.array(["2023-06-16", "2023-06-16", "NaT", "2024-03-29"], dtype="datetime64[D]")
    ep = settlement_epochs(roots, dates)
    expected = [
        utc(2023, 6, 16, 20).timestamp(),
        utc(2023, 6, 16, 13, 30).timestamp(),
        np.nan,
        utc(2024, 3, 28, 20).timestamp(),
    ]
    np.testing.assert_array_equal(ep, expected)
    # A scalar root broadcasts.
    np.testing.assert_array_equal(settlement_epochs("SPY", dates[:1]), [expected[0]])


def test_out_of_calendar_raises() -> None:
    with pytest.raises(ValueError, match="outside the exchange calendar"):
        settlement_time("SPY", date(2099, 1, 16))
    with pytest.raises(ValueError, match="outside the exchange calendar"):
        settlement_epochs(np.array(["SPY"]), np.array(["1970-01-16"], dtype="datetime64[D]"))


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(1995, 1, 1), max_value=date(2040, 12, 31)))
def test_settlement_properties(day: date) -> None:
    pm = settlement_time("SPXW", day)
    am = settlement_time("SPX", day)
    settle_day = pm.date()
    # Settlement happens on a session, on or before the expiration date (and at most a few
    # days earlier: a holiday plus a weekend).
    assert is_session(settle_day)
    assert day - timedelta(days=4) <= settle_day <= day
    assert am.date() == settle_day
    assert am.time() == time(9, 30)
    assert pm.time() in (time(16, 0), time(13, 0))
    assert pm == session_close(settle_day)
    if is_session(day):
        assert settle_day == day
    else:
        assert settle_day == previous_session(day)


# --- time spans ---------------------------------------------------------------------------


def test_year_fraction_and_minutes() -> None:
    a = ny(2023, 6, 16, 15, 50)
    assert year_fraction(a, a + timedelta(days=1)) == pytest.approx(1 / 365, rel=1e-15)
    assert year_fraction(a, a + timedelta(days=365)) == 1.0
    exp = settlement_time("SPXW", date(2023, 6, 16))
    # A 15-minute delayed quote at 15:50 has 10 minutes left (DESIGN: tau from as-of).
    assert minutes_between(a, exp) == 10.0
    assert year_fraction(a, exp.timestamp()) == 600 / 31_536_000
    assert year_fraction(exp, a) == -600 / 31_536_000
    # Across the DST switch a calendar day is 23 hours of real time.
    assert minutes_between(ny(2023, 3, 11, 12), ny(2023, 3, 12, 12)) == 23 * 60


def test_trading_minutes_between() -> None:
    # Friday 15:00 to Monday 10:00: 60 + 30 regular minutes.
    assert trading_minutes_between(ny(2023, 6, 9, 15), ny(2023, 6, 12, 10)) == 90.0
    # A full session and an early-close session.
    assert trading_minutes_between(ny(2023, 6, 12, 0), ny(2023, 6, 13, 0)) == 390.0
    assert trading_minutes_between(ny(2023, 11, 24, 0), ny(2023, 11, 25, 0)) == 210.0
    # Thanksgiving week Wed 12:00 -> Mon 09:45: 240 + 0 + 210 + 15.
    assert trading_minutes_between(ny(2023, 11, 22, 12), ny(2023, 11, 27, 9, 45)) == 465.0
    # Entirely outside the session, reversed order, and epoch inputs.
    assert trading_minutes_between(ny(2023, 6, 17, 0), ny(2023, 6, 18, 23)) == 0.0
    assert trading_minutes_between(ny(2023, 6, 12, 11), ny(2023, 6, 12, 10)) == -60.0
    assert trading_minutes_between(ny(2023, 6, 12, 10).timestamp(), ny(2023, 6, 12, 11)) == 60.0


def test_calendar_is_cached_and_lazy() -> None:
    assert clock._sessions() is clock._sessions()


# --- installed session tables (the application's calendar cache) ------------------------


def _library_table() -> clock.SessionTable:
    return clock._built_sessions()


def test_install_sessions_round_trip_and_uninstall() -> None:
    t = _library_table()
    try:
        got = clock.install_sessions(t.day, t.open, t.close, source="test")
        assert clock.session_table() is got and got.source == "test"
        np.testing.assert_array_equal(got.day, t.day)
        assert not got.day.flags.writeable
        # datetime64[D] days are accepted as well
        again = clock.install_sessions(t.day.astype("datetime64[D]"), t.open, t.close, source="t")
        np.testing.assert_array_equal(again.day, t.day)
        assert clock.session_close(date(2026, 11, 27)) == datetime(
            2026, 11, 27, 13, 0, tzinfo=clock.NY
        )
    finally:
        clock.uninstall_sessions()
    assert clock.session_table() is t


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d, o, c: (d[::-1], o[::-1], c[::-1]),  # not increasing
        lambda d, o, c: (d, c, o),  # opens after closes
        lambda d, o, c: (d, o + 86_400.0, c + 86_400.0),  # on the wrong UTC day
        lambda d, o, c: (d[:-1], o, c),  # ragged
        lambda d, o, c: (d[:100], o[:100], c[:100]),  # does not span the calendar
        lambda d, o, c: (d.astype(float), o, c),  # days not integers
        lambda d, o, c: (d, np.where(d == d[5], np.nan, o), c),  # NaN open
    ],
    ids=["order", "swapped", "utc-day", "ragged", "span", "float-days", "nan"],
)
def test_install_sessions_rejects_bad_tables(mutate: Any) -> None:
    t = _library_table()
    with pytest.raises(ValueError):
        clock.install_sessions(*mutate(t.day.copy(), t.open.copy(), t.close.copy()), source="bad")
    assert clock.session_table() is t  # nothing installed


def test_installed_table_keeps_the_engine_free_of_pandas() -> None:
    import subprocess
    import sys

    code = """
import sys
import numpy as np
from datetime import date
from hedgeflow.engine import clock
day = np.load(sys.argv[1])
clock.install_sessions(day["day"], day["open"], day["close"], source="file")
clock.is_session(date(2026, 11, 25)); clock.trading_minutes_between(1.79e9, 1.80e9)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pandas", "exchange_calendars")))
"""
    import tempfile

    t = _library_table()
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/t.npz"
        np.savez(path, day=t.day, open=t.open, close=t.close)
        out = subprocess.run(
            [sys.executable, "-c", code, path], capture_output=True, text=True, timeout=120
        )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
