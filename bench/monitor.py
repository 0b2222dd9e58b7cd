"""Monitor benchmarks: repaint latency, start-up, memory soak and CPU while polling.

Every figure runs the real `HedgeflowApp` headless at 120x40 on the seeded simulated
market (five symbols: SPX, SPY, QQQ, NDX, IWM) with the real pipeline. Each
measurement that depends on process state (start-up, memory, CPU) runs in its own
subprocess (`python -m bench.monitor <probe>`), so they do not disturb each other.

- repaint: a new snapshot (the sim moved 5 s) -> engine -> panes repainted, median, and
  the repaint alone (views assigned -> screen refreshed);
- startup: process launch -> first analysis painted (includes the interpreter and imports);
- memory: RSS after the first simulated minute of polling (counted from the moment all
  five symbols are analyzed) and after a simulated hour of accelerated polling (the sim
  runs `speed` times faster than the wall clock), each right after a heap trim as the app
  does once a minute (the untrimmed figures include freed heap that glibc keeps because
  `hedgeflow.app.runtime` raises its trim threshold);
- cpu: process CPU time / wall time while polling every 5 s at real speed.

Targets (issue 5): repaint median <= 50 ms, first analysis <= 1 s, memory within 10% and
< 120 MB, CPU < 5% of a core. The numbers are informational, not a timed test.
"""

from __future__ import annotations

import time

_T_IMPORT = time.time()  # the start-up probe measures from process launch (argv[2])

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from datetime import datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SYMBOLS = ["SPX", "SPY", "QQQ", "NDX", "IWM"]
START = "2026-11-24T10:00:00-05:00"
SIZE = (120, 40)


def _rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process (this one by default), MB (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError):
        return 0.0


def _app_class() -> Any:
    """HedgeflowApp instrumented: records when views are filled and when the screen has
    been refreshed after that (call_after_refresh runs after the next paint)."""
    from hedgeflow.tui.app import HedgeflowApp

    class Probe(HedgeflowApp):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self.painted: list[tuple[float, float, int]] = []  # (fill start, painted, analyses)
            self.paint_event = asyncio.Event()

        def _fill_views(self, screen: Any, st: Any) -> None:
            t_fill = time.perf_counter()
            super()._fill_views(screen, st)
            n = sum(s.analysis is not None for s in self.states.values())
            gen = st.snapshot_seq

            def painted() -> None:
                self.painted.append((t_fill, time.perf_counter(), n * 1_000_000 + gen))
                self.paint_event.set()

            self.call_after_refresh(painted)

    return Probe


def _sim(speed: float = 0.0) -> Any:
    from hedgeflow.feeds.sim import SimFeed

    return SimFeed(seed=7, start=START, speed=speed)


# --------------------------------------------------------------------------- probes


async def _repaint(samples: int, scope: str = "nearest") -> dict[str, Any]:
    from hedgeflow.engine.expiry_scope import parse_scope
    from hedgeflow.tui.messages import SnapshotArrived

    sim = _sim()
    app = _app_class()(
        sim,
        SYMBOLS,
        poll_interval=3600.0,
        export_dir="/tmp/hedgeflow-bench",
        scope=parse_scope(scope),
    )
    totals: list[float] = []
    paints: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        while not all(s.analysis is not None for s in app.states.values()):
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        for _ in range(samples):
            sim.advance(5.0)
            chain = sim.chain_at("SPX", sim.clock())
            st = app.states["SPX"]
            before = st.analysis
            app.paint_event.clear()
            t0 = time.perf_counter()
            app.post_message(SnapshotArrived("SPX", chain, sim.clock()))
            while True:
                await app.paint_event.wait()
                app.paint_event.clear()
                if st.analysis is not before and not st.busy:
                    break
            t_fill, t_paint, _ = app.painted[-1]
            totals.append((t_paint - t0) * 1e3)
            paints.append((t_paint - t_fill) * 1e3)
            await pilot.pause(0.02)
    return {
        "snapshot_to_repaint_median_ms": statistics.median(totals),
        "snapshot_to_repaint_p90_ms": sorted(totals)[int(0.9 * (len(totals) - 1))],
        "repaint_only_median_ms": statistics.median(paints),
        "samples": len(totals),
        "symbol": "SPX",
        "scope": scope,
        "size": f"{SIZE[0]}x{SIZE[1]}",
    }


