"""The monitor on the file feed when its file goes bad mid-session: the error is shown, the
last analysis stays, and the monitor recovers when the file is good again."""

from __future__ import annotations

import shutil
from pathlib import Path

from hedgeflow.feeds.errors import FeedError
from hedgeflow.feeds.files import FileFeed
from hedgeflow.tui.panes import StatusLine
from tests.tui.conftest import make_app, wait_for_analyses, wait_until

REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "spy_quotedata_2023-09-14.csv"


async def test_truncated_file_is_an_error_on_screen_and_the_analysis_stays(
    tmp_path: Path,
) -> None:
    path = tmp_path / "spy.csv"
    shutil.copy(REAL, path)
    good_bytes = path.read_bytes()
    feed = FileFeed.from_config({"path": str(path)})
    # No timed poll during the test: space (pause, resume) polls now, as a user would.
    app = make_app(feed, feed.symbols, export_dir=tmp_path / "out", poll_interval=600.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        st = app.states["SPY"]
        good = st.analysis
        assert good is not None and st.error is None
        # Truncated mid-row by whatever wrote it: the next poll fails.
        path.write_bytes(good_bytes[: len(good_bytes) // 2].rsplit(b",", 3)[0])
        await pilot.press("space", "space")
        await wait_until(pilot, lambda: st.error is not None)
        assert isinstance(st.error, FeedError)
        assert str(path) in str(st.error) and "truncated file?" in str(st.error)
        await wait_until(
            pilot, lambda: "truncated file?" in app.screen.query_one(StatusLine).view.error
        )
        assert st.analysis is good  # the last analysis stays on screen
        path.write_bytes(good_bytes)  # repaired
        await pilot.press("space", "space")
        await wait_until(pilot, lambda: st.error is None)
        assert st.analysis is not None
