"""Which symbols a command watches: `--symbols` (a list or a ticker file), the feed's own
symbols for a data feed, else `monitor.symbols`; each one the feed can serve, or a
one-line refusal naming it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgeflow.cli.errors import CliError

if TYPE_CHECKING:
    from hedgeflow.app.config import Settings

#: Feeds whose symbols are their data (the files, the recording): watched by default.
#: Other feeds serve what the configuration's `monitor.symbols` asks for.
DATA_FEEDS = ("file", "replay")


def symbol_list(text: str | None) -> list[str]:
    """`--symbols`: upper case, in order, each once; [] when not given. `@FILE` reads a
    plain text file of tickers (`hedgeflow.app.watchlist.read_ticker_file`)."""
    if text is None:
        return []
    if text.startswith("@"):
        from hedgeflow.app.watchlist import TickerFileError, read_ticker_file

        try:
            return read_ticker_file(Path(text[1:]).expanduser())
        except TickerFileError as exc:
            raise CliError(f"--symbols: {exc}") from None
    symbols = list(dict.fromkeys(s.strip().upper() for s in text.split(",") if s.strip()))
    if not symbols:
        raise CliError(f"--symbols: no symbol in {text!r} (e.g. SPX,SPY)")
    return symbols


def served_symbols(feed: Any) -> tuple[str, ...] | None:
    """The symbols `feed` can serve (`feed.symbols`: the files, the recording, a sim restricted
    by `feeds.sim.symbols`), or None for a feed that takes any ticker (the vendors, the sim)."""
    held = getattr(feed, "symbols", None)
    if callable(held):  # a feed that lists them on request (reads its files)
        try:
            held = held()
        except (ValueError, OSError) as exc:
            raise CliError(str(exc)) from None
    return None if held is None else tuple(str(s).upper() for s in held)


def watch_symbols(
    feed: Any, feed_name: str, requested: list[str], settings: Settings, option: str = "--symbols"
) -> list[str]:
    """The symbols to poll: `requested` (the command line's `option`) if any, else the feed's
    own for a data feed, else `monitor.symbols`; each one the feed can serve, or a one-line
    error naming it."""
    served = served_symbols(feed)
    if served == ():
        raise CliError(f"feed {feed_name!r}: holds no symbol")
    if requested:
        symbols, where = requested, option
    elif served is not None and feed_name in DATA_FEEDS:
        return list(served)
    else:
        symbols, where = list(settings.monitor.symbols), "monitor.symbols"
    from hedgeflow.feeds.tickers import parse_ticker, refusal

    for s in symbols:
        why = refusal(s, served, feed_name)
        if why:
            raise CliError(f"{where}: {why}")
    # A feed that takes any ticker gets it in its one spelling (`$spx` -> SPX).
    return symbols if served is not None else [parse_ticker(s) or s for s in symbols]
