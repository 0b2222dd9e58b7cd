"""The smile fit (`hedgeflow.engine.smile_fit`): arbitrage-free by construction, inside
the bands where a smile inside them exists, and close to the seed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from hedgeflow.engine.butterfly import check_butterfly, normalized_calls, normalized_otm
from hedgeflow.engine.smile_fit import fit_smiles

# the check's own tolerance on calls over F, plus the round trip of a price through its
# re-implied IV (the pipeline's invariant check drops what is left onto the hull)
TOL = 1e-11


def model_iv(k: np.ndarray) -> np.ndarray:
    """An arbitrage-free skewed smile in k = ln(K/F) (decimal)."""
    return 0.2 - 0.25 * k + 0.6 * k * k


def fit_one(x, sigma, tau, lo, hi, err):
    n = x.size
    return fit_smiles(x, sigma, np.full(n, tau), np.zeros(n, dtype=np.intp), 1, lo, hi, err)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(5, 80),
    width=st.floats(0.02, 0.6),
    tau=st.floats(1e-4, 2.0),
    noise=st.floats(0.0, 0.3),
    band=st.floats(0.0, 0.2),
    seed=st.integers(0, 2**31 - 1),
)
@example(n=5, width=0.02, tau=1e-4, noise=0.3, band=0.0, seed=0)
@example(n=80, width=0.6, tau=2.0, noise=0.3, band=0.2, seed=1)
def test_random_noisy_smiles_fit_free_of_butterflies(n, width, tau, noise, band, seed):
    """Any noisy seed and any bands (feasible or not): the fitted calls are convex and
    decreasing to the check's tolerance, every IV is finite and positive."""
    rng = np.random.default_rng(seed)
    k = np.sort(rng.uniform(-width, width, n))
    k = np.unique(k)
    x = np.exp(k)
    sigma = model_iv(k) * np.exp(noise * rng.standard_normal(k.size))
    # bands around another noisy smile, some strikes unquoted, some zero-bid
    quoted = normalized_otm(x, model_iv(k) * np.exp(band * rng.standard_normal(k.size)), tau)
    half = quoted * rng.uniform(0.01, 0.3, k.size) + 1e-7
    lo, hi = quoted - half, quoted + half
    kind = rng.integers(0, 3, k.size)  # 0 two-sided, 1 zero-bid, 2 none
    lo = np.where(kind == 0, np.maximum(lo, 1e-9), np.where(kind == 1, 0.0, np.nan))
    hi = np.where(kind == 2, np.nan, hi)
    err = np.maximum(0.25 * 2 * half, 1e-9)
    fit = fit_one(x, sigma, tau, lo, hi, err)
    assert np.isfinite(fit.sigma).all() and (fit.sigma > 0).all()
    calls = normalized_calls(x, fit.sigma, tau)
    assert not check_butterfly(x, calls, 1.0, tol=TOL).any()
    # no two-sided ask is ever crossed; a bid only where no convex curve under the asks
    # reaches it (counted)
    price = normalized_otm(x, fit.sigma, tau)
    two = kind == 0
    assert (price[two] <= hi[two] * (1 + 1e-9) + 1e-15).all()
    assert fit.outside[0] == int((price[two] < lo[two] * (1 - 1e-9) - 1e-15).sum())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(5, 80),
    width=st.floats(0.02, 0.6),
    tau=st.floats(1e-3, 2.0),
    noise=st.floats(0.0, 0.3),
    spread=st.floats(0.001, 0.3),
    seed=st.integers(0, 2**31 - 1),
)
def test_bands_around_an_arbitrage_free_model_are_always_met(n, width, tau, noise, spread, seed):
    """Bands around an arbitrage-free Black-76 smile (so an in-band smile exists) and any
    noisy seed: every two-sided quote is priced inside its band, nothing is counted
    outside, and the calls are arbitrage-free."""
    rng = np.random.default_rng(seed)
    k = np.unique(rng.uniform(-width, width, n))
    x = np.exp(k)
    model = normalized_otm(x, model_iv(k), tau)
    # (the parametric smile is arbitrage-free on most, not all, grids: only those count)
    assume(not check_butterfly(x, model + np.maximum(1.0 - x, 0.0), 1.0).any())
    half = model * spread * rng.uniform(0.2, 1.0, k.size)
    lo, hi = model - half, model + half
    quoted = (lo > 1e-12) & (rng.uniform(size=k.size) < 0.8)
    lo, hi = np.where(quoted, lo, np.nan), np.where(quoted, hi, np.nan)
    sigma = model_iv(k) * np.exp(noise * rng.standard_normal(k.size))
    fit = fit_one(x, sigma, tau, lo, hi, np.maximum(0.5 * half, 1e-12))
    price = normalized_otm(x, fit.sigma, tau)
    assert fit.outside[0] == 0
    q = quoted
    assert ((price[q] >= lo[q] - 1e-12 * hi[q]) & (price[q] <= hi[q] + 1e-12 * hi[q])).all()
    assert not check_butterfly(x, normalized_calls(x, fit.sigma, tau), 1.0, tol=TOL).any()


