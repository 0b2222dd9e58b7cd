"""A chart drawn with numpy into terminal cells: the impulse curve's and the charm
integral's panes. plotext built each of those charts in 30-40 ms of pure Python on every
symbol switch (two thirds of a key press's time at 50 symbols); this takes about a
millisecond (`python -m bench.scale`, docs/SCALING.md).

One coordinate system for every layer: a value maps to a braille dot (2 x 4 dots a cell,
`linecanvas`), and a cell is the cell of that dot, so a marker, a fill edge and the line
through a point always meet in the same cell. Layers are drawn in call order and a later
layer takes the cells it draws (a braille line merges its dots into a braille cell it
shares). Around the plot: the y tick labels and axis on the left, the x axis, its ticks and
their labels under it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from hedgeflow.tui.chart_theme import PlotColor
from hedgeflow.tui.linecanvas import DOT_BITS, scale_dots, segment_dots

#: Cell characters for the two half-cells of a fill (top, bottom) filled.
_HALVES = np.array([" ", "▄", "▀", "█"])
_BRAILLE0 = 0x2800


def rich_color(c: PlotColor) -> str:
    """A chart colour as a Rich colour ("" for the terminal's default)."""
    if isinstance(c, tuple):
        return f"#{c[0]:02x}{c[1]:02x}{c[2]:02x}"
    if isinstance(c, int):
        return f"color({c})"
    # the ANSI themes' neutral tone: the terminal's own grey
    return {"default": "", "gray": "bright_black"}.get(c, c)


class Chart:
    """`width` x `height` cells showing x in `xlim` and y in `ylim` (see the module
    docstring). Styles are Rich style strings ("" for the pane's own)."""

    def __init__(
        self,
        width: int,
        height: int,
        xlim: tuple[float, float],
        ylim: tuple[float, float],
    ) -> None:
        self.width, self.height = max(width, 1), max(height, 1)
        self.xlim, self.ylim = xlim, ylim
        self.chars = np.full((self.height, self.width), " ", dtype="<U1")
        self.style = np.full((self.height, self.width), -1, dtype=np.int32)
        self._styles: list[str] = []

    # ------------------------------------------------------------------ coordinates

    def _sid(self, style: str) -> int:
        if style not in self._styles:
            self._styles.append(style)
        return self._styles.index(style)

    def dot_x(self, x: np.ndarray | float) -> np.ndarray:
        """x to the dot column (0 .. 2·width-1), not clipped."""
        return scale_dots(np.asarray(x, dtype=np.float64), *self.xlim, 2 * self.width, flip=False)

    def dot_y(self, y: np.ndarray | float) -> np.ndarray:
        """y to the dot row (0 at the top .. 4·height-1), not clipped."""
        return scale_dots(np.asarray(y, dtype=np.float64), *self.ylim, 4 * self.height, flip=True)

    def cell(self, x: float, y: float) -> tuple[int, int] | None:
        """(row, column) of the cell showing (x, y); None outside the plot."""
        if not (np.isfinite(x) and np.isfinite(y)):
            return None
        r, c = int(self.dot_y(y)) // 4, int(self.dot_x(x)) // 2
        return (r, c) if 0 <= r < self.height and 0 <= c < self.width else None

    def _put(self, rows: np.ndarray, cols: np.ndarray, chars: np.ndarray | str, sid: int) -> None:
        self.chars[rows, cols] = chars
        self.style[rows, cols] = sid

    # ------------------------------------------------------------------ layers

    def fill(
        self, x: np.ndarray, y: np.ndarray, style: str, *, glyph: str = "", base: float = 0.0
    ) -> None:
        """The area between the curve (x, y) (linear between points) and `base`, in every
        cell column whose centre lies within the curve's x range: half blocks (two steps a
        cell), or `glyph` in every cell the area touches."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        if x.size == 0:
            return
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
        lo, hi = self.xlim
        centres = lo + (np.arange(self.width) + 0.5) / self.width * (hi - lo)
        cols = np.flatnonzero((centres >= x[0]) & (centres <= x[-1]))
        at = centres[cols]
        if cols.size == 0:  # narrower than a cell: the cell of its middle
            mid = 0.5 * (x[0] + x[-1])
            c = int(self.dot_x(mid)) // 2
            if not 0 <= c < self.width:
                return
            cols, at = np.array([c]), np.array([mid])
        v = np.interp(at, x, y)
        # half-cell rows (2 a cell) of the value and of the base, by the dots' mapping
        sv, s0 = self.dot_y(v) // 2, int(self.dot_y(base)) // 2
        top = np.minimum(sv, s0)
        bottom = np.maximum(sv, s0)
        halves = np.arange(2 * self.height)[:, None]
        inside = (halves >= top[None, :]) & (halves <= bottom[None, :])
        upper, lower = inside[0::2], inside[1::2]
        code = upper.astype(np.int64) * 2 + lower.astype(np.int64)
        r, k = np.nonzero(code)
        if r.size == 0:
            return
        chars = np.full(r.size, glyph, dtype="<U1") if glyph else _HALVES[code[r, k]]
        self._put(r, cols[k], chars, self._sid(style))

    def hline(self, y: float, style: str, char: str = "─") -> None:
        """A horizontal rule at y in the cells nothing else holds yet."""
        if not np.isfinite(y):
            return
        r = int(self.dot_y(y)) // 4
        if 0 <= r < self.height:
            free = np.flatnonzero(self.chars[r] == " ")
            self._put(np.full(free.size, r), free, char, self._sid(style))

    def vline(self, x: float, style: str, char: str = "│") -> None:
        """A vertical rule at x in the cells nothing else holds yet."""
        if not np.isfinite(x):
            return
        c = int(self.dot_x(x)) // 2
        if 0 <= c < self.width:
            free = np.flatnonzero(self.chars[:, c] == " ")
            self._put(free, np.full(free.size, c), char, self._sid(style))

    def line(self, x: np.ndarray, y: np.ndarray, style: str) -> None:
        """The curve through (x, y) in braille dots, straight between consecutive points,
        broken at a non-finite point. Its dots join those of a braille cell already drawn;
        any other cell it crosses becomes braille."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        codes = np.zeros((self.height, self.width), dtype=np.int32)
        breaks = np.flatnonzero(np.diff(ok.astype(np.int8)) != 0) + 1
        for run in np.split(np.arange(x.size), breaks):
            if run.size == 0 or not ok[run[0]]:
                continue
            dx, dy = segment_dots(self.dot_x(x[run]), self.dot_y(y[run]))
            keep = (dx >= 0) & (dx < 2 * self.width) & (dy >= 0) & (dy < 4 * self.height)
            dx, dy = dx[keep], dy[keep]
            np.bitwise_or.at(codes, (dy // 4, dx // 2), DOT_BITS[dy % 4, dx % 2])
        r, c = np.nonzero(codes)
        if r.size == 0:
            return
        old = np.array([ord(ch) for ch in self.chars[r, c].tolist()], dtype=np.int64)
        braille = (old >= _BRAILLE0) & (old <= _BRAILLE0 + 0xFF)
        merged = np.where(braille, old - _BRAILLE0, 0) | codes[r, c]
        chars = np.array([chr(_BRAILLE0 + int(v)) for v in merged.tolist()], dtype="<U1")
        self._put(r, c, chars, self._sid(style))

    def points(self, x: Sequence[float], y: Sequence[float], glyph: str, style: str) -> None:
        """`glyph` in the cell of each (x, y) inside the plot."""
        sid = self._sid(style)
        for xi, yi in zip(x, y, strict=True):
            at = self.cell(float(xi), float(yi))
            if at is not None:
                self.chars[at] = glyph
                self.style[at] = sid

    # ------------------------------------------------------------------ output

    def rows(self) -> list[list[tuple[str, str]]]:
        """Each row as runs of (text, style)."""
        out = []
        styles = self._styles
        for r in range(self.height):
            sid = self.style[r]
            text = "".join(self.chars[r].tolist())
            cuts = np.flatnonzero(np.diff(sid) != 0) + 1
            bounds = [0, *cuts.tolist(), self.width]
            runs = []
            for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                s = int(sid[a])
                runs.append((text[a:b], styles[s] if s >= 0 else ""))
            out.append(runs)
        return out


def framed(
    chart: Chart,
    *,
    yticks: Sequence[tuple[float, str]],
    xticks: Sequence[tuple[float, str]],
    axis_style: str,
    label_style: str,
    width: int,
) -> list[Strip]:
    """The chart's rows with the y labels and axis on the left and the x axis and its
    labels below: `chart.height + 2` strips of `width` cells (the chart's width plus the
    left margin, `margin(yticks)`)."""
    cache: dict[str, Style] = {}

    def st(s: str) -> Style:
        if s not in cache:
            cache[s] = Style.parse(s) if s else Style()
        return cache[s]

    lw = margin(yticks) - 1
    labels = [""] * chart.height
    for v, label in yticks:
        r = int(chart.dot_y(v)) // 4
        if 0 <= r < chart.height:
            labels[r] = label
    strips = []
    for r, runs in enumerate(chart.rows()):
        segs = [
            Segment(f"{labels[r]:>{lw}}", st(label_style)),
            Segment("┤" if labels[r] else "│", st(axis_style)),
        ]
        segs += [Segment(text, st(s)) for text, s in runs]
        strips.append(Strip(segs).crop_extend(0, width, None))
    axis = ["─"] * chart.width
    under = [" "] * chart.width
    for v, label in xticks:
        c = int(chart.dot_x(v)) // 2
        if not 0 <= c < chart.width:
            continue
        axis[c] = "┬"
        start = min(max(c - len(label) // 2, 0), chart.width - len(label))
        if start >= 0 and all(
            ch == " " for ch in under[max(start - 1, 0) : start + len(label) + 1]
        ):
            under[start : start + len(label)] = list(label)
    # Blanks apart from the drawn text: a screenshot's SVG places each segment at its own
    # cell, where one long run with blanks is stretched unevenly by some SVG renderers.
    for text, style in (
        (" " * lw + "└" + "".join(axis), axis_style),
        (" " * (lw + 1) + "".join(under), label_style),
    ):
        segs = [
            Segment(run, Style() if run.isspace() else st(style))
            for run in re.findall(r" +|[^ ]+", text)
        ]
        strips.append(Strip(segs).crop_extend(0, width, None))
    return strips


def margin(yticks: Sequence[tuple[float, str]]) -> int:
    """Cells left of the plot: the longest y label and the axis."""
    return max((len(label) for _, label in yticks), default=0) + 1
