"""The monitor driven by key presses (pilot.press), on the real simulated feed (fixed seed,
frozen clock) and the real pipeline: every key does what it says, failures show and
recover, switching symbols shows that symbol's analysis."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from textual.command import Command, CommandList
from textual.message import Message
from textual.widgets import DataTable

from hedgeflow.app.export import SIMULATED_NOTE
from hedgeflow.feeds.sim import SimFeed
from hedgeflow.tui.app import ZOOM_LEVELS, HedgeflowApp
from hedgeflow.tui.messages import SnapshotArrived
from hedgeflow.tui.panes import CharmPane, ImpulsePane, RegimePane, StatusLine, SymbolBar, ZonesPane
from hedgeflow.tui.screens import HelpScreen
from tests.tui.conftest import (
    make_app,
    notifications,
    record_notices,
    wait_for_analyses,
    wait_for_notice,
    wait_until,
)
from tests.tui.fakes import FlakyFeed


def _regime_text(app) -> str:
    pane = app.screen.query_one(RegimePane)
    return str(pane.border_title)


async def test_first_analysis_of_every_symbol_and_the_message_chain(tmp_path: Path) -> None:
    messages: list[Message] = []
    app = make_app(symbols=["SPX", "SPY", "QQQ"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await wait_for_analyses(pilot, app)
        arrived = [m.symbol for m in messages if isinstance(m, SnapshotArrived)]
        assert sorted(set(arrived)) == ["QQQ", "SPX", "SPY"]
        for sym in ("SPX", "SPY", "QQQ"):
            a = app.states[sym].analysis
            assert a is not None and a.symbol == sym
        # The panes show the first symbol.
        assert app.current == "SPX"
        assert app.screen.query_one(ImpulsePane).view.analysis is app.states["SPX"].analysis
        assert "SPX" in _regime_text(app)
        assert app.screen.query_one(ZonesPane).row_count > 0
        status = app.screen.query_one(StatusLine).view
        assert status.feed == "sim" and status.symbol == "SPX"
        # simulated time never looks live: a badge, the data's date, the clock named
        assert status.badge == "SIMULATED" and status.as_of == "2026-11-24 10:30:00 ET"
        assert status.delay == "sim clock frozen"
        rendered = str(app.screen.query_one(StatusLine).render())
        assert " SIMULATED " in rendered and "real-time" not in rendered
        assert status.next_poll == "in 1m00s" and not status.stale and status.error == ""


async def test_digits_tab_and_shift_tab_switch_symbols_instantly(tmp_path: Path) -> None:
    app = make_app(symbols=["SPX", "SPY", "QQQ"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        await pilot.press("2")
        assert app.current == "SPY"
        # Instant: the stored analysis is on screen after one refresh, no new poll needed.
        await pilot.pause()
        assert app.screen.query_one(RegimePane).view.analysis is app.states["SPY"].analysis
        assert "SPY" in _regime_text(app)
        assert app.screen.query_one(CharmPane).view.symbol == "SPY"
        await pilot.press("3")
        assert app.current == "QQQ"
        await pilot.press("tab")
        assert app.current == "SPX"
        await pilot.press("shift+tab")
        assert app.current == "QQQ"
        await pilot.press("9")  # no ninth symbol: nothing happens
        assert app.current == "QQQ"
        await pilot.press("1")
        await pilot.pause()
        assert "SPX" in _regime_text(app)
        bar = app.screen.query_one(SymbolBar).view
        assert bar.active == "SPX" and [t.state for t in bar.tabs] == ["ok", "ok", "ok"]


async def test_e_and_shift_e_move_through_expiries(tmp_path: Path) -> None:
    app = make_app(symbols=["SPY"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        first = app.states["SPY"].analysis
        assert first is not None and len(first.expirations) > 2
        await pilot.press("e")
        await wait_until(pilot, lambda: app.states["SPY"].analysis.expiration > first.expiration)
        second = app.states["SPY"].analysis.expiration
        assert second == min(e for e in first.expirations if e > first.expiration)
        await pilot.press("e")
        await wait_until(pilot, lambda: app.states["SPY"].analysis.expiration > second)
        await pilot.press("E")
        await wait_until(pilot, lambda: app.states["SPY"].analysis.expiration == second)
        await pilot.press("E")
        await wait_until(pilot, lambda: app.states["SPY"].analysis.expiration == first.expiration)
        status = app.screen.query_one(StatusLine).view
        assert status.expiry.startswith("0DTE")


async def test_space_pauses_and_resumes_polling(tmp_path: Path, sim: SimFeed) -> None:
    app = make_app(symbols=["SPY"], export_dir=tmp_path, poll_interval=0.2, frozen=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        await pilot.press("space")
        assert app.paused
        await pilot.pause(0.1)
        status = app.screen.query_one(StatusLine).view
        assert status.paused and status.next_poll == ""
        assert app.states["SPY"].timer is None
        as_of = app.states["SPY"].analysis.as_of
        sim.advance(120.0)
        await pilot.pause(0.6)  # three intervals: no poll while paused
        assert app.states["SPY"].chain.as_of == as_of
        await pilot.press("space")
        assert not app.paused
        await wait_until(pilot, lambda: app.states["SPY"].analysis.as_of > as_of)


async def test_r_x_s_with_an_export_folder_that_cannot_be_made_say_so(tmp_path: Path) -> None:
    """`export_dir` on a path that cannot be a folder (here a file; on a machine, a typo or
    an unmounted disk): `r` raised FileNotFoundError out of the key handler and the monitor
    exited with a traceback, the session lost. Now `r`, like `x` and `s`, says why."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the export folder should be\n", encoding="utf-8")
    app = make_app(symbols=["SPX"], export_dir=blocked / "exports")
    posted = record_notices(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        for key, what in (("r", "recording failed"), ("x", "export failed"), ("s", "screenshot")):
            start = len(posted)
            await pilot.press(key)
            note = await wait_for_notice(
                pilot, posted, lambda n, w=what: n.severity == "error" and w in n.message, start
            )
            assert "not-a-folder" in note.message, note.message
        await wait_until(pilot, lambda: app.recording is None)
        assert not app.screen.query_one(StatusLine).view.recording
        assert app.is_running and app.return_code is None


async def test_r_records_snapshots_and_stops(tmp_path: Path, sim: SimFeed) -> None:
    app = make_app(symbols=["SPX", "SPY"], export_dir=tmp_path, poll_interval=0.2, frozen=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        await pilot.press("r")
        path = app.recording_path
        assert path is not None and path.parent == tmp_path
        assert app.screen.query_one(StatusLine).view.recording
        # Count the snapshots handed to the recording (each one is written before it closes).
        queued: Counter[str] = Counter()
        put = app.recording.put

        def counting(chain: Any, fetched_at: Any) -> None:
            queued[chain.symbol] += 1
            put(chain, fetched_at)

        app.recording.put = counting  # type: ignore[method-assign]
        sim.advance(30.0)
        await wait_until(pilot, lambda: min(queued["SPX"], queued["SPY"]) >= 2)
        await pilot.press("r")
        assert app.recording_path is None
        await app.workers.wait_for_complete()
    with sqlite3.connect(path) as db:
        rows = db.execute("select symbol, count(*) from snapshots group by symbol").fetchall()
    counts = dict(rows)
    assert counts.get("SPX", 0) >= 2 and counts.get("SPY", 0) >= 2


async def test_g_toggles_the_repriced_profile(tmp_path: Path) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        pane = app.screen.query_one(ImpulsePane)
        assert not pane.view.repriced and str(pane.border_title).startswith(
            "nearest · Impulse H(S)"
        )
        await pilot.press("g")
        await pilot.pause()
        assert pane.view.repriced and str(pane.border_title).startswith(
            "nearest · Repriced impulse"
        )
        await pilot.press("g")
        await pilot.pause()
        assert not pane.view.repriced


async def test_plus_and_minus_zoom_the_price_range(tmp_path: Path) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        pane = app.screen.query_one(ImpulsePane)
        base = app.states["SPX"].analysis.hedge_flow.impulse_curve.price
        assert pane.view.zoom == 1.0
        await pilot.press("plus")
        await pilot.pause()
        assert pane.view.zoom == 0.5
        await pilot.press("minus", "minus")
        # Zooming out past the configured range recomputes on a wider grid.
        await wait_until(
            pilot,
            lambda: app.states["SPX"].analysis.hedge_flow.impulse_curve.price[0] < base[0] - 1.0,
        )
        assert pane.view.zoom == 2.0
        wide = app.states["SPX"].analysis.hedge_flow.impulse_curve.price
        assert (wide[-1] - wide[0]) > 1.9 * (base[-1] - base[0])
        for _ in range(len(ZOOM_LEVELS) + 1):
            await pilot.press("minus")
        assert pane.view.zoom == ZOOM_LEVELS[-1]


async def test_question_mark_lists_every_key(tmp_path: Path) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path, keymap={"next-expiry": "j"})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        rows = app.screen.rows
        ids = {r[2] for r in rows}
        for binding_id in (
            "next-symbol",
            "previous-symbol",
            "next-expiry",
            "previous-expiry",
            "pause",
            "record",
            "repriced",
            "zoom-in",
            "zoom-out",
            "export",
            "screenshot",
            "help",
            "quit",
        ):
            assert binding_id in ids
        assert dict((r[2], r[0]) for r in rows)["next-expiry"] == "j"  # remapped key shown
        assert any(r[0] == "1-9" for r in rows)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("j")  # the remapped key works
        await wait_until(pilot, lambda: app.states["SPX"].expiry is not None)


async def test_q_quits_with_exit_code_0(tmp_path: Path) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_analyses(pilot, app)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_x_exports_and_s_saves_a_screenshot(tmp_path: Path) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        await pilot.press("x")
        await wait_until(pilot, lambda: len(list(tmp_path.glob("*.pine"))) == 1)
        await pilot.press("s")
        await wait_until(pilot, lambda: len(list(tmp_path.glob("*.svg"))) == 1)
        await pilot.pause()
        notes = [n.message for n in notifications(app)]
        assert any(".pine" in m and ".json" in m and ".csv" in m for m in notes)
        assert any(m.endswith(".svg") for m in notes)
    names = sorted(p.name for p in tmp_path.iterdir())  # noqa: ASYNC240 (test teardown)
    assert names == [
        "hedgeflow-SPX-20261124-103000.card.csv",
        "hedgeflow-SPX-20261124-103000.curve.csv",
        "hedgeflow-SPX-20261124-103000.json",
        "hedgeflow-SPX-20261124-103000.levels.csv",
        "hedgeflow-SPX-20261124-103000.pine",
        "hedgeflow-SPX-20261124-103000.svg",
    ]
    pine = (tmp_path / "hedgeflow-SPX-20261124-103000.pine").read_text()
    assert "hline(" in pine
    # the simulated market's levels say so: a Pine script of them on a real SPX chart, or
    # the JSON read later, is never taken for the market's
    assert pine.splitlines()[1].startswith("// SIMULATED market: these are not the real SPX")
    assert 'indicator("hedgeflow SIMULATED SPX' in pine
    doc = json.loads((tmp_path / "hedgeflow-SPX-20261124-103000.json").read_text())
    assert doc["notes"][0] == SIMULATED_NOTE


def palette_highlight(app: HedgeflowApp) -> str:
    """The palette's highlighted command (what enter runs), '' while none is: the search
    runs in a worker, so it is waited for, not slept on."""
    options = app.screen.query_one(CommandList)
    i = options.highlighted
    option = None if i is None else options.get_option_at_index(i)
    return str(option.hit.text) if isinstance(option, Command) else ""


async def test_palette_adds_and_removes_a_symbol(tmp_path: Path) -> None:
    app = make_app(symbols=["SPX", "SPY"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"add qqq")
        await wait_until(pilot, lambda: palette_highlight(app).startswith("Add symbol QQQ"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: "QQQ" in app.symbols)
        assert app.current == "QQQ"
        await wait_for_analyses(pilot, app, ["QQQ"])
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"remove spy")
        await wait_until(pilot, lambda: palette_highlight(app) == "Remove symbol SPY")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "SPY" not in app.symbols)
        assert app.symbols == ["SPX", "QQQ"]
        await pilot.press("2")
        assert app.current == "QQQ"


async def test_failing_feed_shows_error_and_stale_then_recovers(
    tmp_path: Path, sim: SimFeed
) -> None:
    feed = FlakyFeed(sim)
    app = make_app(feed, ["SPX", "SPY"], export_dir=tmp_path, poll_interval=0.15, frozen=False)
    posted = record_notices(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        good = app.states["SPX"].analysis
        feed.failing = True
        # The outage's notice, on screen as it is raised (it is gone after 8 s, which the
        # wait for the stale marker below can pass on a loaded machine).
        await wait_for_notice(pilot, posted, lambda n: "simulated outage" in n.message)
        await wait_until(pilot, lambda: app.states["SPX"].error is not None)
        # The once-a-second refresh puts the stale marker on screen.
        await wait_until(pilot, lambda: app.screen.query_one(StatusLine).view.stale, limit=10)
        status = app.screen.query_one(StatusLine).view
        assert status.stale and "simulated outage" in status.error and "retry in" in status.error
        # The last good analysis stays on screen, marked STALE on every pane.
        for pane_type in (ImpulsePane, RegimePane, ZonesPane, CharmPane):
            pane = app.screen.query_one(pane_type)
            assert pane.view.analysis is good
            assert pane.has_class("-stale") and "STALE" in str(pane.border_subtitle)
        assert app.screen.query_one(SymbolBar).view.tabs[0].state == "error"
        feed.failing = False
        await wait_until(pilot, lambda: app.states["SPX"].error is None, limit=15)
        await wait_until(pilot, lambda: not app.screen.query_one(StatusLine).view.stale, limit=5)
        status = app.screen.query_one(StatusLine).view
        assert not status.stale and status.error == ""
        assert not app.screen.query_one(ImpulsePane).has_class("-stale")


async def test_zones_table_keeps_cursor_across_refreshes(tmp_path: Path, sim: SimFeed) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path, poll_interval=0.2, frozen=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        table = app.screen.query_one(ZonesPane)
        assert isinstance(table, DataTable) and table.row_count >= 4
        await pilot.press("down", "down", "down")
        assert table.cursor_row == 3
        first = app.states["SPX"].analysis
        sim.advance(90.0)
        await wait_until(pilot, lambda: app.states["SPX"].analysis is not first)
        await pilot.pause()
        assert table.cursor_row == min(3, table.row_count - 1)


async def test_zones_table_lists_nearest_first_with_every_level(tmp_path: Path) -> None:
    """One row a zone, nearest spot first; every regime edge in exactly one zone's Edges
    column (no rows of empty figures for edges)."""
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for_analyses(pilot, app)
        a = app.states["SPX"].analysis
        cloud = a.pressure_cloud
        table = app.screen.query_one(ZonesPane)
        zones = (*cloud.stability_zones, *cloud.acceleration_zones)
        n = len(zones)
        assert table.row_count == n and cloud.regime_edges
        levels = [float(str(table.get_row_at(i)[0]).replace(",", "")) for i in range(n)]
        distances = [abs(x - a.spot) for x in levels]
        assert distances == sorted(distances)
        expected = sorted([z.center for z in zones], key=lambda p: abs(p - a.spot))
        assert levels == [round(p, 1) for p in expected]  # shown to 0.1 point above 1000
        names = [str(c.label) for c in table.columns.values()]
        col = names.index("Edges")
        shown = " ".join(str(table.get_row_at(i)[col]) for i in range(n)).split()
        assert sorted(shown) == sorted(
            f"{e.price:,.1f}{'▲' if e.stable_beyond else '▼'}" for e in cloud.regime_edges
        )