def test_black76_model_smile_is_reproduced_inside_the_band():
    """A smile from an arbitrage-free Black-76 model with bid/ask around it: a seed that
    leaves the band (a 4-vol-point hump, noise) is brought back inside every band, free of
    butterflies, and onto the model within the quotes' IV spread."""
    tau = 30 / 365
    k = np.linspace(-0.25, 0.15, 81)
    x = np.exp(k)
    truth = model_iv(k)
    model = normalized_otm(x, truth, tau)
    half = np.maximum(0.03 * model, 2e-5)  # 3 % of the price, at least a tick over F
    lo, hi = model - half, model + half
    ok = lo > 0
    lo = np.where(ok, lo, 0.0)  # the deep wings quoted zero bid
    rng = np.random.default_rng(7)
    seed = truth + 0.01 * rng.standard_normal(k.size)
    seed[38:41] += 0.04
    seed_calls = normalized_calls(x, seed, tau)
    assert check_butterfly(x, seed_calls, 1.0).any()  # the seed itself is arbitrageable
    fit = fit_one(x, seed, tau, lo, hi, 0.5 * half)
    assert fit.moved[0] > 0 and fit.outside[0] == 0
    price = normalized_otm(x, fit.sigma, tau)
    assert ((price >= lo - 1e-14) & (price <= hi + 1e-14))[ok].all()
    assert not check_butterfly(x, normalized_calls(x, fit.sigma, tau), 1.0, tol=TOL).any()
    # within the band, so within the band's IV width of the model
    vega = np.exp(-0.5 * ((-k / (truth * np.sqrt(tau)) + 0.5 * truth * np.sqrt(tau)) ** 2))
    vega *= np.sqrt(tau / (2 * np.pi))
    iv_half = half / vega
    near = ok & (np.abs(k) < 0.1)
    assert (np.abs(fit.sigma - truth)[near] <= 1.01 * iv_half[near]).all()
    assert np.median(np.abs(fit.sigma - truth)[near]) < 0.01


def test_a_seed_inside_the_market_and_arbitrage_free_is_kept_exactly():
    tau = 0.1
    k = np.linspace(-0.2, 0.2, 41)
    x = np.exp(k)
    truth = model_iv(k)
    model = normalized_otm(x, truth, tau)
    fit = fit_one(x, truth, tau, 0.9 * model, 1.1 * model, 0.05 * model)
    assert fit.moved[0] == 0
    np.testing.assert_array_equal(fit.sigma, truth)


def test_no_smile_inside_every_band_leaves_the_fewest_quotes_outside():
    """Bands that admit no convex curve (one quote's bid above the chord of its
    neighbours' asks): the fit stays butterfly-free, leaves that one quote outside and
    counts it, and keeps every other quote inside."""
    tau = 0.1
    k = np.linspace(-0.1, 0.1, 21)
    x = np.exp(k)
    truth = model_iv(k)
    model = normalized_otm(x, truth, tau)
    half = 0.01 * model
    lo, hi = model - half, model + half
    lo[10], hi[10] = model[10] * 1.5, model[10] * 1.52  # ATM bid 50 % above the model
    fit = fit_one(x, truth, tau, lo, hi, 0.5 * half + 1e-9)
    assert fit.outside[0] == 1
    price = normalized_otm(x, fit.sigma, tau)
    inside = (price >= lo - 1e-14) & (price <= hi + 1e-14)
    assert inside.sum() == k.size - 1 and not inside[10]
    assert not check_butterfly(x, normalized_calls(x, fit.sigma, tau), 1.0, tol=TOL).any()


@pytest.mark.parametrize("n_seg", [2, 5])
def test_many_expiries_at_once_equal_one_by_one(n_seg):
    rng = np.random.default_rng(n_seg)
    parts = []
    for j in range(n_seg):
        k = np.linspace(-0.15, 0.15, 31)
        tau = 0.02 * (j + 1)
        sigma = model_iv(k) * np.exp(0.1 * rng.standard_normal(k.size))
        model = normalized_otm(np.exp(k), model_iv(k), tau)
        parts.append((np.exp(k), sigma, tau, 0.95 * model, 1.05 * model, 0.025 * model))
    x = np.concatenate([p[0] for p in parts])
    sig = np.concatenate([p[1] for p in parts])
    tau = np.concatenate([np.full(31, p[2]) for p in parts])
    seg = np.repeat(np.arange(n_seg), 31)
    lo = np.concatenate([p[3] for p in parts])
    hi = np.concatenate([p[4] for p in parts])
    err = np.concatenate([p[5] for p in parts])
    together = fit_smiles(x, sig, tau, seg, n_seg, lo, hi, err)
    for j, p in enumerate(parts):
        alone = fit_one(*p)
        np.testing.assert_allclose(together.sigma[seg == j], alone.sigma, rtol=1e-6)
