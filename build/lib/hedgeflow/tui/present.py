"""From the App's state to the frozen views the panes draw (`hedgeflow.tui.views`).

Pure functions of their arguments: every time is formatted against the clocks passed in,
so the status line renders deterministically in tests and snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from hedgeflow.app.errorlog import describe
from hedgeflow.app.fmt import NY, fmt_age, fmt_expiry, fmt_time_ny, fmt_wait
from hedgeflow.app.presentation import status_notes
from hedgeflow.engine.enums import PositionSource
from hedgeflow.feeds.errors import FeedAuthError
from hedgeflow.tui.state import SymbolState
from hedgeflow.tui.views import StatusView, SymbolBarView, SymbolTab


def waiting_text(st: SymbolState, feed_name: str) -> str:
    """What a pane says while `st` has no analysis."""
    if st.error is not None and st.analysis is None:
        return f"{st.symbol}: {st.error}"
    if st.engine_error and st.analysis is None:
        return f"{st.symbol}: {st.engine_error}"
    if st.chain is not None:
        return f"analyzing {st.symbol} …"
    return f"waiting for {st.symbol} from {feed_name} …"


def symbol_bar_view(
    symbols: Sequence[str],
    states: Mapping[str, SymbolState],
    stale: Mapping[str, bool],
    current: str,
    *,
    paused: bool,
    recording: bool,
) -> SymbolBarView:
    """The symbol tabs: error, waiting (no analysis yet), stale or ok."""
    tabs = []
    for sym in symbols:
        s = states[sym]
        if s.error is not None:
            state = "error"
        elif s.analysis is None:
            state = "waiting"
        elif stale[sym]:
            state = "stale"
        else:
            state = "ok"
        tabs.append(SymbolTab(sym, state))
    cur = states.get(current)
    regime = cur.analysis.hedge_flow.impulse_curve.regime.value if cur and cur.analysis else ""
    return SymbolBarView(tuple(tabs), current, paused, recording, regime)


#: Feeds whose clock is not the market's now: the status line shows a badge, the data's
#: date, and what its clock is, so that simulated or recorded time never looks live.
NOT_LIVE: Mapping[str, tuple[str, str]] = {
    "sim": ("SIMULATED", "sim clock"),
    "replay": ("REPLAY", "recorded"),
    "file": ("FILE", "file snapshot"),
}


def clock_words(feed_name: str, speed: float) -> tuple[str, str]:
    """(badge, what the clock is) for a feed that is not live; ("", "") for a live one.
    `speed` is data seconds per wall second (a replay at 60x: 60)."""
    if feed_name not in NOT_LIVE:
        return "", ""
    badge, words = NOT_LIVE[feed_name]
    if feed_name == "file" or speed == 1.0:
        return badge, words
    if speed > 0:
        return badge, f"{words} ×{speed:g}"
    return badge, "recorded, a snapshot a poll" if feed_name == "replay" else f"{words} frozen"


def status_view(
    st: SymbolState,
    stale: bool,
    *,
    feed_name: str,
    data_now: datetime,
    mono: float,
    paused: bool,
    recording: bool,
    speed: float = 1.0,
    conditions: str = "",
) -> StatusView:
    """The status line for `st`: data times against `data_now` (feed clock), the next poll
    against `mono` (the App's monotonic clock, seconds). For a simulated, replayed or file
    feed the data's date is shown and the clock named (`clock_words`), never "real-time".
    `conditions` is the error log's summary of what is wrong across all symbols
    (`ErrorLog.status`)."""
    a = st.analysis
    chain = st.chain
    expiry = as_of = age = delay = positions = ""
    badge, clock = clock_words(feed_name, speed)
    if chain is not None:
        # The data's date for every feed: a vendor's Friday chain on Monday, a 2023 file.
        as_of = f"{chain.as_of.astimezone(NY):%Y-%m-%d} {fmt_time_ny(chain.as_of)}"
        if badge:
            delay = clock
        elif chain.delay_seconds > 0:
            delay = f"delayed {fmt_age(chain.delay_seconds)}"
        else:
            delay = "real-time"
        age = fmt_age((data_now - chain.as_of).total_seconds())
        oi_date = chain.as_of.astimezone(NY).strftime("%m-%d")
        flow = st.session.flow
        if a is not None and a.positions is PositionSource.LIVE and flow is not None:
            seen = flow.buy_volume + flow.sell_volume + flow.unsigned_volume
            unsigned = f", {flow.unsigned_volume / seen:.0%} unsigned" if seen > 0 else ""
            positions = f"positions live: OI {oi_date} − signed flow{unsigned} (model)"
        else:
            positions = f"OI {oi_date} start-of-day"
    if a is not None:
        expiry = fmt_expiry(a.expiration, a.as_of)
    if paused:
        next_poll = ""
    elif st.polling:
        next_poll = "now"
    elif isinstance(st.error, FeedAuthError):
        next_poll = "stopped"
    elif st.next_poll_mono is not None:
        next_poll = f"in {fmt_wait(max(0.0, st.next_poll_mono - mono))}"
    else:
        next_poll = "–"
    # A feed error's own text says what is wrong and what to fix (an auth error names its
    # variable once); the type name is noise there, and the line is short.
    error = ""
    if isinstance(st.error, FeedAuthError):
        error = f"{describe(st.error)} · not retried: press space twice once fixed"
    elif st.error is not None:
        error = f"{describe(st.error)} · retry in {fmt_wait(st.backoff)} (#{st.failures})"
    elif st.engine_error:
        error = st.engine_error
    notes: tuple[str, ...]
    if st.busy:
        notes = ("computing …",)
    elif chain is not None:  # the source's own notes, dropped open interest, spot, the rest
        notes = status_notes(a, chain.spot_note, tuple(chain.notes))
    else:
        notes = status_notes(a)
    return StatusView(
        feed=feed_name,
        badge=badge,
        symbol=st.symbol,
        expiry=expiry,
        as_of=as_of,
        age=age,
        delay=delay,
        positions=positions,
        next_poll=next_poll,
        recording=recording,
        paused=paused,
        stale=stale,
        error=error,
        notes=notes,
        conditions=conditions,
    )
