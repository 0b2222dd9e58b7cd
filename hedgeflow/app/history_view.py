"""The history pane's model: the levels against spot, the flip-level count and the charm to
the horizon over the session, of one expiry scope, as plain numbers.

The pane draws one point per column at most, so a full session (6.5 hours at a 5 s poll:
4,680 rows) is thinned to `n_bins` equal time bins, each showing the LATEST row inside it
(the numbers a trader saw at the end of that stretch, never an average that no analysis
ever gave). Every number here is a row's own number: `HistorySeries.index` says which row
each point came from.

Time is the rows' data time (epoch seconds UTC): simulated or recorded time in the sim or
a replay, never the wall clock; the pane labels it in New York time with the feed's clock
words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hedgeflow.app.history import SymbolHistory

#: (label, `HistoryTable` column) of every level line, in drawing order (spot last: on top).
LEVELS: tuple[tuple[str, str], ...] = (
    ("call wall", "call_wall"),
    ("put wall", "put_wall"),
    ("zero γ", "zero_gamma"),
    ("attract ↑", "attractor_above"),
    ("attract ↓", "attractor_below"),
    ("flip", "nearest_flip"),
    ("spot", "spot"),
)


def latest_in_bins(
    times: np.ndarray, n_bins: int, hold: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Split [times[0], times[-1]] into `n_bins` equal bins; for each bin the index of the
    latest time inside it, -1 for a bin with none. Returns (index per bin, bin edges).

    `times` ascending (epoch seconds). With no times: empty arrays. One distinct time: one
    bin holding the last row at that time. Bin i covers (edges[i], edges[i+1]]; the first
    bin also holds edges[0]. `hold` > 0 (seconds): a bin without a time of its own takes the
    latest time before it when that is less than `hold` older than the bin's start."""
    n = int(times.size)
    if n == 0 or n_bins <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    t0, t1 = float(times[0]), float(times[-1])
    if t1 <= t0:
        return np.array([n - 1], dtype=np.int64), np.array([t0, t1])
    edges = np.linspace(t0, t1, n_bins + 1)
    idx = np.searchsorted(times, edges[1:], side="right") - 1
    lower = edges[:-1]
    has = (idx >= 0) & (times[np.clip(idx, 0, n - 1)] > lower - hold)
    has[0] = idx[0] >= 0  # the first bin is closed at its start
    return np.where(has, idx, -1).astype(np.int64), edges


@dataclass(frozen=True, eq=False)
class HistorySeries:
    """What the history pane draws, oldest first, one entry per non-empty time bin.

    scope : the scope label the rows are of; rows : how many rows of that scope there are
    since : the first row's time (epoch seconds UTC); NaN without rows
    index : the row (position in the scope's rows) each entry is taken from
    time : that row's time, epoch seconds UTC
    levels : (label, points) per line of `LEVELS`, NaN where a row had no such level
    flip_count : the number of flip levels of that row (several: a fragmented regime)
    charm : the row's charm to the horizon, $ of dealer delta change (positive: the
        dealers' delta rises, they sell)
    """

    scope: str
    rows: int
    since: float
    index: np.ndarray
    time: np.ndarray
    levels: tuple[tuple[str, np.ndarray], ...]
    flip_count: np.ndarray
    charm: np.ndarray

    def level(self, label: str) -> np.ndarray:
        return dict(self.levels)[label]


def history_series(history: SymbolHistory, scope: str, n_bins: int) -> HistorySeries:
    """The series of `scope`'s rows thinned to at most `n_bins` points (the latest row of
    each equal time bin; all rows when there are no more than `n_bins`)."""
    times = history.times(scope)
    n = int(times.size)
    if n <= n_bins:
        index = np.arange(n, dtype=np.int64)
    else:
        idx, _ = latest_in_bins(times, n_bins)
        index = idx[idx >= 0]
    # Columns of the shown rows only: a session's 4,680 rows are thinned before, not after.
    t = history.table(scope, index)
    return HistorySeries(
        scope=scope,
        rows=n,
        since=float(times[0]) if n else float("nan"),
        index=index,
        time=t.time,
        levels=tuple((label, getattr(t, col)) for label, col in LEVELS),
        flip_count=t.flip_count,
        charm=t.charm_total,
    )


def y_range(series: HistorySeries, band_percent: float = 3.0) -> tuple[float, float]:
    """The price range the levels chart shows: spot's range over the session widened to
    every level that came within `band_percent` % of spot (a wall 10 % away would squash
    the lines a trader watches into one row; it is named in the legend instead). (NaN,
    NaN) without a finite spot."""
    spot = series.level("spot")
    s = spot[np.isfinite(spot)]
    if s.size == 0:
        return float("nan"), float("nan")
    lo, hi = float(s.min()), float(s.max())
    band = float(np.median(s)) * band_percent / 100.0
    for _, values in series.levels:
        v = values[np.isfinite(values)]
        v = v[(v >= lo - band) & (v <= hi + band)]
        if v.size:
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    if hi <= lo:
        lo, hi = lo - 1.0, hi + 1.0
    return lo, hi
