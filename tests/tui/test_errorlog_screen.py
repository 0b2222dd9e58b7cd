"""The error-log screen on its own, in a tiny App driven by Pilot: rows newest first with
time, symbol, feed, kind, message and backoff; escape and q close it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from textual.app import App
from textual.widgets import DataTable, Static

from hedgeflow.app.errorlog import ErrorLog
from hedgeflow.feeds.errors import FeedAuthError, FeedUnavailable, WrongSymbol
from hedgeflow.tui.errorlog import COLUMNS, ErrorLogScreen

T0 = datetime(2026, 5, 15, 14, 30, tzinfo=UTC)  # 10:30 in New York


def filled_log() -> ErrorLog:
    log = ErrorLog()
    log.failed(T0, "cboe", "SPX", FeedUnavailable("cannot reach cboe", vendor="cboe"), 2.0)
    log.failed(T0 + timedelta(seconds=5), "cboe", "SPY", WrongSymbol("SPY", "QQQ"), 125.0)
    auth = FeedAuthError("the token was rejected", env_var="TRADIER_TOKEN", vendor="tradier")
    log.failed(T0 + timedelta(seconds=9), "tradier", "NDX", auth, None)
    return log


class Host(App[None]):
    def __init__(self, log: ErrorLog) -> None:
        super().__init__()
        self.log_ = log

    def on_mount(self) -> None:
        self.push_screen(ErrorLogScreen(self.log_))


def rows(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_lists_recent_errors_newest_first() -> None:
    app = Host(filled_log())
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ErrorLogScreen)
        table = screen.query_one(DataTable)
        assert [str(c.label) for c in table.columns.values()] == list(COLUMNS)
        got = rows(table)
        assert [r[1] for r in got] == ["NDX", "SPY", "SPX"]
        assert got[0] == [
            "10:30:09 ET",
            "NDX",
            "tradier",
            "auth",
            "tradier: the token was rejected (set the environment variable TRADIER_TOKEN)",
            "not retried",
        ]
        assert got[1][3:] == [
            "wrong symbol",
            "payload is for QQQ, not the requested SPY (refused)",
            "2m05s",
        ]
        assert got[2][0] == "10:30:00 ET" and got[2][5] == "2s"
        status = str(screen.query_one("#errors-status", Static).render())
        assert "tradier auth (NDX)" in status and "cboe unavailable (SPX)" in status


@pytest.mark.parametrize("key", ["escape", "q"])
async def test_closes_with_escape_or_q(key: str) -> None:
    app = Host(filled_log())
    async with app.run_test() as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ErrorLogScreen)
        await pilot.press(key)
        await pilot.pause()
        assert not isinstance(app.screen, ErrorLogScreen)


async def test_empty_log_and_refresh() -> None:
    log = ErrorLog()
    app = Host(log)
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ErrorLogScreen)
        assert screen.query_one(DataTable).row_count == 0
        assert "no errors" in str(screen.query_one("#errors-status", Static).render())
        log.failed(T0, "cboe", "SPX", FeedUnavailable("down"), 1.0)
        screen.refresh_rows()
        await pilot.pause()
        assert rows(screen.query_one(DataTable))[0][1] == "SPX"
