"""The error-log screen: recent poll failures, newest first, with what the monitor does next.

Columns: time (New York), symbol, feed, condition kind, message, backoff (the wait before
the next try, "not retried" for errors the user has to fix). Escape or q closes it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from hedgeflow.app.errorlog import ErrorLog
from hedgeflow.app.fmt import fmt_time_ny, fmt_wait

COLUMNS = ("time", "symbol", "feed", "kind", "message", "backoff")


class ErrorLogScreen(ModalScreen[None]):
    """Lists `errors.recent(limit)` when opened; `follow()` re-reads the log when it has
    grown, `refresh_rows()` always."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="errors-close")]

    DEFAULT_CSS = """
    ErrorLogScreen { align: center middle; }
    ErrorLogScreen > Vertical {
        width: 100%; max-width: 140; height: auto; max-height: 90%;
        border: round $error; background: $surface; padding: 0 1;
    }
    ErrorLogScreen DataTable { height: auto; max-height: 30; }
    """

    def __init__(self, log: ErrorLog, *, limit: int = 200) -> None:
        super().__init__()
        self.errors = log
        self.limit = limit
        self._shown = -1  # `log.total` when the rows were last read

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Recent errors · newest first"
            box.border_subtitle = "esc / q closes"
            yield Static(id="errors-status")
            yield DataTable(id="errors-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        self.refresh_rows()

    def follow(self) -> None:
        """Re-read the log if anything was logged since it was shown (the App calls this
        once a second while the screen is open)."""
        if self.is_mounted and self.errors.total != self._shown:
            self.refresh_rows()

    def refresh_rows(self) -> None:
        self._shown = self.errors.total
        table = self.query_one(DataTable)
        table.clear()
        for r in self.errors.recent(self.limit):
            backoff = "not retried" if r.retry_in is None else fmt_wait(r.retry_in)
            table.add_row(fmt_time_ny(r.at), r.symbol, r.feed, r.kind, r.message, backoff)
        status = self.errors.status()
        self.query_one("#errors-status", Static).update(
            f"now: {status}" if status else ("no errors" if not len(self.errors) else "all clear")
        )
