"""Black-76 prices and spot greeks: published values, finite differences, parity, NaN masks.

Sources of the known values:
- Hull, "Options, Futures, and Other Derivatives" (8th ed.): Example 15.6 (S=42, K=40,
  r=10 %, sigma=20 %, T=0.5: c=4.76, p=0.81); Example 17.1 (stock index, S=930, K=900,
  r=8 %, q=3 %, sigma=20 %, T=2/12: c=51.83); the running greeks example of ch. 19
  (S=49, K=50, r=5 %, sigma=20 %, T=20 weeks=0.3846: c=2.40, delta=0.522, gamma=0.066,
  vega=12.1).
- Haug, "The Complete Guide to Option Pricing Formulas" (2nd ed.), ch. 1: generalized BSM
  (S=60, K=65, T=0.25, r=8 %, sigma=30 %: c=2.1334); options on a stock index (S=100, K=95,
  T=0.5, r=10 %, q=5 %, sigma=20 %: p=2.4648); Black-76 (F=19, K=19, T=0.75, r=10 %,
  sigma=28 %: c=p=1.7011); ch. 2: futures-option delta (F=105, K=100, T=0.5, r=10 %,
  sigma=36 %: call 0.5946, put -0.3566) and stock-option gamma (S=55, K=60, T=0.75,
  r=b=10 %, sigma=30 %: 0.0278).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgeflow.engine.black76 import DAYS_PER_YEAR, greeks, intrinsic, price


def bsm(S, K, T, r, q, sigma, call):
    """Black-Scholes-Merton through Black-76 on F = S e^{(r-q) T}."""
    F = S * np.exp((r - q) * T)
    return price(F, K, T, sigma, r, call)


@pytest.mark.parametrize(
    ("S", "K", "T", "r", "q", "sigma", "call", "expected", "rtol"),
    [
        (42.0, 40.0, 0.5, 0.10, 0.0, 0.20, True, 4.76, 5e-4),  # Hull Ex. 15.6
        (42.0, 40.0, 0.5, 0.10, 0.0, 0.20, False, 0.81, 5e-3),  # Hull Ex. 15.6
        (930.0, 900.0, 2 / 12, 0.08, 0.03, 0.20, True, 51.83, 1e-4),  # Hull Ex. 17.1 (q)
        (49.0, 50.0, 0.3846, 0.05, 0.0, 0.20, True, 2.40, 5e-3),  # Hull ch. 19
        (60.0, 65.0, 0.25, 0.08, 0.0, 0.30, True, 2.1334, 5e-5),  # Haug 1.1.1
        (100.0, 95.0, 0.5, 0.10, 0.05, 0.20, False, 2.4648, 5e-5),  # Haug 1.1.2 (q)
    ],
)
def test_bsm_known_values(S, K, T, r, q, sigma, call, expected, rtol):
    assert float(bsm(S, K, T, r, q, sigma, call)) == pytest.approx(expected, rel=rtol)


def test_black76_known_value_haug():
    # Haug 1.1.3: F = 19, K = 19, T = 0.75, r = 0.10, sigma = 0.28 -> c = p = 1.7011
    c = float(price(19.0, 19.0, 0.75, 0.28, 0.10, True))
    p = float(price(19.0, 19.0, 0.75, 0.28, 0.10, False))
    assert c == pytest.approx(1.7011, rel=5e-5)
    assert p == pytest.approx(1.7011, rel=5e-5)


def test_greeks_known_values():
    g = greeks(49.0, 50.0, 0.3846, 0.20, 0.05, 0.0, True)  # Hull ch. 19
    assert float(g.delta) == pytest.approx(0.522, abs=5e-4)
    assert float(g.gamma) == pytest.approx(0.066, abs=5e-4)
    assert float(g.vega) == pytest.approx(12.1, abs=0.05)
    # Haug 2.1.1: futures option = spot greeks with q = r (b = 0)
    gc = greeks(105.0, 100.0, 0.5, 0.36, 0.10, 0.10, True)
    gp = greeks(105.0, 100.0, 0.5, 0.36, 0.10, 0.10, False)
    assert float(gc.delta) == pytest.approx(0.5946, abs=5e-5)
    assert float(gp.delta) == pytest.approx(-0.3566, abs=5e-5)
    # Haug 2.1.3 (gamma), b = r
    g = greeks(55.0, 60.0, 0.75, 0.30, 0.10, 0.0, True)
    assert float(g.gamma) == pytest.approx(0.0278, abs=5e-5)


def test_put_call_parity():
    rng = np.random.default_rng(7)
    n = 500
    F = rng.uniform(50, 6000, n)
    K = F * np.exp(rng.normal(0, 0.3, n))
    tau = np.exp(rng.uniform(np.log(1e-5), np.log(3), n))
    sigma = rng.uniform(0.05, 1.5, n)
    r = rng.uniform(-0.01, 0.08, n)
    c = price(F, K, tau, sigma, r, True)
    p = price(F, K, tau, sigma, r, False)
    err = np.abs((c - p) - np.exp(-r * tau) * (F - K))
    assert np.all(err <= 1e-12 * (F + K))


# central finite differences of `price` (the greeks' closed forms are independent code)
CASES = [
    # S, K, tau, sigma, r, q
    (100.0, 100.0, 0.25, 0.20, 0.05, 0.02),
    (4500.0, 4400.0, 3.0 / 365, 0.15, 0.045, 0.013),
    (4500.0, 4650.0, 0.5 / 365, 0.25, 0.045, 0.013),
    (450.0, 300.0, 1.0, 0.35, 0.03, 0.06),
    (50.0, 70.0, 2.0, 0.6, 0.01, 0.0),
]


def _price_spot(S, K, tau, sigma, r, q, call):
    return bsm(S, K, tau, r, q, sigma, call)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("call", [True, False])
def test_greeks_match_finite_differences(case, call):
    S, K, tau, sigma, r, q = case
    g = greeks(S, K, tau, sigma, r, q, call)

    hS = 1e-3 * S * sigma * math.sqrt(tau)  # the natural scale of the price in S
    up = _price_spot(S + hS, K, tau, sigma, r, q, call)
    dn = _price_spot(S - hS, K, tau, sigma, r, q, call)
    mid = _price_spot(S, K, tau, sigma, r, q, call)
    scale = float(S)
    assert float(g.delta) == pytest.approx(float((up - dn) / (2 * hS)), rel=1e-6, abs=1e-9)
    assert float(g.gamma) == pytest.approx(
        float((up - 2 * mid + dn) / hS**2), rel=2e-4, abs=1e-9 / scale
    )

    hv = 1e-5
    vu = _price_spot(S, K, tau, sigma + hv, r, q, call)
    vd = _price_spot(S, K, tau, sigma - hv, r, q, call)
    assert float(g.vega) == pytest.approx(float((vu - vd) / (2 * hv)), rel=1e-6, abs=1e-9 * S)

    # vanna: d delta / d sigma (per 1.00 of vol)
    du = greeks(S, K, tau, sigma + hv, r, q, call).delta
    dd = greeks(S, K, tau, sigma - hv, r, q, call).delta
    assert float(g.vanna) == pytest.approx(float((du - dd) / (2 * hv)), rel=1e-5, abs=1e-9)

    # charm: d delta / dt as calendar time passes = -d delta / d tau, per calendar day
    ht = 1e-4 * tau
    tu = greeks(S, K, tau + ht, sigma, r, q, call).delta
    td = greeks(S, K, tau - ht, sigma, r, q, call).delta
    fd_charm_day = -float((tu - td) / (2 * ht)) / DAYS_PER_YEAR
    assert float(g.charm) == pytest.approx(fd_charm_day, rel=1e-5, abs=1e-12)


def test_charm_has_dividend_term():
    # deep in-the-money call, long-dated: delta ~ e^{-q tau}, so charm ~ +q e^{-q tau}/365
    g = greeks(100.0, 1.0, 1.0, 0.2, 0.0, 0.05, True)
    assert float(g.charm) == pytest.approx(0.05 * math.exp(-0.05) / 365.0, rel=1e-9)
    gp = greeks(100.0, 10000.0, 1.0, 0.2, 0.0, 0.05, False)
    assert float(gp.charm) == pytest.approx(-0.05 * math.exp(-0.05) / 365.0, rel=1e-9)


def test_undefined_inputs_are_nan():
    g = greeks(
        np.array([100.0, 100.0, 100.0, 100.0]),
        np.array([100.0, 0.0, 100.0, 100.0]),
        np.array([0.0, 0.1, -0.1, 0.1]),
        np.array([0.2, 0.2, 0.2, 0.0]),
        0.05,
        0.0,
        True,
    )
    for arr in (g.delta, g.gamma, g.vega, g.vanna, g.charm):
        assert np.isnan(arr).all()
    assert np.isnan(price(100.0, 100.0, 0.0, 0.2, 0.05, True))


def test_intrinsic():
    np.testing.assert_allclose(
        intrinsic(np.array([110.0, 90.0]), 100.0, 0.0, 1.0, np.array([True, True])), [10.0, 0.0]
    )
    np.testing.assert_allclose(
        intrinsic(90.0, 100.0, 0.05, 1.0, False), 10.0 * math.exp(-0.05), rtol=1e-15
    )


floats = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=300, deadline=None)
@given(S=floats, K=floats, tau=floats, sigma=floats, r=floats, q=floats, call=st.booleans())
def test_greeks_and_price_never_raise(S, K, tau, sigma, r, q, call):
    with np.errstate(all="raise", under="ignore"):  # no warning may escape either
        g = greeks(S, K, tau, sigma, r, q, call)
        p = price(S, K, tau, sigma, r, call)
    for arr in (g.delta, g.gamma, g.vega, g.vanna, g.charm, p):
        assert np.shape(arr) == ()
