"""A symbol's level history rebuilt by analyzing a recording's snapshots (a recording made
by `hedgeflow record`, which runs no engine and stores no history rows).

The monitor's path is followed step for step: each snapshot in recording order is folded
into a `SymbolSession` (the live customer flow), a snapshot that changed something is
analyzed with the monitor's engine config at the feed clock it was fetched at (`now` =
its recorded `fetched_at`), the regime is advanced with hysteresis (`app.regime.advance`,
a fresh track when the scope label changes) and the row and curves are added. What it
cannot know is which snapshots the live monitor skipped (a newer one replaced a pending
run): the rebuilt history is every changed snapshot's analysis.

A `Rebuilder` keeps what it analyzed, so a tape moving forward continues where it stopped
and one moving back slices what it has; `run` checks `cancel` between snapshots.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from hedgeflow.app.engine_pool import AnalysisRequest, run_analysis
from hedgeflow.app.history import (
    CurveSample,
    HistoryRow,
    SymbolHistory,
    curve_sample,
    history_row,
)
from hedgeflow.app.regime import RegimeTrack, advance
from hedgeflow.app.session import SymbolSession
from hedgeflow.engine.chain import OptionChain
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import PositionSource
from hedgeflow.engine.expiry_scope import ExpiryScope, ScopeKind
from hedgeflow.engine.types import ExpiryAnalysis
from hedgeflow.feeds.recorder import RecordingError, decode_chain, read_rows

Entry = tuple[HistoryRow, CurveSample | None]
#: progress(done, total): snapshots of the symbol read so far and up to the tape
Progress = Callable[[int, int], None]


def analyze_for_history(
    chain: OptionChain,
    *,
    now: datetime,
    config: EngineConfig,
    scope: ExpiryScope,
    positions: np.ndarray | None,
) -> ExpiryAnalysis:
    """One analysis as the monitor runs it for `scope` (`app.engine_pool.run_analysis`,
    with its fallbacks; the nearest expiry for a scope of one expiry, as
    `tui.dispatch.EngineDispatch.submit` asks)."""
    one = scope.kind in (ScopeKind.NEAREST, ScopeKind.EXPIRY)
    request = AnalysisRequest(
        chain=chain, now=now, config=config, positions=positions, scope=None if one else scope
    )
    return run_analysis(request)


class Rebuilder:
    """One symbol's history from one recording's snapshots (see the module docstring).
    Not thread-safe: one `run` at a time (the monitor's one history worker)."""

    def __init__(
        self,
        path: str | Path,
        symbol: str,
        config: EngineConfig,
        scope: ExpiryScope | None = None,
        *,
        max_rows: int = 20_000,
    ) -> None:
        self.path = Path(path)
        self.symbol = symbol.upper()
        self.config = config
        self.scope = scope or ExpiryScope()
        self.max_rows = max_rows
        self._session = SymbolSession(self.symbol)
        self._track: RegimeTrack | None = None
        self._scope_label: str | None = None
        self._last_id = 0
        self._done_until = float("-inf")  # clock the analyses reach (fetched_at)
        # what was analyzed, in columns (no object a row for the garbage collector), and
        # the feed clock each kept row's snapshot was fetched at
        self._history = SymbolHistory(self.symbol, max_rows=max_rows)
        self._clocks: list[float] = []

    def run(
        self,
        until: float,
        cancel: threading.Event | None = None,
        progress: Progress | None = None,
    ) -> list[Entry] | None:
        """The history up to the feed clock `until` (epoch seconds), analyzing the snapshots
        not analyzed yet; None when `cancel` was set (what was analyzed is kept). Raises
        `RecordingError` on a damaged snapshot, an engine error as the engine raises it."""
        if until > self._done_until:
            todo = [
                (i, f, p)
                for i, _sym, _as_of, f, _feed, p in read_rows(self.path, self.symbol)
                if i > self._last_id and f <= until
            ]
            for n, (row_id, fetched, payload) in enumerate(todo, start=1):
                if cancel is not None and cancel.is_set():
                    return None
                self._one(row_id, fetched, payload)
                if progress is not None:
                    progress(n, len(todo))
            self._done_until = until
        entries = self._history.entries()
        return [e for c, e in zip(self._clocks, entries, strict=True) if c <= until]

    def _one(self, row_id: int, fetched: float, payload: bytes) -> None:
        try:
            chain = decode_chain(payload)
        except (ValueError, TypeError, KeyError) as exc:
            raise RecordingError(self.path, f"corrupted: snapshot {row_id}: {exc}") from None
        self._last_id = row_id
        if not self._session.update(chain):
            return
        positions = None
        if self.config.positions is PositionSource.LIVE:
            positions = self._session.positions(self.config, chain=chain)
        now = datetime.fromtimestamp(fetched, UTC)
        a = analyze_for_history(
            chain, now=now, config=self.config, scope=self.scope, positions=positions
        )
        track = self._track if self._scope_label == a.scope else None
        a, self._track = advance(track, a)
        self._scope_label = a.scope
        row = history_row(a)
        h = self._history
        # `add` drops the rows at and after the row's time, then the oldest past max_rows:
        # the clocks follow
        kept = int(np.searchsorted(h.times(), row.time)) if row.time <= h.last_time else len(h)
        h.add(row, curve_sample(a))
        del self._clocks[kept:]
        self._clocks.append(fetched)
        del self._clocks[: len(self._clocks) - len(h)]
