"""The panes: thin widgets, each drawing one engine result handed to it by the App.

Every pane has one typed reactive (`view`) and a watcher that only redraws. No
pane computes a number: values come from the `ExpiryAnalysis`, words about what
dealers do come from `hedgeflow.engine.labels` (the sign rule), and `hedgeflow.app.fmt` turns
both into text.

Every pane's size is fixed by the layout (app.tcss), never by its content, so a text pane
updates with `layout=False`: a layout pass re-renders the whole screen (10-25 ms at 120x40)
and the status line alone changes every second.
"""

from __future__ import annotations

import math

from rich.table import Table
from rich.text import Text
from textual.cache import LRUCache
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from hedgeflow.app.fmt import (
    MISSING,
    fmt_dollars,
    fmt_level,
    fmt_number,
    fmt_percent,
)
from hedgeflow.app.presentation import FLOE_FIGURES, headline
from hedgeflow.engine import labels
from hedgeflow.engine.enums import EngineModel
from hedgeflow.engine.types import ExpiryAnalysis
from hedgeflow.tui.charm import CharmPane as CharmPane
from hedgeflow.tui.chart_theme import widget_palette
from hedgeflow.tui.impulse import ImpulsePane as ImpulsePane
from hedgeflow.tui.symbolbar import SymbolBar as SymbolBar
from hedgeflow.tui.titled import STALE, _TitledMixin
from hedgeflow.tui.views import Palette, PaneView, StatusView
from hedgeflow.tui.zonerows import Row, fit_columns, zone_rows


class ZonesPane(_TitledMixin, DataTable[Text | str]):
    """Stability and acceleration zones, nearest to spot first; each zone's regime edges
    in its own column (▲ price enters a stable region beyond it, ▼ an unstable one).

    Rows are updated in place (row keys by position), so the cursor and the scroll
    position survive every refresh."""

    view: reactive[PaneView | None] = reactive(None)
    """The symbol's analysis (its pressure cloud is listed)."""

    def __init__(self, palette: Palette, **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)  # type: ignore[arg-type]
        self.palette = palette
        self._columns: tuple[tuple[str, int], ...] = ()
        self._shown: list[tuple[Text | str, ...]] = []
        # DataTable sizes its render caches for big tables (10,000 cells, 1,000 lines); a
        # refresh every few seconds fills them with superseded content, each cached line
        # holding its own derived-strip caches: tens of MB over a session. A zones table
        # has a few dozen rows, so small caches hold everything that is still shown.
        self._cell_render_cache = LRUCache(512)
        self._row_render_cache = LRUCache(128)
        self._line_cache = LRUCache(128)

    def on_resize(self) -> None:
        self.watch_view()

    def watch_view(self) -> None:
        view = self.view
        a = view.analysis if view else None
        futures: tuple[str, ...] = ()
        rows: list[Row] = []
        edges_w = 5
        if a is not None:
            futures, rows, edges_w = zone_rows(
                a,
                widget_palette(self, self.palette),
                no_color=bool(getattr(self.app, "no_color", False)),
            )
        # the vertical scrollbar takes one cell
        columns, rows = fit_columns(futures, rows, edges_w, self.content_region.width - 1)
        self._fill(columns, rows)
        n_z = len(rows)
        title = f"Pressure zones · {a.symbol} · closest to spot first" if a else "Pressure zones"
        whose = f"{FLOE_FIGURES}: " if a is not None and a.model is EngineModel.FLOE else ""
        legend = (
            f"{whose}futures per +1%: + {labels.DEALERS_BUY}, − {labels.DEALERS_SELL} · "
            "edges ▲ stable beyond, ▼ unstable"
        )
        self._set_frame(title, view, f"{n_z} zone{'s' if n_z != 1 else ''} · {legend}" if a else "")

    def _fill(
        self, columns: tuple[tuple[str, int], ...], rows: list[tuple[Text | str, ...]]
    ) -> None:
        if columns != self._columns:
            cursor, scroll = self.cursor_row, self.scroll_y
            self.clear(columns=True)
            for i, (name, width) in enumerate(columns):
                self.add_column(name, key=f"c{i}", width=width)
            self._columns = columns
            for i, row in enumerate(rows):
                self.add_row(*row, key=f"r{i}")
            if rows:
                self.move_cursor(row=min(cursor, len(rows) - 1), animate=False, scroll=False)
            self.scroll_to(y=scroll, animate=False)
            self._shown = list(rows)
            return
        existing = self.row_count
        shown = self._shown
        for i, row in enumerate(rows):
            key = f"r{i}"
            if i < existing:
                old = shown[i] if i < len(shown) else ()
                for j, cell in enumerate(row):
                    # Only changed cells: each update drops the table's render caches.
                    if j >= len(old) or old[j] != cell:
                        self.update_cell(key, f"c{j}", cell)
            else:
                self.add_row(*row, key=key)
        for i in range(existing - 1, len(rows) - 1, -1):
            self.remove_row(f"r{i}")
        self._shown = list(rows)


