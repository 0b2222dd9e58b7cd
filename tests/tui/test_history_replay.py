"""The level history a session had live is the history its replay shows: stored rows read
back exactly, and, for a recording without rows, rebuilt from its snapshots."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hedgeflow.app.history import CurveSample, HistoryRow
from hedgeflow.engine.scope import analyze_scope
from hedgeflow.feeds.replay import ReplayFeed
from hedgeflow.feeds.sim import SimFeed
from hedgeflow.tui import history_load
from hedgeflow.tui.app import HedgeflowApp
from tests.tui.conftest import make_app, notifications, wait_for_analyses, wait_until

Entries = list[tuple[HistoryRow, CurveSample | None]]


def _same(got: Entries, want: Entries) -> None:
    assert len(got) == len(want) > 0
    for (r, s), (wr, ws) in zip(got, want, strict=True):
        assert r.to_json() == wr.to_json()  # every float64 exactly (NaN as None)
        assert s is not None and ws is not None
        assert (s.time, s.spot) == (ws.time, ws.spot)
        for name in ("price", "impulse", "strikes", "gex", "charm"):
            np.testing.assert_array_equal(getattr(s, name), getattr(ws, name))


async def _record_session(tmp_path: Path, sim: SimFeed) -> tuple[Path, Entries]:
    """The real monitor on the sim, `r` on from the first snapshot, three moves of the
    market; returns the recording and the live history it had."""
    gate = threading.Event()  # no analysis before `r` is on: every row is recorded

    def analyze(*args: Any, **kw: Any) -> Any:
        gate.wait(30)
        return analyze_scope(*args, **kw)

    app = make_app(
        symbols=["SPX"], export_dir=tmp_path, poll_interval=0.2, frozen=False, analyze=analyze
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        gate.set()
        path = app.recording_path
        assert path is not None
        await wait_for_analyses(pilot, app)
        h = app.states["SPX"].history
        for _ in range(3):
            n = len(h)
            sim.advance(60.0)
            await wait_until(pilot, lambda n=n: len(h) > n)
        await wait_for_analyses(pilot, app)
        await pilot.press("r")
        live = h.entries()
        await app.workers.wait_for_complete()
    assert len(live) >= 4
    return path, live


async def _replayed(path: Path, tmp_path: Path) -> tuple[HedgeflowApp, Entries, str]:
    """The monitor on a replay of `path` with its tape at the recording's end: the history
    it loads (and the status words seen while loading)."""
    feed = ReplayFeed(path)
    with sqlite3.connect(path) as db:
        end = db.execute("select max(fetched_at) from snapshots").fetchone()[0]
    feed.at(datetime.fromtimestamp(end, UTC))
    app = make_app(feed, symbols=["SPX"], export_dir=tmp_path / "replay")
    seen: list[str] = []
    loader = app.history_loader
    shown = loader._progress

    def progress(text: str, cancel: Any) -> None:  # every progress the status line got
        shown(text, cancel)
        seen.append(loader.status)

    loader._progress = progress  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:

        def loaded() -> bool:
            return app.history_loader._worker is None and len(app.states["SPX"].history) > 1

        await wait_until(pilot, loaded, limit=120)
        await wait_for_analyses(pilot, app)
        got = app.states["SPX"].history.entries()
    return app, got, " ".join(seen)


async def test_replay_shows_the_history_the_session_had_live(
    tmp_path: Path, sim: SimFeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, live = await _record_session(tmp_path, sim)
    # the rows go into their columns in the load worker, not on the event loop (a session
    # is ~75 ms of adds a symbol); the loop only swaps the built history in
    on_loop: list[bool] = []
    build = history_load.built

    def built(*args: Any, **kw: Any) -> Any:
        on_loop.append(threading.current_thread() is threading.main_thread())
        return build(*args, **kw)

    monkeypatch.setattr(history_load, "built", built)
    with sqlite3.connect(path) as db:
        # every applied analysis was written; one at the data time of an earlier one (the
        # same snapshot analyzed again) replaced it live, and does on replay
        assert db.execute("select count(*) from history").fetchone()[0] >= len(live)
    _app, got, _ = await _replayed(path, tmp_path)
    assert on_loop and not any(on_loop)
    # The replay's own analysis of the snapshot at its tape replaces the last row (same
    # data time, its `now` the tape's clock): every earlier row is the stored one exactly.
    assert [r.time for r, _ in got] == [r.time for r, _ in live]
    _same(got[:-1], live[:-1])


async def test_a_recording_without_rows_is_rebuilt_to_the_live_history(
    tmp_path: Path, sim: SimFeed
) -> None:
    path, live = await _record_session(tmp_path, sim)
    with sqlite3.connect(path) as db:  # as `hedgeflow record` writes it: snapshots only
        db.execute("delete from history")
    _app, got, seen = await _replayed(path, tmp_path)
    assert "history SPX" in seen  # the progress was in the status line
    assert [r.time for r, _ in got] == [r.time for r, _ in live]
    _same(got[:-1], live[:-1])


async def test_reload_history_cuts_back_to_an_earlier_tape(tmp_path: Path, sim: SimFeed) -> None:
    path, live = await _record_session(tmp_path, sim)
    feed = ReplayFeed(path)
    with sqlite3.connect(path) as db:
        end = db.execute("select max(fetched_at) from snapshots").fetchone()[0]
        clocks = dict(db.execute("select time, max(clock) from history group by time"))
    feed.at(datetime.fromtimestamp(end, UTC))
    app = make_app(feed, symbols=["SPX"], export_dir=tmp_path / "replay")
    async with app.run_test(size=(120, 40)) as pilot:
        h = app.states["SPX"].history
        await wait_until(pilot, lambda: app.history_loader._worker is None and len(h) == len(live))
        await wait_for_analyses(pilot, app)
        # seek back: the tape to when the third analysis was started
        at = datetime.fromtimestamp(clocks[live[2][0].time], UTC)
        feed.at(at)
        app.reload_history(at)
        assert [r.time for r in h] == [r.time for r, _ in live[:3]]  # at once: no future
        await wait_until(pilot, lambda: app.history_loader._worker is None)
        _same(h.entries(), live[:3])
        # and forward again to the end: every row back
        feed.at(datetime.fromtimestamp(end, UTC))
        app.reload_history(feed.clock())
        await wait_until(pilot, lambda: app.history_loader._worker is None and len(h) == len(live))
        _same(h.entries()[:-1], live[:-1])


async def test_a_damaged_history_is_one_notice_and_the_replay_goes_on(
    tmp_path: Path, sim: SimFeed
) -> None:
    path, live = await _record_session(tmp_path, sim)
    with sqlite3.connect(path) as db:
        db.execute("update history set curves = x'00' where id = 2")
    feed = ReplayFeed(path)
    app = make_app(feed, symbols=["SPX"], export_dir=tmp_path / "replay")
    async with app.run_test(size=(120, 40)) as pilot:
        feed.at(datetime.fromtimestamp(live[-1][0].time + 60, UTC))
        app.reload_history(feed.clock())
        await wait_until(
            pilot, lambda: any("history not loaded" in n.message for n in notifications(app))
        )
        (n,) = [n for n in notifications(app) if "history not loaded" in n.message]
        assert "history row 2 of SPX: curve blob of 1 bytes" in n.message and "\n" not in n.message
        await wait_for_analyses(pilot, app)
        assert app.states["SPX"].analysis is not None and app.history_loader.status == ""


async def test_the_transport_keys_move_the_history_with_the_tape(
    tmp_path: Path, sim: SimFeed
) -> None:
    """Seeking the tape by keys moves the history with it (the App's TapeMoved handler):
    a seek forward past analyses the replay never made loads the recording's rows up to the
    tape; a seek back cuts the history to the tape at once, before the new analysis lands."""
    path, live = await _record_session(tmp_path, sim)
    feed = ReplayFeed(path, speed=60.0, wall=lambda: 0.0)
    with sqlite3.connect(path) as db:
        start = db.execute("select min(fetched_at) from snapshots").fetchone()[0]
    feed.at(datetime.fromtimestamp(start, UTC))
    app = make_app(feed, symbols=["SPX"], export_dir=tmp_path / "replay")
    async with app.run_test(size=(120, 40)) as pilot:
        h = app.states["SPX"].history

        def settled() -> bool:
            a = app.states["SPX"].analysis
            return (
                app.history_loader._worker is None
                and a is not None
                and a.as_of == feed.clock()
                and not app.states["SPX"].busy
            )

        await wait_until(pilot, settled)
        assert len(h) == 1
        await pilot.press("right_square_bracket")  # +5 min: past the tape's end, clamped
        await wait_until(pilot, lambda: settled() and len(h) == len(live))
        assert [r.time for r in h] == [r.time for r, _ in live]
        _same(h.entries()[:-1], live[:-1])
        await pilot.press("left_square_bracket")  # -5 min: back to the start
        tape = feed.clock().timestamp()
        assert all(r.time <= tape for r in h)  # at once, before the new analysis
        await wait_until(pilot, settled)
        assert [r.time for r in h] == [live[0][0].time]
