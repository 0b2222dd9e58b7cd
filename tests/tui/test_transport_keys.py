"""The replay transport driven by keys on the real app, the real pipeline and a real
recording of the simulated market: pause (across a real sleep), step, seek ±5/±30 min,
speed, jump. Each move checks the tape clock AND that the analysis on screen is of the
recorded snapshot at that time (its as_of), and that `TapeMoved` was posted."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual import on

from hedgeflow.feeds.recorder import Recorder
from hedgeflow.feeds.replay import ReplayFeed
from hedgeflow.feeds.sim import NY, SimFeed
from hedgeflow.tui.app import HedgeflowApp
from hedgeflow.tui.messages import TapeMoved
from hedgeflow.tui.panes import StatusLine
from hedgeflow.tui.transport import JumpScreen, TransportBar
from tests.tui.conftest import notifications, rendered, wait_for_analyses, wait_until

START = datetime(2026, 11, 24, 10, 0, tzinfo=NY)
#: SPY every 5 minutes 10:00-12:00, QQQ every 15 minutes; fetched 0.5 s after as-of.
PLAN = {"SPY": 5, "QQQ": 15}
LAG = timedelta(seconds=0.5)


@pytest.fixture(scope="module")
def tape(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[datetime]]]:
    """A recording of the sim written by the recorder; per symbol the as-of times written."""
    path = tmp_path_factory.mktemp("transport") / "session.sqlite"
    sim = SimFeed(seed=11, start=START, speed=0.0, symbols=list(PLAN))
    as_of: dict[str, list[datetime]] = {s: [] for s in PLAN}
    with Recorder(path) as rec:
        for minute in range(0, 121, 5):
            when = START + timedelta(minutes=minute)
            for sym, every in PLAN.items():
                if minute % every == 0:
                    chain = sim.chain_at(sym, when)
                    rec.write(chain, feed="sim", fetched_at=when + LAG)
                    as_of[sym].append(chain.as_of)
    return path, as_of


class FakeWall:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Recorded(HedgeflowApp):
    """The app, keeping every `TapeMoved` it receives."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.moves: list[TapeMoved] = []

    @on(TapeMoved)
    def _moved(self, message: TapeMoved) -> None:
        self.moves.append(message)


def make(path: Path, tmp_path: Path, *, speed: float = 1.0, wall: Any = None) -> Recorded:
    feed = ReplayFeed(path, speed=speed, wall=wall or FakeWall())
    return Recorded(
        feed,
        list(feed.symbols[::-1]),  # SPY first
        poll_interval=60.0,
        export_dir=tmp_path,
        monotonic=lambda: 1000.0,
    )


def at(minute: float) -> datetime:
    return START + timedelta(minutes=minute) + LAG


def expected(as_of: list[datetime], clock: datetime) -> datetime:
    """The as-of of the last snapshot fetched at or before `clock`."""
    fetched = [t + LAG for t in as_of]
    past = [a for a, f in zip(as_of, fetched, strict=True) if f <= clock]
    return past[-1] if past else as_of[0]


async def shows(pilot: Any, app: HedgeflowApp, symbol: str, as_of: datetime) -> None:
    """The analysis on screen for `symbol` is of the snapshot `as_of` (and so is its chain)."""
    st = app.states[symbol]

    def ok() -> bool:
        a = st.analysis
        return a is not None and a.as_of == as_of and not st.busy and st.chain is not None

    await wait_until(pilot, ok)
    assert st.chain is not None and st.chain.as_of == as_of
    await pilot.pause()