class RegimePane(_TitledMixin, Static):
    """The regime panel: what the dealers' hedging does at spot and the model behind it."""

    view: reactive[PaneView | None] = reactive(None)
    """The symbol's analysis (regime params, impulse at spot, asymmetry, models)."""

    def __init__(self, palette: Palette, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.palette = palette

    def watch_view(self) -> None:
        view = self.view
        a = view.analysis if view else None
        if view is None or a is None:
            self._set_frame("Regime", view)
            self.update(view.waiting if view else "waiting for data", layout=False)
            return
        self._set_frame(f"Regime · {a.symbol} {fmt_level(a.spot)}", view)
        self.update(
            self._render_regime(a, compact=self.size.width < 40 or self.size.height < 13),
            layout=False,
        )

    def _render_regime(self, a: ExpiryAnalysis, *, compact: bool) -> Table:
        hf = a.hedge_flow
        rp = hf.regime_params
        curve = hf.impulse_curve
        head = headline(a)
        h = head.impulse
        nf = head.nearest_flip
        flips = head.flip_levels
        hedge = head.hedge_words if head.hedge_name is not None else MISSING
        if a.model is EngineModel.PHYSICAL:
            k = (
                f"{fmt_number(rp.coupling_atm, signed=True)} ATM, "
                f"{fmt_number(rp.coupling_fixed_strike, signed=True)} K"
            )
        else:
            k = fmt_number(curve.spot_vol_coupling)
        if nf is not None:
            flip = f"{fmt_level(nf)} ({fmt_percent(head.flip_distance, decimals=2, signed=True)})"
            if len(flips) > 1:
                flip += f" ×{len(flips)}" if compact else f", nearest of {len(flips)}"
        else:
            flip = "none in range"
        move_pct = rp.expected_move / a.spot if a.spot else math.nan
        # The expected move with what it is measured to (a 0DTE's settlement, the close);
        # compact: on the ATM IV row, its horizon's time only.
        em = f"±{fmt_level(rp.expected_move)}"
        if compact:
            short = head.move_horizon.removesuffix(" settlement").removesuffix(" close")
            iv_rows = [("ATM IV", f"{fmt_percent(rp.atm_iv)} · EM {em} {short}")]
        else:
            em += f" ({fmt_percent(move_pct, decimals=2)}) {head.move_horizon}"
            iv_rows = [("ATM IV", fmt_percent(rp.atm_iv)), ("EM", em)]
        asym = curve.asymmetry
        ratio = fmt_number(asym.asymmetry_ratio) if math.isfinite(asym.asymmetry_ratio) else MISSING
        regime = Text(curve.regime.value, style=f"bold {self._regime_style(curve.regime.value)}")
        firm = head.regime_firmness
        if firm is not None:
            regime += Text(f" ({firm.words})", style="bold" if firm.words == "firm" else "italic")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(overflow="fold")
        rows: list[tuple[str, Text | str]] = [
            ("regime", regime + Text(f" · vol {rp.regime.value}")),
            (
                "H spot",
                f"{fmt_dollars(h, signed=True)}/+1%"
                + (f" Δ {fmt_dollars(head.slope, signed=True)}/pt" if compact else ""),
            ),
            ("", Text(head.impulse_words, style="italic")),
        ]
        if not compact:
            if firm is not None:
                rows.insert(
                    1,
                    ("holds", f"{firm.measure} {firm.value:+.2f}, exit {firm.threshold:+.2f}"),
                )
            rows.append(("slope", f"{fmt_dollars(head.slope, signed=True)} /pt"))
        rows += [
            ("flip", flip),
            ("hedge", hedge),
            ("k", f"{k} vp/1%"),
            *iv_rows,
            ("bias", f"{asym.bias.value} · ratio {ratio}"),
            ("model", f"{a.model.value} · {a.positioning.value}"),
            ("pos", a.positions),
        ]
        if compact:
            rows.pop()  # the status line names the positions source
        else:
            up, down = head.attractor_above, head.attractor_below
            rows.append(("attract", f"↑ {fmt_level(up)}  ↓ {fmt_level(down)}"))
            if head.zero_gamma is not None:
                rows.append(("zero γ", f"{fmt_level(head.zero_gamma)} (all expiries, fixed IV)"))
            rows.append(("R", f"{fmt_number(rp.skew_stickiness)} skew stickiness"))
        for label, value in rows:
            grid.add_row(label, value)
        return grid

    def _regime_style(self, regime: str) -> str:
        # pinned: dealers dampen (stable color); expansion: they amplify; squeezes: one-sided.
        pal = widget_palette(self, self.palette)
        return {
            "pinned": pal.hex("stable"),
            "expansion": pal.hex("unstable"),
            "squeeze-up": pal.hex("spot"),
            "squeeze-down": pal.hex("spot"),
        }.get(regime, "")


class StatusLine(Static):
    """Feed, symbol, expiry, data time and age, vendor delay, positions, next poll,
    recording, the error conditions in effect (feed, kind, how many symbols, next retry)
    and this symbol's last error with its backoff. STALE in reverse when stale."""

    view: reactive[StatusView | None] = reactive(None)
    """Pre-formatted status fields (the App formats times with its injected clock)."""

    def __init__(self, palette: Palette, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.palette = palette

    def watch_view(self) -> None:
        v = self.view
        if v is None:
            self.update("", layout=False)
            return
        line1 = Text(no_wrap=True, overflow="ellipsis")
        if v.stale:
            stale = widget_palette(self, self.palette).hex("stale")
            line1.append(f" {STALE} ", style=f"bold {stale} reverse")
            line1.append(" ")
        if v.paused:
            line1.append(" PAUSED ", style="bold reverse")
            line1.append(" ")
        if v.badge:  # in place of the feed's name: simulated or recorded, never live-looking
            line1.append(f" {v.badge} ", style="bold reverse")
            line1.append(f"· {v.symbol}")
        else:
            line1.append(f"{v.feed}", style="bold")
            line1.append(f" · {v.symbol}")
        if v.expiry:
            line1.append(f" {v.expiry}")
        if v.as_of:
            line1.append(f" · {v.as_of}")
        if v.age:
            line1.append(f" age {v.age}", style="bold" if v.stale else "")
        if v.delay:
            line1.append(f" · {v.delay}")
        if v.positions:
            line1.append(f" · {v.positions}")
        line2 = Text(no_wrap=True, overflow="ellipsis")
        line2.append(f"next poll {v.next_poll}" if v.next_poll else "polling paused")
        line2.append(" · ")
        line2.append("REC ●" if v.recording else "rec off", style="bold red" if v.recording else "")
        # The conditions in effect first (short: feed, kind, how many symbols, next
        # retry), then this symbol's error, whose vendor text can be long (the error-log
        # screen and the notice show it whole).
        if v.conditions:
            line2.append(" · ")
            line2.append(f"⚠ {v.conditions}", style="bold red")
        if v.error:
            line2.append(" · ")
            line2.append(v.error, style="bold red")
        elif v.notes:
            line2.append(" · ")
            line2.append(v.notes[0], style="dim")
        t = Text("\n", no_wrap=True, overflow="ellipsis").join([line1, line2])
        self.set_class(v.stale, "-stale")
        self.set_class(bool(v.error), "-error")
        self.update(t, layout=False)
