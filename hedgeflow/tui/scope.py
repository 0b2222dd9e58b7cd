"""The expiry scope on screen: the scope's words in every pane's title, the expiry picker
(a modal listing every live expiry with its days left and share of |GEX|) and the levels
card (every standard level nearest spot first, its distance and its futures price).

The numbers come from the engine (`ExpiryAnalysis.expiry_rows`, `.levels`); the widgets
only lay them out.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from hedgeflow.app.fmt import fmt_dollars, fmt_price
from hedgeflow.engine.clock import NY
from hedgeflow.engine.types import ExpiryRow
from hedgeflow.tui.panes import ZonesPane
from hedgeflow.tui.titled import _TitledMixin
from hedgeflow.tui.views import Palette, PaneView

if TYPE_CHECKING:
    from hedgeflow.tui.app import HedgeflowApp
    from hedgeflow.tui.state import SymbolState


def row_label(r: ExpiryRow) -> str:
    """One picker line: date, roots, days left, share of |GEX|, whether it is summed."""
    share = f"{r.gex_share:6.1%}" if math.isfinite(r.gex_share) else "     –"
    mark = "●" if r.in_scope else " "
    line = (
        f"{mark} {r.expiration.astimezone(NY):%Y-%m-%d %H:%M} {'/'.join(r.roots):<6} "
        f"{r.days_left:7.2f} d  |GEX| {share}"
    )
    if r.in_scope:  # this expiry's own charm to its horizon, its settlement step apart
        line += f"  charm {fmt_dollars(r.charm_total, signed=True)}"
        if r.settlement_step:
            line += f" settle {fmt_dollars(r.settlement_step, signed=True)}"
    return line


class ExpiryPicker(ModalScreen[float | None]):
    """Choose one expiry to analyze; dismissed with its settlement epoch (None: cancelled).
    Marked ● the expiries the analysis on screen sums."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss_none", "Close", id="picker-close"),
    ]

    DEFAULT_CSS = """
    ExpiryPicker { align: center middle; }
    ExpiryPicker > Vertical {
        width: 92; max-width: 100%; height: auto; max-height: 90%;
        border: round $primary; background: $surface;
    }
    ExpiryPicker OptionList { height: auto; max-height: 30; border: none; }
    """

    def __init__(self, symbol: str, rows: tuple[ExpiryRow, ...]) -> None:
        super().__init__()
        self.symbol = symbol
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Pick one expiry · {self.symbol}"
            box.border_subtitle = "enter picks · esc closes"
            yield OptionList(
                *(Option(row_label(r), id=str(i)) for i, r in enumerate(self.rows)),
                id="expiry-options",
            )

    def on_mount(self) -> None:
        # the cursor starts on the expiry on screen (the first ● row), so that up and down
        # move from it
        current = next((i for i, r in enumerate(self.rows) if r.in_scope), 0)
        self.query_one(OptionList).highlighted = current

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        i = int(event.option.id or 0)
        self.dismiss(self.rows[i].expiration.timestamp())

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class LevelsPane(_TitledMixin, Static):
    """The levels card: every standard level of the scope, nearest spot first, with its
    distance from spot in points and percent and its price on the mapped future."""

    DEFAULT_CSS = """
    LevelsPane {
        display: none;
        border: round $primary 60%;
        border-title-color: $text;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        height: 1fr;
        padding: 0 1;
    }
    LevelsPane.-stale { border: round $error; border-subtitle-color: $error; }
    MonitorScreen.-wide LevelsPane { column-span: 2; }
    MonitorScreen.-compact LevelsPane {
        border: none;
        border-top: solid $primary 60%;
        padding: 0;
    }
    """

    #: Below this many columns of content: one decimal, short names, no % column.
    NARROW = 52
    SHORT_NAMES: ClassVar[dict[str, str]] = {
        "attractor above": "attract ↑",
        "attractor below": "attract ↓",
    }

    view: reactive[PaneView | None] = reactive(None)

    def __init__(self, palette: Palette, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.palette = palette

    def watch_view(self) -> None:
        view = self.view
        a = view.analysis if view else None
        if view is None or a is None or a.levels is None:
            self._set_frame("Levels", view)
            self.update(view.waiting if view and view.waiting else "no levels yet", layout=False)
            return
        lv = a.levels
        f = lv.futures
        narrow = 0 < self.content_size.width < self.NARROW
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True)
        for _ in range(2 + (not narrow) + (f is not None)):
            table.add_column(justify="right", no_wrap=True)
        head = ["level", "price", "±pts", *(() if narrow else ("%",)), *([f.product] if f else [])]
        table.add_row(*(Text(h, style="bold") for h in head))
        d = 1 if narrow else 2
        for e in lv.entries:
            cells = [
                self.SHORT_NAMES.get(e.name, e.name) if narrow else e.name,
                fmt_price(e.price, decimals=d),
                f"{e.distance:+,.{d}f}",
            ]
            if not narrow:
                cells.append(f"{e.distance_percent:+.2%}")
            if f is not None:
                cells.append(fmt_price(e.futures, decimals=d))
            style = "bold" if e.name in ("zero gamma", "flip") else ""
            table.add_row(*cells, style=style)
        if f is not None:
            src = "feed" if f.source == "feed" else f"parity fwd to {f.expiration:%m-%d}"
            basis = f"{f.product} {fmt_price(f.price)} basis {f.basis:+,.2f} ({src})"
        else:
            basis = "no futures mapping"
        em = (
            f"EM ±{lv.expected_move:,.{d}f} to {lv.expected_move_to.astimezone(NY):%m-%d %H:%M}"
            if lv.expected_move_to is not None and math.isfinite(lv.expected_move)
            else "EM –"
        )
        dex = fmt_dollars(lv.net_dex, signed=True)
        facts = (
            f"{em} · DEX {dex}"  # narrow: every figure whole, the crossing count left out
            if narrow
            else f"{em} · net DEX {dex} · zero γ ×{lv.zero_gamma_count}"
        )
        foot = Text(
            facts,
            style="dim",
            no_wrap=True,
            overflow="ellipsis",
        )
        title = f"Levels · {a.symbol}" + ("" if narrow else " · closest to spot first")
        self._set_frame(title, view, basis)
        self.update(Group(foot, table), layout=False)

    def on_resize(self) -> None:
        self.watch_view()  # the columns follow the width


