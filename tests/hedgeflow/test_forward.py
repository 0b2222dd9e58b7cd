"""Parity forward: recovers a known F and q from synthetic Black-76 quotes, robustly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hedgeflow.black76 import price
from hedgeflow.forward import parity_forward


def _quotes(S, r, q, tau, strikes, sigma=0.2):
    F = S * math.exp((r - q) * tau)
    c = price(F, strikes, tau, sigma, r, True)
    p = price(F, strikes, tau, sigma, r, False)
    return F, c, p


@pytest.mark.parametrize(
    ("S", "r", "q", "tau"),
    [
        (4500.0, 0.045, 0.013, 30 / 365),
        (4500.0, 0.045, 0.013, 2 / 24 / 365),  # 0DTE, two hours
        (450.0, 0.05, 0.0, 1.0),
        (100.0, 0.01, 0.03, 0.5),  # q > r: forward below spot
    ],
)
def test_recovers_known_forward_and_q(S, r, q, tau):
    K = np.arange(S * 0.8, S * 1.2, S / 400)
    F, c, p = _quotes(S, r, q, tau, K)
    est = parity_forward(K, c, p, tau, r, S)
    assert est.forward == pytest.approx(F, rel=1e-12)
    assert est.q == pytest.approx(q, abs=1e-9 / tau)
    assert est.n_pairs == 5
    assert est.spot_consistent
    assert est.dispersion == pytest.approx(0.0, abs=1e-9 * F)


def test_robust_to_a_bad_pair_and_missing_quotes():
    S, r, q, tau = 4500.0, 0.045, 0.013, 10 / 365
    K = np.arange(4300.0, 4700.0, 5.0)
    F, c, p = _quotes(S, r, q, tau, K)
    rng = np.random.default_rng(3)
    c = c + rng.normal(0, 0.02, K.size)  # mid noise, a few cents
    p = p + rng.normal(0, 0.02, K.size)
    near = int(np.argmin(np.abs(K - F)))
    c[near] += 5.0  # one stale call near the money
    p[near + 1] = np.nan  # one side missing
    c[near - 1] = 0.0  # zero mid is no quote
    est = parity_forward(K, c, p, tau, r, S)
    assert est.forward == pytest.approx(F, abs=0.1)
    assert est.n_candidates == K.size - 2
    assert est.mad < 0.1


def test_spread_weights_prefer_tight_pairs():
    S, r, q, tau = 100.0, 0.0, 0.0, 0.25
    K = np.array([99.0, 100.0, 101.0])
    F, c, p = _quotes(S, r, q, tau, K)
    c = c.copy()
    c[0] += 0.5  # pair at 99 is wrong by 0.5 but has a huge spread
    c[2] -= 0.5  # pair at 101 wrong the other way, also wide
    est = parity_forward(
        K,
        c,
        p,
        tau,
        r,
        S,
        call_spread=np.array([5.0, 0.05, 5.0]),
        put_spread=np.array([5.0, 0.05, 5.0]),
        n_pairs=3,
    )
    assert est.forward == pytest.approx(F, rel=1e-12)


def test_stale_spot_is_flagged():
    S, r, q, tau = 4500.0, 0.045, 0.013, 1 / 365
    K = np.arange(4400.0, 4600.0, 5.0)
    F, c, p = _quotes(S, r, q, tau, K)
    est = parity_forward(K, c, p, tau, r, S * 1.01)  # spot 1 % off, one day out
    assert not est.spot_consistent
    assert est.forward == pytest.approx(F, rel=1e-12)
    assert est.spot_gap == pytest.approx(math.log(F / (S * 1.01)) - r * tau, rel=1e-12)
    ok = parity_forward(K, c, p, tau, r, S)
    assert ok.spot_consistent


def test_no_pairs_falls_back_to_spot():
    K = np.array([90.0, 100.0, 110.0])
    nan = np.full(3, np.nan)
    est = parity_forward(K, nan, nan, 0.5, 0.04, 100.0)
    assert est.n_pairs == 0
    assert est.forward == pytest.approx(100.0 * math.exp(0.02), rel=1e-15)
    assert est.q == 0.0
    none = parity_forward(K, nan, nan, 0.5, 0.04, float("nan"))
    assert math.isnan(none.forward) and not none.spot_consistent
