"""The strike x time heatmap pane (key `m`; `k` cycles the lens: impulse, charm, GEX).
Thin: the grid, its colour scale and strength steps come from `app.heatmap`; this widget
paints them.

Price runs up the pane, session time to the right. With colour each terminal cell holds two
price rows as a half block (`▀`: the upper row in the foreground colour, the lower in the
background), so a 120x40 terminal shows ~70 price rows; the colour is the sign's (the
palette's stable colour for dampening, unstable for amplifying; blue and orange for charm)
blended into the canvas by the cell's strength step: readable as 256 colours over SSH and on
a light theme. Without colour (NO_COLOR) one price row a cell, shading glyphs: ░▒▓█ for a
positive value, ·∙•● for a negative one. Spot is drawn across in the spot colour (━ without
colour). The pane's last rows are the time axis (New York time) and the legend: the unit,
the scale's range (the robust max, `app.heatmap.SCALE_PERCENTILE`) and the step glyphs.

The painted lines are kept per (history version, scope, lens, size, theme, colour): a
repaint without new data draws the kept lines.
"""

from __future__ import annotations

import numpy as np
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from hedgeflow.app.fmt import fmt_dollars
from hedgeflow.app.heatmap import (
    NO_DATA,
    SCALE_PERCENTILE,
    HeatGrid,
    Lens,
    build_grid,
    lens_unit,
    quantize,
)
from hedgeflow.engine.enums import EngineModel
from hedgeflow.tui.chart_theme import PlotColor, app_chart_colors
from hedgeflow.tui.painted import PaintedPane, clock_label, time_axis
from hedgeflow.tui.views import Palette

#: Strength steps of the colour scale (and of the glyphs without colour).
STEPS = 4
POS_GLYPHS = "░▒▓█"
NEG_GLYPHS = "·∙•●"
SPOT_GLYPH = "━"
#: Price labels' width on the left.
LABEL_W = 7
#: Charm's sign colours (as the by-strike pane's non-GEX bars).
CHARM_POS, CHARM_NEG = (0x5F, 0xAF, 0xFF), (0xFF, 0x87, 0x00)

RGB = tuple[int, int, int]
#: Every segment carries a style (Textual's colour filters read it).
PLAIN = Style()


def _blend(a: RGB, b: RGB, w: float) -> RGB:
    return (
        round(a[0] * w + b[0] * (1 - w)),
        round(a[1] * w + b[1] * (1 - w)),
        round(a[2] * w + b[2] * (1 - w)),
    )


def _rgb(c: PlotColor, fallback: RGB) -> RGB:
    return c if isinstance(c, tuple) else fallback


SIGN_WORDS = {
    Lens.IMPULSE: ("dampen", "amplify"),
    Lens.GEX: ("dampen", "amplify"),
    Lens.CHARM: ("dealers sell", "buy"),
}


