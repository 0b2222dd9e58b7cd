"""The original TypeScript library beside hedgeflow, on its own perf chains, in one run.

Absolute times differ between machines and days by several times, so the figure that
means something is the ratio floe/hedgeflow measured side by side: for each chain the
rounds alternate a Node process timing floe (bench/floe_node/time_floe.js: warm-ups, then
timed runs, `Date.now()` pinned to the case's `now_ms`) and hedgeflow timing its
equivalent workloads in this process, and the samples of all rounds are pooled.

The same work on both sides: floe's workload (every expiry's smile and exposures, then the
nearest expiry's hedge flow and pressure cloud) is `engine_worker.chain_to_cloud`; the
monitor's full analysis adds the repriced profile and the all-expiry zero-gamma line.
hedgeflow's times include Python's garbage collection, as floe's include Node's. Issue 10
sets the targets (`TARGETS`): floe/hedgeflow at least 10 on floe's workload and at least
5 on the full analysis, on both chains; `verdict_lines` says met or NOT met.

floe is the npm package `@fullstackcraftllc/floe` at the version bench/floe_node/
package.json pins, installed into bench/floe_node/node_modules on first use (a test-time
tool only; hedgeflow never imports or ships it). Without node, npm or the registry the
section says so in one line and times hedgeflow alone.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

from bench.engine_worker import samples_ms, workloads
from bench.perf_chains import PERF_CHAINS, PERF_DIR, load_perf_case, perf_chain

NODE_DIR = Path(__file__).resolve().parent / "floe_node"
SCRIPT = NODE_DIR / "time_floe.js"
PACKAGE = "@fullstackcraftllc/floe"
# what hedgeflow runs beside floe's workload (engine_worker.workloads names, minus the chain)
HEDGEFLOW_WORKLOADS = ("chain_to_cloud", "analyze_physical", "analyze_floe")
# issue 10 "Speed stays a feature": floe/hedgeflow, ratio of medians in one run, on each chain
TARGETS = (
    ("chain_to_cloud", "floe's workload", 10.0),
    ("analyze_physical", "full analysis", 5.0),
)


def pinned_version() -> str:
    manifest = json.loads((NODE_DIR / "package.json").read_text(encoding="utf-8"))
    return str(manifest["dependencies"][PACKAGE])


def installed_version() -> str | None:
    path = NODE_DIR / "node_modules" / PACKAGE / "package.json"
    if not path.is_file():
        return None
    return str(json.loads(path.read_text(encoding="utf-8"))["version"])


def ensure_floe(timeout: float = 300.0) -> str | None:
    """Install the pinned floe if it is missing; None when it is ready, else why not (one
    line)."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if installed_version() == pinned_version():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not on PATH"
    try:
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--silent"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f"npm install {PACKAGE}@{pinned_version()} timed out after {timeout:.0f} s"
    if done.returncode != 0 or installed_version() != pinned_version():
        tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"npm install {PACKAGE}@{pinned_version()} failed: {tail}"
    return None


class FloeNode:
    """A Node process timing floe on one perf chain (time_floe.js --serve): the first batch,
    after the warm-ups, at start (`first`: the script's JSON line), then batches on request,
    so small batches of floe and hedgeflow can alternate without a process start each."""

    def __init__(self, case_path: Path, *, runs: int, warmup: int) -> None:
        cmd = ["node", str(SCRIPT), str(case_path), "--serve", "--runs", str(runs)]
        self.proc = subprocess.Popen(
            [*cmd, "--warmup", str(warmup)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.first = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None and self.proc.stderr is not None
        line = self.proc.stdout.readline()
        if not line:
            self.close()
            why = (self.proc.stderr.read().strip().splitlines() or ["no message"])[-1]
            raise RuntimeError(f"time_floe.js exited with {self.proc.returncode}: {why}")
        result: dict[str, Any] = json.loads(line)
        return result

    def time(self, runs: int) -> list[float]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"runs": runs, "warmup": 0}) + "\n")
        self.proc.stdin.flush()
        samples: list[float] = self._read()["samples_ms"]
        return samples

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def summary(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "median_ms": statistics.median(s),
        "p90_ms": s[int(0.9 * (len(s) - 1))],
        "min_ms": s[0],
        "runs": len(s),
    }