async def _startup(launched: float) -> dict[str, Any]:
    sim = _sim()
    app = _app_class()(sim, SYMBOLS, poll_interval=3600.0, export_dir="/tmp/hedgeflow-bench")
    first: float | None = None
    async with app.run_test(size=SIZE) as pilot:
        while first is None:
            await app.paint_event.wait()
            app.paint_event.clear()
            if app.painted and app.states["SPX"].analysis is not None:
                # wall time of that paint, from the perf_counter offset
                first = time.time() - (time.perf_counter() - app.painted[-1][1])
        await pilot.pause(0)
    return {
        "launch_to_first_analysis_s": first - launched,
        "imports_s": _T_IMPORT - launched,
    }


async def _soak(sim_seconds: float, speed: float, interval: float) -> dict[str, Any]:
    import gc

    from hedgeflow.app.runtime import trim_heap

    sim = _sim(speed=speed)
    app = _app_class()(sim, SYMBOLS, poll_interval=interval, export_dir="/tmp/hedgeflow-bench")
    marks: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        while not all(s.analysis is not None for s in app.states.values()):
            await pilot.pause(0.05)
        # Polling time counts from the moment every symbol is on screen.
        start_sim = sim.clock()
        analyses_at_minute = 0
        while (sim.clock() - start_sim).total_seconds() < sim_seconds:
            await pilot.pause(0.25)
            elapsed = (sim.clock() - start_sim).total_seconds()
            if "minute" not in marks and elapsed >= 60.0:
                gc.collect()
                marks["minute_untrimmed"] = _rss_mb()
                trim_heap()  # what the app does once a minute
                marks["minute"] = _rss_mb()
                analyses_at_minute = sum(
                    s.session.flow.snapshots if s.session.flow else 0 for s in app.states.values()
                )
        gc.collect()
        marks["end_untrimmed"] = _rss_mb()
        trim_heap()
        marks["end"] = _rss_mb()
        snapshots = sum(
            s.session.flow.snapshots if s.session.flow else 0 for s in app.states.values()
        )
    return {
        "rss_after_first_minute_mb": marks["minute"],
        "rss_after_soak_mb": marks["end"],
        "growth_percent": 100.0 * (marks["end"] - marks["minute"]) / marks["minute"],
        "rss_untrimmed_first_minute_mb": marks["minute_untrimmed"],
        "rss_untrimmed_after_soak_mb": marks["end_untrimmed"],
        "sim_seconds": sim_seconds,
        "speed": speed,
        "poll_interval_s": interval,
        "snapshots_folded": snapshots,
        "snapshots_folded_after_first_minute": analyses_at_minute,
        "symbols": len(SYMBOLS),
    }


async def _cpu(seconds: float, interval: float) -> dict[str, Any]:
    sim = _sim(speed=1.0)
    app = _app_class()(sim, SYMBOLS, poll_interval=interval, export_dir="/tmp/hedgeflow-bench")
    async with app.run_test(size=SIZE) as pilot:
        while not all(s.analysis is not None for s in app.states.values()):
            await pilot.pause(0.05)
        await pilot.pause(1.0)
        c0, w0 = time.process_time(), time.perf_counter()
        await pilot.pause(seconds)
        c1, w1 = time.process_time(), time.perf_counter()
    return {
        "cpu_percent_of_core": 100.0 * (c1 - c0) / (w1 - w0),
        "seconds": seconds,
        "poll_interval_s": interval,
        "symbols": len(SYMBOLS),
    }


def _probe(argv: list[str]) -> dict[str, Any]:
    from hedgeflow.app.runtime import install_cached_calendar, tune_allocator

    tune_allocator()
    install_cached_calendar()  # as `hedgeflow` (tui.cli.main) does before the monitor starts
    kind = argv[0]
    if kind == "repaint":
        return asyncio.run(_repaint(int(argv[1]), *argv[2:3]))
    if kind == "startup":
        return asyncio.run(_startup(float(argv[1])))
    if kind == "soak":
        return asyncio.run(_soak(float(argv[1]), float(argv[2]), float(argv[3])))
    if kind == "cpu":
        return asyncio.run(_cpu(float(argv[1]), float(argv[2])))
    if kind == "history":
        from bench.history import run as run_history

        return run_history(quick=argv[1:2] == ["quick"])
    raise SystemExit(f"unknown probe {kind!r}")


