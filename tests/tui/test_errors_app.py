"""Errors a user can act on, once (issue 8, item 5), through the real app driven by
Pilot: five symbols down is ONE notice, its details in the status line (feed, condition,
how many symbols, next retry) and on the error-log screen (key `l`: time, symbol, feed,
kind, backoff, newest first); one recovery notice; an auth error is not retried and names
its environment variable once."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from hedgeflow.app.fmt import fmt_time_ny, fmt_wait
from hedgeflow.feeds.errors import FeedAuthError
from hedgeflow.feeds.sim import SimFeed
from hedgeflow.tui.errorlog import COLUMNS, ErrorLogScreen
from hedgeflow.tui.panes import StatusLine
from tests.tui.conftest import (
    SYMBOLS,
    error_log_rows,
    errors_raised,
    make_app,
    record_notices,
    rendered,
    wait_for_analyses,
    wait_for_notice,
    wait_until,
)
from tests.tui.fakes import FlakyFeed


async def test_five_symbols_down_is_one_notice_with_details_and_one_recovery(
    tmp_path: Path, sim: SimFeed
) -> None:
    feed = FlakyFeed(sim)
    app = make_app(feed, SYMBOLS, export_dir=tmp_path, poll_interval=0.05)
    posted = record_notices(app)  # every notice, also those expired before they are read
    async with app.run_test(size=(240, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        assert errors_raised(posted) == []
        feed.failing = True
        # The outage's notice, on screen as it is raised; then every symbol fails at least
        # three times (backoff 0.05, 0.1, 0.2 s) and there is still that one notice.
        await wait_for_notice(pilot, posted, lambda n: n.severity == "error")
        await wait_until(pilot, lambda: all(st.failures >= 3 for st in app.states.values()))
        notes = errors_raised(posted)
        assert len(notes) == 1, [n.message for n in notes]
        assert "simulated outage" in notes[0].message and "retrying in" in notes[0].message
        assert "sim · unavailable" in notes[0].title
        # The status line names the condition, how many symbols and the next retry.
        await pilot.pause()
        line = rendered(app.screen.query_one(StatusLine))
        assert "sim unavailable (5 symbols, retry in" in line, line

        # Open while the feed is still down, the error-log screen follows new failures.
        shown = len(await error_log_rows(pilot))
        table = app.screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count > shown, limit=10)
        await pilot.press("escape")
        # Pause polling so the log stops growing, then read the error-log screen.
        await pilot.press("space")
        await wait_until(pilot, lambda: not any(st.polling for st in app.states.values()))
        rows = await error_log_rows(pilot)
        assert isinstance(app.screen, ErrorLogScreen)
        assert [str(c.label) for c in app.screen.query_one(DataTable).columns.values()] == list(
            COLUMNS
        )
        # Every failure, newest first, with time (New York), symbol, feed, kind, backoff.
        assert rows == [
            [fmt_time_ny(r.at), r.symbol, "sim", "unavailable", r.message, fmt_wait(r.retry_in)]
            for r in app.errors.recent()
        ]
        assert len(rows) >= 15 and {r[1] for r in rows} == set(SYMBOLS)
        assert all("simulated outage" in r[4] for r in rows)
        for sym in SYMBOLS:  # newest first: each symbol's backoff grows upwards
            waits = [r.retry_in for r in app.errors.recent() if r.symbol == sym]
            assert waits == sorted(waits, reverse=True) and waits[0] > waits[-1]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ErrorLogScreen)

        feed.failing = False
        await pilot.press("space")  # resume
        await wait_for_notice(pilot, posted, lambda n: "recovered" in n.title)
        await wait_until(pilot, lambda: all(st.error is None for st in app.states.values()))
        await pilot.pause()
        recovered = [n for n in posted if "recovered" in n.title]
        assert len(recovered) == 1 and "unavailable is over" in recovered[0].message
        assert len(errors_raised(posted)) == 1  # and no new error notice
        assert "unavailable" not in rendered(app.screen.query_one(StatusLine))


async def test_auth_error_on_five_symbols_is_one_notice_naming_the_variable_once(
    tmp_path: Path, sim: SimFeed
) -> None:
    """The issue's case: a missing Tradier token opened the monitor with five "retrying in
    60 s" toasts. Now: one notice, the variable named once, no retry until the user acts."""
    denied = FeedAuthError(
        "the Tradier API token is missing: set the environment variable TRADIER_TOKEN",
        env_var="TRADIER_TOKEN",
        vendor="tradier",
    )
    feed = FlakyFeed(sim, error=denied)
    feed.failing = True
    interval = 0.05
    app = make_app(feed, SYMBOLS, export_dir=tmp_path, poll_interval=interval)
    posted = record_notices(app)  # every notice, also those expired before they are read
    async with app.run_test(size=(240, 40)) as pilot:
        await wait_for_notice(pilot, posted, lambda n: n.severity == "error")  # on screen
        await wait_until(pilot, lambda: all(st.error is not None for st in app.states.values()))
        await pilot.pause(20 * interval)  # twenty poll intervals: nothing is retried
        assert feed.calls == len(SYMBOLS)
        notes = errors_raised(posted)
        assert len(notes) == 1, [n.message for n in notes]
        assert notes[0].message.count("TRADIER_TOKEN") == 1
        assert "not retried" in notes[0].message and "retrying" not in notes[0].message
        line = rendered(app.screen.query_one(StatusLine))
        assert "sim auth (5 symbols, not retried)" in line, line
        assert line.count("TRADIER_TOKEN") == 1 and "next poll stopped" in line
        rows = await error_log_rows(pilot)
        assert len(rows) == len(SYMBOLS) and all(r[5] == "not retried" for r in rows)
        await pilot.press("escape")
        # The user sets the token and presses space twice: polling starts again.
        feed.failing = False
        await pilot.press("space", "space")
        await wait_for_notice(pilot, posted, lambda n: "recovered" in n.title)  # on screen
        await wait_for_analyses(pilot, app)
        await pilot.pause()
        recovered = [n for n in posted if "recovered" in n.title]
        assert len(recovered) == 1 and "auth is over" in recovered[0].message
        assert "auth" not in rendered(app.screen.query_one(StatusLine))


async def test_help_lists_the_error_log_key(tmp_path: Path, sim: SimFeed) -> None:
    app = make_app(sim, ["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        keys = rendered(app.screen.query_one("#help-keys"))
        row = next(line for line in keys.splitlines() if "Recent errors" in line)
        assert row.split()[0] == "l" and "errors" in row.split()[-1]
