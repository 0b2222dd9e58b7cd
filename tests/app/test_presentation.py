"""One headline, every surface: the CLI summary, the regime pane, the exports and the alerts
show the same headline numbers for every shared real file and both engine models.

Each surface's output is read back as a user would see it (the printed summary, the
rendered regime pane, the written JSON/CSV/Pine text, the alert list) and compared with
`headline(analysis)`. The analysis is the one the real command computes: the same file
reader and the built-in configuration.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
from rich.console import Console

from hedgeflow.app.alerts import AlertKind, compare_analyses
from hedgeflow.app.config import load_settings
from hedgeflow.app.export import analysis_json, levels_csv, pine_script
from hedgeflow.app.fmt import fmt_dollars, fmt_level, fmt_percent
from hedgeflow.app.presentation import FlipSource, Headline, headline
from hedgeflow.cli import main
from hedgeflow.engine.enums import EngineModel
from hedgeflow.engine.pipeline import analyze_chain
from hedgeflow.engine.types import ExpiryAnalysis
from hedgeflow.feeds.files import read_chain_file
from hedgeflow.tui.panes import RegimePane
from hedgeflow.tui.views import Palette
from tests.tui.fakes import make_analysis

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
FILES = sorted(p.name for p in REAL.iterdir() if p.suffix in (".csv", ".dat"))
MODELS = (EngineModel.PHYSICAL, EngineModel.FLOE)

_UNITS = {"T": 1e12, "B": 1e9, "M": 1e6, "K": 1e3, "": 1.0}


@cache
def _analysis(name: str, model: EngineModel) -> ExpiryAnalysis:
    """What `hedgeflow analyze FILE --model MODEL` analyzes (built-in configuration)."""
    chain = read_chain_file(REAL / name)
    config = replace(load_settings(None).engine_config(chain.symbol or "SPX"), model=model)
    return analyze_chain(chain, config=config)


def _dollars(text: str) -> float:
    """`-$1.2B` -> -1.2e9 (the inverse of fmt_dollars, to its precision)."""
    m = re.fullmatch(r"([+-]?)\$([\d.]+)([TBMK]?)", text)
    assert m, text
    return (-1.0 if m[1] == "-" else 1.0) * float(m[2]) * _UNITS[m[3]]


def _price(text: str) -> float:
    return float(text.replace(",", ""))


def _same_dollars(shown: str, value: float) -> None:
    """`shown` is `value` as printed: the same text, and the number read back within the
    rounding of its last digit."""
    assert shown.lstrip("+") == fmt_dollars(value), (shown, value)
    assert _dollars(shown) == pytest.approx(value, rel=0.05, abs=1.0)


def _same_level(shown: str, value: float | None, decimals: int) -> None:
    assert value is not None, shown
    assert abs(_price(shown) - value) <= 0.5 * 10.0**-decimals + 1e-9, (shown, value)


def _line(text: str, prefix: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.startswith(prefix)]
    assert len(lines) == 1, (prefix, text)
    return lines[0][len(prefix) :]


# ------------------------------------------------------------------ each surface, read back


def check_cli_summary(out: str, h: Headline) -> None:
    impulse = _line(out, "impulse  ")
    m = re.match(r"(\S+) per \+1% at spot: (.+)  \[([^,\]]+)(?:, (.+))?\]$", impulse)
    assert m, impulse
    _same_dollars(m[1], h.impulse)
    assert m[2] == h.impulse_words and m[3] == h.regime.value
    assert (m[4] or "") == h.firmness_words
    flip = _line(out, "flip     ")
    if h.nearest_flip is None:
        assert flip.startswith("none"), flip
    else:
        m = re.match(r"([\d,.]+) \(nearest of (\d+) flip levels? of the (.+)\)$", flip)
        assert m, flip
        _same_level(m[1], h.nearest_flip, 2)
        assert int(m[2]) == len(h.flip_levels) and m[3] == h.flip_source.value
    zero = [ln for ln in out.splitlines() if ln.startswith("zero γ   ")]
    if h.zero_gamma is None:
        assert not zero or zero[0].startswith("zero γ   none within"), zero
    else:
        _same_level(zero[0].split()[2], h.zero_gamma, 2)
    attract = _line(out, "attract  ")
    m = re.fullmatch(r"above (\S+)   below (\S+)", attract)
    assert m, attract
    for shown, value in ((m[1], h.attractor_above), (m[2], h.attractor_below)):
        if value is None:
            assert shown == "none"
        else:
            _same_level(shown, value, 2)
    charm = re.match(
        r"to (?:[A-Z][a-z]{2} )?\d\d:\d\d \S+: (\S+) of dealer delta, (.+?)(;|$)",
        _line(out, "charm    "),
    )
    assert charm
    _same_dollars(charm[1], h.charm_total)
    assert charm[2] == h.charm_words


def regime_pane_rows(a: ExpiryAnalysis) -> dict[str, str]:
    """The regime pane as drawn (not compact), label -> value text; the unlabeled row under
    "H spot" is keyed "words"."""
    pane = RegimePane(Palette())
    console = Console(width=120, record=True, color_system=None)
    console.print(pane._render_regime(a, compact=False))
    rows: dict[str, str] = {}
    for line in console.export_text().splitlines():
        label, _, value = line.strip().partition(" ")
        if line.startswith(" ") or not line.strip():  # the unlabeled words row
            rows.setdefault("words", line.strip())
            continue
        if label == "zero":  # "zero γ"
            label, value = "zero γ", value.partition(" ")[2]
        rows[label] = value.strip()
    return rows


def check_regime_pane(rows: dict[str, str], h: Headline) -> None:
    m = re.fullmatch(r"(\S+)/\+1%", rows["H"].removeprefix("spot").strip())
    assert m, rows["H"]
    _same_dollars(m[1], h.impulse)
    assert rows["words"] == h.impulse_words
    _same_dollars(rows["slope"].split()[0], h.slope)
    if h.nearest_flip is None:
        assert rows["flip"] == "none in range"
    else:
        m = re.fullmatch(r"([\d,.]+) \((\S+)\)(?:, nearest of (\d+))?", rows["flip"])
        assert m, rows["flip"]
        _same_level(m[1], h.nearest_flip, 1 if h.nearest_flip >= 1000 else 2)
        assert m[2] == fmt_percent(h.flip_distance, decimals=2, signed=True)
        assert int(m[3] or 1) == len(h.flip_levels)
    up, down = re.fullmatch(r"↑ (\S+)\s+↓ (\S+)", rows["attract"]).groups()  # type: ignore[union-attr]
    assert up == fmt_level(h.attractor_above) and down == fmt_level(h.attractor_below)
    if h.zero_gamma is None:
        assert "zero γ" not in rows
    else:
        assert rows["zero γ"].split()[0] == fmt_level(h.zero_gamma)
    assert rows["regime"].split()[0] == h.regime.value
    firm = h.regime_firmness
    if firm is None:
        assert "holds" not in rows
    else:
        assert rows["regime"].split()[1] == f"({firm.words})"
        m = re.fullmatch(r"(\w+) (\S+), exit (\S+)", rows["holds"])
        assert m, rows["holds"]
        assert m[1] == firm.measure
        assert float(m[2]) == pytest.approx(firm.value, abs=0.005)
        assert float(m[3]) == pytest.approx(firm.threshold, abs=0.005)


def check_exports(a: ExpiryAnalysis, h: Headline) -> None:
    data = json.loads(analysis_json(a))
    head = data["headline"]
    assert head["impulse"] == h.impulse and head["slope"] == h.slope
    assert head["nearest_flip"] == h.nearest_flip == data["nearest_flip"]
    assert tuple(head["flip_levels"]) == h.flip_levels
    assert head["zero_gamma"] == h.zero_gamma
    assert head["flip_source"] == h.flip_source.value
    assert head["firmness_words"] == h.firmness_words
    curve = data["hedge_flow"]["impulse_curve"]
    if h.regime_firmness is None:
        assert curve["regime_firmness"] is None and head["regime_firmness"] is None
    else:
        assert curve["regime_firmness"]["words"] == h.regime_firmness.words
        assert head["regime_firmness"]["bands"] == pytest.approx(h.regime_firmness.bands)
    json_flips = sorted(lvl["price"] for lvl in data["key_levels"] if lvl["kind"] == "flip")
    assert tuple(json_flips) == h.flip_levels
    rows = list(csv.DictReader(io.StringIO(levels_csv(a))))
    assert tuple(sorted(float(r["price"]) for r in rows if r["kind"] == "flip")) == h.flip_levels
    pine = [
        float(m[1]) for m in re.finditer(r'^hline\(([-\d.e+]+), "flip ', pine_script(a), flags=re.M)
    ]
    assert tuple(sorted(pine)) == h.flip_levels


def check_alerts(a: ExpiryAnalysis, h: Headline) -> None:
    """Spot travelling across the whole grid and every flip level (some lie beyond the grid:
    the level search is wider) crosses exactly the headline's flip levels."""
    grid = a.hedge_flow.impulse_curve.price
    below = replace(a, spot=min((float(grid.min()), *h.flip_levels)) - 1.0)
    above = replace(a, spot=max((float(grid.max()), *h.flip_levels)) + 1.0)
    up = [al for al in compare_analyses(below, above) if al.kind is AlertKind.FLIP]
    down = [al for al in compare_analyses(above, below) if al.kind is AlertKind.FLIP]
    assert tuple(al.level for al in up) == h.flip_levels
    assert tuple(al.level for al in down) == h.flip_levels[::-1]
    for al in up:
        assert f"crossed flip level {fmt_level(al.level)} upward" in al.message


