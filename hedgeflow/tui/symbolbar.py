"""The symbol tabs (keys 1-9, or a click): the watched underlyings, the active one
highlighted, each with its state."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.reactive import reactive
from textual.widgets import Static

from hedgeflow.tui.views import SymbolBarView


class SymbolBar(Static):
    """The watched underlyings (keys 1-9), the active one highlighted, each with its state."""

    view: reactive[SymbolBarView | None] = reactive(None)
    """Symbols, the active one, and paused/recording flags."""

    GLYPHS = {"ok": "●", "waiting": "○", "error": "✕", "stale": "◌"}

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        #: (first column, end column, tab index) of each tab as drawn: where a click lands.
        self._tab_spans: list[tuple[int, int, int]] = []

    async def on_click(self, event: events.Click) -> None:
        """A click on a tab shows its symbol, as its digit key does."""
        at = event.get_content_offset(self)  # inside any padding the bar may get
        if at is None:
            return
        for start, end, index in self._tab_spans:
            if start <= at.x < end:
                event.stop()
                await self.app.run_action(f"pick({index})")
                return

    def watch_view(self) -> None:
        v = self.view
        t = Text(" hedgeflow ", style="bold")
        if v is None:
            self.update(t, layout=False)
            return
        spans: list[tuple[int, int, int]] = []
        for i, tab in enumerate(v.tabs, start=1):
            key = str(i) if i <= 9 else " "
            label = f" {key} {tab.symbol} {self.GLYPHS.get(tab.state, '')} "
            style = "bold reverse" if tab.symbol == v.active else ""
            if tab.state == "error":
                style += " red"
            spans.append((len(t), len(t) + len(label), i - 1))
            t.append(label, style=style.strip())
        if v.regime:
            t.append(f"  {v.regime}", style="italic")
        if v.paused:
            t.append("  PAUSED", style="bold")
        if v.recording:
            t.append("  REC ●", style="bold red")
        self._tab_spans = spans
        self.update(t, layout=False)
