"""Export the analysis on screen: JSON (everything), CSV (curve and levels), Pine script.

The builders are pure (analysis -> text) and tested; `export_analysis` writes the
files with one timestamped stem and returns their paths. Level words come from
`hedgeflow.engine.labels` (the sign rule); floe's own label strings (`floe_*` fields) are
left out of every export, as they are off the screen.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from hedgeflow.app.fmt import fmt_price
from hedgeflow.app.jsondoc import analysis_document
from hedgeflow.app.presentation import headline
from hedgeflow.engine import labels
from hedgeflow.engine.clock import NY
from hedgeflow.engine.enums import EngineModel, ExtremumKind
from hedgeflow.engine.jsonable import to_jsonable
from hedgeflow.engine.types import ExpiryAnalysis


@dataclass(frozen=True)
class KeyLevel:
    """A horizontal level worth drawing: kind is flip | attractor | stability | acceleration |
    edge; lower/upper are the zone bounds (equal to price for single levels)."""

    kind: str
    price: float
    lower: float
    upper: float
    strength: float
    description: str


def default_export_dir() -> Path:
    """Where exports, screenshots and recordings go unless `[monitor] export_dir` says
    otherwise: a `hedgeflow` folder in the user's documents directory."""
    from platformdirs import user_documents_path

    return user_documents_path() / "hedgeflow"


def key_levels(a: ExpiryAnalysis) -> list[KeyLevel]:
    """Flip levels, attractors, zones and regime edges, nearest to spot first."""
    out: list[KeyLevel] = []
    for p in headline(a).flip_levels:
        out.append(KeyLevel("flip", p, p, p, math.nan, "dealer impulse changes sign"))
    curve = a.hedge_flow.impulse_curve
    for basin in (curve.nearest_attractor_above, curve.nearest_attractor_below):
        if basin is not None:
            out.append(
                KeyLevel("attractor", basin, basin, basin, math.nan, "nearest stability basin")
            )
    cloud = a.pressure_cloud
    for z in (*cloud.stability_zones, *cloud.acceleration_zones):
        kind = "stability" if z.kind is ExtremumKind.BASIN else "acceleration"
        out.append(
            KeyLevel(kind, z.center, z.lower, z.upper, z.strength, labels.zone_description(z))
        )
    for e in cloud.regime_edges:
        out.append(
            KeyLevel(
                "edge", e.price, e.price, e.price, math.nan, labels.edge_description(e, a.spot)
            )
        )
    # nearest first; a level with no finite distance (NaN price or spot) goes last
    out.sort(key=lambda lvl: _distance(lvl.price, a.spot))
    return out


def _distance(price: float, spot: float) -> float:
    d = abs(price - spot)
    return d if math.isfinite(d) else math.inf


def _is_label(value: Any) -> bool:
    """A label string, or a list of them (floe's per-level `floe_hedge_type`)."""
    if isinstance(value, list):
        return all(isinstance(v, str) for v in value)
    return isinstance(value, str)


def _strip_floe_labels(obj: Any) -> Any:
    """Drop floe's label strings (they contradict the sign rule) and its own-sign contract
    figures per zone (`floe_contracts`); keep every number."""
    if isinstance(obj, dict):
        return {
            k: _strip_floe_labels(v)
            for k, v in obj.items()
            if not (k.startswith("floe_") and (_is_label(v) or k == "floe_contracts"))
        }
    if isinstance(obj, list):
        return [_strip_floe_labels(v) for v in obj]
    return obj


def analysis_json(a: ExpiryAnalysis) -> str:
    """The whole analysis as JSON (NaN -> null; the document of `app/jsondoc.py`, without
    floe's label strings), plus the key levels with their words and the headline."""
    payload = _strip_floe_labels(analysis_document(a))
    payload["key_levels"] = to_jsonable(key_levels(a))
    h = headline(a)
    payload["headline"] = to_jsonable(h)
    payload["nearest_flip"] = h.nearest_flip
    return json.dumps(payload, allow_nan=False, indent=1)


def _num(x: float | None) -> str:
    return "" if x is None or not math.isfinite(x) else repr(float(x))


