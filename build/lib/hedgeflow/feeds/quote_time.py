"""When a broker's option chain was quoted, and what its underlying price is after the close.

Schwab and Tradier send the underlying's quote beside the options. After the regular close
that quote runs on in extended hours while the option quotes stop at the close (a real
Schwab AAPL chain: underlying quoted 19:59:59, options 15:59:59; SPY spot 390.65 after
hours against a 389.63 close). So:

- the as-of time of a chain is the newest time of its OPTION quotes and trades; the
  underlying's own times date the chain only when no option row carries a time;
- an underlying print later than the regular close of the session the options were quoted
  in is an after-hours print and is labelled as such (`after_hours_note`). Which price is
  spot then is the vendor's call: Tradier's quote carries the day's regular `close` (null
  during the session), which is used, because the options were priced against it; Schwab's
  chain `underlying.close` is the previous session's close (`change = last - close`), so
  Schwab keeps the print, labelled.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from hedgeflow.engine.clock import CALENDAR_END, CALENDAR_START, NY, session_close
from hedgeflow.feeds.normalize import as_of_from_stamps


def chain_as_of(
    option_stamps: np.ndarray,
    underlying_stamps: np.ndarray,
    now: datetime,
    delay_seconds: float,
) -> datetime:
    """The newest option quote/trade time (epoch s arrays, NaN = none) capped at `now`;
    the underlying's newest time only when no option carries one; else
    `now - delay_seconds` (`normalize.as_of_from_stamps`)."""
    stamps = option_stamps if np.isfinite(option_stamps).any() else underlying_stamps
    return as_of_from_stamps(stamps, now, delay_seconds)


def after_hours_print(traded: float, quoted: np.ndarray, as_of: datetime) -> datetime | None:
    """The time of the underlying's price (aware UTC) when it falls after the regular close
    of the session the options were quoted in (`as_of` at or before that close); None when
    it does not, or when either time is unknown. The price's time is its last trade
    (`traded`, epoch s) when there is one, else the newest of its quote times (`quoted`):
    an index's quote time runs on after the close while its last value stays the close."""
    stamps = np.array([traded]) if np.isfinite(traded) else np.asarray(quoted, dtype=float)
    finite = stamps[np.isfinite(stamps)]
    if finite.size == 0:
        return None
    printed = datetime.fromtimestamp(float(finite.max()), tz=UTC)
    day = as_of.astimezone(NY).date()
    if not CALENDAR_START <= day <= CALENDAR_END:
        return None
    close = session_close(day)
    if close is None or as_of > close or printed <= close:
        return None
    return printed


def after_hours_note(
    printed: datetime, as_of: datetime, *, close: float | None = None, price: float | None = None
) -> str:
    """The spot note for an after-hours underlying print: with the regular `close` used as
    spot, "regular close; after-hours print P at HH:MM ET"; else "after-hours print at
    HH:MM ET, options quoted HH:MM ET"."""
    at = f"{printed.astimezone(NY):%H:%M} ET"
    if close is not None:
        shown = f" {price:,.2f}" if price is not None else ""
        return f"regular close; after-hours print{shown} at {at}"
    return f"after-hours print at {at}, options quoted {as_of.astimezone(NY):%H:%M} ET"
