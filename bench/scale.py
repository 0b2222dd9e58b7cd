"""Symbols carried by one monitor process: `python -m bench.scale [N ...] [--seconds S]`.

Runs the real `HedgeflowApp` headless at 120x40 on the seeded simulated market with N
symbols (the five built-in underlyings first, then seeded synthetic ones), polling every
5 s of wall time (the sim clock runs at real speed, so every poll brings a changed
snapshot and every symbol is re-analyzed every poll), for S seconds after every symbol has
its first analysis. Meanwhile it presses `tab` every 0.7 s and times each key press to the
first paint that shows the newly visible symbol (the App's `_fill_views` for that symbol,
then `call_after_refresh`).

Reported per N, each in its own subprocess:

- polls per symbol per minute achieved (snapshots that arrived) against those asked for
  (60 / poll interval), and analyses per symbol per minute;
- engine time per analysis (the runs' own wall time in their worker, median) and engine
  CPU per symbol per minute;
- key -> screen latency p50 / p95 / max, ms;
- RSS of the monitor process and of its engine worker processes (if any), MB.

Targets (issue 13): 50 symbols, every symbol analyzed every poll cycle, key -> screen p95
<= 100 ms, memory < 500 MB. Informational, not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.monitor import _rss_mb

ROOT = Path(__file__).resolve().parents[1]
BUILT_IN = ["SPX", "SPY", "QQQ", "NDX", "IWM"]
SIZE = (120, 40)
START = "2026-11-24T10:00:00-05:00"


def symbols(n: int) -> list[str]:
    """The five built-in underlyings, then synthetic tickers (seeded by name)."""
    extra = [f"Z{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(max(0, n - len(BUILT_IN)))]
    return (BUILT_IN + extra)[:n]


def _children_rss_mb() -> float:
    """RSS of this process's child processes (engine workers), MB."""
    total = 0.0
    me = str(os.getpid())
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = f.read().rsplit(")", 1)[1].split()[1]
        except OSError:
            continue
        if ppid == me:
            total += _rss_mb(d)
    return total


async def _carry(n: int, seconds: float, interval: float, engine: str) -> dict[str, Any]:
    from hedgeflow.app.engine_pool import EnginePool
    from hedgeflow.feeds.sim import SimFeed
    from hedgeflow.tui import dispatch
    from hedgeflow.tui.app import HedgeflowApp
    from hedgeflow.tui.run import freeze_startup_objects

    names = symbols(n)
    engine_ms: list[float] = []
    original = dispatch.run_job

    def timed(*args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args)
        finally:
            engine_ms.append((time.perf_counter() - t0) * 1e3)

    dispatch.run_job = timed  # type: ignore[assignment]

    class Probe(HedgeflowApp):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self.waiting_for: tuple[str, float] | None = None
            self.latencies: list[float] = []

        def _fill_views(self, screen: Any, st: Any) -> None:
            super()._fill_views(screen, st)
            w = self.waiting_for
            if w is not None and st.symbol == w[0]:
                self.waiting_for = None
                t0 = w[1]
                self.call_after_refresh(
                    lambda: self.latencies.append((time.perf_counter() - t0) * 1e3)
                )

    sim = SimFeed(seed=7, start=START, speed=1.0)
    pool = EnginePool() if engine == "processes" else None
    if pool is not None:
        pool.warm()
    app = Probe(
        sim, names, poll_interval=interval, export_dir="/tmp/hedgeflow-bench", engine_pool=pool
    )
    arrived: dict[str, int] = dict.fromkeys(names, 0)
    analysed: dict[str, int] = dict.fromkeys(names, 0)
    freeze_startup_objects()  # as `hedgeflow monitor` does before its app runs
    async with app.run_test(size=SIZE) as pilot:
        t_start = time.perf_counter()
        while not all(s.analysis is not None for s in app.states.values()):
            await pilot.pause(0.1)
            if time.perf_counter() - t_start > 600:
                raise SystemExit("not every symbol analyzed within 10 minutes")
        first_all = time.perf_counter() - t_start
        seq0 = {s: app.states[s].snapshot_seq for s in names}
        an0 = {s: app.states[s].analyzed_snapshot for s in names}
        engine_ms.clear()
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            i = names.index(app.current)
            nxt = names[(i + 1) % len(names)]
            app.waiting_for = (nxt, time.perf_counter())
            await pilot.press("tab")
            await pilot.pause(0.7)
        wall = time.perf_counter() - t0
        for s in names:
            st = app.states[s]
            arrived[s] = st.snapshot_seq - seq0[s]
            analysed[s] = st.analyzed_snapshot - an0[s]
        rss_main, rss_children = _rss_mb(), _children_rss_mb()
    lat = sorted(app.latencies)
    minutes = wall / 60.0
    return {
        "symbols": n,
        "engine": engine,
        "poll_interval_s": interval,
        "seconds": round(wall, 1),
        "first_analysis_of_all_s": round(first_all, 2),
        "polls_asked_per_symbol_per_min": 60.0 / interval,
        "polls_per_symbol_per_min": statistics.mean(arrived.values()) / minutes,
        "polls_per_symbol_per_min_min": min(arrived.values()) / minutes,
        "analyses_per_symbol_per_min": statistics.mean(analysed.values()) / minutes,
        "analyses_per_symbol_per_min_min": min(analysed.values()) / minutes,
        "engine_ms_median": statistics.median(engine_ms) if engine_ms else float("nan"),
        "engine_ms_p95": lat_p(sorted(engine_ms), 0.95),
        "key_to_screen_ms_p50": lat_p(lat, 0.5),
        "key_to_screen_ms_p95": lat_p(lat, 0.95),
        "key_to_screen_ms_max": lat[-1] if lat else float("nan"),
        "key_presses": len(lat),
        "rss_main_mb": rss_main,
        "rss_engine_workers_mb": rss_children,
    }


