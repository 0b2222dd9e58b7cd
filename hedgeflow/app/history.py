"""The session as a series: one row of headline numbers and one set of curves per analysis.

Every analysis the monitor applies adds a `HistoryRow` (the numbers a trader watches move:
spot, impulse and slope at spot, flip levels and their count, zero gamma, walls,
attractors, the regime and how firmly it holds, charm to the horizon, the scope's GEX and
DEX) and a `CurveSample` (the curves the strike x time heatmap is drawn from: the impulse
density H(S) on its price grid, GEX and charm by strike) to the symbol's `SymbolHistory`.
The same rows are written to a recording and rebuilt from it (`hedgeflow.feeds.recorder`
stores `HistoryRow.to_json`), so a replay shows the history it had live.

Time is the analysis' data time (`ExpiryAnalysis.as_of`, epoch seconds UTC): recorded or
simulated time in a replay or the sim, never the wall clock. Rows of one symbol are kept
in time order; a row at or before the last one (a replay stepped back) first drops the
rows after it (`truncate_after`), so the series is always the analyses up to "now".

Memory: a row is ~20 floats; a curve sample ~120 float32 prices and values plus the strikes
within the curve's window: a 6.5-hour session at a 5 s poll is 4,680 samples, about 9 MB a
symbol (`make bench` measures it). `SymbolHistory` keeps them in columns
(`app.history_columns`), so the garbage collector has no object per row to walk. The rule
and the fields: docs/METHOD.md "Level history".
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, overload

import numpy as np

from hedgeflow.app.history_columns import FLIPN, REGIME, SCOPE, HistoryColumns, check_curves
from hedgeflow.app.presentation import NAN, finite_or_nan, headline
from hedgeflow.engine.types import ExpiryAnalysis


@dataclass(frozen=True)
class HistoryRow:
    """One analysis' headline numbers (docs/METHOD.md "Level history").

    time : the analysis' data time, epoch seconds UTC; expiration : the analyzed (nearest in
        scope) expiry's settlement, epoch seconds UTC; scope : the scope label ("nearest",
        "all", ...)
    spot : points; impulse : $ of dealer delta change per +1% at spot (positive: dealers
        sell rallies, dampening); slope : dH/dS' at spot (`presentation.SLOPE_UNIT`)
    flip_levels : the headline's flip levels, points ascending; nearest_flip, zero_gamma,
        call_wall, put_wall, attractor_above, attractor_below : points, NaN for none
    regime : the impulse regime held (`ImpulseRegime` value); firmness : its margin in
        dead-band widths (`RegimeFirmness.bands`, NaN without)
    charm_total : $ of dealer delta change from now to the charm horizon (positive: the
        dealers' delta rises, they sell)
    gex : the scope's net GEX, $ per +1% (sum over strikes); dex : the scope's net dealer
        delta, $ of underlying (NaN where not computed)
    """

    time: float
    symbol: str
    scope: str
    expiration: float
    spot: float
    impulse: float
    slope: float
    flip_levels: tuple[float, ...]
    nearest_flip: float
    zero_gamma: float
    call_wall: float
    put_wall: float
    attractor_above: float
    attractor_below: float
    regime: str
    firmness: float
    charm_total: float
    gex: float
    dex: float

    @property
    def flip_count(self) -> int:
        return len(self.flip_levels)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types; NaN as None (a recording's history table, the Parquet export)."""
        out: dict[str, Any] = {}
        for k, v in asdict(self).items():
            if isinstance(v, float):
                out[k] = v if math.isfinite(v) else None
            elif isinstance(v, tuple):
                out[k] = [float(x) for x in v]
            else:
                out[k] = v
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> HistoryRow:
        """The inverse of `to_json` (None back to NaN). Raises KeyError/TypeError/ValueError
        on a malformed row."""
        kw: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            v = d[name]
            if name in ("symbol", "scope", "regime"):
                kw[name] = str(v)
            elif name == "flip_levels":
                kw[name] = tuple(float(x) for x in v)
            else:
                kw[name] = NAN if v is None else float(v)
        return cls(**kw)


def history_row(a: ExpiryAnalysis) -> HistoryRow:
    """The history row of `a` (through `presentation.headline`, so it agrees with every
    other surface)."""
    h = headline(a)
    lv = a.levels
    firm = h.regime_firmness
    ex = a.exposure
    return HistoryRow(
        time=a.as_of.timestamp(),
        symbol=a.symbol,
        scope=a.scope,
        expiration=a.expiration.timestamp(),
        spot=float(a.spot),
        impulse=float(h.impulse),
        slope=float(h.slope),
        flip_levels=h.flip_levels,
        nearest_flip=finite_or_nan(h.nearest_flip),
        zero_gamma=finite_or_nan(h.zero_gamma),
        call_wall=finite_or_nan(lv.call_wall if lv is not None else None),
        put_wall=finite_or_nan(lv.put_wall if lv is not None else None),
        attractor_above=finite_or_nan(h.attractor_above),
        attractor_below=finite_or_nan(h.attractor_below),
        regime=h.regime.value,
        firmness=NAN if firm is None else float(firm.bands),
        charm_total=float(h.charm_total),
        gex=float(np.sum(ex.gamma)) if ex.gamma.size else NAN,
        dex=float(lv.net_dex) if lv is not None else NAN,
    )


@dataclass(frozen=True, eq=False)
class CurveSample:
    """The curves of one analysis that the heatmap is drawn from (float32: a picture, not a
    number anyone reads to the cent; the rows keep float64).

    time : epoch seconds UTC (as `HistoryRow.time`); spot : points
    price, impulse : the impulse density H(S') on its grid (points; $ per +1% per point for
        the physical model, $ per +1% for floe's kernel average)
    strikes : points, ascending, the strikes inside the curve's price window; gex : GEX_K,
        $ per +1%; charm : the per-strike charm to the horizon, $ (`CharmIntegral.
        strike_contribution` mapped onto `strikes`, 0 where a strike has none)
    """

    time: float
    spot: float
    price: np.ndarray
    impulse: np.ndarray
    strikes: np.ndarray
    gex: np.ndarray
    charm: np.ndarray


def curve_sample(a: ExpiryAnalysis) -> CurveSample:
    """The heatmap's curves of `a`: the impulse curve as drawn, and the per-strike GEX and
    charm of the strikes inside the curve's window."""
    curve = a.hedge_flow.impulse_curve
    price = np.asarray(curve.price, dtype=np.float64)
    lo, hi = (float(price[0]), float(price[-1])) if price.size else (a.spot, a.spot)
    ex = a.exposure
    inside = (ex.strikes >= lo) & (ex.strikes <= hi)
    strikes = np.asarray(ex.strikes[inside], dtype=np.float64)
    ci = a.hedge_flow.charm_integral
    charm = np.zeros(strikes.size)
    if ci.contribution_strikes.size and strikes.size:
        pos = np.searchsorted(ci.contribution_strikes, strikes)
        pos = np.clip(pos, 0, ci.contribution_strikes.size - 1)
        hit = ci.contribution_strikes[pos] == strikes
        charm[hit] = ci.strike_contribution[pos[hit]]
    return CurveSample(
        time=a.as_of.timestamp(),
        spot=float(a.spot),
        price=price.astype(np.float32),
        impulse=np.asarray(curve.impulse, dtype=np.float32),
        strikes=strikes.astype(np.float32),
        gex=np.asarray(ex.gamma[inside], dtype=np.float32),
        charm=charm.astype(np.float32),
    )


#: The float fields of `HistoryRow`, in the order the columns keep them.
ROW_FLOATS: tuple[str, ...] = tuple(
    f.name for f in fields(HistoryRow) if f.name not in ("symbol", "scope", "regime", "flip_levels")
)


@dataclass(frozen=True, eq=False)
class HistoryTable:
    """Rows as columns (the history pane's and the Parquet export's shape): each field of
    `HistoryRow` but the symbol, oldest first (float64 arrays, NaN for none); flip levels
    also as a count."""

    time: np.ndarray
    expiration: np.ndarray
    spot: np.ndarray
    impulse: np.ndarray
    slope: np.ndarray
    flip_count: np.ndarray
    nearest_flip: np.ndarray
    zero_gamma: np.ndarray
    call_wall: np.ndarray
    put_wall: np.ndarray
    attractor_above: np.ndarray
    attractor_below: np.ndarray
    firmness: np.ndarray
    charm_total: np.ndarray
    gex: np.ndarray
    dex: np.ndarray
    scope: tuple[str, ...]
    regime: tuple[str, ...]
    flip_levels: tuple[tuple[float, ...], ...]


def table(rows: Sequence[HistoryRow]) -> HistoryTable:
    """`rows` as columns (`SymbolHistory.table` makes the same from its columns)."""

    def col(name: str) -> np.ndarray:
        return np.fromiter((getattr(r, name) for r in rows), dtype=np.float64, count=len(rows))

    return HistoryTable(
        **{name: col(name) for name in ROW_FLOATS},
        flip_count=np.fromiter((r.flip_count for r in rows), dtype=np.int64, count=len(rows)),
        scope=tuple(r.scope for r in rows),
        regime=tuple(r.regime for r in rows),
        flip_levels=tuple(r.flip_levels for r in rows),
    )


#: A history at its cap cuts its dropped rows once this many (or `max_rows` // 8) wait.
TRIM_SLACK = 256
#: The curve samples a monitor keeps a symbol (`SymbolHistory.max_curves`): the newest
#: half at every analysis, older ones evenly spread. A full session at a 5 s poll is 4,680
#: samples of ~1.8 KB; the heatmap draws one a column, a pane's width of them.
MONITOR_CURVES = 1024


class SymbolHistory:
    """One symbol's rows and curve samples in time order (see the module docstring).

    Kept as columns (`app.history_columns`): a constant number of arrays however many rows,
    so the garbage collector has nothing per row to walk. `HistoryRow`s and `CurveSample`s
    are made on demand (fresh objects each call; the curves as float32 copies).
    `max_rows` bounds memory: past it the oldest rows go first (a default of 20,000 is four
    6.5-hour sessions at a 5 s poll). `max_curves` (None: no bound) bounds the curve
    samples: past it the newest half keep theirs and the older ones are thinned to one per
    bucket of time, evenly over the session (their rows stay; `_thin`)."""

    def __init__(
        self, symbol: str, *, max_rows: int = 20_000, max_curves: int | None = None
    ) -> None:
        self.symbol = symbol
        self.max_rows = max_rows
        self.max_curves = max_curves
        self._spacing = 1.0  # seconds between the older curves kept (doubled as needed)
        self._cols = HistoryColumns(ROW_FLOATS)
        self.version = 0  # bumped on every change: views rebuild only when it moved

    def __len__(self) -> int:
        return len(self._cols)

    def __iter__(self) -> Iterator[HistoryRow]:
        return iter(self.rows())

    @property
    def last_time(self) -> float:
        return float(self._cols.times[-1]) if len(self._cols) else -math.inf

    @property
    def nbytes(self) -> int:
        """Bytes its arrays take (their capacity, used or not)."""
        return self._cols.nbytes()

    def times(self, scope: str | None = None) -> np.ndarray:
        """The rows' times, epoch seconds UTC, oldest first (of one scope label when
        given); a copy."""
        out: np.ndarray = self._cols.times[self._cols.positions(scope)]
        return out

    def add(self, row: HistoryRow, sample: CurveSample | None = None) -> None:
        """Append `row` (and its curves). A row at or before the last one drops the rows
        from its time on first: the series is the analyses up to the newest. Raises
        ValueError for another symbol's row or curves whose arrays do not pair up."""
        if row.symbol != self.symbol:
            raise ValueError(f"a {row.symbol} row in {self.symbol}'s history")
        curves = None
        if sample is not None:
            s = sample
            curves = (s.time, s.spot, (s.price, s.impulse), (s.strikes, s.gex, s.charm))
            check_curves(curves[2], curves[3])  # before anything is cut
        if len(self._cols) and row.time <= self._cols.times[-1]:
            self._cut(row.time, side="left")
        floats = [getattr(row, name) for name in ROW_FLOATS]
        self._cols.append(floats, row.scope, row.regime, row.flip_levels, curves)
        self._bound()
        self.version += 1

    def _bound(self) -> None:
        """Past `max_rows` the oldest rows go; past `max_curves` the older half's curves
        are thinned (`HistoryColumns.thin_curves`)."""
        over = len(self._cols) - max(self.max_rows, 0)
        if over > 0:
            self._cols.drop_oldest(over, slack=max(TRIM_SLACK, self.max_rows // 8))
        if self.max_curves is not None and self._cols.n_curves > self.max_curves:
            self._thin(self.max_curves)

    def _thin(self, bound: int) -> None:
        """The newest half of `bound` keep their curves; the older ones one per bucket of
        time, the buckets doubled until at most 3/8 of `bound` are left there (so the older
        curves are evenly spread over the session, and thinned again only after bound/8
        more analyses)."""
        keep_recent = bound // 2
        target = max(bound // 2 - bound // 8, 1)
        older = self._cols.older_curve_times(keep_recent)
        while np.unique(np.floor(older / self._spacing)).size > target:
            self._spacing *= 2.0
        self._cols.thin_curves(keep_recent, self._spacing)

    def empty_like(self) -> SymbolHistory:
        """A new empty history of the same symbol and bounds."""
        return SymbolHistory(self.symbol, max_rows=self.max_rows, max_curves=self.max_curves)

    def add_analysis(self, a: ExpiryAnalysis) -> HistoryRow:
        """`add` the row and curves of `a`; returns the row."""
        row = history_row(a)
        self.add(row, curve_sample(a))
        return row

    def _cut(self, t: float, side: Literal["left", "right"]) -> bool:
        """Drop the rows after `t` (epoch seconds), and those at `t` too for side "left";
        whether any went. The rows are in time order, so the cut is one search."""
        keep = int(np.searchsorted(self._cols.times, t, side=side))
        if keep == len(self._cols):
            return False
        self._cols.keep_first(keep)
        return True

    def truncate_after(self, t: float) -> None:
        """Keep only rows with time <= `t` (epoch seconds; a replay seeked back)."""
        if self._cut(t, side="right"):
            self.version += 1

    def entries(self, after: float = -math.inf) -> list[tuple[HistoryRow, CurveSample | None]]:
        """(row, its curves or None) pairs, oldest first; those of the rows after `after`
        (epoch seconds) when given."""
        first = int(np.searchsorted(self._cols.times, after, side="right"))
        at = np.arange(first, len(self._cols), dtype=np.int64)
        has = set(self._cols.with_curves(at).tolist())
        rows = self._rows_at(at)
        return [
            (r, self._sample_at(p) if p in has else None)
            for p, r in zip(at.tolist(), rows, strict=True)
        ]

    def adopt(self, other: SymbolHistory, until: float) -> None:
        """Take `other`'s rows (all at or before `until`, epoch seconds; built off the event
        loop by `history_store.built`) in place of this history's rows up to `until`,
        keeping this history's rows after `until` (analyses applied while `other` was
        built). `other` is left empty. Raises ValueError for another symbol's history."""
        if other.symbol != self.symbol:
            raise ValueError(f"{other.symbol}'s history adopted by {self.symbol}'s")
        later = self.entries(after=until)
        self._cols, other._cols = other._cols, HistoryColumns(ROW_FLOATS)
        self._spacing = other._spacing
        other.version += 1
        for row, sample in later:
            self.add(row, sample)
        self._bound()
        self.version += 1

    def clear(self) -> None:
        """Drop every row (a replay's history reloaded from its recording)."""
        self._spacing = 1.0
        if len(self._cols):
            self._cols.clear()
            self.version += 1

    def rows(self, scope: str | None = None) -> tuple[HistoryRow, ...]:
        """The rows, oldest first (of one scope label when given)."""
        return self._rows_at(self._cols.positions(scope))

    def last(self, scope: str | None = None) -> HistoryRow | None:
        """The newest row (of one scope label when given), None without one."""
        at = self._cols.positions(scope)
        return self._rows_at(at[-1:])[0] if at.size else None

    def samples(self, scope: str | None = None) -> tuple[CurveSample, ...]:
        """The curve samples, oldest first (of one scope label when given); rows added
        without curves (rebuilt from a recording's rows alone) have none."""
        return tuple(self.curves(scope))

    def curves(self, scope: str | None = None) -> CurveSeries:
        """`samples(scope)` made one at a time on access (the heatmap reads a few of a
        session's thousands), with their times as an array."""
        return CurveSeries(self, self._cols.with_curves(self._cols.positions(scope)))

    def table(self, scope: str | None = None, index: np.ndarray | None = None) -> HistoryTable:
        """`table(rows(scope))` straight from the columns, without row objects; with `index`
        only the scope's rows at those positions (the history pane's thinned points)."""
        at = self._cols.positions(scope)
        if index is not None:
            at = at[np.asarray(index, dtype=np.int64)]
        cols = self._cols
        f = cols.float_rows(at).T
        ints = cols.ints.buf[:, cols.start + at]
        return HistoryTable(
            **{name: f[k].copy() for k, name in enumerate(ROW_FLOATS)},
            flip_count=ints[FLIPN].astype(np.int64),
            scope=tuple(cols.scopes[c] for c in ints[SCOPE].tolist()),
            regime=tuple(cols.regimes[c] for c in ints[REGIME].tolist()),
            flip_levels=tuple(tuple(cols.flip_levels(p).tolist()) for p in at.tolist()),
        )

    def _rows_at(self, positions: np.ndarray) -> tuple[HistoryRow, ...]:
        cols = self._cols
        out = []
        for p, values in zip(positions.tolist(), cols.float_rows(positions).tolist(), strict=True):
            scope, regime = cols.labels(p)
            kw = dict(zip(ROW_FLOATS, values, strict=False))
            out.append(
                HistoryRow(
                    symbol=self.symbol,
                    scope=scope,
                    regime=regime,
                    flip_levels=tuple(cols.flip_levels(p).tolist()),
                    **kw,
                )
            )
        return tuple(out)

    def _sample_at(self, p: int) -> CurveSample:
        return CurveSample(*self._cols.curve_time_spot(p), *self._cols.curve_arrays(p))


class CurveSeries(Sequence[CurveSample]):
    """Curve samples of a `SymbolHistory`, each made when read; `times` (epoch seconds
    UTC) holds all of theirs, `positions` the rows they are of (0: the history's oldest
    row). Valid until the history next changes: reading a sample after that raises
    RuntimeError rather than return another row's curves."""

    def __init__(self, history: SymbolHistory, positions: np.ndarray) -> None:
        self._history = history
        self._version = history.version
        self.positions = positions
        rows = history._cols.float_rows(positions)
        self.times: np.ndarray = rows[:, len(ROW_FLOATS)].copy()

    def __len__(self) -> int:
        return int(self.positions.size)

    @overload
    def __getitem__(self, i: int) -> CurveSample: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[CurveSample, ...]: ...
    def __getitem__(self, i: int | slice) -> CurveSample | tuple[CurveSample, ...]:
        if self._history.version != self._version:
            raise RuntimeError(f"{self._history.symbol}'s history changed since these curves")
        if isinstance(i, slice):
            return tuple(self._history._sample_at(int(p)) for p in self.positions[i])
        return self._history._sample_at(int(self.positions[i]))