# --------------------------------------------------------------------------- the App's actions


def _current(app: HedgeflowApp) -> SymbolState | None:
    return app.states.get(app.current)


def cycle(app: HedgeflowApp) -> None:
    """The next scope of the symbol on screen (nearest -> 0DTE -> next session -> within N
    days -> all); a chosen expiry is let go."""
    st = _current(app)
    if st is None:
        return
    st.scope = st.scope.cycled()
    st.expiry = None
    app._analyze(st.symbol)
    app.refresh_views()


def pick(app: HedgeflowApp) -> None:
    """The expiry picker for the symbol on screen; the expiry chosen is analyzed alone."""
    st = _current(app)
    if st is None or st.analysis is None or not st.analysis.expiry_rows:
        app.notify("no analysis yet", timeout=2)
        return

    def chosen(epoch: float | None) -> None:
        if epoch is None or st is not app.states.get(st.symbol):
            return
        st.expiry = epoch
        app._analyze(st.symbol)
        app.refresh_views()

    app.push_screen(ExpiryPicker(st.symbol, st.analysis.expiry_rows), chosen)


def toggle_levels(app: HedgeflowApp) -> None:
    app.show_levels = not app.show_levels
    app.refresh_views()


def fill(app: HedgeflowApp, screen: Screen[Any], pane: PaneView) -> None:
    """Give the levels card its view, and show it or the zones table in their cell."""
    found = screen.query(LevelsPane)
    if not found:
        return
    card = found.first()
    card.display = app.show_levels
    screen.query_one(ZonesPane).display = not app.show_levels
    card.view = pane
