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
from datetime import UTC, datetime
from typing import Any

import numpy as np
from rich.table import Table
from rich.text import Text
from textual.cache import LRUCache
from textual.reactive import reactive
from textual.strip import Strip
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from hedgeflow.app.fmt import (
    MISSING,
    NY,
    fmt_dollars,
    fmt_expiry,
    fmt_level,
    fmt_number,
    fmt_percent,
    nice_ticks,
)
from hedgeflow.app.presentation import FLOE_FIGURES, headline
from hedgeflow.app.summary import scope_tag
from hedgeflow.engine import labels
from hedgeflow.engine.enums import EngineModel, ExtremumKind
from hedgeflow.engine.types import ExpiryAnalysis
from hedgeflow.tui.chart_parts import impulse_window, sign_runs, zoom_label
from hedgeflow.tui.chart_theme import ChartColors, app_chart_colors, register, widget_palette
from hedgeflow.tui.symbolbar import SymbolBar as SymbolBar
from hedgeflow.tui.views import ImpulseView, Palette, PaneView, StatusView
from hedgeflow.tui.zonerows import Row, fit_columns, zone_rows

STALE = "STALE"


def _finite_xy(x: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok].tolist(), y[ok].tolist()


class _StripPlot(PlotextPlot):
    """A PlotextPlot drawn through Textual's line API: the plot is built once per data or
    size change and kept as strips, instead of going through a renderable each paint.
    (The generic path turns ~7,000 characters of ANSI into a styled Text and lays it out:
    two thirds of a repaint at 120x40.)"""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.palette = Palette()
        self._strips: list[Strip] | None = None
        self._strips_key: tuple[int, int, str] | None = None

    def refresh(self, *regions: Any, **kw: Any) -> Any:
        self._strips = None
        return super().refresh(*regions, **kw)

    @property
    def chart_colors(self) -> ChartColors:
        """The charts' colours for the theme on screen (and NO_COLOR)."""
        return app_chart_colors(self.app, self.palette)

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        key = (width, height, self.app.theme)
        if self._strips is None or self._strips_key != key:
            self._strips = self._build_strips(width, height)
            self._strips_key = key
        return self._strips[y] if 0 <= y < len(self._strips) else Strip.blank(width)

    def _build_strips(self, width: int, height: int) -> list[Strip]:
        if width <= 0 or height <= 0:
            return []
        plot = self.plt
        plot.plotsize(width, height)
        plot._set_size(width, height)  # as PlotextPlot.render does (textual-plotext #5)
        plot.theme(register(self.chart_colors))
        console = self.app.console
        lines = Text.from_ansi(plot.build()).split("\n", allow_blank=True)
        strips = [
            Strip(list(line.render(console))).crop_extend(0, width, None) for line in lines[:height]
        ]
        strips += [Strip.blank(width)] * (height - len(strips))
        return strips


class _TitledMixin:
    """Border title/subtitle and the stale class, shared by every pane."""

    def _set_frame(self, title: str, view: PaneView | None, extra: str = "") -> None:
        widget = self
        # The scope leads every title: a long title is cut at its end, and which expiries a
        # figure sums is the one thing that must never be cut.
        if view is not None and view.analysis is not None:
            title = f"{scope_tag(view.analysis)} · {title}"
        widget.border_title = title  # type: ignore[attr-defined]
        parts = [extra] if extra else []
        stale = bool(view and view.stale and view.analysis is not None)
        if stale:
            palette = getattr(self, "palette", None)
            color = widget_palette(self, palette).hex("stale") if palette is not None else ""
            parts.insert(0, f"[b {color} reverse] {STALE} [/]")
        widget.border_subtitle = " · ".join(parts)  # type: ignore[attr-defined]
        widget.set_class(stale, "-stale")  # type: ignore[attr-defined]


class _AnalysisPlot(_TitledMixin, _StripPlot):
    """A plot pane over one symbol's analysis: redrawn when its view changes or the pane
    is resized; a "waiting" title until the symbol has an analysis."""

    #: Border title while there is no analysis.
    empty_title = ""

    def __init__(self, palette: Palette, **kw: object) -> None:
        super().__init__(**kw)
        self.palette = palette

    def watch_view(self) -> None:
        self.replot()

    def on_resize(self) -> None:
        self.replot()

    def on_mount(self) -> None:
        super().on_mount()
        # The series' colours come from the theme too: a new theme redraws them.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.replot())

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.title("")
        view: PaneView | None = self.view  # type: ignore[attr-defined]
        a = view.analysis if view else None
        if view is None or a is None:
            self._set_frame(self.empty_title, view)
            plt.title(view.waiting if view else "waiting for data")
            self.refresh()
            return
        self.draw(view, a)

    def draw(self, view: PaneView, a: ExpiryAnalysis) -> None:
        raise NotImplementedError


