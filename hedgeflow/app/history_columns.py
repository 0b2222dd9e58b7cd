"""A symbol's level history as columns: a fixed handful of numpy arrays however long the
session, so Python's cyclic garbage collector has nothing per analysis to walk.

Row objects (a `HistoryRow` and its `__dict__`, its flip-level tuple, a `CurveSample`)
cost the collector three to five tracked objects an analysis: a full session at 50
symbols made each full collection a half-second frozen screen (docs/SCALING.md). Here a
row is a position in:

- `floats`: one float64 row per number field of `HistoryRow` (`fields` order), then the
  curve sample's own time and spot;
- `ints`: the scope and regime as codes into `scopes`/`regimes` (a few labels a session),
  whether the row has curves, and (start, length) of its flip levels, of its price-grid
  curve and of its strikes in the ragged buffers;
- the ragged buffers: `flips` (float64 flip levels end to end), `curves` (float32 price
  and impulse rows), `strikes` (float32 strike, GEX and charm rows).

Every buffer grows by a quarter when full (amortized O(1) per row). Dropping the oldest rows
only moves `start`; the dead front is cut in one slice once it is `slack` rows long, so a
history at its cap does O(1) work per row on average and holds at most cap + slack rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Columns of `HistoryColumns.ints`.
SCOPE, REGIME, HAS_CURVES, FLIP0, FLIPN, CURVE0, CURVEN, STRIKE0, STRIKEN = range(9)


class Block:
    """`width` parallel growable arrays of one dtype: a (width, capacity) buffer of which
    the first `n` columns are used."""

    def __init__(self, width: int, dtype: type[np.generic], capacity: int = 64) -> None:
        self.buf: np.ndarray = np.empty((width, capacity), dtype=dtype)
        self.n = 0

    def reserve(self, extra: int) -> None:
        """Room for `extra` more columns (the buffer grows by at least a quarter: amortized
        O(1) a column, and at most a fifth of it unused)."""
        need = self.n + extra
        cap = self.buf.shape[1]
        if need > cap:
            bigger = np.empty((self.buf.shape[0], max(need, cap + cap // 4)), self.buf.dtype)
            bigger[:, : self.n] = self.buf[:, : self.n]
            self.buf = bigger

    def put_column(self, values: Sequence[float]) -> None:
        """Append one column: one number per row of the block."""
        if self.n == self.buf.shape[1]:
            self.reserve(1)
        self.buf[:, self.n] = values
        self.n += 1

    def put(self, arrays: Sequence[np.ndarray], k: int) -> None:
        """Append `k` columns: one array of `k` numbers per row of the block."""
        self.reserve(k)
        at = self.n
        for r, v in enumerate(arrays):
            self.buf[r, at : at + k] = v
        self.n = at + k

    def drop_front(self, k: int) -> None:
        """Drop the first `k` columns (one slice copy)."""
        live = self.n - k
        self.buf[:, :live] = self.buf[:, k : self.n]
        self.n = live


class HistoryColumns:
    """The rows of one history (module docstring); positions 0.. are the live rows, oldest
    first. `fields`: the float fields of a row, in the order `append` gets them."""

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = tuple(fields)
        self.time_field = self.fields.index("time")
        self.clear()

    def clear(self) -> None:
        """No rows; the buffers back at their first size (memory returned)."""
        self.floats = Block(len(self.fields) + 2, np.float64)
        self.ints = Block(9, np.int64)
        self.flips = Block(1, np.float64)
        self.curves = Block(2, np.float32)
        self.strikes = Block(3, np.float32)
        self.start = 0  # the first live row (those before it are dropped, not yet cut)
        self.n_curves = 0  # live rows with curves
        self.scopes: list[str] = []
        self.regimes: list[str] = []

    def __len__(self) -> int:
        return self.floats.n - self.start

    @property
    def times(self) -> np.ndarray:
        """The live rows' times (a view: read it before the next change)."""
        return self.floats.buf[self.time_field, self.start : self.floats.n]

    def _code(self, labels: list[str], label: str) -> int:
        try:
            return labels.index(label)
        except ValueError:
            labels.append(label)
            return len(labels) - 1

    def append(
        self,
        floats: Sequence[float],
        scope: str,
        regime: str,
        flips: Sequence[float],
        curves: tuple[float, float, Sequence[np.ndarray], Sequence[np.ndarray]] | None,
    ) -> None:
        """Append one row: its float fields, labels and flip levels, and its curves as
        (time, spot, (price, impulse), (strikes, gex, charm)) or None. Raises ValueError
        when the curves' arrays are not 1-D of matching lengths (nothing is appended)."""
        if curves is not None:
            check_curves(curves[2], curves[3])
        f0, fn = self.flips.n, len(flips)
        if fn:
            self.flips.put((np.asarray(flips, dtype=np.float64),), fn)
        c0, cn, k0, kn = self.curves.n, 0, self.strikes.n, 0
        t = spot = np.nan
        if curves is not None:
            t, spot, grid, by_strike = curves
            cn, kn = len(grid[0]), len(by_strike[0])
            if cn:
                self.curves.put(grid, cn)
            if kn:
                self.strikes.put(by_strike, kn)
        self.floats.put_column([*floats, t, spot])
        codes = (self._code(self.scopes, scope), self._code(self.regimes, regime))
        self.ints.put_column([*codes, curves is not None, f0, fn, c0, cn, k0, kn])
        self.n_curves += curves is not None

    def keep_first(self, k: int) -> None:
        """Keep only the first `k` live rows (and their ragged data)."""
        end = self.start + k
        if end >= self.floats.n:
            return
        first = self.ints.buf[:, end]
        self.flips.n = int(first[FLIP0])
        self.curves.n = int(first[CURVE0])
        self.strikes.n = int(first[STRIKE0])
        self.floats.n = self.ints.n = end
        self._count_curves()

    def _count_curves(self) -> None:
        self.n_curves = int(np.count_nonzero(self.ints.buf[HAS_CURVES, self.start : self.ints.n]))

    def drop_oldest(self, k: int, slack: int) -> None:
        """Drop the `k` oldest live rows; the dead front is cut once `slack` rows long."""
        self.start = min(self.start + k, self.floats.n)
        if self.start == self.floats.n:
            codes = self.scopes, self.regimes
            self.clear()
            self.scopes, self.regimes = codes  # labels already coded stay valid
            return
        self._count_curves()
        if self.start < slack:
            return
        s = self.start
        first = self.ints.buf[:, s].copy()
        for block, col in ((self.flips, FLIP0), (self.curves, CURVE0), (self.strikes, STRIKE0)):
            block.drop_front(int(first[col]))
            self.ints.buf[col, s : self.ints.n] -= first[col]
        self.floats.drop_front(s)
        self.ints.drop_front(s)
        self.start = 0

    def _older_with_curves(self, keep_recent: int) -> np.ndarray:
        """Positions (in the buffers) of the live rows with curves, all but the
        `keep_recent` newest."""
        lo = self.start
        with_curves = lo + np.flatnonzero(self.ints.buf[HAS_CURVES, lo : self.ints.n])
        out: np.ndarray = with_curves[: max(with_curves.size - keep_recent, 0)]
        return out

    def older_curve_times(self, keep_recent: int) -> np.ndarray:
        """The row times of the live rows with curves, all but the `keep_recent` newest."""
        out: np.ndarray = self.floats.buf[self.time_field, self._older_with_curves(keep_recent)]
        return out

    def thin_curves(self, keep_recent: int, spacing: float) -> None:
        """Keep the curves of all but the `keep_recent` newest rows with curves only at
        the first row of each `spacing`-second bucket of time (buckets from the epoch, so
        that they stay put as rows come and go; the rows' numbers all stay), and close the
        gaps in the ragged buffers."""
        hi = self.ints.n
        older = self._older_with_curves(keep_recent)
        if not older.size:
            return
        bucket = np.floor(self.floats.buf[self.time_field, older] / spacing)
        first = np.ones(older.size, dtype=bool)
        first[1:] = bucket[1:] != bucket[:-1]  # (times ascend: a bucket's rows are a run)
        drop = older[~first]
        if not drop.size:
            return
        ints = self.ints.buf
        ints[HAS_CURVES, drop] = 0
        self.floats.buf[-2:, drop] = np.nan  # the curves' own time and spot
        blocks = ((self.curves, CURVE0, CURVEN), (self.strikes, STRIKE0, STRIKEN))
        for block, at, count in blocks:
            ints[count, drop] = 0
            # every row's data again end to end, the dropped rows' gone (the dead front
            # before `start` included: `drop_oldest` cuts the buffers by these offsets)
            n = ints[count, :hi]
            end = np.cumsum(n)
            keep = np.repeat(ints[at, :hi] - (end - n), n) + np.arange(int(end[-1]))
            block.buf[:, : keep.size] = block.buf[:, keep]
            block.n = keep.size
            ints[at, :hi] = end - n
        self.n_curves -= int(drop.size)

    def positions(self, scope: str | None) -> np.ndarray:
        """The live positions (0 = oldest) of the rows of `scope` (all when None)."""
        if scope is None:
            return np.arange(len(self), dtype=np.int64)
        if scope not in self.scopes:
            return np.empty(0, dtype=np.int64)
        codes = self.ints.buf[SCOPE, self.start : self.ints.n]
        return np.flatnonzero(codes == self.scopes.index(scope))

    def with_curves(self, positions: np.ndarray) -> np.ndarray:
        """Those of `positions` whose rows have curves."""
        has = self.ints.buf[HAS_CURVES, self.start + positions]
        out: np.ndarray = positions[has.astype(bool)]
        return out

    def float_rows(self, positions: np.ndarray) -> np.ndarray:
        """(len(positions), fields + 2) float64: each row's fields, then its curves' time
        and spot."""
        rows: np.ndarray = self.floats.buf[:, self.start + positions].T
        return rows

    def labels(self, p: int) -> tuple[str, str]:
        """(scope, regime) of the row at live position `p`."""
        c = self.ints.buf[:, self.start + p]
        return self.scopes[int(c[SCOPE])], self.regimes[int(c[REGIME])]

    def flip_levels(self, p: int) -> np.ndarray:
        c = self.ints.buf[:, self.start + p]
        f0 = int(c[FLIP0])
        return self.flips.buf[0, f0 : f0 + int(c[FLIPN])]

    def curve_time_spot(self, p: int) -> tuple[float, float]:
        """The time and spot of the curves of the row at live position `p`."""
        t, spot = self.floats.buf[-2:, self.start + p].tolist()
        return t, spot

    def curve_arrays(self, p: int) -> tuple[np.ndarray, ...]:
        """Copies of (price, impulse, strikes, gex, charm) of the row at live position `p`
        (copies: the buffers are reused after a cut)."""
        c = self.ints.buf[:, self.start + p]
        c0, k0 = int(c[CURVE0]), int(c[STRIKE0])
        grid = self.curves.buf[:, c0 : c0 + int(c[CURVEN])]
        by_strike = self.strikes.buf[:, k0 : k0 + int(c[STRIKEN])]
        return (*grid.copy(), *by_strike.copy())

    def nbytes(self) -> int:
        """Bytes the buffers hold (their capacity, used or not)."""
        blocks = (self.floats, self.ints, self.flips, self.curves, self.strikes)
        return sum(b.buf.nbytes for b in blocks)


def check_curves(grid: Sequence[np.ndarray], by_strike: Sequence[np.ndarray]) -> None:
    """Raise ValueError unless (price, impulse) and (strikes, gex, charm) are 1-D arrays of
    one length each."""
    for arrays in (grid, by_strike):
        shape = arrays[0].shape
        if len(shape) != 1 or any(a.shape != shape for a in arrays[1:]):
            raise ValueError(
                "a curve sample's price/impulse and strikes/gex/charm must be 1-D arrays "
                "of one length each"
            )