async def test_pause_stops_the_tape_across_a_real_sleep(tape: Any, tmp_path: Path) -> None:
    path, as_of = tape
    app = make(path, tmp_path, speed=60.0, wall=time.monotonic)
    feed = app.feed
    assert isinstance(feed, ReplayFeed)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app, ["SPY"])
        await pilot.press("space")
        assert feed.paused and not app.paused  # the tape, not the polls
        frozen = feed.clock()
        age = app.screen.query_one(StatusLine).view.age  # type: ignore[union-attr]
        await asyncio.sleep(1.5)  # 90 s of tape at 60x, were it playing
        app.refresh_views()
        await pilot.pause()
        assert feed.clock() == frozen
        assert app.data_clock() == frozen
        assert app.screen.query_one(StatusLine).view.age == age  # type: ignore[union-attr]
        assert not app.is_stale(app.states["SPY"])
        bar = rendered(app.screen.query_one(TransportBar))
        assert "PAUSED" in bar and "REPLAY" in bar and "recorded" in bar
        await shows(pilot, app, "SPY", expected(as_of["SPY"], frozen))
        before = time.monotonic()
        await pilot.press("space")
        after = time.monotonic()  # the tape resumed between these two instants
        assert not feed.paused
        await asyncio.sleep(1.0)
        moved = (feed.clock() - frozen).total_seconds()
        now = time.monotonic()
        # 60 s of tape a wall second, from the resume (however long the sleep took on a
        # loaded machine): between 60 x the shortest and the longest time it can have run.
        assert 60.0 * (now - after) - 1.0 <= moved <= 60.0 * (now - before) + 1.0, moved
        assert moved >= 50.0
        assert "PLAY" in rendered(app.screen.query_one(TransportBar))
        assert app.moves == []  # pausing is not a move


async def test_step_back_and_forward(tape: Any, tmp_path: Path) -> None:
    path, as_of = tape
    app = make(path, tmp_path)
    feed = app.feed
    assert isinstance(feed, ReplayFeed)
    spy = as_of["SPY"]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app, ["SPY"])
        await shows(pilot, app, "SPY", spy[0])
        for key, i in ((".", 1), (".", 2), (".", 3), (",", 2)):
            await pilot.press(key)
            assert feed.paused  # stepping pauses
            assert feed.clock() == spy[i] + LAG  # exactly on the recorded fetch time
            await shows(pilot, app, "SPY", spy[i])
        assert [m.backward for m in app.moves] == [False, False, False, True]
        assert [m.clock for m in app.moves] == [spy[i] + LAG for i in (1, 2, 3, 2)]
        # the visible symbol's snapshots: on QQQ a step is 15 minutes
        await pilot.press("2")
        await pilot.press(".")
        assert feed.clock() == as_of["QQQ"][1] + LAG
        await shows(pilot, app, "QQQ", as_of["QQQ"][1])


async def test_seek_5_and_30_minutes(tape: Any, tmp_path: Path) -> None:
    path, as_of = tape
    app = make(path, tmp_path)
    feed = app.feed
    assert isinstance(feed, ReplayFeed)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app, ["SPY"])
        for key, minute in (
            ("right_square_bracket", 5),
            ("right_curly_bracket", 35),
            ("right_curly_bracket", 65),
            ("left_square_bracket", 60),
            ("left_curly_bracket", 30),
            ("left_curly_bracket", 0),
            ("left_square_bracket", 0),  # clamped at the start
        ):
            await pilot.press(key)
            assert feed.clock() == at(minute), key
            await shows(pilot, app, "SPY", expected(as_of["SPY"], at(minute)))
        for _ in range(5):
            await pilot.press("right_curly_bracket")
        assert feed.clock() == at(120)  # clamped at the end
        await shows(pilot, app, "SPY", as_of["SPY"][-1])
        assert "100%" in rendered(app.screen.query_one(TransportBar))
        assert not feed.paused  # seeking keeps the tape playing
        # QQQ follows without waiting for its poll interval
        await shows(pilot, app, "QQQ", as_of["QQQ"][-1])


