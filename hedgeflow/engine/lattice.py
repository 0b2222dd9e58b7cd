"""The piece of a piecewise function at many points of a translated grid, on a lattice.

`lattice_pieces(br, x, xk, shift)` is np.searchsorted(br, x, side="right") for the
(shifts x points) grid x = xk - shift[:, None] (the repriced profile's translated log
strikes, `regime.SmileInterpolant.at_translated`), found without a search per point: a
uniform lattice over x's range, a table of the piece at each lattice point and one exact
comparison with the breakpoint inside the point's cell.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray


def lattice_pieces(
    br: NDArray[np.float64], x: np.ndarray, xk: NDArray[np.float64], shift: NDArray[np.float64]
) -> NDArray[np.intp] | None:
    """searchsorted(breakpoints, x, side="right") for x = xk - shift[:, None], through a
    uniform lattice over x's range whose step is at most half the smallest breakpoint
    gap, so a lattice cell holds at most one breakpoint: the piece of x is the piece at
    its cell's left end, plus one when x is at or above the breakpoint inside the cell
    (an exact comparison). The cell comes from x's lattice position, computed with a
    rounding error far below 1e-6 cells; the lattice is placed with every breakpoint at
    least 1e-6 cells from a lattice point, so a position that rounds into a neighbouring
    cell still gets the same piece. None when no such lattice is small enough (the
    caller searches)."""
    lo_x = float(xk[0]) - float(shift.max())
    hi_x = float(xk[-1]) - float(shift.min())
    if not (math.isfinite(lo_x) and math.isfinite(hi_x)):
        return None
    gaps = br[1:] - br[:-1]
    h = 0.5 * float(gaps.min()) if gaps.size else hi_x - lo_x + 1.0
    if not h > 0 or (hi_x - lo_x) / h > max(x.size // 4, 64):
        return None
    inside = br[(br > lo_x - 2.0 * h) & (br < hi_x + 2.0 * h)]
    for offset in (1.0, 1.37, 1.71):
        lo = lo_x - offset * h
        at = (inside - lo) / h
        if inside.size and not bool((np.abs(at - np.rint(at)) > 1e-6).all()):
            continue  # a breakpoint (nearly) on a lattice point: move the lattice
        m = int(math.ceil((hi_x - lo) / h)) + 2
        pts = lo + h * np.arange(m + 1, dtype=np.float64)
        left = np.searchsorted(br, pts, side="right")
        if bool((left[1:] - left[:-1] > 1).any()):
            return None  # two breakpoints in a cell (rounding of h): search instead
        nxt = np.append(br, np.inf).take(left[:-1])  # first breakpoint above the left end
        cell_break = np.where(nxt < pts[1:], nxt, np.inf)
        inv_h = 1.0 / h
        cell = ((xk - lo) * inv_h - (shift * inv_h)[:, None]).astype(np.intp)
        j: NDArray[np.intp] = left.take(cell, mode="clip")
        j += x >= cell_break.take(cell, mode="clip")
        return j
    return None
