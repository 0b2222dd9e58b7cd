"""The session-over-time panes' keys and views: `h` the history pane, `m` the heatmap, `k`
the heatmap's lens (impulse, charm, GEX). Either pane takes the impulse curve's cell while on
(as `b` does for the by-strike bars); in the wide layout the by-strike bars stay beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.screen import Screen

from hedgeflow.app.heatmap import Lens
from hedgeflow.tui.heatmap import HeatmapPane
from hedgeflow.tui.history import HistoryPane
from hedgeflow.tui.present import clock_words
from hedgeflow.tui.state import SymbolState
from hedgeflow.tui.views import TimeView

if TYPE_CHECKING:
    from hedgeflow.tui.app import HedgeflowApp


@dataclass
class TimePanes:
    """Which of the two panes is on ("" for neither) and the heatmap's lens."""

    shown: str = ""  # "" | "history" | "heatmap"
    lens: Lens = Lens.IMPULSE


def toggle(app: HedgeflowApp, pane: str) -> None:
    """`h` / `m`: show `pane` in the impulse cell, or back to the impulse curve."""
    tp = app.time_panes
    tp.shown = "" if tp.shown == pane else pane
    if tp.shown:
        app.show_strikes = False  # one pane in the cell: the last key asked for it
    app.refresh_views()


def next_lens(app: HedgeflowApp) -> None:
    """`k`: the heatmap's next lens (and the heatmap on screen, if it was not)."""
    tp = app.time_panes
    if tp.shown == "heatmap":
        tp.lens = tp.lens.next()
    else:
        tp.shown = "heatmap"
        app.show_strikes = False
    app.notify(f"heatmap: {tp.lens.value}", timeout=2)
    app.refresh_views()


def fill(
    app: HedgeflowApp, screen: Screen[Any], st: SymbolState, stale: bool, waiting: str
) -> None:
    """Hand both panes the history of `st` (the hidden one draws when shown)."""
    tp = app.time_panes
    if app.show_strikes:
        tp.shown = ""  # `b` took the cell
    a = st.analysis
    _, clock = clock_words(app.feed_name, app.feed_speed)
    base = TimeView(
        st.symbol,
        a,
        stale,
        waiting,
        history=st.history,
        version=st.history.version,
        scope=a.scope if a is not None else "",
        clock=clock,
        lens=tp.lens.value,
    )
    screen.query_one(HistoryPane).view = base
    screen.query_one(HeatmapPane).view = base
    screen.set_class(tp.shown == "history", "-history")
    screen.set_class(tp.shown == "heatmap", "-heatmap")
