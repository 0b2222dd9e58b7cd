"""What the monitor knows about one watched symbol, and when that is stale.

The App owns one `SymbolState` per symbol; the poller, the engine dispatch and the view
builders read and update it, always on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from textual.timer import Timer

from hedgeflow.app.history import MONITOR_CURVES, SymbolHistory
from hedgeflow.app.regime import RegimeTrack
from hedgeflow.app.session import SymbolSession
from hedgeflow.engine.chain import OptionChain
from hedgeflow.engine.expiry_scope import ExpiryScope
from hedgeflow.engine.types import ExpiryAnalysis


@dataclass
class SymbolState:
    """Everything the App knows about one watched symbol.

    Times: `fetched_at` is the feed clock; every `*_mono` is the App's monotonic clock,
    seconds. Snapshot numbers (1, 2, ... per changed snapshot) tell whether the analysis
    on screen is the analysis of the latest snapshot."""

    symbol: str
    chain: OptionChain | None = None
    fetched_at: datetime | None = None  # feed clock at the last successful fetch
    fetched_mono: float | None = None  # monotonic time of the last successful fetch
    analysis: ExpiryAnalysis | None = None
    expiry: float | None = None  # chosen settlement epoch; None = the nearest live one
    # the expiry scope summed (the `o` key cycles it; kept per symbol); a chosen `expiry`
    # is analyzed alone, whatever the scope
    scope: ExpiryScope = field(default_factory=ExpiryScope)
    error: BaseException | None = None  # the last poll's error; None after a success
    failures: int = 0  # consecutive failed polls
    engine_error: str = ""
    busy: bool = False  # an engine run is in flight or waiting to start
    polling: bool = False
    timer: Timer | None = None
    next_poll_mono: float | None = None
    backoff: float = 0.0  # seconds scheduled after the last failure
    snapshot_seq: int = 0
    snapshot_mono: float = 0.0  # arrival of snapshot `snapshot_seq`
    analyzed_snapshot: int = 0  # the snapshot the analysis on screen was computed from
    analyzed_mono: float = 0.0  # arrival of that snapshot
    failed_snapshot: int = 0  # the newest snapshot the engine failed on
    regime: RegimeTrack | None = None  # the impulse regime held across analyses
    session: SymbolSession = field(init=False)
    history: SymbolHistory = field(init=False)  # every analysis applied, oldest first

    def __post_init__(self) -> None:
        self.session = SymbolSession(self.symbol)
        self.history = SymbolHistory(self.symbol, max_curves=MONITOR_CURVES)


def is_stale(
    st: SymbolState,
    *,
    limit: float,
    mono: float,
    data_now: datetime,
    speed: float = 1.0,
    recorded_limit: float = 0.0,
) -> bool:
    """What is on screen for `st` is not current (shown as STALE).

    limit : seconds (stale_after_polls x poll interval); mono : the monotonic clock now;
    data_now : the feed clock now; speed : the feed clock's speed (a replay or sim may run
    faster than real time); recorded_limit : in a replay, as many of the recording's own
    intervals for the symbol as `limit` holds poll intervals (`ReplayFeed.interval`; 0
    otherwise), seconds of data time.

    Stale when: no successful poll for `limit`; or the analysis shown is not of the latest
    snapshot and the engine failed on newer data (at once) or that snapshot is older than
    `limit`; or the vendor's own as-of time lags the feed clock by `limit` (scaled by
    speed) beyond its stated delay -- in a replay by at least as many of the recording's
    own intervals (a recording made once a minute is as fresh as it can be 50 s after a
    snapshot; one that missed polls shows the gap as STALE)."""
    if st.chain is None:
        return False
    if st.fetched_mono is not None and mono - st.fetched_mono > limit:
        return True
    if st.analysis is not None and st.analyzed_snapshot < st.snapshot_seq:
        if st.failed_snapshot > st.analyzed_snapshot:
            return True
        if mono - st.analyzed_mono > limit:
            return True
    lag = (data_now - st.chain.as_of).total_seconds() - st.chain.delay_seconds
    return lag > max(limit * max(speed, 1.0), recorded_limit)
