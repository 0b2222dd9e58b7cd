"""`make bench`: engine and monitor timings on generated and real chains, and the original
TypeScript library beside hedgeflow on its own perf chains.

Prints medians and writes them to bench/results.json. The numbers are
informational (this is not a timed test): the targets they are compared with
come from the issues (engine (a) <= 1.5 ms, (b) <= 10 ms; monitor repaint
<= 50 ms, first analysis <= 1 s). Absolute times vary between machines and runs
by several times; the figures that carry over are ratios measured side by side
in one run: floe/hedgeflow (section "floe", bench/floe.py), printed per perf chain
against issue 10's targets (floe's workload at least 10x, the full analysis at least 5x:
"met" or "NOT met"), and, with `--compare REF`, another checkout's engine against this
one (bench/compare.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "tests" / "data" / "real"


def median_ms(fn: Callable[[], Any], *, repeat: int, warmup: int = 3) -> dict[str, float]:
    from bench.engine_worker import samples_ms
    from bench.floe import summary

    return summary(samples_ms(fn, runs=repeat, warmup=warmup))


def engine_benchmarks(repeat: int) -> dict[str, Any]:
    from bench.chains import spx_like_chain
    from bench.engine_worker import workloads

    zero_dte = spx_like_chain(n_expiries=1, seed=1)
    full = spx_like_chain(n_expiries=16, seed=2)
    work = workloads({"synth_0dte": (zero_dte, 0.045), "synth_full": (full, 0.045)})

    def timed(name: str) -> dict[str, float]:
        fn, divisor = work[name]
        return median_ms(fn, repeat=max(repeat // divisor, 10))

    return {
        "a_0dte_chain_to_cloud": {
            "options": len(zero_dte),
            **timed("a_0dte_chain_to_cloud"),
            "target_ms": 1.5,
        },
        "a_0dte_full_analysis": {
            "options": len(zero_dte),
            "adds": "repriced profile + zero-gamma line",
            **timed("a_0dte_full_analysis"),
        },
        "b_full_chain_all_smiles_plus_nearest": {
            "options": len(full),
            "expiries": int(len(set(full.expiry.tolist()))),
            **timed("b_full_chain_all_smiles_plus_nearest"),
            "target_ms": 10.0,
        },
        "a_floe_0dte_chain_to_cloud": {
            "options": len(zero_dte),
            **timed("a_floe_0dte_chain_to_cloud"),
        },
    }


def real_file_benchmark(repeat: int) -> dict[str, Any]:
    from hedgeflow.engine.pipeline import analyze_chain
    from hedgeflow.feeds.files import read_chain_file

    largest = max(REAL.glob("*_quotedata_*"), key=lambda p: p.stat().st_size)

    def run() -> None:
        analyze_chain(read_chain_file(largest))

    chain = read_chain_file(largest)
    from bench.chains import spx_like_chain
    from hedgeflow.engine.expiry_scope import ExpiryScope, ScopeKind
    from hedgeflow.engine.scope import analyze_scope

    every = ExpiryScope(ScopeKind.ALL)
    perf = spx_like_chain(n_expiries=16, seed=2)
    return {
        "c_largest_real_file_all_expiries": {
            "file": largest.name,
            "expiries": int(len(set(chain.expiry.tolist()))),
            "adds": "every expiry summed, rows and levels (file already read)",
            **median_ms(
                lambda: analyze_scope(chain, scope=every), repeat=max(repeat // 10, 5), warmup=1
            ),
        },
        "b_full_chain_all_expiries": {
            "options": len(perf),
            "expiries": int(len(set(perf.expiry.tolist()))),
            **median_ms(lambda: analyze_scope(perf, scope=every), repeat=max(repeat // 10, 5)),
        },
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


def floe_benchmarks(*, rounds: int, runs: int) -> dict[str, Any]:
    from bench.floe import floe_benchmarks as run

    return run(rounds=rounds, runs=runs)


def compare_benchmarks(ref: Path, *, repeat: int) -> dict[str, Any]:
    from bench.compare import compare_benchmarks as run

    return run(ref, repeat=repeat)


def monitor_benchmarks(quick: bool) -> dict[str, Any]:
    from bench.monitor import run as run_monitor_bench

    return run_monitor_bench(quick=quick)


def scale_benchmarks(quick: bool) -> dict[str, Any]:
    """Symbols carried by one monitor process (bench/scale.py): 10, 25 and 50 symbols, the
    engine in worker processes and in threads side by side."""
    from bench.scale import run as run_scale

    rows = run_scale([10, 25, 50], seconds=30.0 if quick else 90.0)
    return {f"scale {r['symbols']} symbols ({r['engine']})": r for r in rows}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("--quick", action="store_true", help="fewer repetitions, shorter monitor soak")
    p.add_argument("--no-monitor", action="store_true", help="engine benchmarks only")
    p.add_argument(
        "--compare",
        metavar="REF",
        type=Path,
        help="also time the engine of the checkout at REF, interleaved with this tree",
    )
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
        ("floe", lambda: floe_benchmarks(rounds=6 if args.quick else 10, runs=repeat)),
        ("real file", lambda: real_file_benchmark(repeat)),
        ("cboe parse", lambda: cboe_parse_benchmark(repeat)),
    ]
    if args.compare is not None:
        ref = args.compare.resolve()
        sections.insert(1, ("compare", lambda: compare_benchmarks(ref, repeat=repeat)))
    if not args.no_monitor:
        sections.append(("monitor", lambda: monitor_benchmarks(args.quick)))
        sections.append(("scale", lambda: scale_benchmarks(args.quick)))
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
        if title == "floe":
            print_verdict(results)
    Path(args.out).write_text(json.dumps(results, indent=2), encoding="utf-8")
    if not args.no_monitor:  # (the monitor section's lines pushed it up the screen)
        print_verdict(results)
    print(f"wrote {args.out}")
    return 0


def print_verdict(results: dict[str, Any]) -> None:
    """The issue's speed targets, floe/hedgeflow as a ratio of medians side by side."""
    from bench.floe import verdict_lines

    print("floe/hedgeflow, ratio of medians measured side by side in this run:", flush=True)
    for line in verdict_lines(results):
        print(f"  {line}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
