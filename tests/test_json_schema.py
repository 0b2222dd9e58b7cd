"""The published JSON schema (docs/analysis.schema.json) against what hedgeflow writes.

`hedgeflow analyze --json` for every shared real file, both engine models, every live
expiry, and the monitor's export must validate; the schema itself must be valid draft
2020-12 and name every field with a description, every number with its unit; the docs
page must list every field. The schema refuses fields it does not name
(`additionalProperties: false`), so a field added to the engine's results without a
schema entry fails here.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from hedgeflow.app.export import analysis_json, curve_csv
from hedgeflow.cli import main
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import EngineModel
from hedgeflow.engine.pipeline import analyze_chain
from hedgeflow.feeds.files import read_chain_file

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "docs" / "analysis.schema.json"
DOC_PATH = ROOT / "docs" / "JSON_SCHEMA.md"
REAL = ROOT / "tests" / "data" / "real"
REAL_FILES = sorted(p for p in REAL.iterdir() if p.name.split("_")[1:2] == ["quotedata"])
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA)


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    """The innermost errors under `error` (a `oneOf` says only "not valid under any")."""
    if not error.context:
        yield error
    for sub in error.context or ():
        yield from _leaves(sub)


def _errors(doc: Any) -> list[str]:
    """Up to ten messages, each with the path to the offending field."""
    leaves = [leaf for e in VALIDATOR.iter_errors(doc) for leaf in _leaves(e)]
    # a list fails the single-analysis branch for being a list: not worth reporting
    leaves = [e for e in leaves if not (e.validator == "type" and e.instance is doc)]
    return sorted({f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in leaves})[
        :10
    ]


def _analyze(*argv: str) -> Any:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["analyze", *argv, "--json"]) == 0
    return json.loads(out.getvalue())


# --------------------------------------------------------------------------- the schema


def test_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def _is_numeric(node: dict[str, Any]) -> bool:
    kinds = node.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if "number" in kinds or "integer" in kinds:
        return True
    items = node.get("items")
    return "array" in kinds and isinstance(items, dict) and _is_numeric(items)


def _fields(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every named field (`properties`) and open-map value (`additionalProperties`) under
    `node`, with a readable path. The model conditionals (`allOf`/`if`/`then`) only point
    at `$defs`, which `_all_fields` walks one by one."""
    for name, sub in node.get("properties", {}).items():
        yield f"{path}.{name}", sub
        yield from _fields(sub, f"{path}.{name}")
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        yield f"{path}.*", extra
        yield from _fields(extra, f"{path}.*")
    items = node.get("items")
    if isinstance(items, dict):
        yield from _fields(items, f"{path}[]")
    for alternative in node.get("oneOf", []):
        yield from _fields(alternative, path)


def _all_fields() -> list[tuple[str, dict[str, Any]]]:
    return [f for name, d in SCHEMA["$defs"].items() for f in _fields(d, name)]


def test_every_field_has_a_description_and_every_number_a_unit() -> None:
    fields = _all_fields()
    assert len(fields) > 150  # the walk reaches the whole schema
    no_description = [p for p, f in fields if not str(f.get("description", "")).strip()]
    no_unit = [p for p, f in fields if _is_numeric(f) and not str(f.get("unit", "")).strip()]
    assert not no_description, no_description
    assert not no_unit, no_unit


