"""The watchlist screen: every watched symbol on one row (the model: `hedgeflow.app.watchlist`).

Keys: Enter opens the row's symbol in the monitor; Escape, `w` or `q` returns; `/` filters (every
word must match: symbol, regime, firmness, scope, alert, "stale"); `s` / `S` sort by the
next / previous column, `r` reverses; clicking a header sorts by it (again: reversed). The
rows are rebuilt once a second and whenever the App refreshes its views, the cursor kept on
the same symbol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from hedgeflow.app.errorlog import describe
from hedgeflow.app.watchlist import (
    COLUMN_KEYS,
    COLUMNS,
    WatchRow,
    filter_rows,
    sort_rows,
    watch_row,
)
from hedgeflow.tui.present import clock_words

if TYPE_CHECKING:
    from hedgeflow.tui.app import HedgeflowApp


def watch_rows(app: HedgeflowApp) -> list[WatchRow]:
    """One `WatchRow` per watched symbol, from the App's state (in watch order)."""
    now = app.data_clock()
    rows = []
    for sym in app.symbols:
        st = app.states.get(sym)
        if st is None:
            rows.append(watch_row(sym, None))
            continue
        first = next(iter(st.history), None)
        age = (now - st.chain.as_of).total_seconds() if st.chain is not None else None
        error = describe(st.error) if st.error is not None else st.engine_error
        last = app.alerts.log.latest_shown(sym)
        rows.append(
            watch_row(
                sym,
                st.analysis,
                first_spot=first.spot if first is not None else None,
                age=age,
                stale=app.is_stale(st),
                last_alert=last.alert.message if last is not None else "",
                error=error,
            )
        )
    return rows


class WatchlistScreen(Screen[None]):
    """The watchlist (see the module docstring)."""

    BINDINGS = [
        Binding("escape,w,q", "close", "Monitor", id="watch-close"),
        Binding("enter", "open", "Open", id="watch-open"),
        Binding("slash", "filter", "Filter", id="watch-filter", key_display="/"),
        Binding("s", "sort(1)", "Sort", id="watch-sort"),
        Binding("S", "sort(-1)", "Sort back", show=False, id="watch-sort-back"),
        Binding("r", "reverse", "Reverse", id="watch-reverse"),
    ]

    DEFAULT_CSS = """
    WatchlistScreen { layout: vertical; }
    WatchlistScreen #watch-head { height: 1; padding: 0 1; background: $panel; }
    WatchlistScreen DataTable { height: 1fr; }
    WatchlistScreen Input { dock: bottom; display: none; }
    WatchlistScreen Input.-on { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.sort_key = "symbol"
        self.descending = False
        self.filter_text = ""
        self.shown: list[WatchRow] = []

    @property
    def hf(self) -> HedgeflowApp:
        app: Any = self.app
        return app  # type: ignore[no-any-return]

    def compose(self) -> ComposeResult:
        yield Static(id="watch-head")
        yield DataTable(id="watch-table", cursor_type="row", zebra_stripes=True)
        yield Input(placeholder="filter: words that must all match (Enter keeps, Esc clears)")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in COLUMNS:
            table.add_column(col.title, key=col.key)
        self.refresh_rows()
        table.focus()

    # -- rows -------------------------------------------------------------------------------

    def refresh_rows(self) -> None:
        """Rebuild the rows from the App's state, keeping the cursor on its symbol."""
        try:
            table = self.query_one(DataTable)
        except NoMatches:
            return  # not composed yet
        if not table.columns:
            # composed, not yet mounted (the once-a-second refresh can land between the
            # two on a busy machine): rows before columns would be refused; on_mount fills
            return
        keep = self.shown[table.cursor_row].symbol if self.shown and table.row_count else None
        rows = filter_rows(watch_rows(self.hf), self.filter_text)
        self.shown = sort_rows(rows, self.sort_key, descending=self.descending)
        table.clear()
        for r in self.shown:
            table.add_row(*self._cells(r), key=r.symbol)
        if keep is not None and any(r.symbol == keep for r in self.shown):
            table.move_cursor(row=[r.symbol for r in self.shown].index(keep))
        self._head()

    def _cells(self, r: WatchRow) -> list[Text]:
        out = []
        for col in COLUMNS:
            style = ""
            if r.stale:
                style = "bold red" if col.key == "age" else "dim"
            elif col.key == "regime" and r.state.startswith("error"):
                style = "red"
            text = Text(col.cell(r), style=style, no_wrap=True)
            text.justify = "right" if col.numeric else "left"
            out.append(text)
        return out

    def _head(self) -> None:
        title = next(c.title for c in COLUMNS if c.key == self.sort_key)
        arrow = "↓" if self.descending else "↑"
        total = len(self.hf.symbols)
        stale = sum(r.stale for r in self.shown)
        parts = [
            f"Watchlist · {len(self.shown)}/{total} symbols",
            f"sorted by {title} {arrow}",
            f"filter “{self.filter_text}”" if self.filter_text else "",
            f"{stale} STALE" if stale else "",
            f"{clock_words(self.hf.feed_name, self.hf.feed_speed)[0] or self.hf.feed_name} data",
            "chg since the first analysis",
        ]
        self.query_one("#watch-head", Static).update(" · ".join(p for p in parts if p))

    # -- actions ----------------------------------------------------------------------------

    def action_close(self) -> None:
        inp = self.query_one(Input)
        if inp.has_class("-on"):
            self._end_filter(keep=False)
            return
        self.dismiss()

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if not self.shown or table.row_count == 0:
            return
        symbol = self.shown[table.cursor_row].symbol
        self.dismiss()
        self.hf.current = symbol

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = str(event.column_key.value)
        if key == self.sort_key:
            self.descending = not self.descending
        else:
            self.sort_key, self.descending = key, False
        self.refresh_rows()

    def action_sort(self, step: int) -> None:
        i = COLUMN_KEYS.index(self.sort_key)
        self.sort_key = COLUMN_KEYS[(i + step) % len(COLUMN_KEYS)]
        self.refresh_rows()

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self.refresh_rows()

    def action_filter(self) -> None:
        inp = self.query_one(Input)
        inp.add_class("-on")
        inp.value = self.filter_text
        inp.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        # Changed is delivered after the change, and after any key handled meanwhile: a
        # "/" then Esc typed fast delivers the "/"'s Changed (the old filter) after Esc
        # ended the filter. Only the open filter's current text counts.
        inp = event.input
        if not inp.has_class("-on"):
            return
        text = inp.value.strip()
        if text != self.filter_text:
            self.filter_text = text
            self.refresh_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._end_filter(keep=True)

    def _end_filter(self, *, keep: bool) -> None:
        inp = self.query_one(Input)
        if not keep:
            inp.value = ""
            self.filter_text = ""
        inp.remove_class("-on")
        self.query_one(DataTable).focus()
        self.refresh_rows()
