"""The level history kept in columns behaves exactly as the list of row objects it
replaced, and the garbage collector has nothing per row to walk."""

from __future__ import annotations

import gc
import math
from dataclasses import replace
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hedgeflow.app.history as history
from hedgeflow.app.history import (
    CurveSample,
    HistoryRow,
    HistoryTable,
    SymbolHistory,
    table,
)

SCOPES = ("nearest", "all", "0dte")
REGIMES = ("dampening", "amplifying", "neutral")


class ListHistory:
    """The semantics the columns must keep, written the plain way: a list of rows and a
    list of samples (the design `SymbolHistory` had before its columns)."""

    def __init__(self, symbol: str, max_rows: int, max_curves: int | None = None) -> None:
        self.symbol, self.max_rows, self.max_curves = symbol, max_rows, max_curves
        self.spacing = 1.0
        self.rows: list[HistoryRow] = []
        self.samples: list[CurveSample | None] = []
        self.version = 0

    def _cut(self, t: float, right: bool) -> bool:
        keep = len(self.rows)
        while keep and (
            self.rows[keep - 1].time > t or (not right and self.rows[keep - 1].time == t)
        ):
            keep -= 1
        if keep == len(self.rows):
            return False
        del self.rows[keep:], self.samples[keep:]
        return True

    def add(self, row: HistoryRow, sample: CurveSample | None) -> None:
        if self.rows and row.time <= self.rows[-1].time:
            self._cut(row.time, right=False)
        self.rows.append(row)
        self.samples.append(sample)
        if len(self.rows) > self.max_rows:
            cut = len(self.rows) - self.max_rows
            del self.rows[:cut], self.samples[:cut]
        with_curves = [i for i, s in enumerate(self.samples) if s is not None]
        if self.max_curves is not None and len(with_curves) > self.max_curves:
            # all but the newest max_curves // 2: the first of each bucket of `spacing`
            # seconds, the spacing doubled until at most 3/8 of the bound are left there
            older = with_curves[: len(with_curves) - self.max_curves // 2]
            target = max(self.max_curves // 2 - self.max_curves // 8, 1)
            while len({math.floor(self.rows[i].time / self.spacing) for i in older}) > target:
                self.spacing *= 2.0
            seen: set[int] = set()
            for i in older:
                b = math.floor(self.rows[i].time / self.spacing)
                if b in seen:
                    self.samples[i] = None
                seen.add(b)
        self.version += 1

    def truncate_after(self, t: float) -> None:
        if self._cut(t, right=True):
            self.version += 1

    def clear(self) -> None:
        self.spacing = 1.0
        if self.rows:
            self.rows.clear()
            self.samples.clear()
            self.version += 1


# -------------------------------------------------------------------- comparing


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _same_row(a: HistoryRow, b: HistoryRow) -> None:
    ja, jb = a.to_json(), b.to_json()
    ja.pop("flip_levels"), jb.pop("flip_levels")  # may hold NaN: compared below
    assert ja == jb
    for name, v in vars(b).items():
        w = getattr(a, name)
        assert type(w) is type(v), name
        if isinstance(v, float):
            assert _same_float(w, v), name
    assert len(a.flip_levels) == len(b.flip_levels)
    assert all(_same_float(x, y) for x, y in zip(a.flip_levels, b.flip_levels, strict=True))


def _same_sample(a: CurveSample | None, b: CurveSample | None) -> None:
    assert (a is None) == (b is None)
    if a is None or b is None:
        return
    assert _same_float(a.time, b.time) and _same_float(a.spot, b.spot)
    for name in ("price", "impulse", "strikes", "gex", "charm"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == np.float32 and x.shape == y.shape, name
        np.testing.assert_array_equal(x, y, err_msg=name)


def _same_table(a: HistoryTable, b: HistoryTable) -> None:
    for name, v in vars(b).items():
        w = getattr(a, name)
        if isinstance(v, np.ndarray):
            assert w.dtype == v.dtype and w.shape == v.shape, name
            np.testing.assert_array_equal(w, v, err_msg=name)  # NaN where NaN
        else:
            assert len(w) == len(v), name
            if name == "flip_levels":
                for x, y in zip(w, v, strict=True):
                    assert np.array_equal(x, y, equal_nan=True)
            else:
                assert w == v, name


def _same_history(h: SymbolHistory, ref: ListHistory) -> None:
    assert len(h) == len(ref.rows) and h.version == ref.version
    assert _same_float(h.last_time, ref.rows[-1].time if ref.rows else -math.inf)
    got = h.entries()
    assert len(got) == len(ref.rows)
    for (r, s), wr, ws in zip(got, ref.rows, ref.samples, strict=True):
        _same_row(r, wr)
        _same_sample(s, ws)
    for scope in (None, *SCOPES, "never seen"):
        rows = h.rows(scope)
        want = [r for r in ref.rows if scope is None or r.scope == scope]
        assert len(rows) == len(want)
        for r, w in zip(rows, want, strict=True):
            _same_row(r, w)
        samples = h.samples(scope)
        want_s = [
            s
            for r, s in zip(ref.rows, ref.samples, strict=True)
            if s is not None and (scope is None or r.scope == scope)
        ]
        assert len(samples) == len(want_s)
        for s, ws in zip(samples, want_s, strict=True):
            _same_sample(s, ws)
        curves = h.curves(scope)
        np.testing.assert_array_equal(curves.times, [s.time for s in want_s])
        _same_table(h.table(scope), table(want))
        every_other = np.arange(len(want))[::-2]  # newest first, as any index may be
        _same_table(h.table(scope, every_other), table([want[i] for i in every_other]))
        np.testing.assert_array_equal(h.times(scope), [r.time for r in want])
        last = h.last(scope)
        assert (last is None) == (not want)
        if last is not None:
            _same_row(last, want[-1])
    assert [r.time for r in h] == [r.time for r in ref.rows]


# -------------------------------------------------------------------- generating

_number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 6000.25, float("nan")]),
)
_f32 = st.floats(allow_nan=True, allow_infinity=True, width=32)


