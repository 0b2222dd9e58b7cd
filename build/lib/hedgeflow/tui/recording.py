"""`r` in the monitor: every snapshot that arrives, and every applied analysis's level
history row and curves, written to a SQLite recording by one thread that owns the
connection (`hedgeflow.feeds.recorder.Recorder`; the rows through
`hedgeflow.app.history_store.write_entry`).

The event loop only puts (chain, fetched_at) or (row, curves, clock) on a queue (the
encoding and the fsync are the thread's); `stop` puts the end marker, and
`wait_closed` lets the monitor's shutdown (q, ctrl+c, SIGTERM, SIGHUP) wait until the
last queued snapshot is committed and the file closed, so a recording that was open when
the monitor was told to stop is complete and passes `PRAGMA integrity_check`.
"""

from __future__ import annotations

import asyncio
import logging
import queue
from datetime import datetime
from pathlib import Path

from hedgeflow.app.history import CurveSample, HistoryRow
from hedgeflow.engine.chain import OptionChain

log = logging.getLogger("hedgeflow.tui")

_Item = tuple[OptionChain, datetime] | tuple[HistoryRow, CurveSample | None, datetime] | None


class Recording:
    """One recording session to `path`, created on the event loop. `write` runs in a
    worker thread (group `record`); everything else is called from the event loop."""

    def __init__(self, path: Path, feed_name: str) -> None:
        self.path = path
        self.feed_name = feed_name
        self.written = 0
        self.history_written = 0
        self.last: tuple[str, datetime] | None = None  # (symbol, as_of) last written
        self._queue: queue.Queue[_Item] = queue.Queue()
        # Created on the event loop; the writer thread sets it through the loop.
        self._loop = asyncio.get_running_loop()
        self._closed = asyncio.Event()
        self._stopped = False

    def put(self, chain: OptionChain, fetched_at: datetime) -> None:
        if not self._stopped:
            self._queue.put((chain, fetched_at))

    def put_history(self, row: HistoryRow, sample: CurveSample | None, clock: datetime) -> None:
        """One applied analysis's history (`clock`: the feed clock its run was submitted at,
        what a replay compares with its tape)."""
        if not self._stopped:
            self._queue.put((row, sample, clock))

    def stop(self) -> None:
        """No more snapshots: the writer commits what is queued, closes the file, ends."""
        if not self._stopped:
            self._stopped = True
            self._queue.put(None)

    @property
    def stopped(self) -> bool:
        return self._stopped

    async def wait_closed(self) -> None:
        """Wait, without blocking the loop, until the writer has closed the file (bound it
        with `asyncio.timeout`)."""
        await self._closed.wait()

    def write(self) -> int:
        """The writer thread: snapshots in order until `stop`; returns how many."""
        from hedgeflow.app.history_store import write_entry
        from hedgeflow.feeds.recorder import Recorder

        try:
            rec = Recorder(self.path)
            try:
                while True:
                    item = self._queue.get()
                    if item is None:
                        break
                    if len(item) == 3:
                        row, sample, clock = item
                        write_entry(rec, row, sample, clock)
                        self.history_written += 1
                        continue
                    chain, fetched_at = item
                    rec.write(chain, feed=self.feed_name, fetched_at=fetched_at)
                    self.written += 1
                    self.last = (chain.symbol, chain.as_of)
            finally:
                rec.close()
            last = f", last {self.last[0]} as of {self.last[1].isoformat()}" if self.last else ""
            log.info("recording closed: %s, %d snapshots%s", self.path, self.written, last)
            log.info("recording %s: %d history rows", self.path, self.history_written)
            return self.written
        finally:
            self._stopped = True
            try:
                self._loop.call_soon_threadsafe(self._closed.set)
            except RuntimeError:  # the loop is gone: nobody is waiting
                pass
