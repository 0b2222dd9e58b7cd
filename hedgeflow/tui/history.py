"""The history pane (key `h`): the levels against spot over the session, the count of flip
levels and the charm to the horizon, of the scope on screen. Thin: the numbers come from
`app.history_view.history_series`; this widget lays them out.

The pane is drawn once per (history version, scope, size, theme, colour) and kept as
strips, so a repaint without new data draws the kept lines. The lines are braille
(`linecanvas`), or each level's letter without colour. Under the chart's time axis, two rows
share its columns: the flip-level count as digits (more than one: a fragmented regime) and
the charm to the horizon as bars, their height |charm| and their colour (or, without colour,
their glyph) its sign.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.strip import Strip

from hedgeflow.app.fmt import fmt_dollars, nice_ticks
from hedgeflow.app.history_view import HistorySeries, history_series, y_range
from hedgeflow.tui.chart_theme import ChartColors, PlotColor, app_chart_colors
from hedgeflow.tui.chartcanvas import rich_color
from hedgeflow.tui.linecanvas import braille_lines, glyph_lines
from hedgeflow.tui.painted import PaintedPane, clock_label, time_axis
from hedgeflow.tui.titled import STALE

#: Width of the labels in front of the two rows under the chart.
ROW_LABEL_W = 7
#: The charm bars: height by |charm| / the session's max |charm|.
BARS = "▁▂▃▄▅▆▇█"
#: Without colour a negative charm's bars are drawn with these (the sign by the glyph).
NEG_BARS = "·∙•●"
#: Charm's sign colours (as the by-strike pane's non-GEX bars).
POS_COLOR, NEG_COLOR = "#5fafff", "#ff8700"
#: Without colour, each level line's marker (its label's initial).
MARKS = {
    "call wall": "C",
    "put wall": "P",
    "zero γ": "z",
    "attract ↑": "a",
    "attract ↓": "a",
    "flip": "f",
    "spot": "█",
}


def _line_color(colors: ChartColors, label: str) -> PlotColor:
    return {
        "spot": colors.spot,
        "flip": colors.repriced,
        "zero γ": colors.marks,
        "call wall": colors.stable,
        "put wall": colors.unstable,
    }.get(label, colors.curve)


class HistoryPane(PaintedPane):
    """Levels vs spot over the session, flip count and charm rows (module docstring)."""

    @property
    def chart_colors(self) -> ChartColors:
        return app_chart_colors(self.app, self.palette)

    def watch_view(self) -> None:
        if not self.display:
            return  # drawn when shown
        view = self.view
        h = view.history if view is not None else None
        rows = len(h) if h is not None else 0
        if view is None or h is None or view.analysis is None or rows == 0:
            self._set_frame("Levels over the session", view)
            self.refresh()
            return
        times = h.times(view.scope)
        since = f"since {clock_label(times[0])} ET" if times.size else "no rows of this scope"
        clock = f" ({view.clock})" if view.clock else ""
        title = f"Levels vs spot · {view.symbol} · {since}{clock}"
        now = ""
        last = h.last(view.scope)
        if last is not None:
            now = (
                f"now {last.flip_count} flip{'s' if last.flip_count != 1 else ''}, "
                f"charm {fmt_dollars(last.charm_total, signed=True)} · "
            )
        legend = self._legend()
        # the legend names the lines and must be whole; the flips and charm now (also in
        # the rows under the chart) lead it only where both fit on the frame
        room = self.size.width - 4 - (len(STALE) + 5 if view.stale else 0)
        if Text.from_markup(now + legend).cell_len > room:
            now = ""
        self._set_frame(title, view, now + legend)
        self.refresh()

    def on_resize(self) -> None:
        self.watch_view()  # what of the frame's words fit depends on the width

    def _legend(self) -> str:
        if self.chart_colors.glyphs:
            return "█ spot f flip z zero γ C call wall P put wall a attractors"
        c = self.chart_colors
        parts = [
            (c.spot, "spot"),
            (c.repriced, "flip"),
            (c.marks, "zero γ"),
            (c.stable, "call wall"),
            (c.unstable, "put wall"),
            (c.curve, "attract"),
        ]
        return " ".join(f"[{rich_color(col)}]━[/]{name}" for col, name in parts)

    def _build(self, width: int, height: int) -> list[Strip]:
        if width <= 0 or height <= 0:
            return []
        view = self.view
        if view is None or view.history is None or not len(view.history):
            words = view.waiting if view and view.waiting else "no analysis yet"
            return [Strip.blank(width)] * (height // 2) + [self._text(Text(words), width)]
        bins = max(width - ROW_LABEL_W - 1, 8)
        series = history_series(view.history, view.scope, bins)
        under = 2 if height >= 6 else 0
        strips = self._chart(series, width, height - under)
        if under:
            strips += self._rows(series, width)
        return strips[:height] + [Strip.blank(width)] * (height - len(strips))

    def _chart(self, s: HistorySeries, width: int, height: int) -> list[Strip]:
        """The level lines over the plot's columns (those of the rows under it), price
        labels on the left, New York times on the last line."""
        n = max(width - ROW_LABEL_W - 1, 1)
        rows = max(height - 1, 1)
        colors = self.chart_colors
        t = s.time
        lo, hi = y_range(s)
        if not (t.size and np.isfinite(lo)):
            return [self._text(Text("no rows of this scope yet"), width)]
        pad = 0.05 * (hi - lo)
        ylim = (lo - pad, hi + pad)
        t0, t1 = float(t[0]), float(t[-1])
        if t1 <= t0:
            t0, t1 = t0 - 60.0, t1
        shown = [(label, np.where((v >= lo) & (v <= hi), v, np.nan)) for label, v in s.levels]
        # tick labels on the left at round prices, in the line they fall in
        labels = [" " * ROW_LABEL_W] * rows
        for v in nice_ticks(lo, hi, max(2, min(5, rows // 3))):
            r = int(round((ylim[1] - v) / (ylim[1] - ylim[0]) * (rows - 1)))
            if 0 <= r < rows:
                tick = f"{v:,.0f}" if hi >= 1000 else f"{v:,.1f}"
                labels[r] = f"{tick:>{ROW_LABEL_W}}"
        out: list[Text] = []
        if colors.glyphs:
            lines = glyph_lines(
                [(t, v, MARKS[label]) for label, v in shown], n, rows, (t0, t1), ylim
            )
            out = [Text(f"{labels[i]} {line}", no_wrap=True) for i, line in enumerate(lines)]
        else:
            lines, owner = braille_lines([(t, v) for _, v in shown], n, rows, (t0, t1), ylim)
            styles = [rich_color(_line_color(colors, label)) for label, _ in shown]
            for i, line in enumerate(lines):
                text = Text(f"{labels[i]} ", no_wrap=True)
                row = owner[i]
                start = 0
                # one span per run of cells drawn by the same series
                for j in range(1, n + 1):
                    if j == n or row[j] != row[start]:
                        k = int(row[start])
                        text.append(line[start:j], style=styles[k] if k >= 0 else "")
                        start = j
                out.append(text)
        axis = time_axis(n, max(12, n // 6), lambda c: t0 + (t1 - t0) * c / max(n - 1, 1), t1)
        tag = self.view.axis_tag if self.view is not None else "ET"
        out.append(Text(f"{tag:>{ROW_LABEL_W}} " + axis, style="dim", no_wrap=True))
        return [self._text(line, width) for line in out]

    def _rows(self, s: HistorySeries, width: int) -> list[Strip]:
        """The flip-count digits and the charm bars, one column per time bin."""
        n = max(width - ROW_LABEL_W - 1, 1)
        colors = self.chart_colors
        glyphs = colors.glyphs
        flips = Text(f"{'flips':<{ROW_LABEL_W}} ", no_wrap=True)
        charm = Text(f"{'charm':<{ROW_LABEL_W}} ", no_wrap=True)
        cols = _columns(s.time, n)
        digits = [" "] * n
        bars: list[tuple[str, str]] = [(" ", "")] * n
        top = float(np.nanmax(np.abs(s.charm))) if s.charm.size else 0.0
        for i, c in enumerate(cols):
            k = int(s.flip_count[i])
            digits[c] = str(k) if k < 10 else "+"
            v = float(s.charm[i])
            if not np.isfinite(v) or top <= 0:
                continue
            level = min(int(abs(v) / top * len(BARS)), len(BARS) - 1)
            if v >= 0:
                bars[c] = (BARS[level], "" if glyphs else POS_COLOR)
            else:
                neg = NEG_BARS[min(level * len(NEG_BARS) // len(BARS), len(NEG_BARS) - 1)]
                bars[c] = (neg if glyphs else BARS[level], "" if glyphs else NEG_COLOR)
        warn = "" if glyphs else rich_color(colors.unstable)
        for d in digits:
            fragmented = d not in (" ", "0", "1")
            flips.append(d, style=f"bold {warn}" if fragmented else "")
        for glyph, color in bars:
            charm.append(glyph, style=color)
        return [self._text(line, width) for line in (flips, charm)]


def _columns(times: np.ndarray, n: int) -> list[int]:
    """Each time's column in `n` columns spanning [times[0], times[-1]]."""
    if times.size == 0:
        return []
    t0, t1 = float(times[0]), float(times[-1])
    if t1 <= t0:
        return [n - 1] * int(times.size)
    c = np.floor((times - t0) / (t1 - t0) * (n - 1) + 0.5).astype(int)
    return [int(v) for v in np.clip(c, 0, n - 1)]