@st.composite
def _sample(draw: Any, t: float) -> CurveSample | None:
    if not draw(st.booleans()):
        return None
    n = draw(st.integers(0, 5))
    m = draw(st.integers(0, 4))

    def arr(k: int) -> np.ndarray:
        return np.array(draw(st.lists(_f32, min_size=k, max_size=k)), dtype=np.float32)

    return CurveSample(
        time=t + draw(st.sampled_from([0.0, 0.5, -1.0])),
        spot=draw(_number),
        price=arr(n),
        impulse=arr(n),
        strikes=arr(m),
        gex=arr(m),
        charm=arr(m),
    )


@st.composite
def _row(draw: Any, t: float) -> HistoryRow:
    names = [n for n in HistoryRow.__dataclass_fields__ if n not in ("time", "symbol")]
    kw: dict[str, Any] = {}
    for name in names:
        if name == "scope":
            kw[name] = draw(st.sampled_from(SCOPES))
        elif name == "regime":
            kw[name] = draw(st.sampled_from(REGIMES))
        elif name == "flip_levels":
            kw[name] = tuple(draw(st.lists(_number, max_size=4)))
        else:
            kw[name] = draw(_number)
    return HistoryRow(time=t, symbol="SPX", **kw)


@st.composite
def _ops(draw: Any) -> list[tuple[Any, ...]]:
    """Adds at times stepping mostly forward, sometimes back or onto the last time, with
    truncations and clears between."""
    out: list[tuple[Any, ...]] = []
    t = 1.7e9
    for _ in range(draw(st.integers(1, 60))):
        kind = draw(st.sampled_from(["add"] * 8 + ["truncate", "clear"]))
        if kind == "add":
            t += draw(st.sampled_from([5.0, 5.0, 5.0, 2.5, 0.0, -5.0, -12.5]))
            out.append(("add", draw(_row(t)), draw(_sample(t))))
        elif kind == "truncate":
            out.append(("truncate", t + draw(st.sampled_from([-20.0, -5.0, -2.5, 0.0, 1.0]))))
        else:
            out.append(("clear",))
    return out


