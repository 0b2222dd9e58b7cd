"""The alert log (bounded, statuses) and the alert's JSON against docs/alert.schema.json."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hedgeflow.app.alert_log import AlertLog, Clock, alert_bytes, alert_json
from hedgeflow.app.alerts import Alert, AlertKind, compare_analyses
from hedgeflow.app.regime import advance, with_regime
from hedgeflow.engine.enums import ImpulseRegime
from hedgeflow.engine.types import RegimeFirmness
from tests.tui.fakes import make_analysis, zone

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "alert.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _every_kind() -> list[Alert]:
    zones = (zone(6020.0, 6015.0, 6025.0, stable=False, spot=6000.0),)
    p, e = ImpulseRegime.PINNED, ImpulseRegime.EXPANSION
    firm = RegimeFirmness("net", -0.2, -0.05, 0.15, 3.0, "firm")
    out: list[Alert] = []
    prev, before = None, None
    for r, spot in [(p, 5990.0), (e, 5995.0), (e, 6020.0)]:
        cur, after = advance(
            before, make_analysis(regime=r, spot=spot, flips=(6000.0,), zones=zones)
        )
        cur = with_regime(cur, after.confirmed, firm)
        out += compare_analyses(prev, cur, before, after)
        prev, before = cur, after
    return out


def test_the_schema_is_valid_and_every_kind_validates() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    alerts = _every_kind()
    assert {a.kind for a in alerts} == set(AlertKind)
    log = AlertLog()
    for a in alerts:
        rec = log.add(a, Clock.SIMULATED)
        doc = json.loads(alert_bytes(rec))
        assert doc == alert_json(rec)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(doc)]
        assert errors == [], errors
        assert doc["clock"] == "simulated" and doc["scope"] == "nearest"
        assert doc["expiry"].startswith("2026-11-24T21:00") and doc["time"].startswith(
            "2026-11-24T15:30"
        )
    regime = next(alert_json(r) for r in log.recent() if r.alert.kind is AlertKind.REGIME)
    assert regime["regime_before"] == "pinned" and regime["regime_after"] == "expansion"
    assert regime["firmness"] == {
        "words": "firm",
        "measure": "net",
        "value": -0.2,
        "threshold": -0.05,
        "bands": 3.0,
    }
    zone_doc = next(alert_json(r) for r in log.recent() if r.alert.kind is AlertKind.ZONE)
    assert zone_doc["zone"] == {"kind": "acceleration", "lower": 6015.0, "upper": 6025.0}
    assert zone_doc["spot_before"] == 5995.0 and zone_doc["spot_after"] == 6020.0


def test_the_schema_refuses_an_unknown_field_and_non_finite_numbers_are_null() -> None:
    rec = AlertLog().add(_every_kind()[0], Clock.LIVE)
    doc = alert_json(rec)
    assert not VALIDATOR.is_valid({**doc, "extra": 1})
    nan = alert_json(replace(rec, alert=replace(rec.alert, spot_after=float("nan"))))
    assert nan["spot_after"] is None and VALIDATOR.is_valid(nan)


def test_the_log_is_bounded_newest_first_and_keeps_statuses() -> None:
    log = AlertLog(capacity=3)
    a = _every_kind()[0]
    recs = [
        log.add(replace(a, symbol=s), Clock.LIVE, None, (("screen", "shown"), ("hook", "queued")))
        for s in "ABCDE"
    ]
    assert len(log) == 3 and log.total == 5
    assert [r.alert.symbol for r in log.recent()] == ["E", "D", "C"]
    log.set_status(recs[3].seq, "hook", "sent")
    log.set_status(recs[0].seq, "hook", "sent")  # gone from the log: ignored
    assert log.get(recs[3].seq).status == "screen shown · hook sent"  # type: ignore[union-attr]
    assert [r.alert.symbol for r in log.recent(symbol="C")] == ["C"]
    assert a.kind is AlertKind.REGIME
    assert len(log.recent(kind="regime")) == 3 and log.recent(kind="flip") == []
    with pytest.raises(ValueError):
        AlertLog(capacity=0)


def test_latest_shown_is_the_newest_alert_not_held_by_the_cooldown() -> None:
    log = AlertLog(capacity=10)
    assert log.latest_shown("SPX") is None
    first = log.add(Alert("SPX", AlertKind.FLIP, "SPX: first"), Clock.SIMULATED)
    log.add(Alert("SPY", AlertKind.FLIP, "SPY: other symbol"), Clock.SIMULATED)
    log.add(Alert("SPX", AlertKind.ZONE, "SPX: held"), Clock.SIMULATED, suppressed="cooldown 300s")
    assert log.latest_shown("SPX") == first
    second = log.add(Alert("SPX", AlertKind.ZONE, "SPX: second"), Clock.SIMULATED)
    assert log.latest_shown("SPX") == second
    assert log.latest_shown("QQQ") is None
