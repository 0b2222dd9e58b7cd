"""The monitor's status line shows open interest the reader left out, before the
after-hours spot note (issue 10, item 1), on the real app driven by Pilot."""

from __future__ import annotations

from pathlib import Path

from hedgeflow.feeds.files import FileFeed
from hedgeflow.tui.panes import StatusLine
from tests.app.test_listed_contracts import _with_dropped_contracts
from tests.tui.conftest import make_app, wait_for_analyses, wait_until

NOTE = (
    "105,130 open interest left out with dropped contracts: "
    "1 nonstandard root (77,508), 2 duplicate (27,622)"
)


async def test_status_line_names_the_open_interest_left_out(tmp_path: Path) -> None:
    path, _ = _with_dropped_contracts(tmp_path)
    feed = FileFeed.from_config({"path": str(path)})
    app = make_app(feed, feed.symbols, export_dir=tmp_path / "out", poll_interval=600.0)
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        status = app.screen.query_one(StatusLine)
        await wait_until(
            pilot, lambda: status.view is not None and status.view.notes[:1] == (NOTE,)
        )
        assert status.view is not None and not status.view.error
        # the file was saved after the close: its spot note comes second, not instead
        assert status.view.notes[1] == "spot stale (market closed)"
        assert NOTE in str(status.render())