class HeatmapPane(PaintedPane):
    """Price x session time, each cell the lens' value (module docstring)."""

    DEFAULT_CSS = "HeatmapPane { height: 1fr; }"

    def __init__(self, palette: Palette, **kw: object) -> None:
        super().__init__(palette, **kw)
        self.grid: HeatGrid | None = None  # the grid on screen (tests read it)

    def watch_view(self) -> None:
        if not self.display:
            return
        view = self.view
        lens = Lens(view.lens) if view else Lens.IMPULSE
        if view is None or view.history is None or view.analysis is None:
            self._set_frame(f"Heatmap · {lens.value}", view)
            self.refresh()
            return
        a = view.analysis
        density = a.model is EngineModel.PHYSICAL
        what = {
            Lens.IMPULSE: "H(S) heatmap",
            Lens.CHARM: "Charm by strike heatmap",
            Lens.GEX: "GEX by strike heatmap",
        }[lens]
        times = view.history.times(view.scope)
        since = f"since {clock_label(times[0])} ET" if times.size else "no rows of this scope"
        clock = f" ({view.clock})" if view.clock else ""
        # the data clock before the unit: a narrow pane cuts the end of a title
        title = f"{what} · {view.symbol} {since}{clock} · {lens_unit(lens, density=density)}"
        self._set_frame(title, view, f"k lens · {times.size} analyses")
        self.refresh()

    def _extra_key(self) -> tuple[object, ...]:
        return (self.view.lens if self.view else "",)

    # ------------------------------------------------------------------ painting

    def _build(self, width: int, height: int) -> list[Strip]:
        if width <= 0 or height <= 0:
            return []
        view = self.view
        samples = view.history.curves(view.scope) if view and view.history else ()
        if view is None or not samples:
            words = view.waiting if view and view.waiting else "no analysis yet"
            if view is not None and view.history is not None and len(view.history):
                words = "no curves of this scope yet"
            return [Strip.blank(width)] * (height // 2) + [self._text(Text(words), width)]
        glyphs = bool(self.app.no_color)
        grid_rows = max(height - 2, 1)
        cols = max(width - LABEL_W, 1)
        lens = Lens(view.lens)
        grid = build_grid(
            samples,
            lens,
            cols,
            grid_rows if glyphs else 2 * grid_rows,
            analyzed=view.history.times(view.scope) if view.history else None,
        )
        self.grid = grid
        q = quantize(grid.values, grid.scale, STEPS)
        lines = self._glyph_rows(grid, q, grid_rows) if glyphs else self._colour_rows(grid, q)
        lines.append(self._axis(grid, cols, width))
        lines.append(self._legend(grid, width, glyphs))
        return lines[:height]

    def _labels(self, grid: HeatGrid, n_lines: int, per_line: int) -> list[str]:
        """A price label every third line (its upper price row's centre), else blank."""
        out = []
        big = float(np.nanmax(grid.price)) >= 1000
        for line in range(n_lines):
            row = grid.shape[0] - 1 - line * per_line
            if line % 3 == 1 and row >= 0:
                p = float(grid.price[row])
                out.append(f"{p:>{LABEL_W - 1},.0f} " if big else f"{p:>{LABEL_W - 1},.1f} ")
            else:
                out.append(" " * LABEL_W)
        return out

    def _colours(self, lens: Lens) -> tuple[dict[int, RichColor], RichColor]:
        """The colour of each strength step (-STEPS..STEPS, and NO_DATA: a faint tone apart
        from the canvas's 0) and the spot colour."""
        colors = app_chart_colors(self.app, self.palette)
        dark = self.app.current_theme.dark
        canvas = _rgb(colors.canvas, (0, 0, 0) if dark else (255, 255, 255))
        ink = _rgb(colors.ticks, (255, 255, 255) if dark else (0, 0, 0))
        if lens is Lens.CHARM:
            pos, neg = CHARM_POS, CHARM_NEG
        else:
            pos = _rgb(colors.stable, (0, 175, 0))
            neg = _rgb(colors.unstable, (215, 0, 0))
        table: dict[int, RGB] = {0: canvas, NO_DATA: _blend(ink, canvas, 0.07)}
        for k in range(1, STEPS + 1):
            w = 0.25 + 0.75 * k / STEPS
            table[k] = _blend(pos, canvas, w)
            table[-k] = _blend(neg, canvas, w)
        rich = {k: RichColor.from_rgb(*v) for k, v in table.items()}
        return rich, RichColor.from_rgb(*_rgb(colors.spot, (255, 215, 0)))

    def _colour_rows(self, grid: HeatGrid, q: np.ndarray) -> list[Strip]:
        colours, spot = self._colours(grid.lens)
        n_rows, n_cols = grid.shape
        n_lines = n_rows // 2
        # Spot as its own code: it overrides the cell's half it falls in.
        spot_code = 127
        codes = q.astype(np.int16)
        on = grid.spot_row >= 0
        codes[grid.spot_row[on], np.flatnonzero(on)] = spot_code
        labels = self._labels(grid, n_lines, 2)
        cache: dict[tuple[int, int], Style] = {}

        def colour(code: int) -> RichColor:
            return spot if code == spot_code else colours[code]

        out = []
        for line in range(n_lines):
            upper = n_rows - 1 - 2 * line
            lower = upper - 1
            segs = [Segment(labels[line], PLAIN)]
            for c in range(n_cols):
                pair = (int(codes[upper, c]), int(codes[lower, c]))
                st = cache.get(pair)
                if st is None:
                    st = cache[pair] = Style(color=colour(pair[0]), bgcolor=colour(pair[1]))
                segs.append(Segment("▀", st))
            out.append(Strip(Segment.simplify(segs)))
        return out

    def _glyph_rows(self, grid: HeatGrid, q: np.ndarray, n_lines: int) -> list[Strip]:
        n_rows, n_cols = grid.shape
        labels = self._labels(grid, n_lines, 1)
        out = []
        for line in range(min(n_lines, n_rows)):
            r = n_rows - 1 - line
            chars = []
            for c in range(n_cols):
                k = int(q[r, c])
                if grid.spot_row[c] == r:
                    chars.append(SPOT_GLYPH)
                elif k == NO_DATA or k == 0:
                    chars.append(" ")
                elif k > 0:
                    chars.append(POS_GLYPHS[k - 1])
                else:
                    chars.append(NEG_GLYPHS[-k - 1])
            out.append(Strip([Segment(labels[line] + "".join(chars), PLAIN)]))
        return out

    def _axis(self, grid: HeatGrid, cols: int, width: int) -> Strip:
        """New York times under their columns, a label every ~12 columns."""
        edges = grid.time_edges
        axis = ""
        if edges.size > 1 and edges[-1] > edges[0]:
            # under each column the middle of its time bin; the newest analysis' time
            # right-aligned
            axis = time_axis(
                cols,
                max(12, cols // 8),
                lambda c: 0.5 * float(edges[c] + edges[c + 1]),
                float(edges[-1]),
            )
        tag = self.view.axis_tag if self.view is not None else "ET"
        text = f"{tag:>{LABEL_W - 1}} " + axis
        return self._text(Text(text[:width], style="dim"), width)

    def _legend(self, grid: HeatGrid, width: int, glyphs: bool) -> Strip:
        neg_words, pos_words = SIGN_WORDS[grid.lens][1], SIGN_WORDS[grid.lens][0]
        scale = fmt_dollars(grid.scale)
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f"−{scale} ")
        if glyphs:
            t.append(NEG_GLYPHS[::-1] + " " + POS_GLYPHS)
        else:
            colours, spot = self._colours(grid.lens)
            for k in range(-STEPS, STEPS + 1):
                t.append(" " if k else "0", style=Style(bgcolor=colours[k]))
        t.append(f" +{scale}")
        t.append(f" p{SCALE_PERCENTILE:g}|cell| · +{pos_words} −{neg_words} · ")
        t.append(SPOT_GLYPH, style="" if glyphs else Style(color=spot, bold=True))
        t.append(" spot")
        return self._text(t, width)
