"""The charm pane: the charm integral to its horizon, the running total of the dealers'
delta change filled to zero with a point at each bucket end (each step between points is
that bucket's change), on a New York clock axis.

Thin: the buckets are the analysis' own; this widget lays them out on a numpy `Chart`,
painted once per view and size (`Painted`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
from rich.text import Text
from textual.reactive import reactive
from textual.strip import Strip

from hedgeflow.app.fmt import NY, fmt_clock_from, fmt_dollars, nice_ticks
from hedgeflow.engine import labels
from hedgeflow.tui.chart_theme import ChartColors, app_chart_colors
from hedgeflow.tui.chartcanvas import Chart, framed, margin, rich_color
from hedgeflow.tui.painted import Painted
from hedgeflow.tui.views import PaneView


class CharmPane(Painted):
    """The charm integral (see the module docstring)."""

    view: reactive[PaneView | None] = reactive(None)
    """The symbol's analysis (its charm integral is drawn)."""

    @property
    def chart_colors(self) -> ChartColors:
        return app_chart_colors(self.app, self.palette)

    def _paint_key(self) -> tuple[object, ...]:
        return (self.view,)

    def _series(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(bucket end times as epoch seconds, cumulative dealer Δ $) in time order, or
        None without an analysis or finite buckets."""
        a = self.view.analysis if self.view else None
        if a is None:
            return None
        charm = a.hedge_flow.charm_integral
        # Bucket ends as times of the New York day, so the axis reads as clock time.
        t = charm.horizon.timestamp() - np.asarray(charm.bucket_minutes_remaining, float) * 60.0
        cum = np.asarray(charm.cumulative_cex, dtype=float)
        ok = np.isfinite(t) & np.isfinite(cum)
        if not ok.any():
            return None
        order = np.argsort(t[ok])
        return t[ok][order], cum[ok][order]

    def watch_view(self) -> None:
        if not self.display:
            return
        view = self.view
        a = view.analysis if view else None
        if view is None or a is None:
            self._set_frame("Charm to the close", view)
            self.refresh()
            return
        charm = a.hedge_flow.charm_integral
        total = charm.total_charm_to_close
        title = (
            f"Charm to {fmt_clock_from(charm.horizon, a.as_of)}: "
            f"{fmt_dollars(total, signed=True)} dealer Δ"
        )
        series = self._series()
        settle = (
            f"settlement step {fmt_dollars(charm.settlement_step, signed=True)} · "
            if charm.settlement_step and math.isfinite(charm.settlement_step)
            else ""
        )
        sub = f"{settle}{len(series[0])} buckets, cumulative" if series is not None else ""
        self._set_frame(title, view, sub)
        self.refresh()

    def _build(self, width: int, height: int) -> list[Strip]:
        if width <= 0 or height <= 0:
            return []
        view = self.view
        a = view.analysis if view else None
        series = self._series()
        if view is None or a is None or series is None:
            note = (
                (view.waiting if view else "waiting for data") if a is None else "no charm buckets"
            )
            return [Strip.blank(width)] * (height // 2) + [
                self._text(Text(f"{note:^{width}}"), width)
            ]
        tx, cy = series
        total = a.hedge_flow.charm_integral.total_charm_to_close
        colors = self.chart_colors
        xi = np.arange(1, len(tx) + 1, dtype=float)
        ymin, ymax = float(min(cy.min(), 0.0)), float(max(cy.max(), 0.0))
        pad = 0.05 * (ymax - ymin or 1.0)
        rows = max(height - 3, 1)  # the trade in words above, the time axis under
        yticks = [(v, fmt_dollars(v)) for v in nice_ticks(ymin, ymax, max(2, min(4, rows // 3)))]
        cols = max(width - margin(yticks), 1)
        chart = Chart(cols, rows, (0.5, len(xi) + 0.5), (ymin - pad, ymax + pad))
        chart.fill(xi, cy, rich_color(colors.repriced))
        chart.hline(0.0, rich_color(colors.zero))
        chart.points(xi.tolist(), cy.tolist(), "•", rich_color(colors.spot))
        # A horizon past the close (after hours, a weekend) spans days: clock times alone
        # read "16:44 16:56 16:24 16:00", so each label then names its day.
        times = [datetime.fromtimestamp(float(t), UTC).astimezone(NY) for t in (tx[0], tx[-1])]
        days = times[0].date() != times[1].date()
        n = max(2, min(6, width // (13 if days else 9)))
        idx = np.unique(np.linspace(0, len(tx) - 1, n).round().astype(int))
        xticks = [
            (
                float(xi[i]),
                datetime.fromtimestamp(float(tx[i]), UTC)
                .astimezone(NY)
                .strftime("%a %H:%M" if days else "%H:%M"),
            )
            for i in idx
        ]
        head = self._text(Text(f"{labels.charm_trade(total):^{width}}"), width)
        return [head] + framed(
            chart,
            yticks=yticks,
            xticks=xticks,
            axis_style=rich_color(colors.ticks),
            label_style=rich_color(colors.ticks),
            width=width,
        )