async def test_speed_keys(tape: Any, tmp_path: Path) -> None:
    path, _ = tape
    wall = FakeWall()
    app = make(path, tmp_path, wall=wall)
    feed = app.feed
    assert isinstance(feed, ReplayFeed)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app, ["SPY"])
        await pilot.press("greater_than_sign", "greater_than_sign")
        assert feed.speed == 5.0
        wall.t += 12.0
        assert feed.clock() == at(1)
        await pilot.press("less_than_sign")
        assert feed.speed == 2.0 and feed.clock() == at(1)  # no jump on a speed change
        wall.t += 30.0
        assert feed.clock() == at(2)
        for _ in range(10):
            await pilot.press("greater_than_sign")
        assert feed.speed == 300.0
        app.refresh_views()
        await pilot.pause()
        assert "×300" in rendered(app.screen.query_one(TransportBar))
        assert app.moves == []


async def test_jump_to_a_time(tape: Any, tmp_path: Path) -> None:
    path, as_of = tape
    app = make(path, tmp_path)
    feed = app.feed
    assert isinstance(feed, ReplayFeed)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app, ["SPY"])
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, JumpScreen))
        dialog = app.screen
        for text, words in (
            ("25:99", "not a time of day"),
            ("lunch", "not a time"),
            ("15:00", "after the tape ends"),
            ("09:00", "before the tape starts"),
        ):
            await pilot.press(*text, "enter")
            assert app.screen is dialog
            assert words in rendered(dialog.query_one("#jump-error"))
            await pilot.press(*["backspace"] * len(text))
        assert feed.clock() == at(0) and app.moves == []
        await pilot.press(*"11:17", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, JumpScreen))
        target = START + timedelta(minutes=77)
        assert feed.clock() == target
        await shows(pilot, app, "SPY", expected(as_of["SPY"], target))
        assert app.states["SPY"].analysis.as_of == START + timedelta(minutes=75)  # type: ignore[union-attr]
        await pilot.press("t", *"2026-11-24T10:20", "enter")
        await wait_until(pilot, lambda: feed.clock() == START + timedelta(minutes=20))
        # 10:20:00 on the tape: the 10:20 snapshot was fetched half a second later, so the
        # screen shows what the recording monitor showed then, the 10:15 one
        await shows(pilot, app, "SPY", START + timedelta(minutes=15))
        assert [m.backward for m in app.moves] == [False, True]
        # escape cancels, nothing moves
        await pilot.press("t", *"11:00", "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, JumpScreen))
        assert feed.clock() == START + timedelta(minutes=20) and len(app.moves) == 2


async def test_transport_keys_outside_a_replay_do_nothing_harmful(tmp_path: Path) -> None:
    from tests.tui.conftest import make_app

    app = make_app(symbols=["SPY"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        before = app.states["SPY"].analysis
        await pilot.press(
            "comma",
            "full_stop",
            "left_square_bracket",
            "right_curly_bracket",
            "less_than_sign",
            "t",
        )
        await pilot.pause()
        assert app.tape is None and app.states["SPY"].analysis is before
        assert not isinstance(app.screen, JumpScreen)
        assert any("replay" in n.message for n in notifications(app))
        assert not app.screen.query_one(TransportBar).display
        await pilot.press("space")
        assert app.paused  # space still pauses the polls of a live feed


async def test_transport_keys_can_be_remapped(tape: Any, tmp_path: Path) -> None:
    """`[keymap]` by binding id: `tape-forward-5m` on `f`; the help screen follows."""
    path, as_of = tape
    feed = ReplayFeed(path, speed=1.0, wall=FakeWall())
    app = Recorded(
        feed,
        ["SPY"],
        poll_interval=60.0,
        export_dir=tmp_path,
        monotonic=lambda: 1000.0,
        keymap={"tape-forward-5m": "f"},
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app, ["SPY"])
        await pilot.press("f")
        assert feed.clock() == at(5)
        await shows(pilot, app, "SPY", as_of["SPY"][1])
        rows = {r[2]: r[0] for r in app.help_rows()}
        assert rows["tape-forward-5m"] == "f" and rows["tape-jump"] == "t"


async def test_a_jump_takes_the_old_analysis_down_until_the_new_one_lands(
    tape: Any, tmp_path: Path
) -> None:
    """With the engine held, a seek leaves no analysis of the old moment on screen under the
    new clock ("analyzing …"), and no alert compares the two moments; a step forward (what
    playing does) keeps the analysis up until the next one replaces it (and may alert, as
    playing would)."""
    import threading

    from hedgeflow.engine.scope import analyze_scope
    from hedgeflow.tui.panes import ImpulsePane

    gate = threading.Event()
    gate.set()

    def held(chain: Any, **kw: Any) -> Any:
        gate.wait(30)
        return analyze_scope(chain, **kw)

    path, as_of = tape
    feed = ReplayFeed(path, speed=1.0, wall=FakeWall())
    app = Recorded(
        feed,
        ["SPY"],
        poll_interval=60.0,
        export_dir=tmp_path,
        monotonic=lambda: 1000.0,
        analyze=held,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app, ["SPY"])
        gate.clear()
        await pilot.press("right_curly_bracket")
        await wait_until(pilot, lambda: app.states["SPY"].busy)
        assert app.states["SPY"].analysis is None
        app.refresh_views()
        await pilot.pause()
        assert "analyzing SPY" in rendered(app.screen.query_one(ImpulsePane))
        gate.set()
        await shows(pilot, app, "SPY", expected(as_of["SPY"], at(30)))
        assert not [n for n in notifications(app) if (n.title or "").startswith("Alert")]
        gate.clear()
        await pilot.press("full_stop")
        await wait_until(pilot, lambda: app.states["SPY"].busy)
        assert app.states["SPY"].analysis.as_of == as_of["SPY"][6]  # type: ignore[union-attr]
        gate.set()
        await shows(pilot, app, "SPY", as_of["SPY"][7])


async def test_a_replay_is_stale_only_beyond_its_recordings_own_intervals(
    tape: Any, tmp_path: Path
) -> None:
    """SPY recorded every 5 minutes, QQQ every 15: between two snapshots the data is as
    fresh as the recording allows (the 60 s poll's 3-interval limit called SPY STALE four
    minutes after its snapshot). A recording that missed polls shows the gap."""
    path, as_of = tape
    app = make(path, tmp_path)
    feed = app.feed
    assert isinstance(feed, ReplayFeed)
    assert feed.interval("SPY") == 300.0 and feed.interval("QQQ") == 900.0
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app, ["SPY", "QQQ"])
        await shows(pilot, app, "SPY", as_of["SPY"][0])
        await shows(pilot, app, "QQQ", as_of["QQQ"][0])
        spy, qqq = app.states["SPY"], app.states["QQQ"]
        feed.at(at(4))  # the tape between two SPY snapshots: nothing newer recorded
        assert not app.is_stale(spy)
        feed.at(at(14))  # QQQ's snapshot 14 minutes old, its next at 15
        assert not app.is_stale(qqq)
        feed.at(at(16))  # past 3 of SPY's 5-minute intervals (had it not been polled)
        assert app.is_stale(spy)

    gappy = tmp_path / "gappy.sqlite"  # SPY every 5 minutes, but none from 10:20 to 11:00
    sim = SimFeed(seed=11, start=START, speed=0.0, symbols=["SPY"])
    with Recorder(gappy) as rec:
        for minute in [*range(0, 21, 5), *range(60, 91, 5)]:
            when = START + timedelta(minutes=minute)
            rec.write(sim.chain_at("SPY", when), feed="sim", fetched_at=when + LAG)
    app = make(gappy, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app, ["SPY"])
        await pilot.press("right_curly_bracket")  # 10:30: the 10:20 snapshot, 10 min old
        await shows(pilot, app, "SPY", START + timedelta(minutes=20))
        assert not app.is_stale(app.states["SPY"])
        await pilot.press("right_square_bracket", "right_square_bracket")  # 10:40
        await wait_until(pilot, lambda: not app.states["SPY"].busy)
        await shows(pilot, app, "SPY", START + timedelta(minutes=20))
        assert app.is_stale(app.states["SPY"])  # 20 minutes into a 40-minute hole
