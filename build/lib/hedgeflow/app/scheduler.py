"""Which engine run starts next: one run per symbol, a bound across symbols, none starved.

The monitor analyzes every new snapshot of every watched symbol, and a run can outlast a
poll (a cold calendar cache, a big chain, a slow machine). The policy, kept free of
Textual so it can be tested on its own:

- Per symbol at most one run in flight. A job submitted meanwhile becomes the symbol's
  *pending* job; a newer submit replaces it (only the newest snapshot is worth
  analyzing). When the run ends, by result, error or cancellation, the pending job runs
  next. A finished run's result is always used: runs of one symbol end in the order they
  were submitted, so the latest result is the newest analysis there is.
- Across symbols at most `bound` runs in flight (default: the number of CPUs, at least
  1), so fifty symbols never queue fifty threads that each run slower than the last.
- When a slot frees, the visible symbol starts first, then the symbol that has waited
  longest. So that the visible symbol (which usually has a new snapshot every poll)
  cannot starve the others, a symbol that has seen `overdue_after` other starts while
  waiting goes before the visible one. A waiting symbol therefore sees at most
  `bound * len(symbols)` starts of others before its own.

Every method returns the jobs to start now, as (symbol, job) pairs; the caller starts
them and calls `finished(symbol)` when each ends.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Generic, TypeVar

J = TypeVar("J")


def default_bound() -> int:
    """Runs in flight the machine can take: its CPU count, at least 1."""
    return max(1, os.cpu_count() or 1)


@dataclass
class _Slot(Generic[J]):
    """One symbol's bookkeeping.

    pending : the newest job not yet started (None: nothing to do)
    running : a run of this symbol is in flight
    ticket : order in which the symbol became ready to start (smaller waited longer)
    seen : starts of other symbols since it became ready
    removed : the symbol was removed while its run was in flight (the slot goes with it)
    """

    pending: J | None = None
    has_pending: bool = False
    running: bool = False
    ticket: int = 0
    seen: int = 0
    removed: bool = False


class EngineScheduler(Generic[J]):
    """The engine-run policy (see the module docstring). Not thread-safe: call it from one
    thread (the monitor's event loop)."""

    def __init__(self, bound: int | None = None) -> None:
        if bound is None:
            bound = default_bound()
        if bound < 1:
            raise ValueError(f"`bound` must be at least 1, got {bound}")
        self.bound = bound
        self.visible: str | None = None
        self._slots: dict[str, _Slot[J]] = {}
        self._in_flight = 0
        self._tickets = 0

    # ------------------------------------------------------------------ queries

    @property
    def in_flight(self) -> int:
        """Runs started and not yet reported finished."""
        return self._in_flight

    @property
    def overdue_after(self) -> int:
        """Starts of others a ready symbol sees before it goes ahead of the visible one.

        With n symbols a ready symbol is passed by at most this many starts and then by at
        most n - 1 other overdue symbols, so it waits behind at most `bound * n` starts."""
        n = max(sum(not s.removed for s in self._slots.values()), 1)
        return (self.bound - 1) * n + 1

    def running(self, symbol: str) -> bool:
        slot = self._slots.get(symbol)
        return slot is not None and slot.running

    def pending(self, symbol: str) -> bool:
        slot = self._slots.get(symbol)
        return slot is not None and slot.has_pending

    def busy(self, symbol: str) -> bool:
        """A run of `symbol` is in flight or waiting to start."""
        return self.running(symbol) or self.pending(symbol)

    # ------------------------------------------------------------------ events

    def submit(self, symbol: str, job: J) -> list[tuple[str, J]]:
        """`job` is now the newest work for `symbol` (it replaces any pending job)."""
        slot = self._slots.setdefault(symbol, _Slot())
        slot.removed = False  # watched again while its old run is still in flight
        if not slot.has_pending and not slot.running:
            self._ready(slot)
        slot.pending, slot.has_pending = job, True
        return self._fill()

    def finished(self, symbol: str) -> list[tuple[str, J]]:
        """The run of `symbol` ended (result, error or cancellation); its slot is free.

        Also called for a symbol that was removed while its run was in flight: the run held
        a slot until it really ended."""
        if self._in_flight > 0:
            self._in_flight -= 1
        slot = self._slots.get(symbol)
        if slot is not None:
            slot.running = False
            if slot.removed:
                del self._slots[symbol]
            elif slot.has_pending:
                self._ready(slot)
        return self._fill()

    def show(self, symbol: str | None) -> list[tuple[str, J]]:
        """`symbol` is now on screen: it goes first when a slot frees."""
        self.visible = symbol
        return self._fill()

    def remove(self, symbol: str) -> None:
        """Forget `symbol` and drop its pending job. A run in flight keeps its slot until
        the caller reports it `finished`."""
        slot = self._slots.get(symbol)
        if slot is None:
            return
        if slot.running:
            slot.pending, slot.has_pending, slot.removed = None, False, True
        else:
            del self._slots[symbol]

    # ------------------------------------------------------------------ internals

    def _ready(self, slot: _Slot[J]) -> None:
        self._tickets += 1
        slot.ticket = self._tickets
        slot.seen = 0

    def _fill(self) -> list[tuple[str, J]]:
        started: list[tuple[str, J]] = []
        while self._in_flight < self.bound:
            symbol = self._pick()
            if symbol is None:
                break
            slot = self._slots[symbol]
            job = slot.pending
            slot.pending, slot.has_pending, slot.running = None, False, True
            self._in_flight += 1
            for other, s in self._slots.items():
                if other != symbol and s.has_pending and not s.running:
                    s.seen += 1
            started.append((symbol, job))  # type: ignore[arg-type]  # has_pending was set
        return started

    def _pick(self) -> str | None:
        ready = [
            (s, slot) for s, slot in self._slots.items() if slot.has_pending and not slot.running
        ]
        if not ready:
            return None
        limit = self.overdue_after
        overdue = [(slot.ticket, s) for s, slot in ready if slot.seen >= limit]
        if overdue:
            return min(overdue)[1]
        if self.visible is not None and any(s == self.visible for s, _ in ready):
            return self.visible
        return min((slot.ticket, s) for s, slot in ready)[1]