@settings(max_examples=200, deadline=None)
@given(
    ops=_ops(),
    max_rows=st.integers(0, 8),
    slack=st.integers(1, 5),
    max_curves=st.none() | st.integers(1, 6),
)
def test_columns_behave_as_the_list_of_rows(
    ops: list[tuple[Any, ...]], max_rows: int, slack: int, max_curves: int | None
) -> None:
    # a small cut slack, so that the dead front is cut (and offsets rebased) often; a
    # small curve bound, so that curves are thinned (and the buffers closed up) often
    with mock.patch.object(history, "TRIM_SLACK", slack):
        h = SymbolHistory("SPX", max_rows=max_rows, max_curves=max_curves)
        ref = ListHistory("SPX", max_rows, max_curves)
        for op in ops:
            if op[0] == "add":
                h.add(op[1], op[2])
                ref.add(op[1], op[2])
            elif op[0] == "truncate":
                h.truncate_after(op[1])
                ref.truncate_after(op[1])
            else:
                h.clear()
                ref.clear()
            _same_history(h, ref)


def test_a_long_run_at_the_cap_keeps_the_newest_and_bounded_memory() -> None:
    base = HistoryRow(1.7e9, "SPX", "nearest", 1.8e9, *([1.0] * 3), (1.0, 2.0), *([2.0] * 6),
                      "neutral", *([3.0] * 4))  # fmt: skip
    grid = np.linspace(0, 1, 120, dtype=np.float32)
    k = np.arange(40, dtype=np.float32)
    h = SymbolHistory("SPX", max_rows=1_000)
    peak = 0
    for i in range(20_000):
        t = base.time + 5.0 * i
        h.add(replace(base, time=t, spot=float(i)), CurveSample(t, i, grid, grid, k, k, k))
        peak = max(peak, h.nbytes)
    assert len(h) == 1_000 and h.version == 20_000
    assert [r.spot for r in h.rows()[:3]] == [19_000.0, 19_001.0, 19_002.0]
    assert h.samples()[0].spot == 19_000.0
    # a row with its curves is ~1.6 kB of numbers: 1,000 rows plus the cut slack plus the
    # buffers' growth room stay within a few times that, never the 20,000 seen
    per_row = 8 * 17 + 8 * 9 + 8 * 2 + 4 * (2 * 120 + 3 * 40)
    assert peak < 3 * 1_125 * per_row


def _grow(h: Any, n: int) -> int:
    """GC-tracked objects after adding `n` rows with curves to `h` minus before."""
    base = HistoryRow(1.7e9, "SPX", "nearest", 1.8e9, *([1.0] * 3), (1.0, 2.0), *([2.0] * 6),
                      "neutral", *([3.0] * 4))  # fmt: skip
    grid = np.linspace(0, 1, 50, dtype=np.float32)

    def add(i: int) -> None:
        t = base.time + 5.0 * i
        row = replace(base, time=t, spot=6000.0 + i, flip_levels=(5990.0 + i, 6010.0))
        sample = CurveSample(t, 6000.0 + i, grid.copy(), grid.copy(), grid[:8].copy(),
                             grid[:8].copy(), grid[:8].copy())  # fmt: skip
        h.add(row, sample)

    add(0)  # the first row's labels coded, the buffers made
    gc.collect()
    before = len(gc.get_objects())
    for i in range(1, n + 1):
        add(i)
    gc.collect()
    return len(gc.get_objects()) - before


def test_the_collector_has_nothing_per_row_to_walk() -> None:
    assert _grow(SymbolHistory("SPX", max_rows=10**6), 5_000) < 100
    # the measure is sharp: the row objects it replaced leave at least one a row (the
    # HistoryRow and the CurveSample: two here)
    assert _grow(ListHistory("SPX", 10**6), 5_000) > 5_000


