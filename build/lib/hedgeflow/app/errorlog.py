"""The monitor's error log: every poll failure kept (bounded), and one notice per condition.

A *condition* is (feed, kind): "cboe is unreachable", "tradier rejects the token". With
the network down, five symbols fail with the same condition: that is ONE notice, not five.
Each symbol is in at most one condition per feed (its latest failure); a condition ends
when every symbol in it has recovered (or moved to another condition), and the same
condition starting again after that is news again: a new notice.

The log never reads the clock (callers pass `at`, aware) and imports no Textual: the TUI
shows `notice` results as toasts, `status()` in the status line and `recent()` on the
error-log screen.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hedgeflow.app.fmt import fmt_wait
from hedgeflow.feeds.errors import (
    BadPayload,
    BadRequest,
    FeedAuthError,
    FeedError,
    FeedUnavailable,
    PayloadTooLarge,
    RateLimited,
    Redirected,
    TlsError,
    WrongSymbol,
)

#: Condition kinds, most specific type first (a PayloadTooLarge is also a BadPayload).
_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (FeedAuthError, "auth"),
    (RateLimited, "rate limited"),
    (TlsError, "tls"),
    (Redirected, "redirect"),
    (PayloadTooLarge, "payload too large"),
    (WrongSymbol, "wrong symbol"),
    (BadPayload, "bad payload"),
    (BadRequest, "bad request"),
    (FeedUnavailable, "unavailable"),
    (TimeoutError, "unavailable"),
    (OSError, "unavailable"),
)


def condition_kind(error: BaseException) -> str:
    """The condition an error belongs to: "auth", "rate limited", "unavailable", ... (an
    unexpected exception is its type name, so two different bugs stay two conditions)."""
    for cls, kind in _KINDS:
        if isinstance(error, cls):
            return kind
    return type(error).__name__


def describe(error: BaseException) -> str:
    """One line for people: a FeedError's own actionable text, else "Type: text"."""
    text = str(error) if isinstance(error, FeedError) else f"{type(error).__name__}: {error}"
    return " ".join(text.split()) or type(error).__name__


@dataclass(frozen=True)
class ErrorRecord:
    """One failure. `retry_in` (seconds) is the wait before the next try; None: not
    retried until the user acts (an auth error)."""

    at: datetime
    feed: str
    symbol: str
    kind: str
    message: str
    retry_in: float | None

    @property
    def next_retry(self) -> datetime | None:
        return None if self.retry_in is None else self.at + timedelta(seconds=self.retry_in)


@dataclass(frozen=True)
class Notice:
    """What to tell the user once: `severity` is "error" when a condition starts,
    "information" when it ends."""

    feed: str
    kind: str
    message: str
    severity: str
    title: str


@dataclass
class Condition:
    """An ongoing (feed, kind): its newest record and the symbols in it."""

    feed: str
    kind: str
    last: ErrorRecord
    symbols: set[str] = field(default_factory=set)


class ErrorLog:
    """The newest `capacity` failures plus the conditions in effect."""

    def __init__(self, capacity: int = 500) -> None:
        if capacity < 1:
            raise ValueError("`capacity` must be >= 1")
        self._records: deque[ErrorRecord] = deque(maxlen=capacity)
        self._conditions: dict[tuple[str, str], Condition] = {}
        #: Failures logged since the start (the records are bounded, this is not): a
        #: screen showing the log knows from it whether there is anything new.
        self.total = 0

    def __len__(self) -> int:
        return len(self._records)

    def failed(
        self,
        at: datetime,
        feed: str,
        symbol: str,
        error: BaseException,
        retry_in: float | None,
        *,
        advice: str = "",
    ) -> Notice | None:
        """Log a failure of `symbol` on `feed`; a Notice when it starts a new condition.

        `retry_in` : seconds to the next try, None when there is none (auth errors).
        `advice` : the notice's second line, what happens next or what the user should do
        (default: "retrying in N s ..." or "not retried")."""
        if at.tzinfo is None:
            raise ValueError("`at` must be timezone-aware")
        kind = condition_kind(error)
        record = ErrorRecord(at, feed, symbol, kind, describe(error), retry_in)
        self._records.append(record)
        self.total += 1
        self._leave(feed, symbol, keep=kind)
        key = (feed, kind)
        cond = self._conditions.get(key)
        started = cond is None
        if cond is None:
            cond = self._conditions[key] = Condition(feed, kind, record)
        cond.symbols.add(symbol)
        cond.last = record
        if not started:
            return None
        if not advice:
            advice = (
                "not retried"
                if retry_in is None
                else f"retrying in {retry_in:.0f} s; last analysis kept (marked stale)"
            )
        return Notice(
            feed, kind, f"{record.message}\n{advice}", "error", f"{feed} · {kind} · {symbol}"
        )

    def recovered(self, feed: str, symbol: str) -> list[Notice]:
        """`symbol` polled fine on `feed`: a Notice for each condition this ends."""
        return [
            Notice(feed, kind, f"{feed}: {kind} is over", "information", f"{feed} recovered")
            for kind in self._leave(feed, symbol)
        ]

    def _leave(self, feed: str, symbol: str, keep: str | None = None) -> list[str]:
        """Take `symbol` out of its conditions on `feed` (but `keep`); the kinds that end."""
        ended = []
        for (f, kind), cond in list(self._conditions.items()):
            if f != feed or kind == keep or symbol not in cond.symbols:
                continue
            cond.symbols.discard(symbol)
            if not cond.symbols:
                del self._conditions[(f, kind)]
                ended.append(kind)
        return ended

    def forget(self, symbol: str) -> None:
        """`symbol` is no longer watched: it keeps no condition open (its records stay)."""
        for feed, _ in list(self._conditions):
            self._leave(feed, symbol)

    def active(self) -> list[Condition]:
        """Conditions in effect, the newest first."""
        return sorted(self._conditions.values(), key=lambda c: c.last.at, reverse=True)

    def recent(self, limit: int | None = None) -> list[ErrorRecord]:
        """The newest records first (all kept, or the newest `limit`)."""
        out = list(reversed(self._records))
        return out if limit is None else out[:limit]

    def status(self, now: datetime | None = None) -> str:
        """One line for the status bar: each condition in effect, with the symbol it holds
        or how many; with `now` (aware, the clock the records were stamped with) also when
        its newest failure is retried ("retry in 8s", "not retried"). "" when nothing is
        wrong."""
        parts = []
        for cond in self.active():
            n = len(cond.symbols)
            who = next(iter(cond.symbols)) if n == 1 else f"{n} symbols"
            if now is not None:
                nxt = cond.last.next_retry
                when = (
                    "not retried"
                    if nxt is None
                    else f"retry in {fmt_wait((nxt - now).total_seconds())}"
                )
                who = f"{who}, {when}"
            parts.append(f"{cond.feed} {cond.kind} ({who})")
        return " · ".join(parts)
