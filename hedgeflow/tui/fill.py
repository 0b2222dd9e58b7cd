"""The App's state into the monitor screen's panes: one frozen view each
(`hedgeflow.tui.views`, built by `hedgeflow.tui.present` and the panes' own modules), for
the symbol on screen. A pane redraws only when its view changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.screen import Screen

from hedgeflow.app.strikes import headline_levels
from hedgeflow.tui import scope as scope_actions
from hedgeflow.tui import timepanes
from hedgeflow.tui.panes import CharmPane, ImpulsePane, RegimePane, StatusLine, SymbolBar, ZonesPane
from hedgeflow.tui.present import status_view, symbol_bar_view, waiting_text
from hedgeflow.tui.state import SymbolState
from hedgeflow.tui.strikes import StrikesPane
from hedgeflow.tui.transport import TransportBar
from hedgeflow.tui.views import ZOOM_LEVELS, ImpulseView, PaneView, StrikesView

if TYPE_CHECKING:
    from hedgeflow.tui.app import HedgeflowApp


def fill_views(app: HedgeflowApp, screen: Screen[Any], st: SymbolState) -> None:
    """Every pane of `screen` from `st` (the symbol on screen) and the App's display
    options; the symbol bar and the status line from every symbol's state."""
    stale = {s: app.is_stale(app.states[s]) for s in app.symbols}
    waiting = waiting_text(st, app.feed_name)
    pane = PaneView(st.symbol, st.analysis, stale[st.symbol], waiting)
    cfg = app.engine_config_for(st.symbol)
    base_range = cfg.impulse.range_percent / max(ZOOM_LEVELS[app.zoom_index], 1.0)
    screen.query_one(ImpulsePane).view = ImpulseView(
        st.symbol,
        st.analysis,
        stale[st.symbol],
        waiting,
        zoom=ZOOM_LEVELS[app.zoom_index],
        repriced=app.show_repriced,
        range_percent=base_range,
    )
    screen.query_one(StrikesPane).view = StrikesView(
        st.symbol,
        st.analysis,
        stale[st.symbol],
        waiting,
        greek=app.strike_greek.value,
        split=app.strike_split.value,
        levels=headline_levels(st.analysis),
    )
    screen.set_class(app.show_strikes, "-strikes")
    screen.query_one(RegimePane).view = pane
    screen.query_one(ZonesPane).view = pane
    screen.query_one(CharmPane).view = pane
    scope_actions.fill(app, screen, pane)
    timepanes.fill(app, screen, st, stale[st.symbol], waiting)
    recording = app.recording is not None
    screen.query_one(StatusLine).view = status_view(
        st,
        stale[st.symbol],
        feed_name=app.feed_name,
        data_now=app.data_clock(),
        mono=app.monotonic(),
        paused=app.paused,
        recording=recording,
        speed=app.feed_speed,
        conditions=" · ".join(
            c for c in (app.history_loader.status, app.errors.status(now=app.data_clock())) if c
        ),
    )
    screen.query_one(TransportBar).view = app.tape.view() if app.tape else None
    screen.query_one(SymbolBar).view = symbol_bar_view(
        app.symbols, app.states, stale, app.current, paused=app.paused, recording=recording
    )
