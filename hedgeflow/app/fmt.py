"""Readable numbers for the screen: dollars, prices, contracts, percentages, ages.

Pure string formatting, no math beyond rounding: every quantity arrives computed
by the engine. Missing values (None, NaN, inf) print as an en dash so a pane never
shows "nan".
"""

from __future__ import annotations

import math
from datetime import datetime

from hedgeflow.engine.clock import NY as NY  # re-exported for the screen's times

MISSING = "–"

_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def fmt_dollars(x: float | None, *, signed: bool = False) -> str:
    """`1234567890.0` -> `$1.2B`; `-3.5e6` -> `-$3.5M`; `850` -> `$850`.

    One decimal below 100 units, none above (`$12.3M`, `$123M`); a value that rounds up
    to the next unit is promoted (`999.96e6` -> `$1.0B`). `signed` prefixes `+` on
    positive values, so a column of signed quantities lines up and reads as a change.
    """
    return _compact(x, signed=signed, prefix="$")


def fmt_compact(x: float | None, *, signed: bool = False) -> str:
    """A count in the headline's compact units, at most 6 characters: `-480909` -> `-481K`,
    `7312` -> `+7.3K` (signed), `1.2e6` -> `1.2M`, `850` -> `850`; 0 -> `0`."""
    if _finite(x) and round(x or 0.0) == 0:
        return "0"
    return _compact(x, signed=signed, prefix="")


def _compact(x: float | None, *, signed: bool, prefix: str) -> str:
    if not _finite(x):
        return MISSING
    assert x is not None
    sign = "-" if x < 0 else ("+" if signed and x > 0 else "")
    v = abs(x)
    for i, (scale, suffix) in enumerate(_UNITS):
        if v >= scale * 0.99995 or (i == len(_UNITS) - 1 and v >= 999.5):
            q = v / scale
            digits = 0 if q >= 99.95 else 1
            text = f"{q:.{digits}f}"
            if float(text) >= 1000 and i > 0:
                # 999.96M rounds to 1000.0M: say $1.0B instead.
                prev_scale, prev_suffix = _UNITS[i - 1]
                return f"{sign}{prefix}{v / prev_scale:.1f}{prev_suffix}"
            return f"{sign}{prefix}{text}{suffix}"
    return f"{sign}{prefix}{v:.0f}"


def fmt_price(x: float | None, *, decimals: int | None = None) -> str:
    """Underlying points with thousands separators: `5812.5` -> `5,812.50`.

    Two decimals by default (index points and ETF prices both quote in cents).
    """
    if not _finite(x):
        return MISSING
    d = 2 if decimals is None else decimals
    return f"{x:,.{d}f}"


def fmt_level(x: float | None) -> str:
    """A price level for tables and axes: one decimal above 1000 points, else two."""
    if not _finite(x):
        return MISSING
    assert x is not None
    return fmt_price(x, decimals=1 if abs(x) >= 1000 else 2)


def fmt_percent(x: float | None, *, decimals: int = 1, signed: bool = False) -> str:
    """A decimal fraction as percent: `0.142` -> `14.2%`."""
    if not _finite(x):
        return MISSING
    assert x is not None
    sign = "+" if signed and x > 0 else ""
    return f"{sign}{100.0 * x:.{decimals}f}%"


def fmt_contracts(x: float | None) -> str:
    """A signed contract count, rounded to whole contracts: `-1234.4` -> `-1,234`."""
    if not _finite(x):
        return MISSING
    assert x is not None
    n = round(x)
    return f"{n:+,d}" if n else "0"


def fmt_number(x: float | None, *, decimals: int = 2, signed: bool = False) -> str:
    if not _finite(x):
        return MISSING
    return f"{x:{'+' if signed else ''},.{decimals}f}"


def fmt_age(seconds: float | None) -> str:
    """`7` -> `7s`, `185` -> `3m05s`, `3725` -> `1h02m`; negative ages (clock skew) -> `0s`."""
    if not _finite(seconds):
        return MISSING
    assert seconds is not None
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def fmt_wait(seconds: float | None) -> str:
    """A wait before a retry or poll: tenths below 10 s (`0.4s`, `2.5s`, `5s`: a 0.1 s
    backoff is not "0s"), else as `fmt_age`, rounded."""
    if not _finite(seconds):
        return MISSING
    assert seconds is not None
    if seconds < 9.95:
        return f"{round(max(0.0, seconds), 1):g}s"
    return fmt_age(round(seconds))


def fmt_time_ny(t: datetime | None, *, seconds: bool = True) -> str:
    """Wall time in New York, where every US options session is clocked: `10:31:05 ET`."""
    if t is None:
        return MISSING
    return t.astimezone(NY).strftime("%H:%M:%S ET" if seconds else "%H:%M ET")


def fmt_clock_from(t: datetime, now: datetime, pattern: str = "%H:%M") -> str:
    """`t` as New York clock time, its weekday first when it is not on `now`'s New York
    day: `16:00`, `Mon 16:00`. A horizon a night or a weekend away is not read as today's."""
    local = t.astimezone(NY)
    day = "" if local.date() == now.astimezone(NY).date() else f"{local:%a} "
    return f"{day}{local.strftime(pattern)}"


def fmt_expiry(expiration: datetime, now: datetime | None = None) -> str:
    """`0DTE 16:00` for today's expiry, else `Fri 11-27 16:00` (New York time)."""
    local = expiration.astimezone(NY)
    if now is not None and local.date() == now.astimezone(NY).date():
        return f"0DTE {local:%H:%M}"
    return f"{local:%a %m-%d %H:%M}"


def strength_bar(strength: float | None, width: int = 8) -> str:
    """A bar of `width` cells for a strength in [0, 1] (clamped), eighths for resolution."""
    if not _finite(strength):
        return " " * width
    assert strength is not None
    eighths = round(min(max(strength, 0.0), 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + ("" if part == 0 else " ▏▎▍▌▋▊▉"[part])
    return bar.ljust(width)


def nice_ticks(lo: float, hi: float, max_ticks: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^n steps) inside [lo, hi], at most `max_ticks`."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or max_ticks < 1:
        return []
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        return [lo]
    raw = (hi - lo) / max(max_ticks - 1, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        step = m * mag
        first = math.ceil(lo / step - 1e-9) * step
        n = int(math.floor((hi - first) / step + 1e-9)) + 1
        if n <= max_ticks:
            return [first + i * step for i in range(n)]
    step = 10.0 * mag
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) // step) + 1)][:max_ticks]
