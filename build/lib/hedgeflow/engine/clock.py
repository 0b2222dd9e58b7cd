"""The expiry clock: exchange sessions and exact settlement times in New York.

Pure: every function takes the dates and times it works on and never reads the
wall clock. Sessions and early closes come from the maintained NYSE calendar of
`exchange_calendars` (XNYS), never from a hand-typed holiday list. The calendar
is imported lazily and built once (cached), because start-up time matters, and
is turned into three sorted numpy arrays (session day, open and close as epoch
seconds), so every lookup is a `searchsorted`. The application may instead install a
precomputed table (`install_sessions`, e.g. read from its cache by `hedgeflow.app.runtime`),
so that a start-up needs neither pandas nor exchange_calendars; the engine reads no file.

Settlement (docs/METHOD.md "Expiry clock"):

- AM-settled roots (`AM_SETTLED_ROOTS`: SPX, NDX and RUT monthlies, VIX and
  VIXW) settle on the special opening quotation, so the option stops existing
  at 09:30 New York on the expiration date. The VIX roots are included because
  their settlement value is the Wednesday-morning SOQ, weeklies (VIXW) as well.
- Every other root (SPXW, XSP, NDXP, RUTW, SPY, QQQ, IWM, single stocks and any
  root we do not know) settles at the close of the expiration date: 16:00, or
  13:00 on an early-close day (day after Thanksgiving, Christmas Eve, July 3).
- An expiration date that is not a session (an exchange holiday such as Good
  Friday, or the Saturday expiration dates OCC used before 2015) moves to the
  previous session, as OCC does: the AM settlement is that session's opening,
  the PM settlement its close.

The calendar covers `CALENDAR_START` .. `CALENDAR_END`; a date outside it
raises ValueError (no silent guess).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

#: New York, where every US options session is clocked: the one time zone constant of the
#: package (import it from here).
NY = ZoneInfo("America/New_York")

#: Seconds in the 365-day year used for every year fraction in the engine.
SECONDS_PER_YEAR = 31_536_000.0

#: Roots settled on the opening quotation of the expiration date (AM settlement).
AM_SETTLED_ROOTS: frozenset[str] = frozenset({"SPX", "NDX", "RUT", "VIX", "VIXW"})

#: The span of the cached exchange calendar (fixed, so results never depend on today).
CALENDAR_START = date(1990, 1, 2)
CALENDAR_END = date(2045, 12, 29)

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class SessionTable:
    """Sorted NYSE sessions: day number (int64 days since 1970-01-01), open and close
    (float64 epoch seconds, UTC), read-only; `source` says where the table came from
    ("exchange_calendars" for the lazy default build, else the installer's label)."""

    day: np.ndarray
    open: np.ndarray
    close: np.ndarray
    source: str = "exchange_calendars"


#: A table installed by the process's outer layer (e.g. from a cache file); None = build.
_installed: SessionTable | None = None


def _sessions() -> SessionTable:
    return _installed if _installed is not None else _built_sessions()


@lru_cache(maxsize=1)
def _built_sessions() -> SessionTable:
    # Lazy: pandas + exchange_calendars cost ~0.3 s and ~40 MB to import and build.
    import warnings

    import exchange_calendars as xcals

    with warnings.catch_warnings():
        # exchange_calendars 4.x trips a pandas 3 deprecation (Series.values on tz-aware
        # columns) inside its constructor; it is upstream's, not ours.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        cal = xcals.get_calendar(
            "XNYS", start=CALENDAR_START.isoformat(), end=CALENDAR_END.isoformat()
        )
    sched = cal.schedule

    def epochs(col: str) -> np.ndarray:
        utc = sched[col].dt.tz_convert("UTC").dt.tz_localize(None)
        return np.asarray(utc).astype("datetime64[s]").astype(np.int64).astype(np.float64)

    day = np.asarray(sched.index).astype("datetime64[D]").astype(np.int64)
    return _validated(day, epochs("open"), epochs("close"), "exchange_calendars")


def session_table() -> SessionTable:
    """The session table in use: the installed one (`install_sessions`), else the one built
    (once, lazily) from `exchange_calendars` for `CALENDAR_START`..`CALENDAR_END`."""
    return _sessions()


def install_sessions(day: Any, open: Any, close: Any, *, source: str) -> SessionTable:
    """Use a precomputed session table (e.g. loaded by the application from a cache) instead
    of building one from `exchange_calendars`; returns the installed table.

    `day`: session dates as integer days since 1970-01-01 (or `datetime64[D]`), strictly
    increasing; `open`, `close`: epoch seconds (UTC) of each session's open and close, on
    that UTC date, open < close. The table must span the calendar: first session within a
    week of `CALENDAR_START`, last within a week of `CALENDAR_END`. Raises ValueError (and
    installs nothing) otherwise. The engine does no I/O: reading the table is the caller's.
    """
    global _installed
    d = np.asarray(day)
    if d.dtype.kind == "M":
        d = d.astype("datetime64[D]").astype(np.int64)
    table = _validated(d, open, close, source)
    _installed = table
    return table


