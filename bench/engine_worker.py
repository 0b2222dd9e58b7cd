"""The engine workloads of `make bench`, for whichever hedgeflow tree is importable.

In process, `python -m bench` times these workloads on the current tree. For
`python -m bench --compare REF` the same file runs as a script in one subprocess per
tree (`python bench/engine_worker.py TREE CHAINS.npz`), with TREE first on sys.path, and
answers timing requests on stdin/stdout (one JSON line each), so the parent can
interleave the two trees run by run. The file imports nothing from `bench` (REF has its
own `bench`) and finds engine modules in either package layout: `hedgeflow.engine.X`
(since commit fc106d5) or top-level `hedgeflow.X` (before).

Every tree gets the same input: the parent writes the chains once to an .npz of the
`OptionChain` columns and each tree rebuilds them with its own `make_chain`.
"""

from __future__ import annotations

import gc
import importlib
import json
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

COLUMNS = (
    "root",
    "strike",
    "expiry",
    "is_call",
    "bid",
    "ask",
    "last",
    "last_trade_time",
    "volume",
    "open_interest",
    "multiplier",
    "vendor_iv",
)


def engine_module(name: str) -> ModuleType:
    """`hedgeflow.engine.<name>` in the new layout, `hedgeflow.<name>` in the old one."""
    try:
        importlib.import_module("hedgeflow.engine")
    except ModuleNotFoundError:
        return importlib.import_module(f"hedgeflow.{name}")
    return importlib.import_module(f"hedgeflow.engine.{name}")


def chain_to_cloud(chain: Any, config: Any) -> Any:
    """The original library's workload on our engine, step for step as time_floe.js runs it:
    chain -> every live expiry's smile and book -> every expiry's exposures (floe's
    calculateGammaVannaCharmExposures covers every expiry) -> the nearest expiry's regime,
    impulse curve, charm integral -> pressure cloud (no repriced profile, no all-expiry
    zero-gamma line: `analyze_chain` adds those)."""
    pipeline = engine_module("pipeline")
    exposure_mod = engine_module("exposure")
    books, _ = pipeline.build_books(chain, config)
    epochs = sorted(books)
    many = getattr(exposure_mod, "compute_exposures_many", None)  # (an old REF has none)
    if many is not None:
        exposures = dict(zip(epochs, many([books[e] for e in epochs]), strict=True))
    else:
        exposures = {e: exposure_mod.compute_exposures(books[e]) for e in epochs}
    book, exposure = books[epochs[0]], exposures[epochs[0]]
    flow = pipeline.analyze_hedge_flow(exposure, book.surface, now=chain.as_of, book=book)
    return engine_module("pressure").compute_pressure_cloud(
        flow.impulse_curve,
        flow.regime_params,
        config.cloud,
        now=chain.as_of,
        impulse_total=flow.impulse_curve.impulse_total,
    )


def workloads(chains: Mapping[str, tuple[Any, float]]) -> dict[str, tuple[Callable[[], Any], int]]:
    """Named workloads on `chains` ({key: (OptionChain, rate)}, keys `synth_0dte`,
    `synth_full` and the perf chain names), each with a divisor of the repeat count (the
    slow ones run fewer times)."""
    config_mod = engine_module("config")
    model = engine_module("enums").EngineModel
    analyze_chain = engine_module("pipeline").analyze_chain
    out: dict[str, tuple[Callable[[], Any], int]] = {}

    def add(name: str, fn: Callable[[], Any], divisor: int = 1) -> None:
        out[name] = (fn, divisor)

    for key, (chain, rate) in chains.items():
        physical = config_mod.EngineConfig(rate=rate)
        floe = config_mod.EngineConfig(model=model.FLOE, rate=rate)
        slow = 4 if len(chain) > 2000 else 1
        if key == "synth_0dte":
            add("a_0dte_chain_to_cloud", lambda c=chain, k=physical: chain_to_cloud(c, k))
            add("a_0dte_full_analysis", lambda c=chain, k=physical: analyze_chain(c, config=k))
            add("a_floe_0dte_chain_to_cloud", lambda c=chain, k=floe: analyze_chain(c, config=k))
        elif key == "synth_full":
            add(
                "b_full_chain_all_smiles_plus_nearest",
                lambda c=chain, k=physical: analyze_chain(c, config=k),
                slow,
            )
        else:
            add(f"{key}_chain_to_cloud", lambda c=chain, k=physical: chain_to_cloud(c, k), slow)
            add(
                f"{key}_analyze_physical",
                lambda c=chain, k=physical: analyze_chain(c, config=k),
                slow,
            )
            add(f"{key}_analyze_floe", lambda c=chain, k=floe: analyze_chain(c, config=k), slow)
    return out