#: The curve's columns, named as in the JSON (docs/JSON_SCHEMA.md) with their unit: the
#: physical curve holds densities in price, the floe curve kernel averages.
_CURVE_COLUMNS = {
    EngineModel.PHYSICAL: (
        "impulse_density_usd_per_pct_per_point",
        "gex_density_usd_per_pct_per_point",
        "vanna_term_density_usd_per_pct_per_point",
    ),
    EngineModel.FLOE: (
        "impulse_kernel_average_usd_per_pct",
        "gex_kernel_average_usd_per_pct",
        "vex_kernel_average_usd_per_vol_point",
    ),
}


def curve_csv(a: ExpiryAnalysis) -> str:
    """One row per grid price: the impulse curve and its GEX and vanna parts (named by the
    model's curve, as in the JSON), the repriced total impulse (when computed on the same
    grid) and the pressure scores. Empty cells are missing values."""
    curve = a.hedge_flow.impulse_curve
    levels = a.pressure_cloud.levels
    rep = a.repriced
    same_grid = rep is not None and len(rep.price) == len(curve.price)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "price",
            *_CURVE_COLUMNS[a.model],
            "repriced_impulse_usd_per_pct",
            "stability_score",
            "acceleration_score",
        ]
    )
    score_ok = len(levels.price) == len(curve.price)
    for i, p in enumerate(curve.price):
        w.writerow(
            [
                _num(p),
                _num(curve.impulse[i]),
                _num(curve.gamma[i]),
                _num(curve.vanna[i]),
                _num(rep.impulse[i]) if same_grid and rep is not None else "",
                _num(levels.stability_score[i]) if score_ok else "",
                _num(levels.acceleration_score[i]) if score_ok else "",
            ]
        )
    return buf.getvalue()


def levels_csv(a: ExpiryAnalysis) -> str:
    """The key levels table (as in the zones pane): kind, price, bounds, strength, words."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        ["symbol", "expiration", "kind", "price", "lower", "upper", "strength", "description"]
    )
    exp = a.expiration.isoformat()
    for lvl in key_levels(a):
        w.writerow(
            [
                a.symbol,
                exp,
                lvl.kind,
                _num(lvl.price),
                _num(lvl.lower),
                _num(lvl.upper),
                _num(lvl.strength),
                lvl.description,
            ]
        )
    return buf.getvalue()


def card_csv(a: ExpiryAnalysis) -> str:
    """The levels card (docs/METHOD.md "Levels"): one row per level, nearest spot first,
    with its distance from spot and its price on the mapped future (and that future's
    basis and where it came from); empty when the analysis has no levels."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "symbol",
            "expiration",
            "scope",
            "level",
            "price",
            "distance_points",
            "distance_percent",
            "future",
            "future_price",
            "basis_points",
            "basis_source",
        ]
    )
    lv = a.levels
    if lv is None:
        return buf.getvalue()
    f = lv.futures
    for e in lv.entries:
        w.writerow(
            [
                a.symbol,
                a.expiration.isoformat(),
                a.scope,
                e.name,
                _num(e.price),
                _num(e.distance),
                _num(e.distance_percent),
                f.product if f else "",
                _num(e.futures),
                _num(f.basis) if f else "",
                f.source if f else "",
            ]
        )
    return buf.getvalue()


#: The levels card in the Pine script: drawn apart from the key levels (flip levels and
#: attractors are drawn there already).
_CARD_COLORS = {
    "call wall": "color.teal",
    "put wall": "color.maroon",
    "call wall OI": "color.teal",
    "put wall OI": "color.maroon",
    "abs gamma": "color.purple",
    "zero gamma": "color.yellow",
    "max pain": "color.silver",
    "EM high": "color.blue",
    "EM low": "color.blue",
}


def _pine_card(a: ExpiryAnalysis) -> list[str]:
    """The levels card as Pine lines: an input that redraws them on the mapped future
    (level x factor, the basis of the export) and one dotted line per level."""
    lv = a.levels
    if lv is None:
        return []
    f = lv.futures
    lines = [f"// levels card, scope {a.scope}"]
    if f is not None:
        lines.append(
            f"// {f.product} {f.price:.2f} ({f.source}), basis {f.basis:+.2f} points: "
            f"a level L is L x {f.factor!r} on {f.product}"
        )
        lines.append(
            f'on_future = input.bool(false, "Draw the levels card on {_pine_str(f.product)}")'
        )
        lines.append(f"k = on_future ? {f.factor!r} : 1.0")
    else:
        lines.append("k = 1.0")
    for e in lv.entries:
        color = _CARD_COLORS.get(e.name)
        if color is None or not math.isfinite(e.price):
            continue
        title = _pine_str(f"{e.name} {e.price:.2f}")
        lines.append(
            f'hline({e.price!r} * k, "{title}", color={color}, linestyle=hline.style_dotted)'
        )
    return lines


