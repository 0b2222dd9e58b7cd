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
within the curve's window: a 6.5-hour session at a 5 s poll is 4,680 samples, a few MB a
symbol (`make bench` measures it). The rule and the fields: docs/METHOD.md "Level history".
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

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


class SymbolHistory:
    """One symbol's rows and curve samples in time order (see the module docstring).

    `max_rows` bounds memory: past it the oldest rows go first (a default of 20,000 is four
    6.5-hour sessions at a 5 s poll)."""

    def __init__(self, symbol: str, *, max_rows: int = 20_000) -> None:
        self.symbol = symbol
        self.max_rows = max_rows
        self._rows: list[HistoryRow] = []
        self._samples: list[CurveSample | None] = []
        self.version = 0  # bumped on every change: views rebuild only when it moved

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[HistoryRow]:
        return iter(self._rows)

    @property
    def last_time(self) -> float:
        return self._rows[-1].time if self._rows else -math.inf

    def add(self, row: HistoryRow, sample: CurveSample | None = None) -> None:
        """Append `row` (and its curves). A row at or before the last one drops the rows
        from its time on first: the series is the analyses up to the newest."""
        if row.symbol != self.symbol:
            raise ValueError(f"a {row.symbol} row in {self.symbol}'s history")
        if self._rows and row.time <= self._rows[-1].time:
            self._cut(row.time, side="left")
        self._rows.append(row)
        self._samples.append(sample)
        if len(self._rows) > self.max_rows:
            cut = len(self._rows) - self.max_rows
            del self._rows[:cut], self._samples[:cut]
        self.version += 1

    def add_analysis(self, a: ExpiryAnalysis) -> HistoryRow:
        """`add` the row and curves of `a`; returns the row."""
        row = history_row(a)
        self.add(row, curve_sample(a))
        return row

    def _cut(self, t: float, side: Literal["left", "right"]) -> bool:
        """Drop the rows after `t` (epoch seconds), and those at `t` too for side "left";
        whether any went. The rows are in time order, so the cut is one search."""
        times = np.fromiter((r.time for r in self._rows), dtype=float, count=len(self._rows))
        keep = int(np.searchsorted(times, t, side=side))
        if keep == len(self._rows):
            return False
        del self._rows[keep:], self._samples[keep:]
        return True

    def truncate_after(self, t: float) -> None:
        """Keep only rows with time <= `t` (epoch seconds; a replay seeked back)."""
        if self._cut(t, side="right"):
            self.version += 1

    def entries(self) -> list[tuple[HistoryRow, CurveSample | None]]:
        """(row, its curves or None) pairs, oldest first."""
        return list(zip(self._rows, self._samples, strict=True))

    def clear(self) -> None:
        """Drop every row (a replay's history reloaded from its recording)."""
        if self._rows:
            self._rows.clear()
            self._samples.clear()
            self.version += 1

    def rows(self, scope: str | None = None) -> tuple[HistoryRow, ...]:
        """The rows, oldest first (of one scope label when given)."""
        if scope is None:
            return tuple(self._rows)
        return tuple(r for r in self._rows if r.scope == scope)

    def samples(self, scope: str | None = None) -> tuple[CurveSample, ...]:
        """The curve samples, oldest first (of one scope label when given); rows added
        without curves (rebuilt from a recording's rows alone) have none."""
        return tuple(
            s
            for r, s in zip(self._rows, self._samples, strict=True)
            if s is not None and (scope is None or r.scope == scope)
        )


@dataclass(frozen=True, eq=False)
class HistoryTable:
    """Rows as columns (the history pane's and the Parquet export's shape): each field of
    `HistoryRow` an array, oldest first; flip levels as a count and the nearest."""

    time: np.ndarray
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
    regime: tuple[str, ...]
    flip_levels: tuple[tuple[float, ...], ...]


def table(rows: Sequence[HistoryRow]) -> HistoryTable:
    """`rows` as columns (float64 arrays, NaN for none)."""

    def col(name: str) -> np.ndarray:
        return np.fromiter((getattr(r, name) for r in rows), dtype=np.float64, count=len(rows))

    return HistoryTable(
        time=col("time"),
        spot=col("spot"),
        impulse=col("impulse"),
        slope=col("slope"),
        flip_count=np.fromiter((r.flip_count for r in rows), dtype=np.int64, count=len(rows)),
        nearest_flip=col("nearest_flip"),
        zero_gamma=col("zero_gamma"),
        call_wall=col("call_wall"),
        put_wall=col("put_wall"),
        attractor_above=col("attractor_above"),
        attractor_below=col("attractor_below"),
        firmness=col("firmness"),
        charm_total=col("charm_total"),
        gex=col("gex"),
        dex=col("dex"),
        regime=tuple(r.regime for r in rows),
        flip_levels=tuple(r.flip_levels for r in rows),
    )
