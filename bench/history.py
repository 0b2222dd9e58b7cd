"""Level history benchmarks: a full session (6.5 hours at a 5 s poll: 4,680 rows and curve
samples a symbol) for five symbols, the history pane's and the heatmap's repaint at 120x40,
and the memory the five histories take.

The session is built realistically: real analyses of the seeded sim every `step` minutes
from 09:30 to 16:00 ET, and between two of them the earlier one's row and curves repeated at
5 s steps (each repeat its own row and its own copies of the arrays, as live polling makes),
so the heatmap bins over real, varying curves and memory holds 4,680 distinct samples.

Run alone: `python -m bench.history [--quick | --gc]` (prints JSON; `--gc` only the
collector figure); `make bench` runs it in a subprocess through `bench.monitor.run`.

- history_rss_growth_mb: RSS after the five histories are built minus RSS before (both
  right after a gc and a heap trim, as the monitor does once a minute);
- gc_full_collect_median_ms: one full `gc.collect()` with 50 such histories held (ten
  copies of each symbol's, every row and array its own object), with gc_tracked_objects
  and gc_histories_rss_growth_mb (RSS after minus before, both after a gc and a heap
  trim) of those 50 (docs/SCALING.md);
- *_repaint_new_data_median_ms: one new row (history version moved) -> the pane rebuilt
  and the screen painted, the monitor's case every poll;
- *_repaint_cached_median_ms: the pane asked to repaint with nothing new (a resize of
  nothing, a theme poll, a tick of the status line): the kept lines drawn.

Targets (issue 12): repaint median <= 50 ms at 120x40; five symbols' history < 150 MB.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bench.monitor import _rss_mb

SYMBOLS = ["SPX", "SPY", "QQQ", "NDX", "IWM"]
#: Five minutes before the bell, so that the live analysis after the session (its clock
#: frozen at the end) is before the 4 pm settlement of the day's 0DTE.
OPEN = "2026-11-24T09:25:00-05:00"
SESSION_S = 6.5 * 3600
POLL_S = 5.0
SIZE = (120, 40)


def build_history(symbol: str, *, step_minutes: int) -> Any:
    """`symbol`'s SymbolHistory for the whole session (module docstring)."""
    import numpy as np

    from hedgeflow.app.history import (
        MONITOR_CURVES,
        CurveSample,
        SymbolHistory,
        curve_sample,
        history_row,
    )
    from hedgeflow.engine.scope import analyze_scope
    from hedgeflow.feeds.sim import SimFeed

    sim = SimFeed(seed=7, start=OPEN, speed=0.0)
    open_t = datetime.fromisoformat(OPEN)
    h = SymbolHistory(symbol, max_curves=MONITOR_CURVES)  # as the monitor keeps it
    n = int(SESSION_S / POLL_S)  # 4,680
    per = int(step_minutes * 60 / POLL_S)
    base: Any = None
    for i in range(n):
        if i % per == 0:
            when = open_t + timedelta(seconds=i * POLL_S)
            a = analyze_scope(sim.chain_at(symbol, when), now=when)
            base = (history_row(a), curve_sample(a))
        row, s = base
        t = open_t.timestamp() + i * POLL_S
        h.add(
            replace(row, time=t),
            CurveSample(
                time=t,
                spot=s.spot,
                price=np.array(s.price),
                impulse=np.array(s.impulse),
                strikes=np.array(s.strikes),
                gex=np.array(s.gex),
                charm=np.array(s.charm),
            ),
        )
    return h


