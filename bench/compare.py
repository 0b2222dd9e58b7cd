"""`python -m bench --compare REF`: the engine workloads of two checkouts, side by side.

REF is another checkout of this repository (e.g. `git worktree add /tmp/before 1bfebe4`).
One worker process per tree (bench/engine_worker.py with that tree first on sys.path,
either package layout) gets the same chains (written once by this tree); the parent asks
them in turn for a batch of timed runs, swapping which goes first every round, so both
trees see the same machine load. The ratio REF/current above 1 means the current tree is
faster.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from bench.chains import spx_like_chain
from bench.engine_worker import save_chains
from bench.floe import summary
from bench.perf_chains import PERF_CHAINS, load_perf_case, perf_chain

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().parent / "engine_worker.py"
SYNTH_RATE = 0.045  # EngineConfig's default rate, which the engine section uses


class Worker:
    """A worker subprocess serving timing requests for one tree."""

    def __init__(self, tree: Path, chains: Path) -> None:
        self.tree = tree
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(tree), str(chains)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        hello = self._read()
        if "error" in hello:
            self.close()
            raise RuntimeError(hello["error"])
        self.imported: str = hello["hedgeflow"]
        self.divisors: dict[str, int] = hello["workloads"]

    def _read(self) -> dict[str, Any]:
        out: IO[str] | None = self.proc.stdout
        line = out.readline() if out is not None else ""
        if not line:
            self.proc.wait()
            raise RuntimeError(f"worker for {self.tree} exited with {self.proc.returncode}")
        result: dict[str, Any] = json.loads(line)
        return result

    def time(self, name: str, *, runs: int, warmup: int) -> list[float]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"name": name, "runs": runs, "warmup": warmup}) + "\n")
        self.proc.stdin.flush()
        samples: list[float] = self._read()["samples_ms"]
        return samples

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def commit_of(tree: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() if done.returncode == 0 else "?"


def compare_benchmarks(ref: Path, *, repeat: int, rounds: int | None = None) -> dict[str, Any]:
    """Every engine workload on the current tree and on `ref`, interleaved in `rounds`
    batches each (default: batches of about 3 runs, at most 20 rounds; small batches
    spread a load spike from other processes over both trees): per workload, both
    medians and the ratio ref/current."""
    rounds = rounds or max(4, min(20, repeat // 3))
    if not (ref / "hedgeflow" / "__init__.py").is_file():
        raise ValueError(f"{ref} is not a hedgeflow checkout (no hedgeflow/__init__.py)")
    chains: dict[str, tuple[Any, float]] = {
        "synth_0dte": (spx_like_chain(n_expiries=1, seed=1), SYNTH_RATE),
        "synth_full": (spx_like_chain(n_expiries=16, seed=2), SYNTH_RATE),
    }
    for name in PERF_CHAINS:
        case = load_perf_case(name)
        chains[name] = (perf_chain(case), float(case["risk_free_rate"]))
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hedgeflow-bench-") as tmp:
        path = Path(tmp) / "chains.npz"
        save_chains(path, chains)
        current = Worker(ROOT, path)
        try:
            before = Worker(ref, path)
        except Exception:
            current.close()
            raise
        try:
            results["compare_trees"] = {
                "current": f"{ROOT} ({commit_of(ROOT)})",
                "ref": f"{ref} ({commit_of(ref)})",
            }
            for name, divisor in current.divisors.items():
                if name not in before.divisors:
                    continue
                n = max(repeat // divisor // rounds, 3)
                got: dict[str, list[float]] = {"cur": [], "ref": []}
                for r in range(rounds):
                    order = [(current, "cur"), (before, "ref")]
                    for worker, key in order if r % 2 == 0 else order[::-1]:
                        got[key] += worker.time(name, runs=n, warmup=3 if r == 0 else 1)
                cur, old = summary(got["cur"]), summary(got["ref"])
                results[f"cmp_{name}"] = {
                    "ref_median_ms": old["median_ms"],
                    "cur_median_ms": cur["median_ms"],
                    "ref_over_cur": old["median_ms"] / cur["median_ms"],
                    "ref_min_ms": old["min_ms"],
                    "cur_min_ms": cur["min_ms"],
                    "runs": cur["runs"],
                }
        finally:
            current.close()
            before.close()
    return results