def lat_p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


def _subprocess(n: int, seconds: float, interval: float, engine: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "bench.scale", "--probe", str(n), str(seconds), str(interval)]
    argv.append(engine)
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        problem = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return {"symbols": n, "engine": engine, "error": problem}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def line(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{r['symbols']:>3} symbols ({r['engine']}): failed: {r['error']}"
    return (
        f"{r['symbols']:>3} symbols ({r['engine']}): polls {r['polls_per_symbol_per_min']:.1f}/min a symbol "
        f"(asked {r['polls_asked_per_symbol_per_min']:.0f}; slowest "
        f"{r['polls_per_symbol_per_min_min']:.1f}), analyses "
        f"{r['analyses_per_symbol_per_min']:.1f}/min (slowest "
        f"{r['analyses_per_symbol_per_min_min']:.1f}); engine {r['engine_ms_median']:.0f} ms "
        f"an analysis (p95 {r['engine_ms_p95']:.0f}); key -> screen p50 "
        f"{r['key_to_screen_ms_p50']:.0f} ms, p95 {r['key_to_screen_ms_p95']:.0f} ms "
        f"(max {r['key_to_screen_ms_max']:.0f}, {r['key_presses']} presses); RSS "
        f"{r['rss_main_mb']:.0f} MB + workers {r['rss_engine_workers_mb']:.0f} MB"
    )


def run(
    counts: list[int],
    seconds: float,
    interval: float = 5.0,
    engines: tuple[str, ...] = ("processes", "threads"),
) -> list[dict[str, Any]]:
    """Each (count, engine) in its own subprocess, the two engines side by side (the
    monitor's engine worker processes, and engine threads in the monitor's process);
    prints one line each and returns the figures."""
    out = []
    for n in counts:
        for engine in engines:
            r = _subprocess(n, seconds, interval, engine)
            print(line(r), flush=True)
            out.append(r)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--probe":
        from hedgeflow.app.runtime import install_cached_calendar, tune_allocator

        tune_allocator()
        install_cached_calendar()
        n, seconds, interval = int(args[1]), float(args[2]), float(args[3])
        result = asyncio.run(_carry(n, seconds, interval, args[4]))
        sys.stdout.write(json.dumps(result) + "\n")
        return 0
    p = argparse.ArgumentParser(prog="python -m bench.scale")
    p.add_argument("counts", nargs="*", type=int, default=[10, 25, 50])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--interval", type=float, default=5.0)
    p.add_argument("--engine", choices=("processes", "threads", "both"), default="both")
    ns = p.parse_args(args)
    engines = ("processes", "threads") if ns.engine == "both" else (ns.engine,)
    run(ns.counts, ns.seconds, ns.interval, engines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