def test_the_docs_page_is_the_schema_s_tables() -> None:
    """docs/JSON_SCHEMA.md's field tables are generated from the schema (run
    scripts/schema_tables.py after editing it)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "schema_tables.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_docs_page_names_every_field() -> None:
    doc = DOC_PATH.read_text(encoding="utf-8")
    names = {p.rsplit(".", 1)[-1] for p, _ in _all_fields()} - {"*"}
    missing = sorted(n for n in names if f"`{n}`" not in doc)
    assert not missing, missing


# --------------------------------------------------------------------------- real output


@pytest.mark.slow
@pytest.mark.parametrize("model", ["physical", "floe"])
@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_analyze_json_of_every_real_file_validates(path: Path, model: str) -> None:
    docs = _analyze(str(path), "--model", model, "--expiry", "all")
    if model == "physical":  # the sum over every expiry, a row per expiry
        assert isinstance(docs, dict) and docs["scope"] == "all"
        assert docs["expiry_rows"] and all(r["in_scope"] for r in docs["expiry_rows"])
        assert docs["levels"]["entries"]
    else:  # floe: every expiry apart, as the original library
        assert isinstance(docs, list) and docs
        assert {d["model"] for d in docs} == {model}
    assert not _errors(docs), _errors(docs)


@pytest.mark.parametrize("model", ["physical", "floe"])
def test_the_default_expiry_and_the_export_validate(model: str) -> None:
    path = REAL / "spx_quotedata_2023-06-09.csv"
    one = _analyze(str(path), "--model", model)
    assert isinstance(one, dict)
    assert not _errors(one), _errors(one)
    chain = read_chain_file(path)
    a = analyze_chain(chain, config=EngineConfig(model=EngineModel(model)))
    exported = json.loads(analysis_json(a))
    assert {"key_levels", "headline", "nearest_flip"} <= exported.keys()
    assert not _errors(exported), _errors(exported)
    # floe's label words are left out of the export, its numbers kept
    text = json.dumps(exported)
    assert '"passive"' not in text and '"aggressive"' not in text and "floe_trade_type" not in text
    # the curve CSV's columns carry the JSON's names, with their unit
    curve = exported["hedge_flow"]["impulse_curve"]
    header = curve_csv(a).splitlines()[0].split(",")
    for column in header[1:4]:
        assert column.split("_usd_")[0] in curve, column
    if model == "floe":
        levels = exported["pressure_cloud"]["levels"]
        assert len(levels["floe_expected_hedge_contracts"]) == len(levels["price"])


# --------------------------------------------------------------------------- it can fail


@pytest.fixture(scope="module")
def physical_doc() -> dict[str, Any]:
    doc = _analyze(str(REAL / "spy_quotedata_2023-09-14.csv"))
    assert isinstance(doc, dict)
    return doc


def test_one_name_one_meaning(physical_doc: dict[str, Any]) -> None:
    """Dollars per strike and densities per point carry different names, and the curve's
    fixed-strike coupling is not confused with the ATM fit's."""
    exposure = physical_doc["exposure"]
    curve = physical_doc["hedge_flow"]["impulse_curve"]
    assert {"gex", "vex", "cex"} <= exposure.keys() and "gamma" not in exposure
    assert {"gex_density", "vanna_term_density", "impulse_density"} <= curve.keys()
    assert not {"gamma", "vanna", "impulse", "spot_vol_coupling"} & curve.keys()
    # gex_density + vanna_term_density = impulse_density, point by point
    for g, v, h in zip(
        curve["gex_density"], curve["vanna_term_density"], curve["impulse_density"], strict=True
    ):
        assert g + v == pytest.approx(h, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda d: d["exposure"].update(gamma=d["exposure"].pop("gex")),  # the old name
        lambda d: d["hedge_flow"]["impulse_curve"].update(new_field=1.0),  # unnamed field
        lambda d: d.update(model="floe"),  # a physical curve labelled floe
        lambda d: d.update(as_of="2023-09-14T16:31:00"),  # a time without its offset
        lambda d: d["hedge_flow"]["regime_params"].update(coupling_atm="1.5"),  # not a number
        lambda d: d.pop("rate"),  # a field left out
    ],
    ids=["old-name", "unnamed-field", "wrong-model", "naive-time", "string-number", "missing"],
)
def test_the_schema_refuses_a_spoiled_document(physical_doc: dict[str, Any], spoil: Any) -> None:
    doc = copy.deepcopy(physical_doc)
    assert not _errors(doc)
    spoil(doc)
    with pytest.raises(ValidationError):
        VALIDATOR.validate(doc)