def _subprocess(*args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    launched = time.time()
    argv = [sys.executable, "-m", "bench.monitor", *args]
    if args[0] == "startup":
        argv.append(repr(launched))
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
    # Textual may write to stdout; the probe's answer is the last line.
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict[str, Any]:
    """Run every monitor benchmark (each in a fresh process); print and return the figures."""
    results: dict[str, Any] = {
        "repaint": _subprocess("repaint", "10" if quick else "40"),
        "repaint_all_expiries": _subprocess("repaint", "10" if quick else "40", "all"),
        "startup": _subprocess("startup"),
        # one simulated hour: 60x speed polls for 60 wall seconds (quick: 240x, 15 s)
        "memory": _subprocess("soak", "3600", "240" if quick else "60", "0.5"),
        "cpu": _subprocess("cpu", "15" if quick else "60", "5"),
        # issue 12: a full session's history for five symbols (bench/history.py)
        "history": _subprocess("history", "quick" if quick else "full"),
        "measured_at": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    r, s, m, c = results["repaint"], results["startup"], results["memory"], results["cpu"]
    hs = results["history"]
    ra = results["repaint_all_expiries"]
    lines = [
        f"monitor repaint, every expiry summed (scope all, 120x40): median "
        f"{ra.get('snapshot_to_repaint_median_ms', float('nan')):.1f} ms "
        f"(repaint alone {ra.get('repaint_only_median_ms', float('nan')):.1f} ms) [target <= 50 ms]",
        f"monitor repaint (new snapshot -> panes, 120x40): median "
        f"{r.get('snapshot_to_repaint_median_ms', float('nan')):.1f} ms "
        f"(repaint alone {r.get('repaint_only_median_ms', float('nan')):.1f} ms) [target <= 50 ms]",
        f"monitor start -> first analysis: {s.get('launch_to_first_analysis_s', float('nan')):.2f} s "
        f"(imports {s.get('imports_s', float('nan')):.2f} s) [target <= 1 s]",
        f"monitor memory, 5 symbols: {m.get('rss_after_first_minute_mb', float('nan')):.0f} MB after "
        f"1 sim minute, {m.get('rss_after_soak_mb', float('nan')):.0f} MB after 1 sim hour "
        f"({m.get('growth_percent', float('nan')):+.1f}%) [target within 10%, < 120 MB]",
        f"monitor CPU polling every 5 s: {c.get('cpu_percent_of_core', float('nan')):.1f}% of a core "
        f"[target < 5%]",
        f"history pane repaint, 6.5 h session ({hs.get('rows_per_symbol', 0)} rows), 120x40: "
        f"median {hs.get('history_repaint_new_data_median_ms', float('nan')):.1f} ms with a new "
        f"row, {hs.get('history_repaint_cached_median_ms', float('nan')):.1f} ms without "
        f"[target <= 50 ms]",
        f"heatmap repaint, same session, 120x40: median "
        f"{hs.get('heatmap_repaint_new_data_median_ms', float('nan')):.1f} ms with a new "
        f"sample, {hs.get('heatmap_repaint_cached_median_ms', float('nan')):.1f} ms without "
        f"[target <= 50 ms]",
        f"history memory, 5 symbols x 6.5 h at 5 s: "
        f"{hs.get('history_rss_growth_mb', float('nan')):+.0f} MB RSS [target < 150 MB]",
        f"full garbage collection, 50 symbols x 6.5 h of history: median "
        f"{hs.get('gc_full_collect_median_ms', float('nan')):.0f} ms "
        f"({hs.get('gc_tracked_objects', 0)} tracked objects, histories "
        f"{hs.get('gc_histories_rss_growth_mb', float('nan')):+.0f} MB RSS)",
    ]
    for key in ("repaint", "repaint_all_expiries", "startup", "memory", "cpu", "history"):
        if "error" in results[key]:
            lines.append(f"monitor {key} failed: {results[key]['error']}")
    print("\n".join(lines))
    return results


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("repaint", "startup", "soak", "cpu", "history"):
        result = _probe(args)
        sys.stdout.write(json.dumps(result) + "\n")
        return 0
    p = argparse.ArgumentParser(prog="python -m bench.monitor")
    p.add_argument("--quick", action="store_true")
    ns = p.parse_args(args)
    print(json.dumps(run(quick=ns.quick), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