def uninstall_sessions() -> None:
    """Drop an installed table: lookups go back to the lazily built default."""
    global _installed
    _installed = None


def _validated(day: Any, open: Any, close: Any, source: str) -> SessionTable:
    d = np.asarray(day)
    o = np.asarray(open, dtype=np.float64)
    c = np.asarray(close, dtype=np.float64)
    if d.dtype.kind not in "iu":
        raise ValueError(f"session days must be integers (days since 1970-01-01), got {d.dtype}")
    d = d.astype(np.int64)
    if d.ndim != 1 or o.shape != d.shape or c.shape != d.shape or d.size == 0:
        raise ValueError(
            f"session arrays must be 1-D, non-empty and of one length: {d.shape}, {o.shape}, {c.shape}"
        )
    if not (np.isfinite(o).all() and np.isfinite(c).all()):
        raise ValueError("session opens and closes must be finite")
    if (np.diff(d) <= 0).any():
        raise ValueError("session days must be strictly increasing")
    if not (o < c).all():
        raise ValueError("every session must open before it closes")
    # New York sessions fall inside one UTC day (09:30-16:00 ET is 13:30-21:00 UTC).
    if (np.floor(o / 86_400.0) != d).any() or (np.floor(c / 86_400.0) != d).any():
        raise ValueError("session opens and closes must fall on their session's UTC date")
    lo, hi = _day_number(CALENDAR_START), _day_number(CALENDAR_END)
    if not (lo <= d[0] <= lo + 7 and hi - 7 <= d[-1] <= hi):
        raise ValueError(
            f"session table spans {_from_day_number(d[0])}..{_from_day_number(d[-1])}, "
            f"not the calendar {CALENDAR_START}..{CALENDAR_END}"
        )
    arrays = [np.array(a) for a in (d, o, c)]  # own copies, then read-only
    for a in arrays:
        a.flags.writeable = False
    return SessionTable(day=arrays[0], open=arrays[1], close=arrays[2], source=str(source))


def _day_number(d: date) -> int:
    if isinstance(d, datetime):
        raise TypeError("expected a `date`, got a `datetime`; pass `.date()` in New York time")
    if not CALENDAR_START <= d <= CALENDAR_END:
        raise ValueError(
            f"date {d} is outside the exchange calendar {CALENDAR_START}..{CALENDAR_END}"
        )
    return d.toordinal() - _EPOCH_ORDINAL


def _from_day_number(n: int) -> date:
    return date.fromordinal(int(n) + _EPOCH_ORDINAL)


def _ny(epoch: float) -> datetime:
    return datetime.fromtimestamp(float(epoch), tz=NY)


def _epoch(t: datetime | float) -> float:
    if isinstance(t, datetime):
        if t.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware")
        return t.timestamp()
    return float(t)


def _session_index(d: date) -> int | None:
    s = _sessions()
    n = _day_number(d)
    i = int(np.searchsorted(s.day, n))
    return i if i < len(s.day) and s.day[i] == n else None


# --- sessions -----------------------------------------------------------------------------


def is_session(d: date) -> bool:
    """True when the NYSE holds a regular session on `d` (a New York calendar date)."""
    return _session_index(d) is not None


def session_open(d: date) -> datetime | None:
    """Opening time of the session on `d` (09:30 New York, aware), None when `d` is no session."""
    i = _session_index(d)
    return None if i is None else _ny(_sessions().open[i])


def session_close(d: date) -> datetime | None:
    """Closing time of the session on `d` (16:00 New York, 13:00 on early-close days, aware),
    None when `d` is no session."""
    i = _session_index(d)
    return None if i is None else _ny(_sessions().close[i])


def previous_session(d: date) -> date:
    """The last session strictly before `d`."""
    s = _sessions()
    i = int(np.searchsorted(s.day, _day_number(d))) - 1
    if i < 0:
        raise ValueError(f"no session before {d} in the exchange calendar")
    return _from_day_number(s.day[i])


def next_session(d: date) -> date:
    """The first session strictly after `d`."""
    s = _sessions()
    i = int(np.searchsorted(s.day, _day_number(d), side="right"))
    if i >= len(s.day):
        raise ValueError(f"no session after {d} in the exchange calendar")
    return _from_day_number(s.day[i])


def next_session_close(now: datetime) -> datetime:
    """The next regular close strictly after `now` (aware): today's close when `now` is before
    it on a session day, else the next session's close. Returned in New York time."""
    s = _sessions()
    t = _epoch(now)
    i = int(np.searchsorted(s.close, t, side="right"))
    if i >= len(s.close) or t < s.open[0] - 86_400.0:
        raise ValueError(f"{now.isoformat()} is outside the exchange calendar")
    return _ny(s.close[i])


