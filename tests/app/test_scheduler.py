"""The engine-run policy: one run per symbol, newest pending replaces older, a bound across
symbols, the visible symbol first, nobody starved. Concrete cases, then a property test
that replays any interleaving of submits, completions, symbol switches and removals
against an independent model of the rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgeflow.app import scheduler as scheduler_module
from hedgeflow.app.scheduler import EngineScheduler, default_bound


def test_one_run_per_symbol_and_the_newest_pending_runs_next() -> None:
    s: EngineScheduler[str] = EngineScheduler(bound=4)
    assert s.submit("SPX", "a") == [("SPX", "a")]
    assert s.submit("SPX", "b") == []  # SPX is running: b waits
    assert s.submit("SPX", "c") == []  # c replaces b
    assert s.running("SPX") and s.pending("SPX") and s.in_flight == 1
    assert s.finished("SPX") == [("SPX", "c")]
    assert s.finished("SPX") == []
    assert not s.busy("SPX") and s.in_flight == 0


def test_bound_across_symbols_then_the_longest_waiting() -> None:
    s: EngineScheduler[int] = EngineScheduler(bound=2)
    assert s.submit("A", 1) == [("A", 1)]
    assert s.submit("B", 1) == [("B", 1)]
    assert s.submit("C", 1) == []  # two in flight: C waits
    assert s.submit("D", 1) == []
    assert s.submit("A", 2) == []  # A waits for its own run
    assert s.in_flight == 2
    # B ends: C waited longest (A only became ready to start when its run ended).
    assert s.finished("B") == [("C", 1)]
    assert s.finished("A") == [("D", 1)]
    assert s.finished("C") == [("A", 2)]


def test_the_visible_symbol_starts_first_when_a_slot_frees() -> None:
    s: EngineScheduler[int] = EngineScheduler(bound=1)
    s.submit("A", 1)
    s.submit("B", 1)
    s.submit("C", 1)
    assert s.show("C") == []  # no free slot: nothing starts early
    assert s.finished("A") == [("C", 1)]  # C is on screen: ahead of B, who waited longer


def test_the_visible_symbol_cannot_starve_the_others() -> None:
    """One slot, the visible symbol has a new job every time its run ends: the others
    still run, each after at most bound * n starts."""
    s: EngineScheduler[int] = EngineScheduler(bound=1)
    s.show("V")
    started = s.submit("V", 0)
    for sym in ("A", "B", "C"):
        s.submit(sym, 0)
    runs: list[str] = [sym for sym, _ in started]
    for i in range(1, 20):
        s.submit("V", i)  # a new snapshot of V while it runs
        current = runs[-1]
        runs.extend(sym for sym, _ in s.finished(current))
    assert {"A", "B", "C"} <= set(runs[:5])
    assert runs.count("V") >= 8  # still first whenever nobody is overdue


def test_removal_drops_the_pending_job_and_holds_the_slot_until_the_run_ends() -> None:
    s: EngineScheduler[int] = EngineScheduler(bound=1)
    s.submit("A", 1)
    s.submit("A", 2)
    s.submit("B", 1)
    s.remove("A")
    assert not s.pending("A") and s.in_flight == 1
    assert s.submit("C", 1) == []  # A's thread still runs: the slot is not free
    s.submit("A", 3)  # watched again while the old run is in flight: waits for it
    assert s.running("A") and s.pending("A")
    assert s.finished("A") == [("B", 1)]
    assert s.finished("B") == [("C", 1)]
    assert s.finished("C") == [("A", 3)]


def test_default_bound_is_the_cpu_count_and_at_least_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_module.os, "cpu_count", lambda: 6)
    assert default_bound() == 6 and EngineScheduler().bound == 6
    monkeypatch.setattr(scheduler_module.os, "cpu_count", lambda: None)
    assert default_bound() == 1
    with pytest.raises(ValueError, match="at least 1"):
        EngineScheduler(bound=0)


SYMBOLS = ["A", "B", "C", "D", "E"]

op = st.one_of(
    st.tuples(st.just("submit"), st.integers(0, 4)),
    st.tuples(st.just("finish"), st.integers(0, 10)),
    st.tuples(st.just("show"), st.integers(0, 4)),
    st.tuples(st.just("remove"), st.integers(0, 4)),
    # Every symbol gets a new snapshot (a poll round): the visible one is always pending.
    st.tuples(st.just("poll"), st.just(0)),
)


class Model:
    """The rules written out independently: what may start, and what each waiter saw."""

    def __init__(self, bound: int, n_symbols: int) -> None:
        self.bound = bound
        self.symbols = SYMBOLS[:n_symbols]
        self.sched: EngineScheduler[int] = EngineScheduler(bound=bound)
        self.next_job = 0
        self.newest: dict[str, int] = {}  # newest submitted job per watched symbol
        self.pending: dict[str, int] = {}
        self.running: list[tuple[str, int]] = []  # in flight, oldest first
        self.started: dict[str, list[int]] = {}
        self.ready_since: dict[str, int] = {}  # tick at which it became ready to start
        self.seen: dict[str, int] = {}  # starts of others while ready
        self.watched: set[str] = set()
        self.tick = 0
        self.visible: str | None = None
        self.max_seen = 0

    def ready(self) -> list[str]:
        busy = {sym for sym, _ in self.running}
        return [s for s in self.pending if s not in busy]

    def _mark_ready(self, sym: str) -> None:
        self.tick += 1
        self.ready_since[sym] = self.tick
        self.seen[sym] = 0

    def apply_starts(self, starts: list[tuple[str, int]]) -> None:
        for sym, job in starts:
            ready = self.ready()
            assert sym in ready, f"{sym} started while running or with nothing pending"
            assert job == self.pending[sym], "a replaced (older) job started"
            limit = self.sched.overdue_after
            overdue = [s for s in ready if self.seen[s] >= limit]
            if overdue:
                expected = min(overdue, key=lambda s: self.ready_since[s])
            elif self.visible in ready:
                expected = self.visible
            else:
                expected = min(ready, key=lambda s: self.ready_since[s])
            assert sym == expected, (sym, expected, ready, self.seen)
            del self.pending[sym]
            self.running.append((sym, job))
            self.started.setdefault(sym, []).append(job)
            for other in ready:
                if other != sym:
                    self.seen[other] += 1
                    self.max_seen = max(self.max_seen, self.seen[other])
                    n = len(self.watched)
                    assert self.seen[other] <= self.bound * n, "starved"
        self.check()

    def check(self) -> None:
        in_flight = [sym for sym, _ in self.running]
        assert len(in_flight) <= self.bound
        assert len(in_flight) == len(set(in_flight)), "two runs of one symbol"
        assert self.sched.in_flight == len(in_flight)

    def step(self, kind: str, arg: int) -> None:
        if kind == "submit":
            sym = self.symbols[arg % len(self.symbols)]
            self.next_job += 1
            busy = {s for s, _ in self.running}
            if sym not in self.pending and sym not in busy:
                self._mark_ready(sym)
            self.watched.add(sym)
            self.pending[sym] = self.newest[sym] = self.next_job
            self.apply_starts(self.sched.submit(sym, self.next_job))
        elif kind == "finish":
            if not self.running:
                return
            sym, _ = self.running.pop(arg % len(self.running))
            if sym in self.pending:
                self._mark_ready(sym)
            self.apply_starts(self.sched.finished(sym))
        elif kind == "poll":
            for i in range(len(self.symbols)):
                self.step("submit", i)
        elif kind == "show":
            self.visible = self.symbols[arg % len(self.symbols)]
            self.apply_starts(self.sched.show(self.visible))
        else:
            sym = self.symbols[arg % len(self.symbols)]
            self.sched.remove(sym)
            self.pending.pop(sym, None)
            self.newest.pop(sym, None)
            self.watched.discard(sym)
            self.check()


@settings(max_examples=400, deadline=None)
@given(
    bound=st.integers(1, 3),
    n_symbols=st.integers(1, 5),
    ops=st.lists(op, max_size=80),
)
def test_any_interleaving_keeps_the_rules(bound: int, n_symbols: int, ops: list) -> None:
    m = Model(bound, n_symbols)
    for kind, arg in ops:
        m.step(kind, arg)
    # The feed stops: runs end one by one (oldest first) until nothing is left to do.
    for _ in range(1000):
        if not m.running:
            break
        m.step("finish", 0)
    assert not m.running and not m.pending and m.sched.in_flight == 0
    for sym, job in m.newest.items():
        assert m.started[sym][-1] == job, f"{sym}: newest job {job} never ran"
