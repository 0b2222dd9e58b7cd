"""Level history: one row and one set of curves per analysis, in data-time order."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest

from hedgeflow.app.history import (
    HistoryRow,
    SymbolHistory,
    curve_sample,
    history_row,
    table,
)
from hedgeflow.app.presentation import headline
from hedgeflow.engine.expiry_scope import ExpiryScope, ScopeKind
from hedgeflow.engine.scope import analyze_scope
from hedgeflow.engine.types import ExpiryAnalysis
from tests.tui.conftest import START, shared_sim


def _analysis(
    minutes: float = 0.0, symbol: str = "SPX", scope: ScopeKind | None = None
) -> ExpiryAnalysis:
    sim = shared_sim()
    when = START + timedelta(minutes=minutes)
    chain = sim.chain_at(symbol, when)
    if scope is None:
        return analyze_scope(chain, now=when)
    return analyze_scope(chain, now=when, scope=ExpiryScope(scope))


@pytest.fixture(scope="module")
def analyses() -> list[ExpiryAnalysis]:
    return [_analysis(m) for m in (0.0, 5.0, 10.0)]


def test_a_row_is_the_headline_of_its_analysis(analyses: list[ExpiryAnalysis]) -> None:
    a = analyses[0]
    row, h = history_row(a), headline(a)
    assert row.time == a.as_of.timestamp() and row.symbol == "SPX" and row.scope == a.scope
    assert row.expiration == a.expiration.timestamp()
    assert (row.spot, row.impulse, row.slope) == (a.spot, h.impulse, h.slope)
    assert row.flip_levels == h.flip_levels and row.flip_count == len(h.flip_levels)
    assert row.regime == h.regime.value and row.charm_total == h.charm_total
    assert a.levels is not None
    assert row.call_wall == a.levels.call_wall and row.put_wall == a.levels.put_wall
    assert row.dex == a.levels.net_dex
    assert row.gex == pytest.approx(float(np.sum(a.exposure.gamma)), rel=1e-12)
    # a level that is absent is NaN, never None, in a row
    for name in ("nearest_flip", "zero_gamma", "attractor_above", "attractor_below"):
        want = getattr(h, name)
        got = getattr(row, name)
        assert (math.isnan(got) and want is None) or got == want


def test_json_round_trip_keeps_nan_as_none() -> None:
    row = HistoryRow(
        time=1.7e9,
        symbol="SPX",
        scope="all",
        expiration=1.8e9,
        spot=6000.0,
        impulse=-1e9,
        slope=2.5,
        flip_levels=(5950.0, 6010.5),
        nearest_flip=6010.5,
        zero_gamma=float("nan"),
        call_wall=6100.0,
        put_wall=float("nan"),
        attractor_above=float("nan"),
        attractor_below=5900.0,
        regime="squeeze-up",
        firmness=1.5,
        charm_total=-3e8,
        gex=4e9,
        dex=float("nan"),
    )
    js = row.to_json()
    assert js["zero_gamma"] is None and js["flip_levels"] == [5950.0, 6010.5]
    back = HistoryRow.from_json(js)
    assert back.to_json() == js
    assert math.isnan(back.put_wall) and back.flip_levels == row.flip_levels
    with pytest.raises(KeyError):
        HistoryRow.from_json({k: v for k, v in js.items() if k != "spot"})


def test_curve_sample_is_the_curve_and_the_strikes_in_its_window(
    analyses: list[ExpiryAnalysis],
) -> None:
    a = analyses[0]
    s = curve_sample(a)
    curve = a.hedge_flow.impulse_curve
    np.testing.assert_allclose(s.price, curve.price, rtol=1e-6)
    np.testing.assert_allclose(s.impulse, curve.impulse.astype(np.float32))
    lo, hi = curve.price[0], curve.price[-1]
    inside = (a.exposure.strikes >= lo) & (a.exposure.strikes <= hi)
    assert s.strikes.size == int(inside.sum()) > 0
    np.testing.assert_allclose(s.gex, a.exposure.gamma[inside].astype(np.float32))
    # the charm by strike is the charm integral's own contribution of the same strike
    ci = a.hedge_flow.charm_integral
    for k, c in zip(s.strikes, s.charm, strict=True):
        hit = np.flatnonzero(ci.contribution_strikes == k)
        want = ci.strike_contribution[hit[0]] if hit.size else 0.0
        assert c == pytest.approx(want, rel=1e-6, abs=1e-3)


def test_the_series_is_the_analyses_in_time_order(analyses: list[ExpiryAnalysis]) -> None:
    h = SymbolHistory("SPX")
    for a in analyses:
        h.add_analysis(a)
    assert [r.time for r in h] == [a.as_of.timestamp() for a in analyses]
    assert len(h.samples()) == 3 and h.version == 3
    # a replay stepped back: the row at an earlier time replaces everything from it on
    h.add_analysis(analyses[1])
    assert [r.time for r in h] == [a.as_of.timestamp() for a in analyses[:2]]
    h.truncate_after(analyses[0].as_of.timestamp())
    assert len(h) == 1 and len(h.samples()) == 1
    h.truncate_after(analyses[0].as_of.timestamp())  # nothing to drop: version unchanged
    v = h.version
    h.truncate_after(analyses[0].as_of.timestamp() + 1)
    assert h.version == v
    with pytest.raises(ValueError, match="SPY row in SPX"):
        h.add(replace(history_row(analyses[0]), symbol="SPY"))


def test_memory_is_bounded_oldest_first(analyses: list[ExpiryAnalysis]) -> None:
    h = SymbolHistory("SPX", max_rows=5)
    base = history_row(analyses[0])
    for i in range(12):
        h.add(replace(base, time=base.time + i))
    assert len(h) == 5 and [r.time - base.time for r in h] == [7, 8, 9, 10, 11]


def test_scopes_are_kept_apart_and_the_table_is_the_rows(analyses: list[ExpiryAnalysis]) -> None:
    h = SymbolHistory("SPX")
    h.add_analysis(analyses[0])
    summed = _analysis(7.0, scope=ScopeKind.ALL)
    h.add_analysis(summed)
    assert {r.scope for r in h} == {analyses[0].scope, summed.scope}
    assert len(h.rows(summed.scope)) == 1 and len(h.samples(summed.scope)) == 1
    t = table(h.rows())
    assert t.time.tolist() == [r.time for r in h]
    assert t.flip_count.tolist() == [r.flip_count for r in h]
    np.testing.assert_array_equal(t.zero_gamma, [r.zero_gamma for r in h])
    assert t.regime == tuple(r.regime for r in h)