async def _repaint(histories: dict[str, Any], samples: int) -> dict[str, Any]:
    from bench.monitor import _app_class
    from hedgeflow.app.history import CurveSample
    from hedgeflow.feeds.sim import SimFeed
    from hedgeflow.tui.heatmap import HeatmapPane
    from hedgeflow.tui.history import HistoryPane

    last = max(h.last_time for h in histories.values())
    # The live clock just after the built session, frozen: its one analysis per symbol
    # is appended after the session's rows.
    start = datetime.fromtimestamp(last + POLL_S).astimezone().isoformat()
    sim = SimFeed(seed=7, start=start, speed=0.0)
    app = _app_class()(sim, SYMBOLS, poll_interval=3600.0, export_dir="/tmp/hedgeflow-bench")
    for sym, h in histories.items():
        app.states[sym].history = h
    out: dict[str, Any] = {}
    async with app.run_test(size=SIZE) as pilot:
        while not all(s.analysis is not None and not s.busy for s in app.states.values()):
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        st = app.states["SPX"]
        out["rows_spx"] = len(st.history)
        for key, pane_cls, name in (("h", HistoryPane, "history"), ("m", HeatmapPane, "heatmap")):
            await pilot.press(key)
            await pilot.pause(0.2)
            pane = app.screen.query_one(pane_cls)

            async def painted() -> float:
                app.paint_event.clear()
                t0 = time.perf_counter()
                await app.paint_event.wait()
                return (time.perf_counter() - t0) * 1e3

            fresh: list[float] = []
            cached: list[float] = []
            for _ in range(samples):
                row = st.history.rows()[-1]
                s = st.history.samples()[-1]
                t = row.time + POLL_S
                st.history.add(
                    replace(row, time=t),
                    CurveSample(t, s.spot, s.price, s.impulse, s.strikes, s.gex, s.charm),
                )
                t0 = time.perf_counter()
                app.refresh_views()  # the view's version moved: the pane rebuilds
                await painted()
                fresh.append((app.painted[-1][1] - t0) * 1e3)
                await pilot.pause(0.01)
                t0 = time.perf_counter()
                pane.refresh()
                app.refresh_views()
                await painted()
                cached.append((app.painted[-1][1] - t0) * 1e3)
                await pilot.pause(0.01)
            out[f"{name}_repaint_new_data_median_ms"] = statistics.median(fresh)
            out[f"{name}_repaint_cached_median_ms"] = statistics.median(cached)
    out["size"] = f"{SIZE[0]}x{SIZE[1]}"
    return out


def collector_pause(histories: dict[str, Any], symbols: int = 50) -> dict[str, Any]:
    """A full garbage collection with `symbols` full-session histories held: copies of
    `histories` (round robin), each row and array its own object as live polling makes
    them. Returns the median of five `gc.collect()` times, the tracked objects, and the
    RSS the histories took (after minus before, both after a gc and a heap trim)."""
    import numpy as np

    from hedgeflow.app.history import MONITOR_CURVES, CurveSample, SymbolHistory
    from hedgeflow.app.runtime import trim_heap

    src = list(histories.values())
    gc.collect()
    trim_heap()
    rss_before = _rss_mb()
    held = []
    for i in range(symbols):
        h0 = src[i % len(src)]
        h = SymbolHistory(h0.symbol, max_curves=MONITOR_CURVES)
        for row, s in h0.entries():
            h.add(
                replace(row, flip_levels=tuple(list(row.flip_levels))),
                None
                if s is None
                else CurveSample(
                    s.time,
                    s.spot,
                    np.array(s.price),
                    np.array(s.impulse),
                    np.array(s.strikes),
                    np.array(s.gex),
                    np.array(s.charm),
                ),
            )
        held.append(h)
    gc.collect()
    trim_heap()
    rss_growth = _rss_mb() - rss_before
    pauses = []
    for _ in range(5):
        t0 = time.perf_counter()
        gc.collect()
        pauses.append((time.perf_counter() - t0) * 1e3)
    return {
        "gc_symbols": symbols,
        "gc_rows": sum(len(h) for h in held),
        "gc_full_collect_median_ms": statistics.median(pauses),
        "gc_tracked_objects": len(gc.get_objects()),
        "gc_histories_rss_growth_mb": rss_growth,
    }


def run(quick: bool = False) -> dict[str, Any]:
    from hedgeflow.app.runtime import install_cached_calendar, trim_heap, tune_allocator

    tune_allocator()
    install_cached_calendar()
    build_history("SPX", step_minutes=390)  # warm: imports, the sim's day, the engine
    gc.collect()
    trim_heap()
    before = _rss_mb()
    step = 60 if quick else 30
    t0 = time.perf_counter()
    histories = {s: build_history(s, step_minutes=step) for s in SYMBOLS}
    built_s = time.perf_counter() - t0
    gc.collect()
    trim_heap()
    after = _rss_mb()
    result: dict[str, Any] = {
        "history_rss_growth_mb": after - before,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "rows_per_symbol": len(histories["SPX"]),
        "symbols": len(SYMBOLS),
        "real_analyses_every_min": step,
        "build_s": built_s,
    }
    result.update(collector_pause(histories))
    result.update(asyncio.run(_repaint(histories, 5 if quick else 20)))
    return result


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--gc" in args:  # the collector figure alone (docs/SCALING.md)
        from hedgeflow.app.runtime import install_cached_calendar

        install_cached_calendar()
        built = {s: build_history(s, step_minutes=30) for s in SYMBOLS}
        sys.stdout.write(json.dumps(collector_pause(built)) + "\n")
        return 0
    sys.stdout.write(json.dumps(run(quick="--quick" in args)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