_PINE_COLORS = {
    "flip": "color.orange",
    "attractor": "color.green",
    "stability": "color.green",
    "acceleration": "color.red",
    "edge": "color.gray",
}


def _pine_str(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', "'")


#: The first note of an analysis of the simulated market (the sim feed, or a replay of a
#: recording of it), in `analyze` and in the monitor's exports: its times are the
#: simulation's clock, its quotes no market's.
SIMULATED_NOTE = "simulated market: hedgeflow's own simulation, not real quotes or times"


def mark_simulated(a: ExpiryAnalysis) -> ExpiryAnalysis:
    """`a` with `SIMULATED_NOTE` first among its notes (once)."""
    if SIMULATED_NOTE in a.notes:
        return a
    return replace(a, notes=(SIMULATED_NOTE, *a.notes))


def pine_script(a: ExpiryAnalysis) -> str:
    """A TradingView Pine v5 indicator drawing the key levels as horizontal lines (zones as
    two bounds with a fill), for the chart of the same underlying. A level whose price is
    not finite is left out (Pine has no NaN literal: `hline(nan)` does not compile); a zone
    with a non-finite bound is drawn as its centre line only."""
    as_of = a.as_of.astimezone(NY)
    exp = a.expiration.astimezone(NY)
    sim = SIMULATED_NOTE in a.notes
    lines = [
        "//@version=5",
        *(
            [f"// SIMULATED market: these are not the real {a.symbol}'s levels ({SIMULATED_NOTE})."]
            if sim
            else []
        ),
        f"// hedgeflow key levels for {a.symbol}, expiry {exp:%Y-%m-%d %H:%M} ET,",
        f"// data as of {as_of:%Y-%m-%d %H:%M:%S} ET, spot {fmt_price(a.spot)}; "
        f"model {a.model.value}, positioning {a.positioning.value}.",
        "// Levels are a snapshot: re-export after the next analysis.",
        f'indicator("hedgeflow {"SIMULATED " if sim else ""}{_pine_str(a.symbol)} {exp:%m-%d} '
        'levels", overlay=true)',
    ]
    for i, lvl in enumerate(key_levels(a)):
        if not math.isfinite(lvl.price):
            continue
        color = _PINE_COLORS[lvl.kind]
        title = _pine_str(f"{lvl.kind} {lvl.price:.2f}")
        if math.isfinite(lvl.lower) and math.isfinite(lvl.upper) and lvl.upper > lvl.lower:
            lines.append(
                f'z{i}lo = hline({lvl.lower!r}, "{title} low", color={color}, linestyle=hline.style_dotted)'
            )
            lines.append(
                f'z{i}hi = hline({lvl.upper!r}, "{title} high", color={color}, linestyle=hline.style_dotted)'
            )
            lines.append(f'fill(z{i}lo, z{i}hi, color=color.new({color}, 85), title="{title}")')
        style = "hline.style_solid" if lvl.kind in ("flip", "attractor") else "hline.style_dashed"
        width = 2 if lvl.kind == "flip" else 1
        lines.append(
            f'hline({lvl.price!r}, "{title}", color={color}, linestyle={style}, linewidth={width})'
        )
    lines.extend(_pine_card(a))
    return "\n".join(lines) + "\n"


def export_analysis(a: ExpiryAnalysis, directory: Path, *, stamp: datetime) -> list[Path]:
    """Write `<symbol>-<yyyymmdd-hhmmss>.{json,curve.csv,levels.csv,card.csv,pine}` into `directory`
    (created if needed). `stamp` is the analysis time the names carry (New York time)."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"hedgeflow-{a.symbol}-{stamp.astimezone(NY):%Y%m%d-%H%M%S}"
    files = {
        f"{stem}.json": analysis_json(a),
        f"{stem}.curve.csv": curve_csv(a),
        f"{stem}.levels.csv": levels_csv(a),
        f"{stem}.card.csv": card_csv(a),
        f"{stem}.pine": pine_script(a),
    }
    paths = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
