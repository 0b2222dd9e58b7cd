"""The original TypeScript library beside hedgeflow, on its own perf chains, in one run.

Absolute times differ between machines and days by several times, so the figure that
means something is the ratio floe/hedgeflow measured side by side: for each chain the
rounds alternate a Node process timing floe (bench/floe_node/time_floe.js: warm-ups, then
timed runs, `Date.now()` pinned to the case's `now_ms`) and hedgeflow timing its
equivalent workloads in this process, and the samples of all rounds are pooled.

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


def run_floe(case_path: Path, *, runs: int, warmup: int) -> dict[str, Any]:
    """One Node process timing floe on `case_path`: the script's JSON line."""
    done = subprocess.run(
        ["node", str(SCRIPT), str(case_path), "--runs", str(runs), "--warmup", str(warmup)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"node exited with {done.returncode}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


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
    floe/hedgeflow (above 1: hedgeflow is faster). `rounds` alternations of `runs` timed
    runs each (5 warm-ups per Node process, as the reference timings; 3 for hedgeflow)."""
    unavailable = ensure_floe()
    results: dict[str, Any] = {}
    if unavailable is not None:
        results["floe unavailable"] = {"reason": unavailable}
    for name in PERF_CHAINS:
        case = load_perf_case(name)
        chain = perf_chain(case)
        work = workloads({name: (chain, float(case["risk_free_rate"]))})
        slow = 4 if len(chain) > 2000 else 1
        n = max(runs // slow, 5)
        floe_samples: list[float] = []
        floe_meta: dict[str, Any] = {}
        hf_samples: dict[str, list[float]] = {w: [] for w in HEDGEFLOW_WORKLOADS}
        for r in range(rounds):
            steps = ["floe", "hedgeflow"] if r % 2 == 0 else ["hedgeflow", "floe"]
            for step in steps:
                if step == "floe" and unavailable is None:
                    got = run_floe(PERF_DIR / f"{name}.json", runs=n, warmup=5)
                    floe_samples.extend(got.pop("samples_ms"))
                    floe_meta = got
                elif step == "hedgeflow":
                    for w in HEDGEFLOW_WORKLOADS:
                        fn, _ = work[f"{name}_{w}"]
                        hf_samples[w].extend(samples_ms(fn, runs=n, warmup=3 if r == 0 else 1))
        floe_row: dict[str, Any] = {}
        if floe_samples:
            floe_row = summary(floe_samples)
            results[f"{name}_floe"] = {
                "options": len(chain),
                **floe_row,
                "floe_version": floe_meta.get("floe_version"),
                "node_version": floe_meta.get("node_version"),
            }
        for w in HEDGEFLOW_WORKLOADS:
            row: dict[str, Any] = {"options": len(chain), **summary(hf_samples[w])}
            if floe_row:
                row["floe_over_hedgeflow"] = floe_row["median_ms"] / row["median_ms"]
            results[f"{name}_hf_{w}"] = row
    return results
