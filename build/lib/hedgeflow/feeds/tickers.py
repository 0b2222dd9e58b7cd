"""The accepted form of a ticker, and whether a feed can serve one.

A ticker is 1 to 6 letters, optionally followed by a dot and a share class of 1 or 2
letters (`AAPL`, `SPX`, `BRK.B`, `BF.A`). Input is trimmed, upper-cased, and a leading `$`
(Schwab's index prefix, `$SPX`) is dropped. Anything else (digits, spaces, `-`, `/`, `^`,
more than six letters) is refused with one line saying what a ticker looks like, by the
command line (exit 2), the palette and the simulated market alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_TICKER = re.compile(r"^[A-Z]{1,6}(\.[A-Z]{1,2})?$")

#: What a ticker looks like, for refusals.
TICKER_FORM = "1-6 letters, optionally .CLASS: SPX, AAPL, BRK.B"


def parse_ticker(text: str) -> str | None:
    """The ticker in `text` (`brk.b` -> `BRK.B`, `$spx` -> `SPX`), or None if it is not one."""
    s = text.strip().upper()
    s = s.removeprefix("$")
    return s if _TICKER.match(s) else None


def ticker_error(text: str) -> str | None:
    """One line saying why `text` is not a ticker, or None when it is one."""
    if parse_ticker(text) is not None:
        return None
    return f"{text.strip()!r} is not a ticker ({TICKER_FORM})"


def refusal(symbol: str, served: Iterable[str] | None, feed_name: str) -> str | None:
    """Why the feed `feed_name` cannot serve `symbol`, in one line, or None if it can.

    served : the symbols the feed holds (a file, a recording, a restricted sim), or None for a
        feed that serves any ticker (the vendors, the simulated market).
    """
    if served is not None:
        held = tuple(served)
        if symbol.strip().upper() in held:
            return None
        if not held:
            return f"feed {feed_name!r} holds no symbol"
        return f"feed {feed_name!r} has no {symbol.strip().upper()} (it has {', '.join(held)})"
    return ticker_error(symbol)
