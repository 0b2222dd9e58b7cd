"""The impulse pane: the impulse curve H(S) with spot, flip levels, basins, peaks and
zones, or on `g` the repriced profile (the dealers' total impulse if spot were at S).

Thin: the numbers are the analysis' own (`headline` for the figures the title shares
with the regime pane); this widget picks the window (`chart_parts.impulse_window`) and
lays the layers out on a numpy `Chart`, painted once per view and size (`Painted`).
Without colour (NO_COLOR) the curve's sign is told by its glyph (braille above zero, `·`
below) and unstable zones are shaded `▒`, stable ones solid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rich.text import Text
from textual.reactive import reactive
from textual.strip import Strip

from hedgeflow.app.fmt import fmt_dollars, fmt_expiry, fmt_level, nice_ticks
from hedgeflow.app.presentation import headline
from hedgeflow.engine.enums import EngineModel, ExtremumKind
from hedgeflow.tui.chart_parts import impulse_window, sign_runs, zoom_label
from hedgeflow.tui.chart_theme import NEGATIVE_CURVE, ChartColors, app_chart_colors
from hedgeflow.tui.chartcanvas import Chart, framed, margin, rich_color
from hedgeflow.tui.painted import Painted
from hedgeflow.tui.views import ImpulseView

Points = tuple[tuple[float, ...], tuple[float, ...]]


@dataclass(frozen=True)
class ImpulsePlot:
    """What the chart shows of one view, worked out once per view: the curve in the
    window, the zones (x, y, stable), the marks, spot, and the words for the frame.
    `note`: the line shown instead of a chart (no analysis, no curve in range)."""

    title: str
    legend: str = ""
    note: str = ""
    x: np.ndarray = field(default_factory=lambda: np.empty(0))
    y: np.ndarray = field(default_factory=lambda: np.empty(0))
    window: tuple[float, float] = (0.0, 1.0)
    spot: float = float("nan")
    zones: tuple[tuple[np.ndarray, np.ndarray, bool], ...] = ()
    basins: Points = ((), ())
    peaks: Points = ((), ())
    zeros: tuple[float, ...] = ()
    flips: tuple[float, ...] = ()


def impulse_plot(view: ImpulseView | None) -> ImpulsePlot:
    """The chart's contents for `view` (see `ImpulsePlot`)."""
    a = view.analysis if view else None
    if view is None or a is None:
        return ImpulsePlot("Impulse H(S)", note=view.waiting if view else "waiting for data")
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
    inside = (x >= lo) & (x <= hi) & np.isfinite(x) & np.isfinite(y)
    if not inside.any():
        return ImpulsePlot(title, note="no curve in range")
    zones: list[tuple[np.ndarray, np.ndarray, bool]] = []
    basins: Points = ((), ())
    peaks: Points = ((), ())
    zeros: tuple[float, ...] = ()
    if not show_repriced:
        for zone in (*a.pressure_cloud.stability_zones, *a.pressure_cloud.acceleration_zones):
            zm = inside & (x >= zone.lower) & (x <= zone.upper)
            if zm.any():
                zones.append((x[zm], y[zm], zone.kind is ExtremumKind.BASIN))
        shown = [e for e in curve.extrema if lo <= e.price <= hi]
        b = [e for e in shown if e.kind is ExtremumKind.BASIN]
        p = [e for e in shown if e.kind is ExtremumKind.PEAK]
        basins = (tuple(e.price for e in b), tuple(e.impulse for e in b))
        peaks = (tuple(e.price for e in p), tuple(e.impulse for e in p))
        if a.repriced is not None:
            zeros = tuple(c.price for c in curve.zero_crossings if lo <= c.price <= hi)
    zero_gamma = ""
    if show_repriced and head.zero_gamma is not None:
        # The fixed-IV, gamma-only line over every expiry (what other tools call zero
        # gamma) is named, not drawn: summed over all expiries it dwarfs this profile.
        zero_gamma = f" · zero γ (all expiries) {fmt_level(head.zero_gamma)}"
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
    return ImpulsePlot(
        f"{title} · {a.symbol} {fmt_expiry(a.expiration, a.as_of)}",
        legend,
        x=x[inside],
        y=y[inside],
        window=(lo, hi),
        spot=a.spot,
        zones=tuple(zones),
        basins=basins,
        peaks=peaks,
        zeros=zeros,
        flips=tuple(f for f in head.flip_levels if lo <= f <= hi),
    )