# ------------------------------------------------------------------ the agreement


@pytest.mark.parametrize("model", MODELS, ids=str)
@pytest.mark.parametrize("name", FILES)
def test_every_surface_shows_the_headline(
    name: str, model: EngineModel, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _analysis(name, model)
    h = headline(a)
    assert main(["analyze", str(REAL / name), "--model", model.value]) == 0
    check_cli_summary(capsys.readouterr().out, h)
    check_regime_pane(regime_pane_rows(a), h)
    check_exports(a, h)
    check_alerts(a, h)


@pytest.mark.parametrize("name", FILES)
def test_floe_flip_is_the_impulse_curves(name: str) -> None:
    """The floe model has no repriced profile: its flip levels are the curve's zero
    crossings, on every surface (the CLI used to print none while the monitor showed one)."""
    a = _analysis(name, EngineModel.FLOE)
    h = headline(a)
    assert a.repriced is None and h.flip_source is FlipSource.CURVE
    crossings = sorted(c.price for c in a.hedge_flow.impulse_curve.zero_crossings)
    assert h.flip_levels == tuple(crossings)
    if crossings:
        assert h.nearest_flip == min(crossings, key=lambda p: abs(p - a.spot))


def test_real_floe_files_do_show_a_flip() -> None:
    # guard the agreement test against passing vacuously: some floe analyses have flips
    shown = [n for n in FILES if headline(_analysis(n, EngineModel.FLOE)).nearest_flip]
    assert shown


# ------------------------------------------------------------------ the rule itself


def test_physical_headline_is_strike_total_and_repriced_flips() -> None:
    a = make_analysis(spot=6000.0, flips=(6100.0, 5990.0))
    h = headline(a)
    assert h.impulse == a.hedge_flow.impulse_curve.impulse_total == 3.2e8
    assert h.flip_source is FlipSource.REPRICED
    assert h.flip_levels == (5990.0, 6100.0) and h.nearest_flip == 5990.0
    assert h.flip_distance == pytest.approx(-10.0 / 6000.0)
    assert h.impulse_words.startswith("dampens")


def test_floe_headline_is_curve_value_at_spot() -> None:
    a = make_analysis(flips=(5980.0,), repriced=False)
    curve = replace(a.hedge_flow.impulse_curve, impulse_total=math.nan, impulse_at_spot=-5e7)
    a = replace(a, hedge_flow=replace(a.hedge_flow, impulse_curve=curve))
    h = headline(a)
    assert h.impulse == -5e7 and h.impulse_words.startswith("amplifies")
    assert h.flip_source is FlipSource.CURVE and h.flip_levels == (5980.0,)
    assert h.zero_gamma is None


def test_non_finite_levels_are_not_headlined() -> None:
    a = make_analysis(spot=6000.0, flips=(math.nan, 5990.0, math.inf))
    h = headline(a)
    assert h.flip_levels == (5990.0,) and h.nearest_flip == 5990.0
    h = headline(replace(a, spot=math.nan))
    assert h.nearest_flip is None and math.isnan(h.flip_distance)
