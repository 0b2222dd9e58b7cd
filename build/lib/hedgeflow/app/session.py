"""Polling session state per symbol: what the monitor (and `analyze`) keep between polls.

A `SymbolSession` holds, for one underlying and the current trading session:

- `first`: the session's first snapshot (its open interest is the start-of-day OI that the
  positioning model applies to);
- `previous` / `current`: the last two snapshots;
- `flow`: the signed live-flow state (`hedgeflow.engine.flow.update_live_flow`), from which
  `positions(...)` gives the dealers' live positions per row of the current chain.

The session a snapshot belongs to is decided by its as-of time on the exchange calendar:
the session of its New York date (the latest session on a weekend or holiday), which
starts at that session's 09:30 open. Daily volume restarts then, so a snapshot before
the open (or a change of day) starts the flow afresh. Nothing here reads the clock: every
time comes from the snapshots.

`changed(prev, cur)` is the cheap test the monitor runs before recomputing: contract
set, spot, quotes, last prints, open interest or volume differ (vectorized array
comparisons; the as-of time alone does not count).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

import numpy as np

from hedgeflow.engine import clock as xclock
from hedgeflow.engine.chain import OptionChain
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import PositioningModel, PositionSource
from hedgeflow.engine.flow import LiveFlow, live_positions, update_live_flow

#: Arrays compared by `changed`, cheapest and most often different first.
_COMPARED = ("bid", "ask", "last", "volume", "open_interest", "strike", "expiry")


def changed(prev: OptionChain | None, cur: OptionChain) -> bool:
    """True when `cur` differs from `prev` in anything the engine or the live flow uses:
    the contract set (roots, strikes, expiries, rights), spot, bid/ask, last prints, open
    interest or volume. NaN equals NaN; the as-of time alone is no change."""
    if prev is None or len(prev) != len(cur) or prev.symbol != cur.symbol:
        return True
    if not (prev.spot == cur.spot or (math.isnan(prev.spot) and math.isnan(cur.spot))):
        return True
    for name in _COMPARED:
        if not np.array_equal(getattr(prev, name), getattr(cur, name), equal_nan=True):
            return True
    return not (np.array_equal(prev.is_call, cur.is_call) and np.array_equal(prev.root, cur.root))


def session_start(as_of: datetime) -> datetime:
    """Start (09:30 New York open, aware) of the trading session `as_of` belongs to: the
    session of its New York date, or the latest session before a non-trading date."""
    d = as_of.astimezone(xclock.NY).date()
    if not xclock.is_session(d):
        d = xclock.previous_session(d)
    opened = xclock.session_open(d)
    assert opened is not None  # d is a session by construction
    return opened


class SymbolSession:
    """Session state of one symbol across polls (see the module docstring)."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol.upper()
        self._reset()

    def _reset(self) -> None:
        self.first: OptionChain | None = None
        self.previous: OptionChain | None = None
        self.current: OptionChain | None = None
        self.flow: LiveFlow | None = None
        self.start: datetime | None = None

    @classmethod
    def from_snapshots(cls, symbol: str, chains: Iterable[OptionChain]) -> SymbolSession:
        """The session state after folding `chains` in order (e.g. a recording's snapshots,
        `feeds.replay.iter_snapshots(path, symbol)`, for `analyze` with live positions);
        snapshots of other symbols are skipped."""
        session = cls(symbol)
        for chain in chains:
            if chain.symbol.upper() == session.symbol:
                session.update(chain)
        return session

    def update(self, chain: OptionChain) -> bool:
        """Fold a new snapshot in; returns `changed(previous current, chain)`.

        A snapshot older than the current one but not older than the session's first (a
        vendor serving a stale cache) is ignored and reported unchanged: the flow needs time
        order. One from before the session's first snapshot, or from another session (a
        replay that looped or was rewound, a new day), restarts the state.
        """
        if chain.symbol.upper() != self.symbol:
            raise ValueError(f"snapshot of {chain.symbol!r} given to the {self.symbol} session")
        if self.current is not None and chain.as_of < self.current.as_of:
            rewound = self.first is not None and chain.as_of <= self.first.as_of
            if not rewound and session_start(chain.as_of) == self.start:
                return False
            self._reset()
        start = session_start(chain.as_of)
        is_new = changed(self.current, chain)
        if self.current is not None and chain.as_of == self.current.as_of and not is_new:
            return False  # the same snapshot again: nothing to fold
        if self.start != start:  # the first snapshot, or a new trading session
            self.start = start
            self.first = chain
        elif self.first is not None and self.first.as_of < start <= chain.as_of:
            # Snapshots before the open so far: the first one in the session proper wins.
            self.first = chain
        # update_live_flow restarts by itself when `current` predates the session start.
        self.flow = update_live_flow(self.flow, self.current, chain, session_start=start)
        self.previous, self.current = self.current, chain
        return is_new

    def positions(
        self,
        model: PositioningModel | EngineConfig,
        source: PositionSource | None = None,
        chain: OptionChain | None = None,
    ) -> np.ndarray | None:
        """Dealers' signed positions per row of `chain` (default: the current snapshot),
        contracts, positive = dealers long; None when the start-of-day positions apply
        (`source` START_OF_DAY, or no snapshot yet). `model` may be an `EngineConfig`, whose
        effective positioning and `positions` source are then used."""
        if isinstance(model, EngineConfig):
            source = model.positions if source is None else source
            model = model.effective_positioning
        source = PositionSource.LIVE if source is None else PositionSource(source)
        chain = chain if chain is not None else self.current
        if source is PositionSource.START_OF_DAY or self.flow is None or chain is None:
            return None
        return live_positions(self.flow, chain, PositioningModel(model))
