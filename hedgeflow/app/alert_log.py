"""The alert log: every alert raised, kept (the newest MAX_ALERTS), with its delivery
status, and the alert's published JSON (docs/alert.schema.json, docs/JSON_SCHEMA.md
"Alert").

Delivery workers update a record's status from their threads, so the log takes a lock;
the screen reads `recent()` (copies) and `total`/`changes` to know whether to re-read.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from hedgeflow.app.alerts import Alert
from hedgeflow.app.presentation import finite_or_none

#: Alerts kept in memory (the oldest go first): a session of 6.5 hours raising an alert
#: every 3 s still fits; a record is a few hundred bytes.
MAX_ALERTS = 10_000

#: The JSON's `schema` field: bumped when a field changes meaning or goes away.
ALERT_SCHEMA = "hedgeflow.alert/1"


class Clock(StrEnum):
    """Which clock an alert's time is on: the feed's data time."""

    LIVE = "live"  # a vendor's quote time
    SIMULATED = "simulated"  # the sim's clock
    RECORDED = "recorded"  # a recording's own time, replayed
    FILE = "file"  # a chain file's as-of time

    @classmethod
    def of_feed(cls, feed_name: str) -> Clock:
        return {"sim": cls.SIMULATED, "replay": cls.RECORDED, "file": cls.FILE}.get(
            feed_name, cls.LIVE
        )


@dataclass(frozen=True)
class AlertRecord:
    """One alert in the log. seq : 1, 2, ... in the order raised; suppressed : why it was
    not shown or delivered (the cooldown), None when it was; delivery : channel ->
    status ("screen" -> "shown", "hook" -> "queued" / "sent" / "failed: ..." / "dropped
    (queue full)", "webhook" -> likewise)."""

    seq: int
    alert: Alert
    clock: Clock
    suppressed: str | None = None
    delivery: tuple[tuple[str, str], ...] = ()

    @property
    def status(self) -> str:
        """One line: "suppressed: cooldown ..." or "screen shown · hook sent · ..."."""
        if self.suppressed:
            return f"suppressed: {self.suppressed}"
        return " · ".join(f"{ch} {st}" for ch, st in self.delivery)


@dataclass
class AlertLog:
    """The newest `capacity` alerts, thread-safe."""

    capacity: int = MAX_ALERTS
    _records: deque[AlertRecord] = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    #: alerts logged since the start (not bounded), and status changes: a screen knows
    #: from (total, changes) whether to re-read
    total: int = field(init=False, default=0)
    changes: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError("`capacity` must be >= 1")
        self._records = deque(maxlen=self.capacity)

    def __len__(self) -> int:
        return len(self._records)

    def add(
        self,
        alert: Alert,
        clock: Clock,
        suppressed: str | None = None,
        delivery: tuple[tuple[str, str], ...] = (),
    ) -> AlertRecord:
        with self._lock:
            self.total += 1
            rec = AlertRecord(self.total, alert, clock, suppressed, delivery)
            self._records.append(rec)
            self.changes += 1
            return rec

    def set_status(self, seq: int, channel: str, status: str) -> None:
        """Record `channel`'s delivery status of alert `seq` (gone from the log: ignored)."""
        with self._lock:
            for i in range(len(self._records) - 1, -1, -1):
                rec = self._records[i]
                if rec.seq == seq:
                    others = tuple((c, s) for c, s in rec.delivery if c != channel)
                    order = [c for c, _ in rec.delivery]
                    new = dict((*others, (channel, status)))
                    keys = order + [c for c in new if c not in order]
                    self._records[i] = replace(rec, delivery=tuple((c, new[c]) for c in keys))
                    self.changes += 1
                    return
                if rec.seq < seq:
                    return

    def get(self, seq: int) -> AlertRecord | None:
        with self._lock:
            return next((r for r in reversed(self._records) if r.seq == seq), None)

    def latest_shown(self, symbol: str) -> AlertRecord | None:
        """`symbol`'s newest alert that was shown (not held by the cooldown), None without
        one (the watchlist's "last alert")."""
        with self._lock:
            return next(
                (
                    r
                    for r in reversed(self._records)
                    if r.alert.symbol == symbol and not r.suppressed
                ),
                None,
            )

    def recent(
        self, limit: int | None = None, *, kind: str | None = None, symbol: str | None = None
    ) -> list[AlertRecord]:
        """The newest first, optionally only one kind and/or symbol."""
        with self._lock:
            records = list(reversed(self._records))
        out = [
            r
            for r in records
            if (kind is None or r.alert.kind == kind)
            and (symbol is None or r.alert.symbol == symbol)
        ]
        return out if limit is None else out[:limit]


def alert_json(rec: AlertRecord) -> dict[str, Any]:
    """The alert as published (docs/alert.schema.json): what the hook reads on stdin and
    the webhook receives. Prices in points, times ISO 8601 with offset."""
    a = rec.alert
    f = a.firmness
    return {
        "schema": ALERT_SCHEMA,
        "seq": rec.seq,
        "time": a.at.isoformat() if a.at is not None else None,
        "clock": rec.clock.value,
        "symbol": a.symbol,
        "scope": a.scope,
        "expiry": a.expiry.isoformat() if a.expiry is not None else None,
        "kind": a.kind.value,
        "message": a.message,
        "level": finite_or_none(a.level),
        "spot_before": finite_or_none(a.spot_before),
        "spot_after": finite_or_none(a.spot_after),
        "direction": a.direction,
        "regime_before": a.regime_before.value if a.regime_before is not None else None,
        "regime_after": a.regime_after.value if a.regime_after is not None else None,
        "firmness": None
        if f is None
        else {
            "words": f.words,
            "measure": f.measure,
            "value": finite_or_none(f.value),
            "threshold": finite_or_none(f.threshold),
            "bands": finite_or_none(f.bands),
        },
        "zone": None
        if a.zone is None
        else {
            "kind": a.zone_kind,
            "lower": finite_or_none(a.zone[0]),
            "upper": finite_or_none(a.zone[1]),
        },
    }


def alert_bytes(rec: AlertRecord) -> bytes:
    """`alert_json` as UTF-8 JSON, one line with a newline (what a hook reads)."""
    return (json.dumps(alert_json(rec), ensure_ascii=False, allow_nan=False) + "\n").encode()
