"""The alert log on the real monitor (Pilot, the seeded sim): key `a` opens it with the
alerts a real run raised, Escape returns; a hung or failing hook, a webhook refusing its
token: the monitor keeps polling and drawing, the failure is in the error log and the
alert's status, and the secret is nowhere on screen or in the log file."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from pytest_httpserver import HTTPServer
from textual.widgets import DataTable, Static

from hedgeflow.app.alert_rules import AlertRules
from hedgeflow.app.config import AlertSettings
from hedgeflow.app.fmt import fmt_time_ny
from hedgeflow.app.regime import advance
from hedgeflow.feeds.sim import SimFeed
from hedgeflow.tui.alertlog import AlertLogScreen
from hedgeflow.tui.app import HedgeflowApp
from hedgeflow.tui.panes import StatusLine
from hedgeflow.tui.screens import MonitorScreen
from tests.tui.conftest import (
    START,
    make_app,
    notifications,
    rendered,
    wait_for_analyses,
    wait_until,
)
from tests.tui.fakes import AS_OF, make_analysis, zone

SECRET = "tok-9f8e7d6c5b4a-never-shown"


async def _drive_until_alert(pilot: Any, app: HedgeflowApp, sim: SimFeed, polls: int = 60) -> None:
    """Move the seeded market five minutes a poll until the log holds an alert."""
    await wait_for_analyses(pilot, app)
    for _ in range(polls):
        first = app.states["SPX"].analysis
        sim.advance(300.0)
        await wait_until(pilot, lambda first=first: app.states["SPX"].analysis is not first)
        if app.alerts.log.total:
            return
    raise AssertionError("no alert in five simulated hours")


async def _open_log(pilot: Any) -> list[list[str]]:
    await pilot.press("a")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, AlertLogScreen), limit=5)
    await pilot.pause()
    table = pilot.app.screen.query_one(DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_key_a_lists_the_alerts_of_a_real_run_and_escape_returns(
    tmp_path: Path, sim: SimFeed
) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path, poll_interval=0.05, frozen=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _drive_until_alert(pilot, app, sim)
        shown = [n for n in notifications(app) if str(n.title).startswith("Alert")]
        records = app.alerts.log.recent()
        rows = await _open_log(pilot)
        assert len(rows) == len(app.alerts.log.recent()) >= len(records) >= 1
        newest = app.alerts.log.recent()[0]
        time, symbol, scope, kind, what, status = rows[0]
        assert symbol == "SPX" and kind == newest.alert.kind.value
        assert scope.startswith("nearest ")  # the scope with its expiry's month-day
        assert what in newest.alert.message and newest.alert.message.startswith(
            "SPX: [nearest · exp "
        )
        assert newest.alert.at is not None and time == fmt_time_ny(newest.alert.at)
        assert START < newest.alert.at <= sim.clock()  # the simulated clock's time
        assert status == "screen shown" or status.startswith("suppressed")
        # the time column says whose clock it is: the sim's, never wall time looking live
        table = app.screen.query_one(DataTable)
        assert str(table.ordered_columns[0].label) == "sim time"
        head = str(app.screen.query_one("#alerts-status", Static).render())
        assert "alerts kept (the newest 10,000)" in head and "sim time" in head
        # every toast raised is in the log, by its message
        assert {n.message for n in shown} <= {r.alert.message for r in app.alerts.log.recent()}
        await pilot.press("f")  # kind filter: only the first kind
        await pilot.pause()
        assert app.screen.kind == "regime"
        assert app.screen.query_one(DataTable).row_count == len(
            app.alerts.log.recent(kind="regime")
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MonitorScreen), limit=5)


def _hook_app(tmp_path: Path, **alerts: Any) -> HedgeflowApp:
    settings = AlertSettings(rules=AlertRules(cooldown_seconds=0.0), **alerts)
    return make_app(
        symbols=["SPX"], export_dir=tmp_path, poll_interval=0.05, frozen=False, alerts=settings
    )


async def test_a_hung_hook_is_killed_and_the_monitor_keeps_polling_and_drawing(
    tmp_path: Path, sim: SimFeed
) -> None:
    hook = [sys.executable, "-c", "import time; time.sleep(120)"]
    app = _hook_app(tmp_path, hook=tuple(hook), hook_timeout=8.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await _drive_until_alert(pilot, app, sim)
        seq = app.alerts.log.recent()[-1].seq
        # while the hook hangs: new snapshots are analyzed and drawn
        status = app.screen.query_one(StatusLine)
        for _ in range(3):
            before, text = app.states["SPX"].analysis, rendered(status)
            sim.advance(60.0)
            await wait_until(pilot, lambda b=before: app.states["SPX"].analysis is not b)
            await wait_until(pilot, lambda t=text: rendered(status) != t, limit=10)
        rec = app.alerts.log.get(seq)
        assert rec is not None and "hook queued" in rec.status  # all that while, it hung
        await wait_until(
            pilot, lambda: "killed after 8 s" in app.alerts.log.get(seq).status, limit=30
        )  # type: ignore[union-attr]
        await wait_until(
            pilot, lambda: any(c.feed == "alert hook" for c in app.errors.active()), limit=10
        )
        (cond,) = [c for c in app.errors.active() if c.feed == "alert hook"]
        assert cond.kind == "HookTimeout"
        rows = await _open_log(pilot)
        assert any("hook failed: hook killed after 8 s" in r[5] for r in rows)


async def test_a_failing_hook_is_logged_once_and_a_working_one_gets_the_json(
    tmp_path: Path, sim: SimFeed
) -> None:
    fail = [
        sys.executable,
        "-c",
        "import sys; sys.stdin.read(); print('no route', file=sys.stderr); sys.exit(2)",
    ]
    app = _hook_app(tmp_path, hook=tuple(fail), hook_timeout=30.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await _drive_until_alert(pilot, app, sim)
        seq = app.alerts.log.recent()[-1].seq
        await wait_until(pilot, lambda: "hook failed" in app.alerts.log.get(seq).status, limit=30)  # type: ignore[union-attr]
        assert app.alerts.log.get(seq).status.endswith(
            "hook failed: hook exited with status 2: no route"
        )  # type: ignore[union-attr]
        await wait_until(
            pilot, lambda: any(c.feed == "alert hook" for c in app.errors.active()), limit=10
        )
        errors = [
            n for n in notifications(app) if n.severity == "error" and "alert hook" in str(n.title)
        ]
        assert len(errors) == 1  # one notice per condition, not one per alert
    out = tmp_path / "alerts.jsonl"
    append = [
        sys.executable,
        "-c",
        "import sys; open(sys.argv[1], 'ab').write(sys.stdin.buffer.read())",
        str(out),
    ]
    app = _hook_app(tmp_path, hook=tuple(append), hook_timeout=30.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await _drive_until_alert(pilot, app, sim)
        seq = app.alerts.log.recent()[-1].seq
        await wait_until(pilot, lambda: "hook sent" in app.alerts.log.get(seq).status, limit=30)  # type: ignore[union-attr]
        import json

        docs = [json.loads(line) for line in out.read_text().splitlines()]
        assert docs and docs[0]["symbol"] == "SPX" and docs[0]["clock"] == "simulated"
        schema = json.loads((Path(__file__).parents[2] / "docs" / "alert.schema.json").read_text())
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        assert all(validator.is_valid(d) for d in docs)  # what the hook got is the schema's
        assert docs[0]["message"] == app.alerts.log.get(docs[0]["seq"]).alert.message  # type: ignore[union-attr]


async def test_the_webhook_secret_is_never_on_screen_or_in_the_log_file(
    tmp_path: Path, sim: SimFeed, httpserver: HTTPServer, monkeypatch: Any
) -> None:
    monkeypatch.setenv("HF_ALERT_TOKEN", SECRET)
    httpserver.expect_request("/hook", method="POST").respond_with_data(f"bad {SECRET}", status=403)
    url = httpserver.url_for("/hook") + f"?k={SECRET}"
    app = _hook_app(
        tmp_path, webhook_url=url, webhook_token_env="HF_ALERT_TOKEN", webhook_timeout=5.0
    )
    root = logging.getLogger()
    log_file = tmp_path / "hedgeflow.log"
    handler = logging.FileHandler(log_file)
    handler.addFilter(lambda r: r.name != "werkzeug")  # the test server's own request log
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await _drive_until_alert(pilot, app, sim)
            seq = app.alerts.log.recent()[-1].seq
            await wait_until(
                pilot, lambda: "webhook failed" in app.alerts.log.get(seq).status, limit=30
            )  # type: ignore[union-attr]
            await wait_until(
                pilot, lambda: any(c.feed == "alert webhook" for c in app.errors.active()), limit=10
            )
            req = httpserver.log[0][0]
            assert req.headers["authorization"] == f"Bearer {SECRET}"  # it was sent ...
            rows = await _open_log(pilot)
            assert any("webhook failed: localhost: HTTP 403" in r[5] for r in rows)
            shown = [
                *map(" ".join, rows),
                str(app.screen.query_one("#alerts-status", Static).render()),
            ]
            shown += [f"{n.title} {n.message}" for n in notifications(app)]
            assert SECRET not in "\n".join(shown)  # ... and shown nowhere
            assert SECRET not in app.export_screenshot()
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(saved)
        httpserver.clear()
    logged = log_file.read_text()
    assert "webhook failed" in logged and "HTTP 403" in logged
    assert SECRET not in logged


def _inject(app: HedgeflowApp) -> None:
    """Three analyses of SPX on the 0DTE scope: a flip crossed, then a zone entered (fixed
    numbers and times, for the snapshots)."""
    zones = (zone(6030.0, 6025.0, 6035.0, stable=True, spot=6000.0),)
    prev = before = None
    for i, spot in enumerate([5990.0, 6010.0, 6030.0]):
        a = make_analysis(spot=spot, flips=(6000.0,), zones=zones)
        a = replace(a, scope="0DTE", as_of=AS_OF + timedelta(seconds=60 * i))
        cur, after = advance(before, a)
        app.alerts.step(prev, cur, before, after)
        prev, before = cur, after


def _snapshot_app(tmp_path: Path) -> HedgeflowApp:
    return make_app(symbols=["SPX"], export_dir=tmp_path)


def _open_injected(app: HedgeflowApp) -> Any:
    async def run_before(pilot: Any) -> None:
        await wait_for_analyses(pilot, app)
        _inject(app)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AlertLogScreen), limit=5)
        await pilot.pause()

    return run_before


def test_alert_log_screen_80x24(snap_compare: Any, tmp_path: Path) -> None:
    app = _snapshot_app(tmp_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_open_injected(app))


def test_alert_log_screen_120x40(snap_compare: Any, tmp_path: Path) -> None:
    app = _snapshot_app(tmp_path)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_open_injected(app))