def test_a_stale_curve_series_refuses_to_be_read() -> None:
    base = HistoryRow(1.7e9, "SPX", "nearest", 1.8e9, *([1.0] * 3), (), *([2.0] * 6),
                      "neutral", *([3.0] * 4))  # fmt: skip
    a = np.ones(3, dtype=np.float32)
    h = SymbolHistory("SPX")
    h.add(base, CurveSample(base.time, 1.0, a, a, a, a, a))
    curves = h.curves()
    assert curves[0].spot == 1.0 and len(curves) == 1
    h.add(replace(base, time=base.time - 1.0))  # stepped back: the row is replaced
    with pytest.raises(RuntimeError, match="changed"):
        curves[0]


def test_curves_whose_arrays_do_not_pair_up_are_refused() -> None:
    base = HistoryRow(1.7e9, "SPX", "nearest", 1.8e9, *([1.0] * 3), (), *([2.0] * 6),
                      "neutral", *([3.0] * 4))  # fmt: skip
    a, b = np.ones(3, dtype=np.float32), np.ones(2, dtype=np.float32)
    h = SymbolHistory("SPX")
    h.add(base)
    for bad in (CurveSample(0, 1, a, b, a, a, a), CurveSample(0, 1, a, a, a, a, b)):
        with pytest.raises(ValueError, match="one length"):
            h.add(base, bad)  # at the last row's time: nothing cut either
    assert len(h) == 1 and h.version == 1


def test_a_replay_stepping_back_and_forth_reuses_its_buffers() -> None:
    base = HistoryRow(1.7e9, "SPX", "nearest", 1.8e9, *([1.0] * 3), (1.0, 2.0), *([2.0] * 6),
                      "neutral", *([3.0] * 4))  # fmt: skip
    a = np.ones(100, dtype=np.float32)
    h = SymbolHistory("SPX")

    def play(start: int, stop: int) -> None:
        for i in range(start, stop):
            t = base.time + 5.0 * i
            h.add(replace(base, time=t), CurveSample(t, 1.0, a, a, a[:30], a[:30], a[:30]))

    play(0, 200)
    size = h.nbytes
    for _ in range(50):  # seek back to the first row, play the session again
        h.truncate_after(base.time)
        play(1, 200)
    assert len(h) == 200 and h.nbytes == size


def test_a_full_session_keeps_a_bounded_number_of_curves_newest_first() -> None:
    """MONITOR_CURVES at a 5 s poll: every row stays, the newest half of the bound are
    every analysis' curves, the older ones evenly spread, each still its own row's."""
    base = HistoryRow(1.7e9, "SPX", "nearest", 1.8e9, *([1.0] * 3), (1.0, 2.0), *([2.0] * 6),
                      "neutral", *([3.0] * 4))  # fmt: skip
    h = SymbolHistory("SPX", max_curves=history.MONITOR_CURVES)
    peak = 0
    for i in range(4_680):
        t = base.time + 5.0 * i
        grid = np.full(120, i, dtype=np.float32)
        k = np.full(1 + i % 40, i, dtype=np.float32)  # rows of different lengths
        h.add(replace(base, time=t, spot=float(i)), CurveSample(t, i, grid, grid, k, k, k))
        peak = max(peak, h.nbytes)
    assert len(h) == 4_680 and len(h.rows()) == 4_680
    samples = h.samples()
    assert history.MONITOR_CURVES // 2 < len(samples) <= history.MONITOR_CURVES
    spots = [int(s.spot) for s in samples]
    half = history.MONITOR_CURVES // 2
    assert spots[-half:] == list(range(4_680 - half, 4_680))  # the newest: all of them
    assert spots[0] == 0  # the first analysis' curves are kept (the first of its bucket)
    older = np.diff(spots[:-half])
    assert len(spots) - half <= 3 * history.MONITOR_CURVES // 8
    assert older.max() <= 2 * np.median(older)  # evenly over the session: no hole
    for s in samples:  # each sample is its own row's: no offsets mixed up by the thinning
        i = int(s.spot)
        assert (s.price == i).all() and s.strikes.size == 1 + i % 40 and (s.charm == i).all()
    # bounded: the rows' numbers plus MONITOR_CURVES curves, not 4,680 of them
    per_curve = 4 * (2 * 120 + 3 * 40)
    assert peak < 8 * 4_680 * 28 + 3 * history.MONITOR_CURVES * per_curve
