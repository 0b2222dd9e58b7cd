"""Fixtures for the monitor's Pilot and snapshot tests: the real simulated market with a
fixed seed and a frozen clock, the real pipeline, and helpers that wait for analyses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from textual.app import App
from textual.notifications import Notification

from hedgeflow.feeds.sim import SimFeed
from hedgeflow.tui.app import HedgeflowApp

#: A Tuesday, mid-morning in New York: a live session with a 0DTE expiry.
START = datetime.fromisoformat("2026-11-24T10:30:00-05:00")
SEED = 7
SYMBOLS = ["SPX", "SPY", "QQQ", "NDX", "IWM"]

_SIM: SimFeed | None = None


def shared_sim() -> SimFeed:
    """One simulated market for the whole run (its day setup is the slow part), reset to
    START with a frozen clock (speed 0) for every test. Snapshots are a pure function of
    (seed, clock), so sharing it keeps tests independent."""
    global _SIM
    if _SIM is None:
        _SIM = SimFeed(seed=SEED, start=START.isoformat(), speed=0.0)
    _SIM.at(START)
    return _SIM


@pytest.fixture
def sim() -> SimFeed:
    return shared_sim()


def make_app(
    feed: Any | None = None,
    symbols: list[str] | None = None,
    *,
    export_dir: Path,
    poll_interval: float = 60.0,
    frozen: bool = True,
    **kw: Any,
) -> HedgeflowApp:
    """The real app on the real sim and pipeline. `frozen`: the scheduling clock is
    constant, so "next poll in 1m00s" never ticks and nothing goes stale by wall time
    (snapshot tests); Pilot tests that exercise staleness pass frozen=False."""
    if frozen:
        kw.setdefault("monotonic", lambda: 1000.0)
    return HedgeflowApp(
        feed if feed is not None else shared_sim(),
        list(symbols or SYMBOLS),
        poll_interval=poll_interval,
        export_dir=export_dir,
        **kw,
    )


async def wait_until(pilot: Any, condition: Callable[[], bool], limit: float = 30.0) -> None:
    """Let the app run until `condition()` holds; fail after `limit` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {limit:.0f} s waiting for {condition}")
        await pilot.pause(0.05)


async def wait_for_analyses(
    pilot: Any, app: HedgeflowApp, symbols: Iterable[str] | None = None
) -> None:
    """Every listed symbol analyzed and no engine run pending, then one more refresh."""
    names = list(symbols or app.symbols)

    def ready() -> bool:
        return all(
            s in app.states and app.states[s].analysis is not None and not app.states[s].busy
            for s in names
        )

    await wait_until(pilot, ready)
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


def notifications(app: App[Any]) -> list[Notification]:
    """The app's live (unexpired) notifications, oldest first. Textual offers no public
    view of them, so every test reads the private `App._notifications` through here only;
    tests/tui/test_textual_contract.py fails by name if a Textual upgrade moves it."""
    return list(app._notifications)


class Posted(NamedTuple):
    """A notice as the app raised it."""

    title: str
    message: str
    severity: str


def record_notices(app: HedgeflowApp) -> list[Posted]:
    """Every notice `app` raises from now on, oldest first, expired ones included. A notice
    leaves the screen after its timeout (4 to 15 s), which a loaded machine can pass before
    a test reads the screen: count what was raised here, and see each one on screen with
    `wait_for_notice` while it is new."""
    posted: list[Posted] = []
    notify = app.notify

    def recording(
        message: str, *, title: str = "", severity: Any = "information", **kw: Any
    ) -> None:
        posted.append(Posted(str(title), message, str(severity)))
        notify(message, title=title, severity=severity, **kw)

    app.notify = recording  # type: ignore[method-assign]
    return posted


async def wait_for_notice(
    pilot: Any, posted: list[Posted], match: Callable[[Posted], bool], start: int = 0
) -> Posted:
    """The first notice raised since `posted[start]` that `match`es, once it is on screen
    (among the app's live notifications); fails after `wait_until`'s limit."""

    found: list[Posted] = []

    def on_screen() -> bool:
        live = {(str(n.title), n.message) for n in notifications(pilot.app)}
        found[:] = [p for p in posted[start:] if match(p) and (p.title, p.message) in live][:1]
        return bool(found)

    await wait_until(pilot, on_screen)
    return found[0]


def rendered(widget: Any) -> str:
    """What `widget` shows on screen now, its lines joined by newlines (what the user
    reads, not the state behind it)."""
    return "\n".join(strip.text for strip in widget.render_lines(widget.region.reset_offset))


def errors_raised(posted: list[Posted]) -> list[Posted]:
    """The notices of error severity (a condition starting) among `posted`, oldest first."""
    return [n for n in posted if n.severity == "error"]


async def error_log_rows(pilot: Any) -> list[list[str]]:
    """Press `l` on the monitor and read the error-log screen's rows (top to bottom); the
    screen stays open (escape closes it)."""
    from textual.widgets import DataTable

    from hedgeflow.tui.errorlog import ErrorLogScreen

    await pilot.press("l")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ErrorLogScreen), limit=5)
    await pilot.pause()
    table = pilot.app.screen.query_one(DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
