"""The monitor's screens: the main screen (symbol bar, four panes, status line, footer,
and every key binding) and the help screen, generated from the live bindings (so a
remapped key in `[keymap]` shows its new key)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar, cast

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

from hedgeflow.app.legend import LEGEND
from hedgeflow.app.transport import SEEK_LONG, SEEK_SHORT
from hedgeflow.tui.heatmap import HeatmapPane
from hedgeflow.tui.history import HistoryPane
from hedgeflow.tui.panes import CharmPane, ImpulsePane, RegimePane, StatusLine, SymbolBar, ZonesPane
from hedgeflow.tui.scope import LevelsPane
from hedgeflow.tui.strikes import StrikesPane
from hedgeflow.tui.transport import TransportBar

if TYPE_CHECKING:
    from hedgeflow.tui.app import HedgeflowApp

#: The replay transport (`hedgeflow.tui.transport`); in other modes they say so and do nothing.
TRANSPORT_BINDINGS: list[BindingType] = [
    Binding(
        "comma",
        "app.tape('step', -1)",
        "Step back",
        show=False,
        id="tape-step-back",
        key_display=",",
        tooltip="Replay: pause and show the visible symbol's previous recorded snapshot",
    ),
    Binding(
        "full_stop",
        "app.tape('step', 1)",
        "Step",
        show=False,
        id="tape-step-forward",
        key_display=".",
        tooltip="Replay: pause and show the visible symbol's next recorded snapshot",
    ),
    Binding(
        "left_square_bracket",
        f"app.tape('seek', {-SEEK_SHORT})",
        "-5 min",
        show=False,
        id="tape-back-5m",
        key_display="[",
        tooltip="Replay: seek back 5 minutes of recorded time",
    ),
    Binding(
        "right_square_bracket",
        f"app.tape('seek', {SEEK_SHORT})",
        "+5 min",
        show=False,
        id="tape-forward-5m",
        key_display="]",
        tooltip="Replay: seek forward 5 minutes of recorded time",
    ),
    Binding(
        "left_curly_bracket",
        f"app.tape('seek', {-SEEK_LONG})",
        "-30 min",
        show=False,
        id="tape-back-30m",
        key_display="{",
        tooltip="Replay: seek back 30 minutes of recorded time",
    ),
    Binding(
        "right_curly_bracket",
        f"app.tape('seek', {SEEK_LONG})",
        "+30 min",
        show=False,
        id="tape-forward-30m",
        key_display="}",
        tooltip="Replay: seek forward 30 minutes of recorded time",
    ),
    Binding(
        "t",
        "app.tape('jump')",
        "Jump",
        show=False,
        id="tape-jump",
        tooltip="Replay: jump to a time (HH:MM[:SS] New York on the tape's date, or ISO)",
    ),
    Binding(
        "less_than_sign",
        "app.tape('speed', -1)",
        "Slower",
        show=False,
        id="tape-slower",
        key_display="<",
        tooltip="Replay: slower (1, 2, 5, 10, 30, 60, 120, 300x)",
    ),
    Binding(
        "greater_than_sign",
        "app.tape('speed', 1)",
        "Faster",
        show=False,
        id="tape-faster",
        key_display=">",
        tooltip="Replay: faster (1, 2, 5, 10, 30, 60, 120, 300x)",
    ),
]

#: Below this many rows or columns the compact layout is used.
COMPACT_HEIGHT = 32
COMPACT_WIDTH = 110
#: From this many columns (and the full height) the by-strike bars get their own column.
WIDE_WIDTH = 180
#: Below this the screen says so instead of drawing panes that would hide numbers.
MIN_WIDTH, MIN_HEIGHT = 80, 24


class MonitorScreen(Screen[None]):
    """The main screen: symbol bar, the four panes in a grid, status line, footer.

    Key bindings live here (not on the App) so that they do not fire while the
    command palette or the help screen is open."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(str(i), f"app.pick({i - 1})", f"Symbol {i}", show=False, id=f"symbol-{i}")
            for i in range(1, 10)
        ),
        Binding(
            "tab",
            "app.cycle(1)",
            "Next symbol",
            show=False,
            id="next-symbol",
            tooltip="Cycle to the next watched symbol",
        ),
        Binding(
            "shift+tab",
            "app.cycle(-1)",
            "Previous symbol",
            show=False,
            id="previous-symbol",
            tooltip="Cycle to the previous watched symbol",
        ),
        # Help and Quit first: the footer shows bindings in this order, and at 80 columns
        # the last ones would be cut (every key is on the help screen).
        Binding("question_mark,f1", "app.help", "Help", id="help", key_display="?"),
        Binding("q", "app.quit", "Quit", id="quit"),
        Binding(
            "e",
            "app.expiry(1)",
            "Expiry",
            id="next-expiry",
            tooltip="Analyze the next expiry of this symbol",
        ),
        Binding(
            "E",
            "app.expiry(-1)",
            "Prev expiry",
            show=False,
            id="previous-expiry",
            tooltip="Analyze the previous expiry of this symbol",
        ),
        Binding(
            "o",
            "app.scope",
            "Scope",
            show=False,
            id="scope",
            tooltip="Cycle the expiry scope: nearest, 0DTE, next session, within N days, all",
        ),
        Binding(
            "p",
            "app.pick_expiry",
            "Pick expiry",
            show=False,
            id="pick-expiry",
            tooltip="Choose one expiry from a list (days left, share of |GEX|)",
        ),
        Binding(
            "v",
            "app.levels",
            "Levels",
            show=False,
            id="levels",
            tooltip="Show the levels card (walls, zero gamma, max pain, EM, futures) "
            "in place of the zones table",
        ),
        Binding(
            "space",
            "app.pause",
            "Pause",
            id="pause",
            tooltip="Stop / resume polling (in a replay: pause / play the tape)",
        ),
        Binding(
            "r",
            "app.record",
            "Rec",
            id="record",
            tooltip="Start / stop recording snapshots to SQLite",
        ),
        Binding(
            "g",
            "app.repriced",
            "Reprice",
            id="repriced",
            tooltip="Toggle the repriced profile in the impulse pane",
        ),
        Binding(
            "b",
            "app.strikes",
            "Strikes",
            id="strikes",
            tooltip="Swap the impulse curve and the exposures-by-strike bars (both at 180+ columns)",
        ),
        Binding(
            "h",
            "app.history",
            "History",
            show=False,
            id="history",
            tooltip="Levels vs spot, flip count and charm over the session in place of the "
            "impulse curve",
        ),
        Binding(
            "m",
            "app.heatmap",
            "Heatmap",
            show=False,
            id="heatmap",
            tooltip="Price x time heatmap of the impulse density in place of the impulse curve",
        ),
        Binding(
            "k",
            "app.lens",
            "Heatmap lens",
            show=False,
            id="heatmap-lens",
            tooltip="Heatmap: next lens (impulse H(S), charm by strike, GEX by strike)",
        ),
        Binding(
            "n",
            "app.greek",
            "GEX/VEX/CEX/DEX",
            show=False,
            id="strike-greek",
            tooltip="By-strike bars: next exposure (GEX, VEX, CEX, DEX)",
        ),
        Binding(
            "c",
            "app.split",
            "Net/calls/puts",
            show=False,
            id="strike-split",
            tooltip="By-strike bars: net, or calls and puts apart",
        ),
        Binding(
            "plus,equals_sign",
            "app.zoom(-1)",
            "Zoom in",
            show=False,
            id="zoom-in",
            key_display="+",
            tooltip="Narrow the price range",
        ),
        Binding(
            "minus",
            "app.zoom(1)",
            "Zoom out",
            show=False,
            id="zoom-out",
            tooltip="Widen the price range",
        ),
        Binding(
            "x",
            "app.export",
            "Export",
            show=False,  # the footer fits 80 columns; the help screen lists it
            id="export",
            tooltip="Write JSON, CSV and a Pine script of the analysis",
        ),
        Binding(
            "s",
            "app.screenshot",
            "Screenshot",
            show=False,  # so that the footer fits 80 columns; the help screen lists it
            id="screenshot",
            tooltip="Save an SVG screenshot",
        ),
        Binding(
            "l",
            "app.errors",
            "Errors",
            id="errors",
            tooltip="Recent errors: time, symbol, feed, kind, backoff",
        ),
        Binding(
            "w",
            "app.watchlist",
            "Watchlist",
            show=False,  # the footer fits 80 columns; the help screen lists it
            id="watchlist",
            tooltip="Every watched symbol on one row: sort, filter, Enter opens one",
        ),
        Binding(
            "a",
            "app.alerts",
            "Alerts",
            show=False,  # the footer fits 80 columns; the help screen lists it
            id="alerts",
            tooltip="The alert log: every alert with its scope, numbers and delivery",
        ),
        *TRANSPORT_BINDINGS,
    ]

    def compose(self) -> ComposeResult:
        app = cast("HedgeflowApp", self.app)
        yield SymbolBar(id="symbols")
        with Grid(id="panes"):
            yield ImpulsePane(app.palette, id="impulse")
            # before the by-strike bars: in the wide layout h/m take the impulse curve's place
            yield HistoryPane(app.palette, id="history")
            yield HeatmapPane(app.palette, id="heatmap")
            yield StrikesPane(app.palette, id="strikes")
            yield RegimePane(app.palette, id="regime")
            yield ZonesPane(app.palette, id="zones")
            yield LevelsPane(app.palette, id="levels")
            yield CharmPane(app.palette, id="charm")
        yield TransportBar(id="transport")
        yield StatusLine(app.palette, id="status")
        yield Footer(show_command_palette=False)
        yield Static(
            f"terminal too small (need {MIN_WIDTH}x{MIN_HEIGHT})", id="too-small", markup=False
        )

    def on_mount(self) -> None:
        self.call_after_refresh(cast("HedgeflowApp", self.app).refresh_views)
        # Coloured words take the theme's readable tones (`chart_theme.themed_palette`):
        # a new theme redraws the text panes (the plots redraw themselves).
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._retheme())

    def _retheme(self) -> None:
        for pane in self.query(
            "RegimePane, ZonesPane, StrikesPane, LevelsPane, StatusLine, HistoryPane, HeatmapPane"
        ):
            pane.watch_view()  # type: ignore[attr-defined]

    def on_resize(self) -> None:
        w, h = self.size
        compact = h < COMPACT_HEIGHT or w < COMPACT_WIDTH
        self.set_class(compact, "-compact")
        self.set_class(not compact and w >= WIDE_WIDTH, "-wide")
        small = w < MIN_WIDTH or h < MIN_HEIGHT
        self.set_class(small, "-too-small")
        if small:
            self.query_one("#too-small", Static).update(
                f"terminal too small: {w}x{h} (need {MIN_WIDTH}x{MIN_HEIGHT})"
            )


