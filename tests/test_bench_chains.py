"""The benchmark's perf chains (the original library's own, bench/data/floe-perf/) load as
documented there, hedgeflow analyzes them, and the compare worker serves a tree.

Expected counts come from the reference README (484 and 7,948 options; 1 and 16 expiries,
all at the 16:00 New York close; 0DTE at 11:00 New York, 300 minutes left), not from the
loader.
"""

from __future__ import annotations

import copy
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.compare import ROOT, Worker
from bench.engine_worker import load_chains, save_chains
from bench.perf_chains import PERF_CHAINS, load_perf_case, perf_chain
from hedgeflow.engine.clock import NY
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import EngineModel
from hedgeflow.engine.pipeline import analyze_chain

DOCUMENTED = {"perf_spx_0dte_480": (484, 1), "perf_spx_full_8000": (7948, 16)}
NOW = datetime(2025, 6, 10, 11, 0, tzinfo=NY)  # "Tuesday 11:00 New York"


def test_the_two_documented_chains_are_the_ones_benchmarked() -> None:
    assert set(PERF_CHAINS) == set(DOCUMENTED)


@pytest.mark.parametrize("name", PERF_CHAINS)
def test_perf_chain_counts_spot_and_expiries(name: str) -> None:
    n_options, n_expiries = DOCUMENTED[name]
    chain = perf_chain(load_perf_case(name))
    assert len(chain) == n_options
    assert chain.spot == 6012.35
    assert chain.as_of == NOW
    expiries = [datetime.fromtimestamp(e, tz=UTC).astimezone(NY) for e in chain.expiries()]
    assert len(expiries) == n_expiries
    assert all((e.hour, e.minute, e.second) == (16, 0, 0) for e in expiries)
    assert expiries[0] == datetime(2025, 6, 10, 16, 0, tzinfo=NY)  # 0DTE, 300 minutes left
    assert int(chain.is_call.sum()) * 2 == n_options  # a call and a put at every strike


def test_perf_chain_maps_each_field_of_the_case() -> None:
    case = load_perf_case("perf_spx_0dte_480")
    chain = perf_chain(case)
    for i in (0, 1, 241, 483):
        o = case["options"][i]
        assert chain.strike[i] == o["strike"]
        assert chain.expiry[i] * 1000 == o["expiration_ms"]
        assert bool(chain.is_call[i]) == (o["type"] == "call")
        assert (chain.bid[i], chain.ask[i], chain.last[i]) == (o["bid"], o["ask"], o["mark"])
        assert chain.open_interest[i] == o["open_interest"]
        assert chain.vendor_iv[i] == o["iv"]
    assert set(chain.root.tolist()) == {"SPXW"}


def _case_with(**option: Any) -> dict[str, Any]:
    case = copy.deepcopy(load_perf_case("perf_spx_0dte_480"))
    case["options"][3].update(option)
    return case


def test_perf_chain_rejects_an_expiry_off_the_close_and_a_bad_type() -> None:
    one_hour_early = load_perf_case("perf_spx_0dte_480")["options"][0]["expiration_ms"] - 3_600_000
    with pytest.raises(ValueError, match="15:00 New York, not 16:00"):
        perf_chain(_case_with(expiration_ms=one_hour_early))
    with pytest.raises(ValueError, match="'straddle'"):
        perf_chain(_case_with(type="straddle"))
    with pytest.raises(ValueError, match="not a chain case"):
        perf_chain({**load_perf_case("perf_spx_0dte_480"), "kind": "hedgeflow"})


@pytest.mark.parametrize("model", list(EngineModel))
@pytest.mark.parametrize("name", PERF_CHAINS)
def test_hedgeflow_analyzes_each_perf_chain(name: str, model: EngineModel) -> None:
    case = load_perf_case(name)
    analysis = analyze_chain(
        perf_chain(case), config=EngineConfig(model=model, rate=case["risk_free_rate"])
    )
    assert analysis.expiration == datetime(2025, 6, 10, 16, 0, tzinfo=NY)
    assert analysis.minutes_to_expiry == pytest.approx(300.0)
    assert len(analysis.exposure.strikes) == 242
    curve = analysis.hedge_flow.impulse_curve
    assert np.isfinite(analysis.exposure.gamma).all() and np.any(analysis.exposure.gamma != 0)
    assert curve.impulse.size > 100 and np.isfinite(curve.impulse).all()
    assert np.any(curve.impulse != 0)
    levels = analysis.pressure_cloud.levels
    assert levels.price.size == curve.price.size and np.isfinite(levels.stability_score).all()


def test_compare_worker_times_a_tree_on_the_saved_chains(tmp_path: Path) -> None:
    case = load_perf_case("perf_spx_0dte_480")
    chains = {"perf_spx_0dte_480": (perf_chain(case), float(case["risk_free_rate"]))}
    path = tmp_path / "chains.npz"
    save_chains(path, chains)
    back, rate = load_chains(path)["perf_spx_0dte_480"]
    assert rate == case["risk_free_rate"] and back.as_of == NOW
    for col in ("strike", "expiry", "bid", "ask", "open_interest", "vendor_iv"):
        np.testing.assert_array_equal(
            getattr(back, col), getattr(chains["perf_spx_0dte_480"][0], col)
        )
    worker = Worker(ROOT, path)
    try:
        assert Path(worker.imported) == ROOT / "hedgeflow"
        assert worker.divisors["perf_spx_0dte_480_analyze_floe"] == 1
        samples = worker.time("perf_spx_0dte_480_chain_to_cloud", runs=2, warmup=0)
    finally:
        worker.close()
    assert len(samples) == 2 and all(s > 0 for s in samples)


def test_floe_section_without_node_says_so_and_still_times_hedgeflow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bench.floe

    monkeypatch.setattr(bench.floe.shutil, "which", lambda name: None)
    results = bench.floe.floe_benchmarks(rounds=1, runs=2)
    assert results["floe unavailable"] == {"reason": "node is not on PATH"}
    assert not any(key.endswith("_floe") and "hf" not in key for key in results)
    for name in PERF_CHAINS:
        row = results[f"{name}_hf_chain_to_cloud"]
        assert row["runs"] == 2 and row["median_ms"] > 0
        assert "floe_over_hedgeflow" not in row


def test_compare_worker_imports_the_old_package_layout(tmp_path: Path) -> None:
    """Commit 1bfebe4 predates fc106d5's one import root (engine modules at top level of
    `hedgeflow`); the worker must time that tree's code, not this one's."""
    tree = tmp_path / "old"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "1bfebe4", "hedgeflow"],
        capture_output=True,
    )
    if archive.returncode != 0:
        pytest.skip("commit 1bfebe4 is not in this clone's history")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    assert (tree / "hedgeflow" / "pipeline.py").is_file()
    assert not (tree / "hedgeflow" / "engine").exists()
    case = load_perf_case("perf_spx_0dte_480")
    path = tmp_path / "chains.npz"
    save_chains(path, {"perf_spx_0dte_480": (perf_chain(case), float(case["risk_free_rate"]))})
    worker = Worker(tree, path)
    try:
        assert Path(worker.imported) == tree / "hedgeflow"
        samples = worker.time("perf_spx_0dte_480_analyze_physical", runs=1, warmup=0)
    finally:
        worker.close()
    assert len(samples) == 1 and samples[0] > 0
