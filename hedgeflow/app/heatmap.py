"""The strike x time heatmap's grid: price rows by session-time columns, built from the
symbol's `CurveSample`s (`app.history`; README "How to read the heatmap"). Pure numpy, no
terminal here.

Rules (what a cell means):

- Columns: [first sample, last sample] cut into `n_time` equal time bins; a column shows
  the LATEST sample inside its bin (what was on screen at the end of that stretch). A
  column without an analysis of its own (bins narrower than the poll interval, a sparse
  recording) repeats the latest one before it, when that is less than `HOLD_POLLS` median
  sample intervals older than the column's start: what the screen showed then. Past that
  the column is empty (NaN): a feed outage shows as a gap, not as data. Where older curves
  were thinned (`SymbolHistory.max_curves`), a column with analyses but no curves of its
  own repeats the latest curves before it, however old (`build_grid`'s `analyzed`).
- Rows: the price range every shown sample's curve window spans together, cut into
  `n_price` equal bins, lowest price first; `price` holds the bins' centres.
- Impulse lens: the cell is the sample's impulse density H(S') linearly interpolated at the
  cell's centre price ($ per +1% per point, physical model; floe's kernel average $ per
  +1%); NaN outside that sample's curve window (no extrapolation).
- Charm and GEX lenses: the cell is the SUM over the sample's strikes inside the cell's
  price bin (bin i holds edges[i] <= K < edges[i+1], the top bin also its upper edge), so
  the unit is $ per bin: charm to the horizon $ of dealer delta, GEX $ per +1%. A bin
  without a strike inside the sample's strike range is 0 (no exposure there); outside that
  range NaN.
- Sign: as the engine's. Impulse and GEX > 0: dealers dampen moves (sell rallies, buy dips);
  < 0: they amplify them. Charm > 0: the dealers' delta rises to the horizon, they sell.
- Colour scale: symmetric around 0 up to a robust max, the `percentile` (98th) of |cell|
  over the grid's finite cells, so one outlier strike does not wash the rest out; larger
  values are drawn at full strength (`quantize`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from hedgeflow.app.history import CurveSample, CurveSeries
from hedgeflow.app.history_view import latest_in_bins

#: A column without an analysis of its own repeats the one before it for at most this many
#: median intervals between samples.
HOLD_POLLS = 3.0
#: |value| at this percentile of the grid's cells is the colour scale's full strength.
SCALE_PERCENTILE = 98.0


class Lens(StrEnum):
    """What a heatmap cell holds (the `k` key cycles them)."""

    IMPULSE = "impulse"
    CHARM = "charm"
    GEX = "GEX"

    def next(self) -> Lens:
        order = list(Lens)
        return order[(order.index(self) + 1) % len(order)]


def lens_unit(lens: Lens, *, density: bool = True) -> str:
    """The unit of a cell of `lens` (density: the physical model's impulse per point)."""
    if lens is Lens.IMPULSE:
        return "$/+1%/pt" if density else "$/+1%"
    if lens is Lens.CHARM:
        return "$ Δ to horizon per bin"
    return "$/+1% per bin"


@dataclass(frozen=True, eq=False)
class HeatGrid:
    """The heatmap of one lens.

    values : (n_price, n_time) cells, row 0 the lowest price; NaN where there is no data
    price_edges : (n_price + 1,) points, ascending; price : the rows' centres
    time_edges : (n_time + 1,) epoch seconds UTC; time : the shown sample's time per
        column (NaN for an empty column); sample : its index in the samples given (-1)
    spot : spot of the shown sample per column, points (NaN for an empty column);
        spot_row : the price row spot falls in per column (-1: empty column or off the grid)
    scale : the colour scale's full strength, |value| in the lens' unit (> 0)
    """

    lens: Lens
    values: np.ndarray
    price: np.ndarray
    price_edges: np.ndarray
    time: np.ndarray
    time_edges: np.ndarray
    sample: np.ndarray
    spot: np.ndarray
    spot_row: np.ndarray
    scale: float
    samples: int

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.values.shape[0]), int(self.values.shape[1]))


def _price_range(chosen: Sequence[CurveSample]) -> tuple[float, float]:
    lows = [float(s.price[0]) for s in chosen if s.price.size]
    highs = [float(s.price[-1]) for s in chosen if s.price.size]
    if not lows:
        spots = [s.spot for s in chosen] or [0.0]
        return min(spots) - 1.0, max(spots) + 1.0
    lo, hi = min(lows), max(highs)
    return (lo, hi) if hi > lo else (lo - 1.0, hi + 1.0)