class ImpulsePane(Painted):
    """The impulse curve (see the module docstring)."""

    view: reactive[ImpulseView | None] = reactive(None)
    """The symbol's analysis and the display options (zoom, repriced)."""

    def __init__(self, palette: object, **kw: object) -> None:
        super().__init__(palette, **kw)  # type: ignore[arg-type]
        self._plot: ImpulsePlot = impulse_plot(None)
        self._plot_of: ImpulseView | None = None

    @property
    def chart_colors(self) -> ChartColors:
        """The chart's colours for the theme on screen (and NO_COLOR)."""
        return app_chart_colors(self.app, self.palette)

    def _paint_key(self) -> tuple[object, ...]:
        return (self.view,)

    def _current_plot(self) -> ImpulsePlot:
        if self._plot_of is not self.view or self.view is None:
            self._plot, self._plot_of = impulse_plot(self.view), self.view
        return self._plot

    def watch_view(self) -> None:
        if not self.display:
            return  # drawn when shown
        plot = self._current_plot()
        self._set_frame(plot.title, self.view, plot.legend)
        self.refresh()

    def _build(self, width: int, height: int) -> list[Strip]:
        plot = self._current_plot()
        if width <= 0 or height <= 0:
            return []
        if plot.note:
            return [Strip.blank(width)] * (height // 2) + [
                self._text(Text(f"{plot.note:^{width}}"), width)
            ]
        colors = self.chart_colors
        lo, hi = plot.window
        ys = plot.y
        ymin, ymax = min(float(ys.min()), 0.0), max(float(ys.max()), 0.0)
        pad = 0.05 * (ymax - ymin or 1.0)
        rows = max(height - 2, 1)
        yt = nice_ticks(ymin, ymax, max(2, min(5, rows // 3)))
        yticks = [(t, fmt_dollars(t)) for t in yt]
        cols = max(width - margin(yticks), 1)
        chart = Chart(cols, rows, (lo, hi), (ymin - pad, ymax + pad))
        curve = rich_color(colors.curve)
        if colors.glyphs:  # no colour: the curve's sign by its glyph, run by run
            for rx, ry, positive in sign_runs(plot.x.tolist(), ys.tolist()):
                if positive:
                    chart.line(np.array(rx), np.array(ry), curve)
                else:
                    chart.points(rx, ry, NEGATIVE_CURVE, curve)
        else:
            chart.line(plot.x, ys, curve)
        stable, unstable = rich_color(colors.stable), rich_color(colors.unstable)
        for zx, zy, basin in plot.zones:
            # solid half blocks; without colour the unstable ones get a pattern of their own
            glyph = "" if basin or not colors.glyphs else colors.unstable_fill
            chart.fill(zx, zy, stable if basin else unstable, glyph=glyph)
        chart.hline(0.0, rich_color(colors.zero))
        chart.vline(plot.spot, rich_color(colors.spot))
        chart.points(*plot.basins, "▲", stable)
        chart.points(*plot.peaks, "▼", unstable)
        chart.points(plot.zeros, [0.0] * len(plot.zeros), "×", rich_color(colors.marks))
        chart.points(plot.flips, [0.0] * len(plot.flips), "◆", rich_color(colors.repriced))
        xt = nice_ticks(lo + 0.04 * (hi - lo), hi - 0.04 * (hi - lo), max(2, min(7, width // 12)))
        big = plot.spot >= 1000
        return framed(
            chart,
            yticks=yticks,
            xticks=[(t, f"{t:,.0f}" if big else f"{t:,.1f}") for t in xt],
            axis_style=rich_color(colors.ticks),
            label_style=rich_color(colors.ticks),
            width=width,
        )
