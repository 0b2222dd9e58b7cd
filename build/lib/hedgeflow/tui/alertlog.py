"""The alert-log screen (key `a`): every alert kept, newest first, with the numbers that
fired it and what became of it (shown, hook and webhook status, or held by the cooldown).

Columns: time (the data clock, labelled "sim time" / "recorded time" when it is not
live), symbol, scope (with its expiry), kind, what happened, status. `f` cycles the kind
shown, `y` the symbol; Escape or q closes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from hedgeflow.app.alert_center import AlertCenter
from hedgeflow.app.alert_delivery import DeliveryError
from hedgeflow.app.alert_log import AlertRecord, Clock
from hedgeflow.app.alert_rules import AlertKind
from hedgeflow.app.config import AlertSettings
from hedgeflow.app.fmt import fmt_level, fmt_time_ny
from hedgeflow.app.presentation import firmness_words
from hedgeflow.engine.expiry_scope import NY

if TYPE_CHECKING:
    from hedgeflow.tui.app import HedgeflowApp

COLUMNS = ("time", "symbol", "scope", "kind", "what", "status")

#: The time column's heading: whose clock it is (never wall time looking live).
TIME_HEADING = {
    Clock.LIVE: "time (data)",
    Clock.SIMULATED: "sim time",
    Clock.RECORDED: "recorded time",
    Clock.FILE: "file time",
}

KINDS: tuple[str | None, ...] = (None, *(k.value for k in AlertKind))


def _what(rec: AlertRecord) -> str:
    """The message without its "SYM: [scope]" prefix (both have their own columns)."""
    msg = rec.alert.message
    head, sep, rest = msg.partition("] ")
    return rest if sep and head.startswith(f"{rec.alert.symbol}: [") else msg


def detail(rec: AlertRecord) -> str:
    """The highlighted alert in full: its message, the numbers that fired it, its status
    (the table cuts the long columns at 80 columns)."""
    a = rec.alert
    nums = []
    if a.spot_before is not None and a.spot_after is not None:
        nums.append(f"spot {fmt_level(a.spot_before)} → {fmt_level(a.spot_after)}")
    if a.kind is AlertKind.FLIP and a.level is not None:
        nums.append(f"flip level {fmt_level(a.level)} {a.direction or ''}".rstrip())
    if a.zone is not None:
        nums.append(f"{a.zone_kind} zone {fmt_level(a.zone[0])}–{fmt_level(a.zone[1])}")
    if a.regime_before is not None and a.regime_after is not None:
        nums.append(f"regime {a.regime_before.value} → {a.regime_after.value}")
        if a.firmness is not None:
            nums.append(firmness_words(a.firmness))
    return f"{a.message}\n{' · '.join(nums)}\n#{rec.seq} · {rec.status or '—'}"


class AlertLogScreen(ModalScreen[None]):
    """Lists `center.log.recent(limit)` (filtered) when opened; `follow()` re-reads it
    when alerts or statuses changed."""

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close", id="alerts-close"),
        Binding("f", "kind", "Kind filter", id="alerts-kind"),
        Binding("y", "symbol", "Symbol filter", id="alerts-symbol"),
    ]

    DEFAULT_CSS = """
    AlertLogScreen { align: center middle; }
    AlertLogScreen > Vertical {
        width: 100%; max-width: 160; height: auto; max-height: 90%;
        border: round $warning; background: $surface; padding: 0 1;
    }
    AlertLogScreen DataTable { height: auto; max-height: 30; }
    AlertLogScreen #alerts-detail { border-top: solid $warning; }
    """

    def __init__(self, center: AlertCenter, *, limit: int = 500) -> None:
        super().__init__()
        self.center = center
        self.limit = limit
        self.kind: str | None = None
        self.symbol: str | None = None
        self._shown = (-1, -1)  # (total, changes) when the rows were last read
        self._rows: dict[str, AlertRecord] = {}

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Alerts · newest first"
            box.border_subtitle = "f kind · y symbol · esc closes"
            yield Static(id="alerts-status")
            yield DataTable(id="alerts-table", cursor_type="row", zebra_stripes=True)
            yield Static(id="alerts-detail")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(TIME_HEADING[self.center.clock], *COLUMNS[1:])
        self.refresh_rows()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(self._rows.get(str(event.row_key.value)))

    def _show(self, rec: AlertRecord | None) -> None:
        self.query_one("#alerts-detail", Static).update(detail(rec) if rec else "no alerts yet")

    def action_kind(self) -> None:
        self.kind = KINDS[(KINDS.index(self.kind) + 1) % len(KINDS)]
        self.refresh_rows()

    def action_symbol(self) -> None:
        symbols: list[str | None] = [None]
        for r in self.center.log.recent():
            if r.alert.symbol not in symbols:
                symbols.append(r.alert.symbol)
        i = symbols.index(self.symbol) if self.symbol in symbols else 0
        self.symbol = symbols[(i + 1) % len(symbols)]
        self.refresh_rows()

    def follow(self) -> None:
        """Re-read the log if anything changed since it was shown (the App calls this once
        a second while the screen is open)."""
        log = self.center.log
        if self.is_mounted and (log.total, log.changes) != self._shown:
            self.refresh_rows()

    def refresh_rows(self) -> None:
        log = self.center.log
        self._shown = (log.total, log.changes)
        table = self.query_one(DataTable)
        table.clear()
        rows = log.recent(self.limit, kind=self.kind, symbol=self.symbol)
        self._rows = {str(r.seq): r for r in rows}
        for r in rows:
            a = r.alert
            expiry = a.expiry.astimezone(NY).date().isoformat() if a.expiry is not None else ""
            scope = a.scope if a.scope == expiry or not expiry else f"{a.scope} {expiry[5:]}"
            table.add_row(
                fmt_time_ny(a.at),
                a.symbol,
                scope,
                a.kind.value,
                _what(r),
                r.status or "—",
                key=str(r.seq),
            )
        self._show(rows[0] if rows else None)
        parts = [
            f"{len(log)} alerts kept (the newest {log.capacity:,})",
            f"times: {TIME_HEADING[self.center.clock]}",
        ]
        if self.kind or self.symbol:
            parts.append(f"showing {self.kind or 'all kinds'}, {self.symbol or 'all symbols'}")
        channels = [w.name for w in self.center.workers]
        parts.append(f"delivery: screen{''.join(' + ' + c for c in channels)}")
        if self.center.dropped:
            parts.append(f"{self.center.dropped} dropped (queue full)")
        self.query_one("#alerts-status", Static).update(" · ".join(parts))


@dataclass
class AlertDelivered(Message):
    """A delivery thread finished with an alert (posted from that thread)."""

    record: AlertRecord
    channel: str
    error: DeliveryError | None


def alert_center(app: HedgeflowApp, settings: AlertSettings) -> AlertCenter:
    """The app's alerts: delivery results come back as `AlertDelivered` messages
    (`post_message` is thread-safe), handled by `delivered` on the event loop."""

    def post(record: AlertRecord, channel: str, error: DeliveryError | None) -> None:
        app.post_message(AlertDelivered(record, channel, error))

    return AlertCenter(settings, Clock.of_feed(app.feed_name), on_delivery=post)


def delivered(app: HedgeflowApp, msg: AlertDelivered) -> None:
    """A delivery ended: a failure goes to the error log (one notice per condition, e.g.
    "alert hook · HookTimeout"), a success ends that channel's conditions for the symbol."""
    feed, symbol = f"alert {msg.channel}", msg.record.alert.symbol
    if msg.error is None:
        for ended in app.errors.recovered(feed, symbol):
            app.notify(ended.message, title=ended.title, timeout=4)
        return
    notice = app.errors.failed(
        app.data_clock(),
        feed,
        symbol,
        msg.error,
        None,
        advice="the alert is in the alert log (a); the next alerts are still sent",
    )
    if notice is not None:
        app.notify(notice.message, title=notice.title, severity="error", timeout=8)
    if isinstance(app.screen, AlertLogScreen):
        app.screen.follow()