def _curve_column(s: CurveSample, centres: np.ndarray) -> np.ndarray:
    x = s.price.astype(np.float64)
    y = s.impulse.astype(np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    out = np.full(centres.size, np.nan)
    if x.size == 0:
        return out
    inside = (centres >= x[0]) & (centres <= x[-1])
    out[inside] = np.interp(centres[inside], x, y)
    return out


def _strike_column(strikes: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    n = edges.size - 1
    out = np.full(n, np.nan)
    k = strikes.astype(np.float64)
    v = values.astype(np.float64)
    ok = np.isfinite(k) & np.isfinite(v)
    k, v = k[ok], v[ok]
    if k.size == 0:
        return out
    b = np.searchsorted(edges, k, side="right") - 1
    b[k == edges[-1]] = n - 1  # the top bin holds its upper edge
    keep = (b >= 0) & (b < n)
    sums = np.bincount(b[keep], weights=v[keep], minlength=n)
    # Bins between the sample's lowest and highest strike: a sum (0 where none); outside: no data.
    first = np.searchsorted(edges, float(k.min()), side="right") - 1
    last = np.searchsorted(edges, float(k.max()), side="right") - 1
    lo, hi = max(int(first), 0), min(int(last), n - 1)
    if lo <= hi:
        out[lo : hi + 1] = sums[lo : hi + 1]
    return out


def robust_scale(values: np.ndarray, percentile: float = SCALE_PERCENTILE) -> float:
    """The colour scale's full strength: the `percentile` of |finite values|, else their
    max, else 1 (an all-zero or empty grid)."""
    a = np.abs(values[np.isfinite(values)])
    if a.size == 0:
        return 1.0
    s = float(np.percentile(a, percentile))
    if not s > 0:
        s = float(a.max())
    return s if s > 0 and math.isfinite(s) else 1.0


def build_grid(
    samples: Sequence[CurveSample],
    lens: Lens,
    n_time: int,
    n_price: int,
    *,
    percentile: float = SCALE_PERCENTILE,
    analyzed: np.ndarray | None = None,
) -> HeatGrid:
    """The grid of `lens` over `samples` (oldest first; see the module docstring).

    analyzed : the times of every analysis (the history's rows, ascending), when older
        curves were thinned out (`SymbolHistory.max_curves`): a column with an analysis but
        no curves of its own repeats the latest curves before it, however old (the feed was
        up; only the curves were not kept). A column without either follows the rule above.
    """
    n_time, n_price = max(int(n_time), 1), max(int(n_price), 1)
    if isinstance(samples, CurveSeries):  # a history's curves: their times without them
        times = samples.times
    else:
        times = np.fromiter((s.time for s in samples), dtype=np.float64, count=len(samples))
    hold = HOLD_POLLS * float(np.median(np.diff(times))) if times.size > 1 else 0.0
    idx, t_edges = latest_in_bins(times, n_time, hold)
    if analyzed is not None and idx.size == n_time and (idx < 0).any():
        # bin i holds (edges[i], edges[i + 1]]: analyses inside it
        inside = np.diff(np.searchsorted(analyzed, t_edges, side="right")) > 0
        before = np.searchsorted(times, t_edges[1:], side="right") - 1
        idx = np.where((idx < 0) & inside & (before >= 0), before, idx)
    if idx.size < n_time:  # one distinct time (or none): that sample in the last column
        idx = np.concatenate([np.full(n_time - idx.size, -1, dtype=np.int64), idx])
        t0 = float(times[0]) if times.size else 0.0
        t_edges = np.full(n_time + 1, t0)
    chosen = {int(i): samples[int(i)] for i in idx if i >= 0}  # each made once
    lo, hi = _price_range(list(chosen.values()))
    edges = np.linspace(lo, hi, n_price + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    values = np.full((n_price, n_time), np.nan)
    spot = np.full(n_time, np.nan)
    t_col = np.full(n_time, np.nan)
    for col, i in enumerate(idx):
        if i < 0:
            continue
        s = chosen[int(i)]
        spot[col], t_col[col] = s.spot, s.time
        if lens is Lens.IMPULSE:
            values[:, col] = _curve_column(s, centres)
        elif lens is Lens.CHARM:
            values[:, col] = _strike_column(s.strikes, s.charm, edges)
        else:
            values[:, col] = _strike_column(s.strikes, s.gex, edges)
    return HeatGrid(
        lens=lens,
        values=values,
        price=centres,
        price_edges=edges,
        time=t_col,
        time_edges=t_edges,
        sample=idx,
        spot=spot,
        spot_row=price_rows(edges, spot),
        scale=robust_scale(values, percentile),
        samples=len(samples),
    )


def price_rows(edges: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """The row (bin of `edges`) each price falls in; -1 for NaN or off the grid."""
    p = np.asarray(prices, dtype=np.float64)
    n = edges.size - 1
    r = np.searchsorted(edges, np.nan_to_num(p, nan=-np.inf), side="right") - 1
    r[p == edges[-1]] = n - 1
    r[(r < 0) | (r >= n) | ~np.isfinite(p)] = -1
    return r.astype(np.int64)


def quantize(values: np.ndarray, scale: float, levels: int = 4) -> np.ndarray:
    """Cells as signed strength steps: 0 for 0, +-1..+-`levels` for |v| in
    (0, scale/levels], ..., ((levels-1)/levels*scale, inf) (the top step holds everything
    at and past the robust max); cells without data `NO_DATA`. An int8 array of `values`'
    shape."""
    v = np.asarray(values, dtype=np.float64)
    mag = np.ceil(np.abs(np.nan_to_num(v, nan=0.0)) / scale * levels)
    q: np.ndarray = (np.sign(np.nan_to_num(v, nan=0.0)) * np.clip(mag, 0, levels)).astype(np.int8)
    q[~np.isfinite(v)] = NO_DATA
    return q


#: `quantize`'s value for a cell without data.
NO_DATA = -128


def step_bounds(scale: float, levels: int = 4) -> list[tuple[float, float]]:
    """(low, high] |value| of each strength step 1..levels (the legend's ranges; the top
    step is open above)."""
    return [((i - 1) * scale / levels, i * scale / levels) for i in range(1, levels + 1)]