# --- settlement ---------------------------------------------------------------------------


def is_am_settled(root: str, expiration_date: date | None = None) -> bool:
    """True for roots settled on the opening quotation (`AM_SETTLED_ROOTS`: SPX, NDX, RUT,
    VIX, VIXW), False for PM-settled roots (SPXW, XSP, NDXP, RUTW, SPY, QQQ, IWM, equities,
    anything unknown). The root alone decides: on a third Friday the AM series (SPX) and the
    PM series (SPXW) share the date. `expiration_date` is accepted so that a future rule keyed
    on the date can be added without changing callers; no current rule uses it."""
    del expiration_date
    return root.strip().upper() in AM_SETTLED_ROOTS


def settlement_time(root: str, expiration_date: date) -> datetime:
    """Exact settlement time (aware, New York) of the series `root` expiring on
    `expiration_date`: 09:30 for AM roots, the session close (16:00 or 13:00) for PM roots.
    A non-session expiration date (Good Friday, a Saturday) moves to the previous session."""
    epoch = settlement_epochs(np.array([root]), np.array([expiration_date], dtype="datetime64[D]"))
    return _ny(epoch[0])


def settlement_epochs(roots: Any, dates: Any) -> np.ndarray:
    """Vectorized `settlement_time` as float64 epoch seconds (UTC).

    Parameters
    ----------
    roots : array-like of str, option roots (one per contract, or a single root).
    dates : array-like of expiration dates: `datetime64[D]`, `date` objects or ISO strings;
        NaT gives NaN.

    Returns
    -------
    float64 array of settlement times, epoch seconds; same shape as the broadcast inputs.
    Raises ValueError for a date outside the exchange calendar.
    """
    d = np.asarray(dates, dtype="datetime64[D]")
    r = np.asarray(roots, dtype=str)
    r, d = np.broadcast_arrays(r, d)
    out = np.full(d.shape, np.nan, dtype=np.float64)
    valid = ~np.isnat(d)
    if not valid.any():
        return out
    days = d[valid].astype(np.int64)
    lo, hi = _day_number(CALENDAR_START), _day_number(CALENDAR_END)
    if days.min() < lo or days.max() > hi:
        bad = d[valid][(days < lo) | (days > hi)][0]
        raise ValueError(
            f"expiration date {bad} is outside the exchange calendar {CALENDAR_START}..{CALENDAR_END}"
        )
    # The AM flag per distinct root (a handful), broadcast back to the rows.
    uroots, inverse = np.unique(r[valid], return_inverse=True)
    am = np.array([is_am_settled(str(x)) for x in uroots], dtype=bool)[inverse.reshape(-1)]
    s = _sessions()
    # Last session on or before the expiration date: the date itself when it is a session,
    # else the previous one (OCC moves a holiday expiration to the preceding business day).
    idx = np.searchsorted(s.day, days, side="right") - 1
    if (idx < 0).any():
        raise ValueError("expiration date before the first session of the exchange calendar")
    out[valid] = np.where(am, s.open[idx], s.close[idx])
    return out


# --- time spans ---------------------------------------------------------------------------


def year_fraction(now: datetime | float, expiry: datetime | float) -> float:
    """Time from `now` to `expiry` in 365-day years (seconds / 31,536,000); negative after
    expiry. Either argument is an aware datetime or epoch seconds."""
    return (_epoch(expiry) - _epoch(now)) / SECONDS_PER_YEAR


def minutes_between(start: datetime | float, end: datetime | float) -> float:
    """Calendar minutes from `start` to `end` (negative when `end` is earlier)."""
    return (_epoch(end) - _epoch(start)) / 60.0


def trading_minutes_between(start: datetime | float, end: datetime | float) -> float:
    """Regular-session minutes (09:30 to the close, early closes honoured) between two instants;
    negative when `end` is earlier than `start`. Nights, weekends and holidays count zero."""
    a, b = _epoch(start), _epoch(end)
    if b < a:
        return -trading_minutes_between(b, a)
    s = _sessions()
    if a < s.open[0] - 86_400.0 or b > s.close[-1] + 86_400.0:
        raise ValueError("interval is outside the exchange calendar")
    i0 = int(np.searchsorted(s.close, a, side="right"))  # first session closing after a
    i1 = int(np.searchsorted(s.open, b, side="left"))  # sessions opening before b
    if i1 <= i0:
        return 0.0
    lo = np.maximum(s.open[i0:i1], a)
    hi = np.minimum(s.close[i0:i1], b)
    return float(np.clip(hi - lo, 0.0, None).sum()) / 60.0
