"""Exports: JSON (strict, complete), CSV (curve and levels) and the Pine script."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hedgeflow.app.export import (
    analysis_json,
    curve_csv,
    export_analysis,
    key_levels,
    levels_csv,
    pine_script,
)
from hedgeflow.engine.types import RegimeEdge
from tests.tui.fakes import make_analysis, zone


def _analysis():
    spot = 6000.0
    zones = (
        zone(6025.0, 6015.0, 6035.0, stable=True, spot=spot),
        zone(5950.0, 5940.0, 5960.0, stable=False, spot=spot, es=250.0),
    )
    edges = (RegimeEdge(6060.0, stable_beyond=False, floe_transition_type="floe words"),)
    return make_analysis(spot=spot, flips=(5990.0, 6100.0), zones=zones, edges=edges)


def test_key_levels_nearest_first_with_sign_rule_words() -> None:
    levels = key_levels(_analysis())
    assert [lvl.kind for lvl in levels][:3] == ["flip", "stability", "attractor"]
    dist = [abs(lvl.price - 6000.0) for lvl in levels]
    assert dist == sorted(dist)
    acc = next(lvl for lvl in levels if lvl.kind == "acceleration")
    assert (acc.lower, acc.upper) == (5940.0, 5960.0)
    assert "amplifies" in acc.description  # H < 0: from hedgeflow.labels
    assert "dealers buy 250 ES" in acc.description  # contract figure +250 = dealers buy


def test_json_is_strict_and_drops_floe_label_words() -> None:
    text = analysis_json(_analysis())
    data = json.loads(text)  # allow_nan=False at write: NaN became null
    assert data["symbol"] == "SPX"
    assert data["nearest_flip"] == 5990.0
    assert len(data["hedge_flow"]["impulse_curve"]["price"]) == 121
    assert "floe words" not in text
    assert "floe_transition_type" not in data["pressure_cloud"]["regime_edges"][0]
    assert {lvl["kind"] for lvl in data["key_levels"]} >= {"flip", "stability", "edge"}


def test_curve_csv_round_trips_the_grid() -> None:
    a = _analysis()
    rows = list(csv.reader(io.StringIO(curve_csv(a))))
    assert rows[0][0] == "price" and len(rows) == 1 + len(a.hedge_flow.impulse_curve.price)
    prices = [float(r[0]) for r in rows[1:]]
    impulse = [float(r[1]) for r in rows[1:]]
    assert prices == a.hedge_flow.impulse_curve.price.tolist()
    assert impulse == a.hedge_flow.impulse_curve.impulse.tolist()
    assert all(r[4] != "" for r in rows[1:])  # same grid: repriced column filled


def test_levels_csv_and_pine_script_draw_every_level() -> None:
    a = _analysis()
    rows = list(csv.DictReader(io.StringIO(levels_csv(a))))
    assert len(rows) == len(key_levels(a))
    pine = pine_script(a)
    assert pine.startswith("//@version=5\n")
    assert 'indicator("hedgeflow SPX 11-24 levels", overlay=true)' in pine
    for lvl in key_levels(a):
        assert f"hline({lvl.price!r}" in pine
    # zones get both bounds and a fill
    assert "hline(6015.0" in pine and "hline(6035.0" in pine and pine.count("fill(") == 2
    assert not any(math.isnan(float(r["price"])) for r in rows)


def test_export_writes_five_files(tmp_path: Path) -> None:
    a = _analysis()
    paths = export_analysis(a, tmp_path / "out", stamp=a.as_of)
    assert [p.name for p in paths] == [
        "hedgeflow-SPX-20261124-103000.json",
        "hedgeflow-SPX-20261124-103000.curve.csv",
        "hedgeflow-SPX-20261124-103000.levels.csv",
        "hedgeflow-SPX-20261124-103000.card.csv",
        "hedgeflow-SPX-20261124-103000.pine",
    ]
    assert all(p.stat().st_size > 0 for p in paths)


def _broken_analysis():
    """An analysis whose numbers are partly non-finite, as the screen shows it with "–"."""
    spot = 6000.0
    zones = (
        zone(6025.0, 6015.0, math.inf, stable=True, spot=spot),  # centre only
        zone(math.nan, math.nan, math.nan, stable=False, spot=spot, es=math.inf),
    )
    edges = (RegimeEdge(math.inf, stable_beyond=True), RegimeEdge(6060.0, stable_beyond=False))
    a = make_analysis(spot=spot, flips=(math.nan, 5990.0), zones=zones, edges=edges)
    curve = replace(
        a.hedge_flow.impulse_curve,
        impulse_total=math.nan,
        impulse_at_spot=math.inf,
        slope_at_spot=-math.inf,
        nearest_attractor_above=math.nan,
        impulse=np.where(np.arange(121) % 7 == 0, np.nan, a.hedge_flow.impulse_curve.impulse),
    )
    charm = replace(a.hedge_flow.charm_integral, total_charm_to_close=math.nan)
    hf = replace(a.hedge_flow, impulse_curve=curve, charm_integral=charm)
    return replace(a, forward=math.inf, hedge_flow=hf)


def test_export_writes_what_it_can_of_a_non_finite_analysis(tmp_path: Path) -> None:
    a = _broken_analysis()
    paths = export_analysis(a, tmp_path, stamp=a.as_of)
    assert len(paths) == 5 and all(p.stat().st_size > 0 for p in paths)
    by_suffix = {"".join(p.suffixes[-2:]) if ".csv" in p.name else p.suffix: p for p in paths}
    # JSON: strict (no NaN/Infinity tokens), non-finite numbers are null, finite ones kept
    text = by_suffix[".json"].read_text(encoding="utf-8")
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON token {c}"))
    assert data["forward"] is None and data["spot"] == 6000.0
    assert data["headline"]["impulse"] is None and data["headline"]["slope"] is None
    assert data["headline"]["flip_levels"] == [5990.0] and data["nearest_flip"] == 5990.0
    assert data["headline"]["charm_total"] is None
    curve = data["hedge_flow"]["impulse_curve"]
    assert curve["impulse_density"][0] is None and curve["impulse_density"][1] is not None
    # CSV: empty cells where a number is missing, every other cell a finite number
    rows = list(csv.reader(io.StringIO(by_suffix[".curve.csv"].read_text(encoding="utf-8"))))
    assert rows[1][1] == "" and rows[2][1] != ""
    levels = list(csv.DictReader(io.StringIO(by_suffix[".levels.csv"].read_text("utf-8"))))
    for row in levels:
        for key in ("price", "lower", "upper", "strength"):
            assert row[key] == "" or math.isfinite(float(row[key])), row
    assert any(r["price"] == "" for r in levels)  # the NaN flip, zone and inf edge: kept empty
    assert not any("nan" in r["description"] or "inf" in r["description"] for r in levels)
    # Pine: only finite levels are drawn; no nan/inf literal reaches the script
    pine = by_suffix[".pine"].read_text(encoding="utf-8")
    assert not re.search(r"\b(nan|inf)\b", pine)
    drawn = sorted(
        float(x) for x in re.findall(r"^hline\(([-\d.e+]+), \"[a-z]+ [\d.]+\"", pine, re.M)
    )
    assert drawn == [5990.0, 6025.0, 6060.0]  # flip, stability centre, edge (attractor NaN)
    assert "fill(" not in pine  # the only zone with a price has an infinite bound