class ImpulsePane(_AnalysisPlot):
    """The impulse curve H(S) with spot, flip levels, basins, peaks and zones, or on
    toggle the repriced profile (the dealers' total impulse if spot were at S)."""

    view: reactive[ImpulseView | None] = reactive(None)
    """The symbol's analysis and the display options (zoom, repriced)."""

    empty_title = "Impulse H(S)"

    def draw(self, view: ImpulseView, a: ExpiryAnalysis) -> None:  # type: ignore[override]
        plt = self.plt
        curve = a.hedge_flow.impulse_curve
        show_repriced = view.repriced and a.repriced is not None
        head = headline(a)
        # the headline's figure and unit beside the chart's, so the two are not confused:
        # the physical curve is a density (per point of price), the headline a total
        h_spot = f"H spot {fmt_dollars(head.impulse, signed=True)}/+1%"
        if show_repriced:
            assert a.repriced is not None
            x, y = a.repriced.price, a.repriced.impulse
            title = f"Repriced impulse $/+1% if spot were at S · {h_spot}"
        elif a.model is EngineModel.PHYSICAL:
            x, y = curve.price, curve.impulse
            title = f"Impulse H(S) density $/+1%/pt · {h_spot}"
        else:
            x, y = curve.price, curve.impulse
            title = f"Impulse H(S) $/+1% · {h_spot}"
        lo, hi = impulse_window(a.spot, view.range_percent, view.zoom, x)
        window = (x >= lo) & (x <= hi)
        xs, ys = _finite_xy(x[window], y[window])
        if not xs:
            self._set_frame(title, view)
            plt.title("no curve in range")
            self.refresh()
            return
        colors = self.chart_colors
        if colors.glyphs:  # no colour: the curve's sign by its glyph, run by run
            for rx, ry, positive in sign_runs(xs, ys):
                plt.plot(rx, ry, color=colors.curve, marker=colors.curve_marker(positive))
        else:
            plt.plot(xs, ys, color=colors.curve, marker="braille")
        zero_gamma = ""
        if show_repriced and head.zero_gamma is not None:
            # The fixed-IV, gamma-only line over every expiry (what other tools call zero
            # gamma) is named, not drawn: summed over all expiries it dwarfs this profile.
            zero_gamma = f" · zero γ (all expiries) {fmt_level(head.zero_gamma)}"
        if not show_repriced:
            # Zones in their colors, filled to zero, over the base curve.
            for zone in (*a.pressure_cloud.stability_zones, *a.pressure_cloud.acceleration_zones):
                zm = window & (x >= zone.lower) & (x <= zone.upper)
                zx, zy = _finite_xy(x[zm], y[zm])
                if zx:
                    basin = zone.kind is ExtremumKind.BASIN
                    # Half blocks for the fills (braille fills cost 2-3x to build); without
                    # colour the unstable ones get a pattern of their own.
                    color, marker = (
                        (colors.stable, colors.stable_fill)
                        if basin
                        else (colors.unstable, colors.unstable_fill)
                    )
                    plt.plot(zx, zy, color=color, marker=marker, fillx=True)
            basins = [
                e for e in curve.extrema if e.kind is ExtremumKind.BASIN and lo <= e.price <= hi
            ]
            peaks = [
                e for e in curve.extrema if e.kind is ExtremumKind.PEAK and lo <= e.price <= hi
            ]
            if basins:
                plt.scatter(
                    [e.price for e in basins],
                    [e.impulse for e in basins],
                    marker="▲",
                    color=colors.stable,
                )
            if peaks:
                plt.scatter(
                    [e.price for e in peaks],
                    [e.impulse for e in peaks],
                    marker="▼",
                    color=colors.unstable,
                )
        flips = [p for p in head.flip_levels if lo <= p <= hi]
        if not show_repriced and a.repriced is not None:
            zeros = [c.price for c in curve.zero_crossings if lo <= c.price <= hi]
            if zeros:
                plt.scatter(zeros, [0.0] * len(zeros), marker="×", color=colors.marks)
        if flips:
            plt.scatter(flips, [0.0] * len(flips), marker="◆", color=colors.repriced)
        plt.hline(0.0, colors.zero)
        plt.vline(a.spot, colors.spot)
        plt.xlim(lo, hi)
        ymin, ymax = min(ys + [0.0]), max(ys + [0.0])
        pad = 0.05 * (ymax - ymin or 1.0)
        plt.ylim(ymin - pad, ymax + pad)
        height = max(self.size.height, 6)
        width = max(self.size.width, 20)
        yt = nice_ticks(ymin, ymax, max(2, min(5, height // 3)))
        plt.yticks(yt, [fmt_dollars(t) for t in yt])
        xt = nice_ticks(lo + 0.04 * (hi - lo), hi - 0.04 * (hi - lo), max(2, min(7, width // 12)))
        plt.xticks(xt, [f"{t:,.0f}" if a.spot >= 1000 else f"{t:,.1f}" for t in xt])
        nf = head.nearest_flip
        n_flips = len(head.flip_levels)
        flip_text = (
            f"flip {fmt_level(nf)} ({n_flips} level{'s' if n_flips != 1 else ''})"
            if nf is not None
            else "no flip in range"
        )
        marks = "│spot ◆flip" if show_repriced else "│spot ◆flip ×zero ▲basin ▼peak"
        half_percent = 100.0 * max(a.spot - lo, hi - a.spot) / a.spot
        # The range first: after a zoom key it is what changed, and a narrow pane cuts the end.
        legend = f"{zoom_label(view.zoom, half_percent)} · {flip_text}{zero_gamma} · {marks}"
        self._set_frame(f"{title} · {a.symbol} {fmt_expiry(a.expiration, a.as_of)}", view, legend)
        self.refresh()


class CharmPane(_AnalysisPlot):
    """The charm integral: per-bucket change (bars) and the cumulative line to the horizon."""

    view: reactive[PaneView | None] = reactive(None)
    """The symbol's analysis (its charm integral is drawn)."""

    empty_title = "Charm to the close"

    def draw(self, view: PaneView, a: ExpiryAnalysis) -> None:
        plt = self.plt
        charm = a.hedge_flow.charm_integral
        horizon = charm.horizon.timestamp()
        # Bucket ends as hours of the New York day, so the axis reads as clock time.
        t = horizon - np.asarray(charm.bucket_minutes_remaining, dtype=float) * 60.0
        cum = np.asarray(charm.cumulative_cex, dtype=float)
        total = charm.total_charm_to_close
        title = f"Charm to {charm.horizon.astimezone(NY):%H:%M}: {fmt_dollars(total, signed=True)} dealer Δ"
        ok = np.isfinite(t) & np.isfinite(cum)
        if ok.sum() == 0:
            self._set_frame(title, view)
            plt.title("no charm buckets")
            self.refresh()
            return
        tx, cy = t[ok], cum[ok]
        order = np.argsort(tx)
        tx, cy = tx[order], cy[order]
        xi = np.arange(1, len(tx) + 1, dtype=float)
        width = max(self.size.width, 20)
        # The running total filled to zero, one point per bucket end: each step between
        # points is that bucket's change of dealer delta.
        colors = self.chart_colors
        plt.plot(xi.tolist(), cy.tolist(), color=colors.repriced, marker="hd", fillx=True)
        plt.scatter(xi.tolist(), cy.tolist(), color=colors.spot, marker="•")
        plt.hline(0.0, colors.zero)
        plt.xlim(0.5, len(xi) + 0.5)
        ymin, ymax = float(min(cy.min(), 0.0)), float(max(cy.max(), 0.0))
        yt = nice_ticks(ymin, ymax, max(2, min(4, self.size.height // 3)))
        plt.yticks(yt, [fmt_dollars(v) for v in yt])
        n = max(2, min(6, width // 9))
        idx = np.unique(np.linspace(0, len(tx) - 1, n).round().astype(int))
        plt.xticks(
            xi[idx].tolist(),
            [
                datetime.fromtimestamp(float(v), UTC).astimezone(NY).strftime("%H:%M")
                for v in tx[idx]
            ],
        )
        plt.title(labels.charm_trade(total))
        settle = (
            f"settlement step {fmt_dollars(charm.settlement_step, signed=True)} · "
            if charm.settlement_step and math.isfinite(charm.settlement_step)
            else ""
        )
        sub = f"{settle}{len(tx)} buckets, cumulative"
        self._set_frame(title, view, sub)
        self.refresh()


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