def binding_ids() -> set[str]:
    """Every id `[keymap]` may remap."""
    return {b.id for b in MonitorScreen.BINDINGS if isinstance(b, Binding) and b.id}


def keymap_conflict(keymap: Mapping[str, str]) -> str | None:
    """The first key that `keymap` leaves on two bindings of the monitor, in words, or None.
    Textual would run one of them and never the other, while the help screen listed the
    key for both (`quit = "x"` quit on the key the help said exports)."""
    owner: dict[str, str] = {}
    for b in MonitorScreen.BINDINGS:
        assert isinstance(b, Binding)
        for key in keymap.get(b.id or "", b.key).split(","):
            key = key.strip()
            other = owner.setdefault(key, b.id or "")
            if other != b.id and (other in keymap or b.id in keymap):
                mapped, kept = (other, b.id) if other in keymap else (b.id, other)
                return (
                    f"`keymap.{mapped}` puts {key!r} on two bindings: it is also the key of "
                    f"{kept} (give {kept} another key in [keymap] too)"
                )
    return None


def help_rows(
    symbols: Sequence[str], keymap: Mapping[str, str], key_display: Callable[[Binding], str]
) -> list[tuple[str, str, str]]:
    """(keys, description, binding id) for every binding, digits folded into one row;
    `key_display` is the App's `get_key_display`."""
    rows: list[tuple[str, str, str]] = [
        ("1-9", "pick an underlying (" + ", ".join(symbols[:9]) + ")", "symbol-1..9")
    ]
    for b in MonitorScreen.BINDINGS:
        assert isinstance(b, Binding)
        if b.id and b.id.startswith("symbol-"):
            continue
        keys = keymap.get(b.id or "", b.key)
        shown = (
            b.key_display
            if b.key_display and b.id not in keymap
            else ", ".join(key_display(Binding(k.strip(), "")) for k in keys.split(","))
        )
        rows.append((shown, b.tooltip or b.description, b.id or ""))
    rows.append(("ctrl+c", "quit, as q does (so do SIGTERM and SIGHUP)", "ctrl-c-quit"))
    rows.append(("ctrl+p", "command palette: add TICKER / remove a symbol", "palette"))
    rows.append(("↑ ↓ pgup pgdn", "move in the zones table", ""))
    return rows


