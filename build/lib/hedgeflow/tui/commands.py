"""Command palette provider: add or remove a watched symbol (ctrl+p).

"Add symbol X" is offered only for a symbol the active feed can serve: a file or a
recording its own symbols (offered by name when the palette opens), the simulated market
and the vendors any ticker (`hedgeflow.feeds.tickers`: 1-6 letters, optionally .CLASS; the
sim makes an unknown one a seeded synthetic underlying). `add X` for a symbol the feed
cannot serve shows one line saying why instead; a bare word that is not servable offers
nothing, so that typing another command's name ("theme") does not offer it as a symbol.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from hedgeflow.feeds.tickers import parse_ticker, refusal

if TYPE_CHECKING:
    from hedgeflow.tui.app import HedgeflowApp

#: Words that introduce a symbol to add.
_ADD_WORDS = ("add", "watch", "+")
#: Score of "Add symbol X" for a bare word: below a good match of another command's name.
_BARE_SCORE = 0.3


def served_symbols(feed: Any) -> tuple[str, ...] | None:
    """The symbols `feed` holds (a file, a recording, a sim restricted by `feeds.sim.symbols`),
    or None for a feed that serves any ticker. A feed that lists them on request and fails
    to holds none."""
    held = getattr(feed, "symbols", None)
    if callable(held):
        try:
            held = held()
        except (ValueError, OSError):
            return ()
    return None if held is None else tuple(str(s).upper() for s in held)


def add_refusal(feed: Any, feed_name: str, text: str) -> tuple[str, str | None]:
    """(symbol, None) when `feed` can serve the symbol typed as `text`, else (what was typed,
    the one-line reason it cannot)."""
    served = served_symbols(feed)
    typed = text.strip().upper().removeprefix("$")
    if served is not None:
        return typed, refusal(typed, served, feed_name)
    return parse_ticker(typed) or typed, refusal(typed, None, feed_name)


class SymbolCommands(Provider):
    """`add NDX` (or just `NDX`) watches a symbol; `remove SPY` stops watching it."""

    @property
    def _app(self) -> HedgeflowApp:
        return cast("HedgeflowApp", self.app)

    def _add(self, symbol: str) -> Callable[[], None]:
        return partial(self._app.add_symbol, symbol)

    async def discover(self) -> Hits:
        app = self._app
        served = served_symbols(app.feed)
        if served is None:
            yield DiscoveryHit(
                "Add symbol… (type: add TICKER)",
                partial(app.notify, "Type `add TICKER` in the command palette", title="Add symbol"),
                help=f"Watch another underlying from the {app.feed_name} feed",
            )
        else:
            for sym in served:
                if sym not in app.symbols:
                    yield DiscoveryHit(
                        f"Add symbol {sym}",
                        self._add(sym),
                        help=f"The {app.feed_name} feed holds it",
                    )
        for sym in app.symbols:
            yield DiscoveryHit(
                f"Remove symbol {sym}", partial(app.remove_symbol, sym), help="Stop watching it"
            )

    async def search(self, query: str) -> Hits:
        app = self._app
        matcher = self.matcher(query)
        words = query.split()
        explicit = len(words) == 2 and words[0].lower() in _ADD_WORDS
        bare = len(words) == 1 and words[0].lower() not in ("add", "remove", "watch")
        if explicit or bare:
            symbol, why = add_refusal(app.feed, app.feed_name, words[-1])
            if why is None and symbol not in app.symbols:
                text = f"Add symbol {symbol}"
                yield Hit(
                    max(matcher.match(text), 0.5) if explicit else _BARE_SCORE,
                    matcher.highlight(text),
                    self._add(symbol),
                    text=text,
                    help=f"Start polling {symbol} from the {app.feed_name} feed",
                )
            elif why is not None and explicit:
                text = f"Cannot add {symbol}"
                yield Hit(
                    0.5,
                    text,
                    partial(app.notify, why, title="Add symbol", severity="warning"),
                    text=text,
                    help=why,
                )
        for sym in app.symbols:
            text = f"Remove symbol {sym}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(text),
                    partial(app.remove_symbol, sym),
                    text=text,
                    help="Stop watching it",
                )
