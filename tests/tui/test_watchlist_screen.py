"""The watchlist screen on the real app: open, sort, filter, drill in, return, STALE rows."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input

from hedgeflow.app.alert_log import Clock
from hedgeflow.app.alerts import Alert, AlertKind
from hedgeflow.app.presentation import headline
from hedgeflow.tui.screens import MonitorScreen
from hedgeflow.tui.watchlist import WatchlistScreen
from tests.tui.conftest import SYMBOLS, make_app, rendered, wait_for_analyses, wait_until


def _symbols(app) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def test_watchlist_sort_filter_open_and_return(tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        await pilot.press("w")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, WatchlistScreen)
        assert _symbols(app) == sorted(SYMBOLS)
        # a row's impulse cell is the headline's, compact
        spx = next(r for r in screen.shown if r.symbol == "SPX")
        assert spx.impulse == headline(app.states["SPX"].analysis).impulse
        head = rendered(screen.query_one("#watch-head"))
        assert "5/5 symbols" in head and "sorted by symbol ↑" in head
        # r reverses, s moves to the next column (age, then last: sorted by price)
        await pilot.press("r")
        assert _symbols(app) == sorted(SYMBOLS, reverse=True)
        await pilot.press("s", "s")
        lasts = [r.last for r in screen.shown]
        assert screen.sort_key == "last" and lasts == sorted(lasts, reverse=True)
        # "/" filters; every word must match
        await pilot.press("slash", "s", "p")
        await pilot.pause()
        assert sorted(_symbols(app)) == ["SPX", "SPY"]
        await pilot.press("x")
        await pilot.pause()
        assert _symbols(app) == ["SPX"]
        await pilot.press("enter")  # keeps the filter, back to the table
        await pilot.pause()
        assert "filter “spx”" in rendered(screen.query_one("#watch-head"))
        # Enter opens the symbol in the monitor
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MonitorScreen) and app.current == "SPX"
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, WatchlistScreen)
        await pilot.press("slash", "escape")  # escape in the filter clears it
        await pilot.pause()
        assert len(_symbols(app)) == 5
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=_symbols(app).index("QQQ"))
        await pilot.press("enter")
        await pilot.pause()
        assert app.current == "QQQ" and isinstance(app.screen, MonitorScreen)
        await pilot.press("w", "escape")
        await pilot.pause()
        assert isinstance(app.screen, MonitorScreen) and app.current == "QQQ"


async def test_a_late_change_of_the_closed_filter_does_not_filter_again(tmp_path: Path) -> None:
    """Input.Changed arrives after the change and after keys handled meanwhile: "/" then
    Esc typed fast delivers the "/"'s Changed (the old filter's text) after Esc cleared the
    filter. It must not put the old filter back (the cursor then jumped to another row:
    Enter opened the wrong symbol)."""
    app = make_app(export_dir=tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        await pilot.press("w")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, WatchlistScreen)
        await pilot.press("slash", "s", "p", "x", "enter")
        await pilot.pause()
        assert _symbols(app) == ["SPX"]
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert len(_symbols(app)) == 5 and screen.filter_text == ""
        inp = screen.query_one(Input)
        inp.post_message(Input.Changed(inp, "spx"))  # the late one
        await pilot.pause()
        await pilot.pause()
        assert screen.filter_text == "" and len(_symbols(app)) == 5
        # while the filter is open, its current text filters (not a message's old value)
        await pilot.press("slash", "q", "q", "q")
        await wait_until(pilot, lambda: _symbols(app) == ["QQQ"])
        inp.post_message(Input.Changed(inp, ""))
        await pilot.pause()
        await pilot.pause()
        assert _symbols(app) == ["QQQ"] and screen.filter_text == "qqq"


async def test_the_last_alert_column_is_the_newest_alert_shown(tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path, symbols=["SPX", "SPY"])
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        log = app.alerts.log
        log.add(Alert("SPX", AlertKind.FLIP, "SPX: crossed 5,990 upward"), Clock.SIMULATED)
        log.add(Alert("SPX", AlertKind.ZONE, "SPX: held"), Clock.SIMULATED, suppressed="cooldown")
        await pilot.press("w")
        await pilot.pause()
        rows = {r.symbol: r.last_alert for r in app.screen.shown}
        assert rows == {"SPX": "SPX: crossed 5,990 upward", "SPY": ""}


async def test_stale_rows_show_stale(tmp_path: Path) -> None:
    clock = [1000.0]
    app = make_app(export_dir=tmp_path, symbols=["SPX", "SPY"], monotonic=lambda: clock[0])
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        await pilot.press("w")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, WatchlistScreen)
        assert not any(r.stale for r in screen.shown)
        clock[0] += 10 * app.stale_after_polls * app.poll_interval  # no poll for that long
        screen.refresh_rows()
        await wait_until(pilot, lambda: all(r.stale for r in screen.shown))
        table = screen.query_one(DataTable)
        age = str(table.get_row_at(0)[1])
        assert age.startswith("STALE")
        assert "2 STALE" in rendered(screen.query_one("#watch-head"))
        await pilot.press("slash", "s", "t", "a", "l", "e", "enter")
        await pilot.pause()
        assert len(screen.shown) == 2


def _watchlist(app):
    async def run_before(pilot) -> None:
        await wait_for_analyses(pilot, app)
        await pilot.press("w")
        await pilot.pause()

    return run_before


def test_watchlist_snapshot_80x24(snap_compare, tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_watchlist(app))


def test_watchlist_snapshot_120x40(snap_compare, tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_watchlist(app))


async def test_a_refresh_before_the_columns_exist_waits_for_them(tmp_path: Path) -> None:
    """The once-a-second refresh can reach a watchlist that is composed but not yet mounted
    (a busy machine, `w` just pressed): its table has no columns yet, and rows then would
    raise inside the timer and end the monitor. It adds nothing; the mount fills the rows."""
    app = make_app(export_dir=tmp_path, symbols=["SPX", "SPY"])
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        await pilot.press("w")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, WatchlistScreen)
        table = screen.query_one(DataTable)
        table.clear(columns=True)  # as between compose and mount
        screen.refresh_rows()
        assert table.row_count == 0
        app._every_second()  # the timer's path, which raised before
        await pilot.pause()
        assert isinstance(app.screen, WatchlistScreen)
