"""Polling for the monitor: one async worker per poll (group `poll:<SYM>`), re-armed by a
one-shot timer when it ends, so polls of a symbol never overlap.

A poll posts `SnapshotArrived` and never touches a widget. When it ends, the App's one
`Worker.StateChanged` handler calls `Poller.done`: a success re-arms after the poll
interval; a failure goes to the app's error log, which decides whether it is news (one
notice per feed and condition, however many symbols share it), and is re-armed after
`poll_backoff`; an auth error is not retried at all (polling of that symbol stops until
the user pauses and resumes).
"""

from __future__ import annotations

import asyncio
import logging
import math
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.timer import Timer
from textual.worker import Worker, WorkerState

from hedgeflow.app.fmt import fmt_wait
from hedgeflow.feeds.errors import FeedAuthError, FeedUnavailable
from hedgeflow.tui.messages import SnapshotArrived

if TYPE_CHECKING:
    from hedgeflow.tui.app import HedgeflowApp

log = logging.getLogger("hedgeflow.tui")

#: Seconds: the longest wait the app's own exponential backoff reaches.
MAX_BACKOFF = 60.0
#: Seconds: a server's Retry-After is honoured up to a day (beyond that it is nonsense,
#: and a timer that far out is never reached in a session anyway).
MAX_RETRY_AFTER = 86_400.0
#: Seconds after mount when the symbols not on screen start polling, if the visible
#: symbol's first analysis has not landed by then.
REST_DELAY = 1.0


def poll_backoff(failures: int, interval: float, retry_after: float | None) -> float:
    """Seconds before the next poll after `failures` (>= 1) consecutive failed polls.

    Exponential from the poll interval (interval, 2x, 4x, ...) up to `MAX_BACKOFF` (or the
    interval, if longer). A server's Retry-After (`retry_after`, seconds) is honoured and
    never shortened: the wait is the longer of the two. An auth error is not retried at
    all; that is the caller's decision, not a delay."""
    exponent = min(max(failures - 1, 0), 32)  # 2**32 intervals is past any cap
    delay = min(interval * 2.0**exponent, max(MAX_BACKOFF, interval))
    if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
        delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
    return float(delay)


def auth_advice(error: FeedAuthError) -> str:
    """What the user has to do after an auth error (which is never retried). The error's
    own message already names the variable to set (`FeedAuthError` appends it): said
    once, not twice."""
    what = "once it is set" if error.env_var else "once the credentials are fixed"
    return f"not retried: polling stopped; {what}, press space twice to retry"


