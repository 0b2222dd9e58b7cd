"""Lines on a braille canvas, with numpy: the history pane's chart (plotext took ~25 ms a
build for seven lines; this takes well under 1 ms).

Each terminal cell holds 2 x 4 dots. A series is drawn as straight segments between its
consecutive finite points (a NaN breaks the line); a cell takes the colour of the last
series that set a dot in it, so the series drawn last (spot) stays on top. Without colour,
`glyph_lines` puts each series' own character at its points instead (one a column).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Dot bits of a braille cell by (row 0-3, column 0-1).
DOT_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.int32)


def scale_dots(v: np.ndarray, lo: float, hi: float, n: int, *, flip: bool) -> np.ndarray:
    """Values to dot positions 0 .. n-1 over [lo, hi] (`flip`: hi at 0, for rows counted
    from the top), not clipped."""
    if hi > lo:
        f = (hi - v) / (hi - lo) if flip else (v - lo) / (hi - lo)
    else:
        f = np.full(v.shape, 0.5)
    out: np.ndarray = np.rint(f * (n - 1)).astype(np.int64)
    return out


def segment_dots(px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every dot on the straight segments between consecutive points (vectorised: each
    segment of n dots as n fractions of its run)."""
    if px.size == 1:
        return px, py
    ddx, ddy = np.diff(px), np.diff(py)
    n = np.maximum(np.abs(ddx), np.abs(ddy)) + 1
    seg = np.repeat(np.arange(n.size), n)
    first = np.repeat(np.cumsum(n) - n, n)
    frac = (np.arange(int(n.sum())) - first) / np.maximum(n[seg] - 1, 1)
    x = np.rint(px[seg] + frac * ddx[seg]).astype(np.int64)
    y = np.rint(py[seg] + frac * ddy[seg]).astype(np.int64)
    return x, y


def braille_lines(
    series: Sequence[tuple[np.ndarray, np.ndarray]],
    width: int,
    height: int,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
) -> tuple[list[str], np.ndarray]:
    """(lines of `width` characters, owner) for `series` of (x, y) drawn in order; owner is
    (height, width), the index of the series whose dot a cell shows last (-1: none)."""
    codes = np.zeros((height, width), dtype=np.int32)
    owner = np.full((height, width), -1, dtype=np.int64)
    if width <= 0 or height <= 0:
        return [], owner
    for k, (x, y) in enumerate(series):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        # runs of finite points: a NaN (no such level then) breaks the line
        breaks = np.flatnonzero(np.diff(ok.astype(np.int8)) != 0) + 1
        for run in np.split(np.arange(x.size), breaks):
            if run.size == 0 or not ok[run[0]]:
                continue
            px = scale_dots(x[run], *xlim, 2 * width, flip=False)
            py = scale_dots(y[run], *ylim, 4 * height, flip=True)
            dx, dy = segment_dots(px, py)
            keep = (dx >= 0) & (dx < 2 * width) & (dy >= 0) & (dy < 4 * height)
            dx, dy = dx[keep], dy[keep]
            cy, cx = dy // 4, dx // 2
            np.bitwise_or.at(codes, (cy, cx), DOT_BITS[dy % 4, dx % 2])
            owner[cy, cx] = k
    lines = ["".join(chr(0x2800 + int(c)) if c else " " for c in row) for row in codes.tolist()]
    return lines, owner


def glyph_lines(
    series: Sequence[tuple[np.ndarray, np.ndarray, str]],
    width: int,
    height: int,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
) -> list[str]:
    """Without colour: each series' character at its points, drawn in order (the last on
    top), one point a cell."""
    grid = [[" "] * width for _ in range(height)]
    for x, y, ch in series:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        cx = scale_dots(x[ok], *xlim, width, flip=False)
        cy = scale_dots(y[ok], *ylim, height, flip=True)
        for r, c in zip(cy.tolist(), cx.tolist(), strict=True):
            if 0 <= r < height and 0 <= c < width:
                grid[r][c] = ch
    return ["".join(row) for row in grid]
