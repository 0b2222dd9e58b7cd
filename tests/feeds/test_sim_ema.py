"""feeds.sim.ema, the smile anchor's EMA, against scipy.signal.lfilter (the filter it
replaced at start-up; scipy is a dependency, only the sim no longer imports it)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import lfilter

from hedgeflow.feeds.sim.paths import _ANCHOR_SECONDS, _EMA_BLOCK, ema

ANCHOR_ALPHA = 1.0 - np.exp(-1.0 / _ANCHOR_SECONDS)


def reference(x: np.ndarray, alpha: float) -> np.ndarray:
    y, _ = lfilter([alpha], [1.0, alpha - 1.0], x, zi=[(1.0 - alpha) * x[0]])
    return y


@pytest.mark.parametrize(
    "n", [1, 2, 3, _EMA_BLOCK - 1, _EMA_BLOCK, _EMA_BLOCK + 1, 3 * _EMA_BLOCK, 23_401, 86_400]
)
def test_log_price_path_matches_lfilter(n: int) -> None:
    # a sim-like log-spot path on a one-second grid (level ~8.5, 1e-4 per step)
    rng = np.random.default_rng(n)
    x = 8.5 + np.cumsum(rng.normal(0.0, 1e-4, n))
    y = ema(x, ANCHOR_ALPHA)
    assert y.shape == x.shape
    assert y[0] == x[0]
    np.testing.assert_allclose(y, reference(x, ANCHOR_ALPHA), rtol=0.0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3000),
    alpha=st.sampled_from([ANCHOR_ALPHA, 1e-5, 1e-3, 0.05, 0.3, 0.5, 0.9, 0.999, 1.0]),
    level=st.floats(-50.0, 50.0),
)
def test_random_inputs_match_lfilter(seed: int, n: int, alpha: float, level: float) -> None:
    x = level + np.random.default_rng(seed).normal(0.0, 3.0, n)
    # lfilter itself rounds once per step (with alpha -> 0 the errors hardly decay), so
    # the two agree to ~1e-14 of the level rather than bitwise
    np.testing.assert_allclose(ema(x, alpha), reference(x, alpha), rtol=1e-12, atol=1e-12)


def test_constant_is_fixed_point_and_step_decays() -> None:
    np.testing.assert_array_equal(ema(np.full(1000, 4.25), ANCHOR_ALPHA), np.full(1000, 4.25))
    step = np.r_[0.0, np.ones(5000)]
    y = ema(step, 0.01)
    # closed form of a unit step after a zero start: 1 - (1 - alpha)^k at index k
    k = np.arange(5001)
    np.testing.assert_allclose(y, np.where(k == 0, 0.0, 1.0 - 0.99**k), atol=1e-13)


def test_bad_alpha_and_empty() -> None:
    with pytest.raises(ValueError):
        ema(np.ones(3), 0.0)
    with pytest.raises(ValueError):
        ema(np.ones(3), 1.5)
    assert ema(np.array([]), 0.5).size == 0


def test_sim_module_does_not_import_scipy() -> None:
    import subprocess
    import sys

    code = "import sys, hedgeflow.feeds.sim; print(any(m.startswith('scipy.signal') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