class HelpScreen(ModalScreen[None]):
    """Lists (keys, what they do, binding id). Escape, q or ? closes it."""

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close", id="help-close"),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 96; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, rows: list[tuple[str, str, str]], about: str = "") -> None:
        super().__init__()
        self.rows = rows
        self.about = about

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        table.add_column(style="dim", no_wrap=True)
        for keys, description, binding_id in self.rows:
            table.add_row(keys, description, binding_id)
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys and legend · hedgeflow monitor"
            scroll.border_subtitle = "↑↓ scroll · esc / ? closes"
            yield Static(table, id="help-keys")
            if self.about:
                yield Static(Text(self.about, style="dim"), id="help-about")
            yield Static(legend_table(), id="help-legend")


def legend_table() -> Table:
    """The legend (`app.legend.LEGEND`): every label on screen, in a trader's words."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for section, rows in LEGEND:
        table.add_row(Text(f"\n{section}", style="bold underline"), "")
        for label, words in rows:
            table.add_row(label, words)
    return table


def help_about(stale_after_polls: int) -> str:
    """The words under the keys: what H means, and what STALE marks."""
    return (
        "Impulse H > 0: dealers sell rallies and buy dips (stability); H < 0: they chase "
        "the move (acceleration). Who the counterparty is is a model assumption "
        "(positioning model on the regime panel). STALE marks data older than "
        f"{stale_after_polls} poll intervals, and an analysis of an older snapshot "
        "when the engine failed on newer data."
    )
