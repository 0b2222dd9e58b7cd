"""`make bench`: engine and monitor timings on generated and real chains.

Prints medians and writes them to bench/results.json. The numbers are
informational (this is not a timed test): the targets they are compared with
come from the issues (engine (a) <= 1.5 ms, (b) <= 10 ms; monitor repaint
<= 50 ms, first analysis <= 1 s).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "tests" / "data" / "real"


def median_ms(fn: Callable[[], Any], *, repeat: int, warmup: int = 3) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    samples = []
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t0) * 1e3)
    finally:
        if gc_was:
            gc.enable()
    samples.sort()
    return {
        "median_ms": statistics.median(samples),
        "p90_ms": samples[int(0.9 * (len(samples) - 1))],
        "min_ms": samples[0],
        "runs": len(samples),
    }


def chain_to_cloud(chain: Any, config: Any) -> Any:
    """The original library's workload on our engine: chain -> smile and book -> exposures
    -> regime, impulse curve, charm integral -> pressure cloud (no repriced profile, no
    all-expiry zero-gamma line: `analyze_chain` adds those)."""
    from hedgeflow.engine.exposure import compute_exposures
    from hedgeflow.engine.pipeline import analyze_hedge_flow, build_books
    from hedgeflow.engine.pressure import compute_pressure_cloud

    books, _ = build_books(chain, config)
    book = books[min(books)]
    exposure = compute_exposures(book)
    flow = analyze_hedge_flow(exposure, book.surface, now=chain.as_of, book=book)
    return compute_pressure_cloud(
        flow.impulse_curve,
        flow.regime_params,
        config.cloud,
        now=chain.as_of,
        impulse_total=flow.impulse_curve.impulse_total,
    )


def engine_benchmarks(repeat: int) -> dict[str, Any]:
    from bench.chains import spx_like_chain
    from hedgeflow.engine.config import EngineConfig
    from hedgeflow.engine.enums import EngineModel
    from hedgeflow.engine.pipeline import analyze_chain

    config = EngineConfig()
    zero_dte = spx_like_chain(n_expiries=1, seed=1)
    full = spx_like_chain(n_expiries=16, seed=2)
    results: dict[str, Any] = {}
    results["a_0dte_chain_to_cloud"] = {
        "options": len(zero_dte),
        **median_ms(lambda: chain_to_cloud(zero_dte, config), repeat=repeat),
        "target_ms": 1.5,
    }
    results["a_0dte_full_analysis"] = {
        "options": len(zero_dte),
        "adds": "repriced profile + zero-gamma line",
        **median_ms(lambda: analyze_chain(zero_dte, config=config), repeat=repeat),
    }
    results["b_full_chain_all_smiles_plus_nearest"] = {
        "options": len(full),
        "expiries": int(len(set(full.expiry.tolist()))),
        **median_ms(lambda: analyze_chain(full, config=config), repeat=max(repeat // 4, 10)),
        "target_ms": 10.0,
    }
    floe = EngineConfig(model=EngineModel.FLOE)
    results["a_floe_0dte_chain_to_cloud"] = {
        "options": len(zero_dte),
        **median_ms(lambda: analyze_chain(zero_dte, config=floe), repeat=repeat),
    }
    return results


def real_file_benchmark(repeat: int) -> dict[str, Any]:
    from hedgeflow.engine.pipeline import analyze_chain
    from hedgeflow.feeds.files import read_chain_file

    largest = max(REAL.glob("*_quotedata_*"), key=lambda p: p.stat().st_size)

    def run() -> None:
        analyze_chain(read_chain_file(largest))

    chain = read_chain_file(largest)
    return {
        "c_largest_real_file_load_and_analyze": {
            "file": largest.name,
            "options": len(chain),
            **median_ms(run, repeat=max(repeat // 10, 5), warmup=1),
        },
        "c_largest_real_file_load_only": {
            "file": largest.name,
            **median_ms(lambda: read_chain_file(largest), repeat=max(repeat // 10, 5), warmup=1),
        },
    }


def cboe_parse_benchmark(repeat: int) -> dict[str, Any]:
    from bench.chains import cboe_payload
    from hedgeflow.feeds.cboe import parse_cboe_json

    payload = cboe_payload(n_contracts=30_000)
    return {
        "d_cboe_spx_payload_parse": {
            "contracts": len(payload["data"]["options"]),
            **median_ms(
                lambda: parse_cboe_json(payload, symbol="SPX"), repeat=max(repeat // 10, 5)
            ),
        }
    }


def monitor_benchmarks(quick: bool) -> dict[str, Any]:
    from bench.monitor import run as run_monitor_bench

    return run_monitor_bench(quick=quick)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("--quick", action="store_true", help="fewer repetitions, shorter monitor soak")
    p.add_argument("--no-monitor", action="store_true", help="engine benchmarks only")
    p.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    args = p.parse_args(argv)
    from hedgeflow.app.runtime import tune_allocator

    tuned = tune_allocator()  # as the long-running `hedgeflow` commands do at start
    repeat = 30 if args.quick else 200
    results: dict[str, Any] = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "allocator_tuned": tuned,
        },
    }
    sections: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("engine", lambda: engine_benchmarks(repeat)),
        ("real file", lambda: real_file_benchmark(repeat)),
        ("cboe parse", lambda: cboe_parse_benchmark(repeat)),
    ]
    if not args.no_monitor:
        sections.append(("monitor", lambda: monitor_benchmarks(args.quick)))
    for title, run in sections:
        try:
            part = run()
        except Exception as exc:  # a missing piece must not hide the other figures
            part = {f"{title} error": {"error": f"{type(exc).__name__}: {exc}"}}
        results.update(part)
        for name, row in part.items():
            if not isinstance(row, dict):
                continue
            figures = "  ".join(
                f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
            )
            print(f"{name:<44} {figures}", flush=True)
    Path(args.out).write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
