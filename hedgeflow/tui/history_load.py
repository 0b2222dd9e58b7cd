"""A replay's level history: each symbol's history filled from the recording up to the
tape's clock, in one background thread worker (group `history`), never on the event loop.

`HistoryLoader.reload(until)` is the one entry point: the monitor calls it when a replay
starts, and whenever the tape moves (a seek back or forward; `until` the tape's clock).
It cuts every history back to `until` at once (a seek back shows no future), cancels a
load still running, and starts one that, symbol by symbol (the visible one first):

- reads the rows the recording monitor stored (`app.history_store.load_entries`: the
  exact rows and curves it had live), or, for a symbol the recording holds no rows of (a
  `hedgeflow record` file), analyzes its snapshots up to the tape
  (`app.history_rebuild.Rebuilder`, with the monitor's engine config and scope; kept per
  symbol, so a tape moving forward analyzes only the snapshots it has not seen);
- puts the rows into a new history's columns there, in the worker
  (`app.history_store.built`), and hands it to the event loop, which swaps it in before
  any analysis applied since (`SymbolHistory.adopt`).

Progress ("history SPX 40/120") joins the status line's conditions while it runs. A load
that fails (a damaged recording) is logged and shown once; the monitor keeps running.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual.worker import Worker, WorkerState

from hedgeflow.app.history_rebuild import Entry, Rebuilder
from hedgeflow.app.history_store import built, load_entries
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.expiry_scope import ExpiryScope
from hedgeflow.feeds.recorder import history_counts
from hedgeflow.feeds.replay import ReplayFeed

if TYPE_CHECKING:
    from hedgeflow.app.history import SymbolHistory
    from hedgeflow.tui.app import HedgeflowApp

log = logging.getLogger("hedgeflow.tui")


class HistoryLoader:
    """Fills `app`'s histories from its replay feed's recording (module docstring)."""

    def __init__(self, app: HedgeflowApp) -> None:
        self.app = app
        self.status = ""  # the progress shown in the status line ("" when idle)
        self._cancel = threading.Event()
        self._worker: Worker[Any] | None = None
        self._stored: dict[str, int] | None = None
        self._rebuilders: dict[str, Rebuilder] = {}
        # One load at a time: a cancelled load still in its thread finishes its snapshot
        # before the next one uses the same rebuilders.
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        """The feed is a replay (the only feed with a recording to fill from)."""
        return isinstance(self.app.feed, ReplayFeed)

    def reload(self, until: datetime) -> None:
        """Fill every symbol's history up to the tape's clock `until` (aware); call from the
        event loop. Does nothing unless the feed is a replay."""
        feed = self.app.feed
        if not isinstance(feed, ReplayFeed):
            return
        t = until.timestamp()
        for st in self.app.states.values():
            st.history.truncate_after(t)
        self.cancel()
        self._cancel = cancel = threading.Event()
        order = sorted(self.app.symbols, key=lambda s: s != self.app.current)
        jobs = [(s, self.app.engine_config_for(s), self.app.states[s].scope) for s in order]
        loop = asyncio.get_running_loop()

        def post(fn: Callable[[], None]) -> None:
            try:
                loop.call_soon_threadsafe(fn)
            except RuntimeError:  # the loop is gone: nobody is waiting
                pass

        self._worker = self.app.run_worker(
            lambda: self._load(feed, jobs, t, cancel, post),
            thread=True,
            group="history",
            name="history",
            description="level history from the recording",
            exit_on_error=False,
        )

    def cancel(self) -> None:
        """Stop a load in flight (it ends at its next snapshot)."""
        self._cancel.set()
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        self.status = ""

    def _load(
        self,
        feed: ReplayFeed,
        jobs: list[tuple[str, EngineConfig, ExpiryScope]],
        until: float,
        cancel: threading.Event,
        post: Callable[[Callable[[], None]], None],
    ) -> int:
        """In the worker thread: each symbol's rows, handed to the loop one symbol at a
        time. Returns how many rows were loaded."""
        with self._lock:
            return self._load_locked(feed, jobs, until, cancel, post)

    def _load_locked(
        self,
        feed: ReplayFeed,
        jobs: list[tuple[str, EngineConfig, ExpiryScope]],
        until: float,
        cancel: threading.Event,
        post: Callable[[Callable[[], None]], None],
    ) -> int:
        if self._stored is None:
            self._stored = history_counts(feed.path)
        loaded = 0
        for symbol, config, scope in jobs:
            if cancel.is_set():
                return loaded
            entries: list[Entry] | None
            if self._stored.get(symbol, 0) > 0:
                entries = load_entries(feed.path, symbol, until)
            else:
                entries = self._rebuild(feed, symbol, config, scope, until, cancel, post)
                if entries is None:
                    return loaded
            loaded += len(entries)
            st = self.app.states.get(symbol)
            if st is None:
                continue  # the symbol was removed meanwhile
            # the rows go into their columns here, off the loop (~16 us a row: 75 ms for a
            # session); the loop only swaps the built history in
            ready = built(st.history, entries)
            post(lambda s=symbol, h=ready: self._apply(s, h, until, cancel))  # type: ignore[misc]
        post(lambda: self._finished(cancel))
        return loaded

    def _rebuild(
        self,
        feed: ReplayFeed,
        symbol: str,
        config: EngineConfig,
        scope: ExpiryScope,
        until: float,
        cancel: threading.Event,
        post: Callable[[Callable[[], None]], None],
    ) -> list[Entry] | None:
        rb = self._rebuilders.get(symbol)
        if rb is None or rb.config != config or rb.scope != scope:
            rb = self._rebuilders[symbol] = Rebuilder(feed.path, symbol, config, scope)

        def progress(done: int, total: int) -> None:
            if done == total or done % 10 == 0:
                text = f"history {symbol} {done}/{total}"
                post(lambda: self._progress(text, cancel))

        return rb.run(until, cancel, progress)

    # -- on the event loop ------------------------------------------------------------------

    def _progress(self, text: str, cancel: threading.Event) -> None:
        if cancel is self._cancel and not cancel.is_set():
            self.status = text
            self.app.refresh_views()

    def _apply(
        self, symbol: str, ready: SymbolHistory, until: float, cancel: threading.Event
    ) -> None:
        st = self.app.states.get(symbol)
        if cancel is not self._cancel or cancel.is_set() or st is None:
            return  # superseded by a newer reload, or the symbol was removed
        st.history.adopt(ready, until)
        self.app.refresh_views()

    def _finished(self, cancel: threading.Event) -> None:
        if cancel is self._cancel:
            self.status = ""
            self.app.refresh_views()

    def done(self, worker: Worker[Any], state: WorkerState) -> None:
        """The load worker ended (from the App's one worker handler)."""
        if worker is self._worker:
            self._worker = None
            self.status = ""
        if state == WorkerState.ERROR:
            log.error("history load failed: %r", worker.error)
            self.app.notify(f"history not loaded: {worker.error}", severity="error", timeout=8)
