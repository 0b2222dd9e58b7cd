"""`python -m bench.stages [0|1] [floe|full]`: wall time per engine stage on a perf chain.

Wraps the named engine functions (wherever a module imported them) with a timer, runs
floe's workload (`floe`, bench/engine_worker.py's chain_to_cloud) or the full analysis
(`full`) of the perf chain (0: 0DTE, 1: 16 expiries) repeatedly, and prints the median
run and each stage's mean time per run, inclusive of what it calls (implied_vol counts
inside fit_smiles too), as a share of the runs' total.
"""

from __future__ import annotations

import collections
import importlib
import pkgutil
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

STAGES = (
    "build_expiry_books",
    "smoothing_spline",
    "fit_smiles",
    "implied_vol",
    "parity_forwards",
    "compute_exposures",
    "compute_exposures_many",
    "compute_hedge_impulse_curve",
    "compute_charm_integral",
    "compute_pressure_cloud",
    "derive_regime_params",
    "compute_repriced_profile",
    "attach_zero_gamma",
)


def main(argv: list[str]) -> int:
    which = int(argv[0]) if argv else 0
    mode = argv[1] if len(argv) > 1 else "floe"
    from bench.engine_worker import chain_to_cloud, tune_allocator

    tune_allocator()
    import hedgeflow.engine as engine

    spent: dict[str, float] = collections.defaultdict(float)

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0

        return run

    originals: dict[str, Callable[..., Any]] = {}
    for info in pkgutil.iter_modules(engine.__path__):
        module = importlib.import_module(f"hedgeflow.engine.{info.name}")
        for name in STAGES:
            fn = vars(module).get(name)
            if callable(fn):
                setattr(module, name, timed(name, originals.setdefault(name, fn)))

    from bench.perf_chains import PERF_CHAINS, load_perf_case, perf_chain
    from hedgeflow.engine.config import EngineConfig
    from hedgeflow.engine.pipeline import analyze_chain

    case = load_perf_case(PERF_CHAINS[which])
    chain, config = perf_chain(case), EngineConfig(rate=float(case["risk_free_rate"]))
    if mode == "full":
        work: Callable[[], Any] = lambda: analyze_chain(chain, config=config)  # noqa: E731
    else:
        work = lambda: chain_to_cloud(chain, config)  # noqa: E731
    for _ in range(5):
        work()
    spent.clear()
    runs = 100 if len(chain) < 2000 else 20
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    total = sum(times)
    print(f"{PERF_CHAINS[which]} {mode}: median {statistics.median(times) * 1e3:.3f} ms")
    for name in STAGES:
        if spent[name]:
            ms, share = spent[name] / runs * 1e3, 100.0 * spent[name] / total
            print(f"  {name:<30} {ms:7.3f} ms {share:5.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
