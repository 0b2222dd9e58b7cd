"""`python -m bench.synthetic`: what a simulated underlying costs, built-in or synthetic.

For an SPX-sized chain (the built-in SPX, ~8,000 contracts) and for synthetic equities
(tickers the catalogue does not hold, a few hundred contracts each), on a market whose
session is already built (the exchange calendar loaded once):

- day build: the first snapshot of a symbol on a session (its paths, strikes, open
  interest, the day's tape), what adding a symbol or a new session costs;
- poll: a later snapshot on the same session (quotes at the new time, the tape so far);
- engine: `analyze_chain` of that snapshot (the nearest expiry, as the monitor does);
- a cycle: one poll of each of 50 synthetic symbols, 5 simulated seconds apart
  (issue 13: 50 symbols every 5 s), snapshots only and with the engine.

Medians in milliseconds (wall; the cycle also in CPU time, which a machine shared with other
work inflates less); informational, not a timed test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.pipeline import analyze_chain
from hedgeflow.feeds.sim import NY, SimFeed

WHEN = datetime(2026, 11, 18, 11, 0, tzinfo=NY)
TICKERS = [f"{a}{b}{c}" for a in "QWXZ" for b in "AEIOU" for c in "KMNRST"]


def _ms(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000.0


def _warm_feed(seed: int = 7) -> SimFeed:
    f = SimFeed(seed=seed, start=WHEN, speed=0.0)
    f.chain_at("SPY", WHEN)  # the calendar and the session, once
    return f


def measure(symbols: list[str], repeat: int) -> dict[str, Any]:
    builds, polls, engine, sizes = [], [], [], []
    config = EngineConfig()
    for i in range(repeat):
        f = _warm_feed(seed=100 + i)
        for s in symbols:
            builds.append(_ms(lambda s=s, f=f: f.chain_at(s, WHEN)))  # type: ignore[misc]
            later = WHEN + timedelta(seconds=5)
            polls.append(_ms(lambda s=s, f=f, t=later: f.chain_at(s, t)))  # type: ignore[misc]
            chain = f.chain_at(s, later + timedelta(seconds=5))
            sizes.append(len(chain))
            engine.append(_ms(lambda c=chain: analyze_chain(c, config=config)))  # type: ignore[misc]
    return {
        "symbols": len(symbols),
        "contracts_median": int(statistics.median(sizes)),
        "day_build_ms": round(statistics.median(builds), 1),
        "poll_ms": round(statistics.median(polls), 2),
        "engine_ms": round(statistics.median(engine), 1),
    }


def cycle(n: int, rounds: int) -> dict[str, Any]:
    f = _warm_feed()
    names = TICKERS[:n]
    config = EngineConfig()
    for s in names:  # the day builds, once
        f.chain_at(s, WHEN)
    snaps, full, cpu = [], [], []
    for r in range(1, rounds + 1):
        t = WHEN + timedelta(seconds=5 * r)
        start, start_cpu = time.perf_counter(), time.process_time()
        chains = [f.chain_at(s, t) for s in names]
        mid = time.perf_counter()
        for c in chains:
            analyze_chain(c, config=config)
        end = time.perf_counter()
        snaps.append((mid - start) * 1000.0)
        full.append((end - start) * 1000.0)
        cpu.append((time.process_time() - start_cpu) * 1000.0)
    return {
        "symbols": n,
        "snapshots_ms": round(statistics.median(snaps), 1),
        "snapshots_and_engine_ms": round(statistics.median(full), 1),
        "snapshots_and_engine_cpu_ms": round(statistics.median(cpu), 1),
        "budget_ms": 5000.0,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.synthetic")
    p.add_argument("--repeat", type=int, default=3, help="markets (seeds) per measurement")
    p.add_argument("--rounds", type=int, default=5, help="poll cycles of the 50 symbols")
    args = p.parse_args(argv)
    t = time.perf_counter()
    SimFeed(seed=1, start=WHEN, speed=0.0).chain_at("SPY", WHEN)
    calendar_ms = (time.perf_counter() - t) * 1000.0
    out = {
        "first_snapshot_in_process_ms": round(calendar_ms, 1),
        "spx_builtin": measure(["SPX"], args.repeat),
        "synthetic_equity": measure(TICKERS[:20], args.repeat),
        "cycle_50": cycle(50, args.rounds),
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