def samples_ms(
    fn: Callable[[], Any], *, runs: int, warmup: int, collect: bool = False
) -> list[float]:
    """Wall times of `runs` calls after `warmup` untimed ones, ms. The garbage collector is
    off while timing (less noise between two trees of the same engine) unless `collect`:
    beside floe, whose times include its own garbage collection, hedgeflow's include
    Python's, as in the monitor."""
    for _ in range(warmup):
        fn()
    samples = []
    gc_was = gc.isenabled()
    if not collect:
        gc.disable()
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t0) * 1e3)
    finally:
        if gc_was:
            gc.enable()
    return samples


def save_chains(path: Path, chains: Mapping[str, tuple[Any, float]]) -> None:
    """Write `chains` ({key: (OptionChain, rate)}) as one .npz of columns plus metadata."""
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    for key, (chain, rate) in chains.items():
        for col in COLUMNS:
            arrays[f"{key}.{col}"] = np.asarray(getattr(chain, col))
        meta[key] = {
            "symbol": chain.symbol,
            "spot": chain.spot,
            "as_of": chain.as_of.isoformat(),
            "source": chain.source,
            "rate": rate,
        }
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def load_chains(path: Path) -> dict[str, tuple[Any, float]]:
    """Inverse of `save_chains`, built with the importable tree's `make_chain`."""
    make_chain = engine_module("chain").make_chain
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        chains = {}
        for key, m in meta.items():
            cols = {col: data[f"{key}.{col}"] for col in COLUMNS}
            chain = make_chain(
                symbol=m["symbol"],
                spot=m["spot"],
                as_of=datetime.fromisoformat(m["as_of"]),
                source=m["source"],
                **cols,
            )
            chains[key] = (chain, float(m["rate"]))
    return chains


def tune_allocator() -> bool:
    """glibc's mmap and trim thresholds raised and one arena, as every long-running
    `hedgeflow` command does at start (hedgeflow.app.runtime.tune_allocator; repeated
    here so that a REF tree of any age is timed under the same allocator). False off glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    # M_MMAP_THRESHOLD 16 MB, M_ARENA_MAX 1, M_TRIM_THRESHOLD 8 MB
    return all(mallopt(opt, value) == 1 for opt, value in ((-3, 16 << 20), (-8, 1), (-1, 8 << 20)))


def serve(tree: Path, chains_path: Path) -> int:
    """Answer `{"name", "runs", "warmup"}` lines on stdin with `{"samples_ms": [...]}` lines
        on stdout until stdin closes. The first line out names the tree that was imported and the
    workloads with their repeat divisors."""
    tune_allocator()
    sys.path.insert(0, str(tree))
    import hedgeflow

    where = Path(hedgeflow.__file__).resolve()
    if tree.resolve() not in where.parents:
        print(json.dumps({"error": f"imported hedgeflow from {where}, not from {tree}"}))
        return 2
    work = workloads(load_chains(chains_path))
    divisors = {name: div for name, (_, div) in work.items()}
    print(json.dumps({"hedgeflow": str(where.parent), "workloads": divisors}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        fn, _ = work[req["name"]]
        got = samples_ms(fn, runs=int(req["runs"]), warmup=int(req["warmup"]))
        print(json.dumps({"samples_ms": got}), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: python bench/engine_worker.py TREE CHAINS.npz", file=sys.stderr)
        sys.exit(2)
    sys.exit(serve(Path(sys.argv[1]), Path(sys.argv[2])))
