"""Command palette provider: add or remove a watched symbol (ctrl+p)."""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from hedgeflow.tui.app import HedgeflowApp

_SYMBOL = re.compile(r"^[A-Z][A-Z0-9./^]{0,9}$")


def parse_symbol(text: str) -> str | None:
    """A plausible ticker from user input (`ndx` -> `NDX`), or None."""
    s = text.strip().upper().lstrip("$")
    return s if _SYMBOL.match(s) else None


class SymbolCommands(Provider):
    """`add NDX` (or just `NDX`) watches a symbol; `remove SPY` stops watching it."""

    @property
    def _app(self) -> HedgeflowApp:
        return cast("HedgeflowApp", self.app)

    async def discover(self) -> Hits:
        app = self._app
        yield DiscoveryHit(
            "Add symbol… (type: add TICKER)",
            partial(app.notify, "Type `add TICKER` in the command palette", title="Add symbol"),
            help="Watch another underlying",
        )
        for sym in app.symbols:
            yield DiscoveryHit(
                f"Remove symbol {sym}", partial(app.remove_symbol, sym), help="Stop watching it"
            )

    async def search(self, query: str) -> Hits:
        app = self._app
        matcher = self.matcher(query)
        words = query.split()
        candidate: str | None = None
        if len(words) == 2 and words[0].lower() in ("add", "watch", "+"):
            candidate = parse_symbol(words[1])
        elif len(words) == 1 and words[0].lower() not in ("add", "remove", "watch"):
            candidate = parse_symbol(words[0])
        if candidate and candidate not in app.symbols:
            text = f"Add symbol {candidate}"
            yield Hit(
                max(matcher.match(text), 0.5),
                matcher.highlight(text),
                partial(app.add_symbol, candidate),
                text=text,
                help=f"Start polling {candidate} from the {app.feed_name} feed",
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
