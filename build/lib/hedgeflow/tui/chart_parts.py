"""Pure pieces of the plot panes: the impulse chart's visible window and its zoom in
words, and the curve cut by sign (drawn with a glyph per sign without colour)."""

from __future__ import annotations

import numpy as np


def zoom_label(zoom: float, half_percent: float) -> str:
    """The zoom as it reads on screen: the visible half-range in % of spot, and the
    magnification (`zoom` < 1 shows less than the configured range: zoomed in)."""
    shown = f"±{half_percent:.3g} %"
    if zoom < 1.0:
        return f"{shown} zoom {1.0 / zoom:g}×"
    if zoom > 1.0:
        return f"{shown} zoom out {zoom:g}×"
    return shown


def impulse_window(
    spot: float, range_percent: float, zoom: float, x: np.ndarray
) -> tuple[float, float]:
    """(low, high) price shown: spot ± range_percent·zoom %, clamped to the computed grid
    `x` (zooming out shows no more than was computed, also while the wider grid is being
    computed)."""
    half = spot * range_percent * zoom / 100.0
    lo, hi = spot - half, spot + half
    finite = x[np.isfinite(x)]
    if finite.size:
        lo, hi = max(lo, float(finite.min())), min(hi, float(finite.max()))
    return lo, hi


def sign_runs(xs: list[float], ys: list[float]) -> list[tuple[list[float], list[float], bool]]:
    """The curve cut where its sign changes: (x, y, positive) runs, each sharing its first
    point with the previous run's last so the drawn line stays joined."""
    runs: list[tuple[list[float], list[float], bool]] = []
    for x, y in zip(xs, ys, strict=True):
        positive = y >= 0.0
        if runs and runs[-1][2] == positive:
            runs[-1][0].append(x)
            runs[-1][1].append(y)
        else:
            start_x, start_y = ([runs[-1][0][-1]], [runs[-1][1][-1]]) if runs else ([], [])
            runs.append(([*start_x, x], [*start_y, y], positive))
    return runs
