"""`r` in the monitor: every snapshot that arrives, written to a SQLite recording by one
thread that owns the connection (`hedgeflow.feeds.recorder.Recorder`).

The event loop only puts (chain, fetched_at) on a queue; `stop` puts the end marker, and
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

from hedgeflow.engine.chain import OptionChain

log = logging.getLogger("hedgeflow.tui")

_Item = tuple[OptionChain, datetime] | None


class Recording:
    """One recording session to `path`, created on the event loop. `write` runs in a
    worker thread (group `record`); everything else is called from the event loop."""

    def __init__(self, path: Path, feed_name: str) -> None:
        self.path = path
        self.feed_name = feed_name
        self.written = 0
        self.last: tuple[str, datetime] | None = None  # (symbol, as_of) last written
        self._queue: queue.Queue[_Item] = queue.Queue()
        # Created on the event loop; the writer thread sets it through the loop.
        self._loop = asyncio.get_running_loop()
        self._closed = asyncio.Event()
        self._stopped = False

    def put(self, chain: OptionChain, fetched_at: datetime) -> None:
        if not self._stopped:
            self._queue.put((chain, fetched_at))

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
        from hedgeflow.feeds.recorder import Recorder

        try:
            rec = Recorder(self.path)
            try:
                while True:
                    item = self._queue.get()
                    if item is None:
                        break
                    chain, fetched_at = item
                    rec.write(chain, feed=self.feed_name, fetched_at=fetched_at)
                    self.written += 1
                    self.last = (chain.symbol, chain.as_of)
            finally:
                rec.close()
            last = f", last {self.last[0]} as of {self.last[1].isoformat()}" if self.last else ""
            log.info("recording closed: %s, %d snapshots%s", self.path, self.written, last)
            return self.written
        finally:
            self._stopped = True
            try:
                self._loop.call_soon_threadsafe(self._closed.set)
            except RuntimeError:  # the loop is gone: nobody is waiting
                pass