def floe_benchmarks(*, rounds: int, runs: int) -> dict[str, Any]:
    """Per perf chain: floe's median and each hedgeflow workload's median with the ratio
    floe/hedgeflow (above 1: hedgeflow is faster). Each of `rounds` rounds times a batch of
    `runs / rounds` runs of floe and of every hedgeflow workload, the order swapped every
    round, so both see the same machine load; the samples of all rounds are pooled. floe
    warms up 5 runs in its process (as the reference timings did), hedgeflow 3."""
    unavailable = ensure_floe()
    results: dict[str, Any] = {}
    if unavailable is not None:
        results["floe unavailable"] = {"reason": unavailable}
    for name in PERF_CHAINS:
        case = load_perf_case(name)
        chain = perf_chain(case)
        work = workloads({name: (chain, float(case["risk_free_rate"]))})
        slow = 4 if len(chain) > 2000 else 1
        n = max(runs // slow // rounds, 2)
        hf: dict[str, list[float]] = {w: [] for w in HEDGEFLOW_WORKLOADS}
        for w in HEDGEFLOW_WORKLOADS:
            samples_ms(work[f"{name}_{w}"][0], runs=0, warmup=3)
        node = None if unavailable else FloeNode(PERF_DIR / f"{name}.json", runs=n, warmup=5)
        floe: list[float] = [] if node is None else list(node.first["samples_ms"])
        try:
            for r in range(rounds):
                if node is not None and r > 0 and r % 2 == 0:
                    floe += node.time(n)
                for w in HEDGEFLOW_WORKLOADS:  # (garbage collection counted, as floe's is)
                    hf[w] += samples_ms(work[f"{name}_{w}"][0], runs=n, warmup=0, collect=True)
                if node is not None and r % 2 == 1:
                    floe += node.time(n)
        finally:
            if node is not None:
                node.close()
        floe_median = None
        if node is not None:
            row = summary(floe)
            floe_median = row["median_ms"]
            results[f"{name}_floe"] = {
                "options": len(chain),
                **row,
                "floe_version": node.first["floe_version"],
                "node_version": node.first["node_version"],
            }
        for w in HEDGEFLOW_WORKLOADS:
            hf_row: dict[str, Any] = {"options": len(chain), **summary(hf[w])}
            if floe_median is not None:
                hf_row["floe_over_hedgeflow"] = floe_median / hf_row["median_ms"]
            results[f"{name}_hf_{w}"] = hf_row
        if floe_median is not None:
            verdict: dict[str, Any] = {"options": len(chain)}
            for w, _, target in TARGETS:
                ratio = results[f"{name}_hf_{w}"]["floe_over_hedgeflow"]
                verdict[f"{w}_ratio"] = ratio
                verdict[f"{w}_target"] = target
                verdict[f"{w}_met"] = bool(ratio >= target)
            results[f"{name}_targets"] = verdict
    return results


def verdict_lines(results: dict[str, Any]) -> list[str]:
    """One line per perf chain: each floe/hedgeflow ratio against its target, "met" or
    "NOT met" (or why there is no ratio)."""
    lines = []
    for name in PERF_CHAINS:
        row = results.get(f"{name}_targets")
        if row is None:
            why = results.get("floe unavailable", {}).get("reason", "no floe timing")
            lines.append(f"{name}: no floe/hedgeflow ratio ({why})")
            continue
        parts = [
            f"{label} {row[f'{w}_ratio']:.1f}x (target {target:g}x: "
            f"{'met' if row[f'{w}_met'] else 'NOT met'})"
            for w, label, target in TARGETS
        ]
        lines.append(f"{name} ({row['options']:,} options): " + ", ".join(parts))
    return lines