class Poller:
    """Starts, re-arms and stops the polls of `app`'s symbols."""

    def __init__(self, app: HedgeflowApp) -> None:
        self.app = app
        self._rest_timer: Timer | None = None

    def start_visible_first(self) -> None:
        """The symbol on screen first: its first analysis is not slowed by the others (the
        engine and the sim share one interpreter); the rest follow once it is shown, or
        after `REST_DELAY` at the latest."""
        self.start(self.app.current)
        self._rest_timer = self.app.set_timer(REST_DELAY, self.start_remaining)

    def first_analysis_shown(self) -> None:
        if self._rest_timer is not None:
            self.app.call_after_refresh(self.start_remaining)

    def start_remaining(self) -> None:
        if self._rest_timer is not None:
            self._rest_timer.stop()
            self._rest_timer = None
        if self.app.paused:
            return
        for st in list(self.app.states.values()):
            if st.chain is None and not isinstance(st.error, FeedAuthError):
                self.start(st.symbol)

    def start(self, symbol: str) -> None:
        st = self.app.states.get(symbol)
        if st is None or st.polling:
            return
        if st.timer is not None:
            st.timer.stop()
            st.timer = None
        st.polling = True
        st.next_poll_mono = None

        async def poll() -> None:  # a coroutine only once the worker runs it
            await self._fetch(symbol)

        self.app.run_worker(
            poll,  # type: ignore[arg-type]  # Textual's WorkType infers Never here
            name=f"poll {symbol}",
            group=f"poll:{symbol}",
            description=f"poll {symbol} from {self.app.feed_name}",
            exclusive=True,
            exit_on_error=False,
        )

    async def _fetch(self, symbol: str) -> None:
        app = self.app
        # A feed has its own timeouts; this is the backstop so a hung request can never
        # stop the re-arming of the poll timer.
        limit = max(30.0, 3 * app.poll_interval)
        try:
            async with asyncio.timeout(limit):
                chain = await app.feed.snapshot(symbol)
        except TimeoutError:
            raise FeedUnavailable(f"no answer within {limit:.0f} s", vendor=app.feed_name) from None
        # The chain travels in the message, not as the worker's result: a finished worker
        # can outlive its run (an executor thread's context keeps the last one it ran).
        app.post_message(SnapshotArrived(symbol, chain, app.data_clock()))

    def arm(self, symbol: str, delay: float) -> None:
        """The next poll of `symbol` in `delay` seconds (none while paused)."""
        app = self.app
        st = app.states.get(symbol)
        if st is None or app.paused:
            return
        if st.timer is not None:
            st.timer.stop()
        st.next_poll_mono = app.monotonic() + delay
        st.timer = app.set_timer(delay, partial(self.start, symbol), name=f"next poll {symbol}")

    def pause(self) -> None:
        for st in self.app.states.values():
            if st.timer is not None:
                st.timer.stop()
                st.timer = None
            st.next_poll_mono = None

    def resume(self) -> None:
        for symbol in list(self.app.symbols):
            self.start(symbol)

    def stop_all(self) -> None:
        """No more polls (the app is closing)."""
        for st in self.app.states.values():
            if st.timer is not None:
                st.timer.stop()
                st.timer = None
        if self._rest_timer is not None:
            self._rest_timer.stop()
            self._rest_timer = None

    def forget(self, symbol: str) -> None:
        """`symbol` is no longer watched: its timer stops and a poll in flight is cancelled."""
        st = self.app.states.get(symbol)
        if st is not None and st.timer is not None:
            st.timer.stop()
            st.timer = None
        self.app.workers.cancel_group(self.app, f"poll:{symbol}")

    def done(self, symbol: str, worker: Worker[Any], state: WorkerState) -> None:
        """A poll of `symbol` ended: re-arm it, or show the failure and back off."""
        app = self.app
        st = app.states.get(symbol)
        if st is None:
            return
        st.polling = False
        if state == WorkerState.CANCELLED:
            return
        if state == WorkerState.SUCCESS:
            for notice in app.errors.recovered(app.feed_name, symbol):
                app.notify(notice.message, title=notice.title, timeout=4)
            st.error = None
            st.failures = 0
            st.backoff = 0.0
            self.arm(symbol, app.poll_interval)
            return
        error = worker.error or RuntimeError("unknown poll failure")
        st.failures += 1
        st.error = error
        log.warning("poll %s failed (%d): %r", symbol, st.failures, error)
        if isinstance(error, FeedAuthError):
            # Retrying cannot help: polling of this symbol stops until the user acts.
            st.backoff = 0.0
            st.next_poll_mono = None
            advice = f"{auth_advice(error)}; last analysis kept"
            self._tell(symbol, error, None, advice, timeout=15)
            return
        retry_after = getattr(error, "retry_after", None)
        st.backoff = poll_backoff(st.failures, app.poll_interval, retry_after)
        advice = f"retrying in {fmt_wait(st.backoff)}; last analysis kept"
        self._tell(symbol, error, st.backoff, advice, timeout=8)
        self.arm(symbol, st.backoff)

    def _tell(
        self, symbol: str, error: BaseException, retry_in: float | None, advice: str, timeout: float
    ) -> None:
        """Log the failure; a toast only when it starts a condition (the error-log screen,
        key `l`, lists every failure)."""
        app = self.app
        notice = app.errors.failed(
            app.data_clock(), app.feed_name, symbol, error, retry_in, advice=advice
        )
        if notice is not None:
            app.notify(notice.message, title=notice.title, severity="error", timeout=timeout)
