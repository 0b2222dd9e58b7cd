"""The numpy smoothing spline (`hedgeflow.engine.smoothing`) against exact inputs, its own
smoothing condition, and FITPACK (scipy's UnivariateSpline, the smoother it replaces)."""

from __future__ import annotations

import numpy as np
import pytest

from hedgeflow.engine.smoothing import _design, _penalized_fit, smoothing_spline


def _smile(x: np.ndarray) -> np.ndarray:
    """A smooth skewed total-variance smile (w units): a steep put wing the cubic
    polynomial cannot follow within errors of 2e-4, so the penalized spline is used."""
    return 0.04 + 0.02 * x + 0.3 * x * x + 0.5 * np.maximum(0.0, -x) ** 3


@pytest.mark.parametrize("coef", [(0.04, -0.1, 0.0, 0.0), (0.04, -0.1, 0.8, 1.5)])
def test_exact_linear_and_cubic_input_reproduced_with_huge_weights(coef: tuple) -> None:
    x = np.sort(np.random.default_rng(3).uniform(-0.4, 0.3, 120))
    y = np.polyval(coef[::-1], x)
    err = np.full(x.size, 1e-12)  # huge weights
    z = np.linspace(x[0], x[-1], 57)
    g, f = smoothing_spline(x, y, err, z)
    np.testing.assert_allclose(g, np.polyval(coef[::-1], z), rtol=0, atol=1e-12)
    assert f <= x.size


@pytest.mark.parametrize("coef", [(0.04, -0.1, 0.0, 0.0), (0.04, -0.1, 0.8, 1.5)])
def test_penalized_spline_reproduces_cubic_at_any_lambda(coef: tuple) -> None:
    # the penalty (jumps of g''') vanishes on a cubic, so the spline path reproduces one
    # whatever lambda the root search ends on
    x = np.linspace(-0.4, 0.3, 90)
    y = np.polyval(coef[::-1], x)
    wt = np.full(x.size, 1e8)
    for n_int in (1, 10, 40):
        u, t, c, f = _penalized_fit(x, wt, y * wt, n_int, float(x.size))
        assert f <= x.size

        # cubic data end the search at the largest lambda, where G + lambda P is
        # conditioned ~1e8 (P vanishes on cubics): 1e-8 absolute on w ~ 0.05 is ~1e-7
        # relative, far below any quote's error
        np.testing.assert_allclose(_design(u, t, x) @ c, y, rtol=0, atol=1e-8)


def test_polynomial_branch_is_weighted_least_squares_cubic() -> None:
    rng = np.random.default_rng(5)
    x = np.linspace(-0.3, 0.2, 80)
    err = rng.uniform(1e-4, 5e-4, x.size)
    y = 0.04 + 0.3 * x * x + rng.normal(0.0, 1.0, x.size) * err
    g, f = smoothing_spline(x, y, err, x)
    ref = np.polyval(np.polyfit(x, y, 3, w=1.0 / err), x)
    assert f <= x.size  # the cubic meets the condition: FITPACK's first candidate
    np.testing.assert_allclose(g, ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(f, np.sum(((y - g) / err) ** 2), rtol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_residual_condition_met(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    x = np.linspace(-0.3, 0.2, n)
    err = rng.uniform(5e-5, 2e-4, n)  # small enough that the cubic polynomial misses
    y = _smile(x) + rng.normal(0.0, 1.0, n) * err
    s_cubic = np.sum(((y - np.polyval(np.polyfit(x, y, 3, w=1.0 / err), x)) / err) ** 2)
    assert s_cubic > n
    g, f = smoothing_spline(x, y, err, x)
    resid = float(np.sum(((y - g) / err) ** 2))
    np.testing.assert_allclose(f, resid, rtol=1e-9)
    assert abs(resid / n - 1.0) < 2e-3  # F = s = n to the search's 0.1 % (log) tolerance


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_fitpack_within_the_noise(seed: int) -> None:
    from scipy.interpolate import UnivariateSpline

    rng = np.random.default_rng(seed)
    n = 200
    x = np.linspace(-0.3, 0.2, n)
    sd = 2e-4
    err = np.full(n, sd)
    y = _smile(x) + rng.normal(0.0, sd, n)
    z = np.linspace(x[0], x[-1], 301)
    g, _ = smoothing_spline(x, y, err, z)
    fp = UnivariateSpline(x, y, w=1.0 / err, k=3, s=float(n))(z)
    assert np.max(np.abs(g - fp)) < 0.5 * sd
    # and both recover the true smile to the noise level
    assert np.max(np.abs(g - _smile(z))) < 2.0 * sd
