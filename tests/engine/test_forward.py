"""Parity forward: recovers a known F and q from synthetic Black-76 quotes, robustly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hedgeflow.engine.black76 import price
from hedgeflow.engine.forward import parity_forward


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


def test_many_expiries_at_once_equal_one_by_one():
    from hedgeflow.engine.forward import parity_forwards

    rng = np.random.default_rng(11)
    segs, Ks, cs, ps, css, pss, taus = [], [], [], [], [], [], []
    for i, (tau, q) in enumerate([(1 / 365, 0.01), (30 / 365, 0.02), (0.5, 0.0), (2 / 365, 0.4)]):
        K = np.arange(4400.0, 4600.0, 5.0)
        F, c, p = _quotes(4500.0, 0.045, q, tau, K)
        c = c + rng.normal(0, 0.05, K.size)
        p = p + rng.normal(0, 0.05, K.size)
        p[rng.random(K.size) < 0.2] = np.nan
        segs.append(np.full(K.size, i))
        Ks.append(K)
        cs.append(c)
        ps.append(p)
        css.append(rng.uniform(0.0, 1.0, K.size))
        pss.append(rng.uniform(0.0, 1.0, K.size))
        taus.append(tau)
    # a fifth expiry without any pair
    segs.append(np.array([4]))
    Ks.append(np.array([4500.0]))
    cs.append(np.array([np.nan]))
    ps.append(np.array([1.0]))
    css.append(np.array([0.1]))
    pss.append(np.array([0.1]))
    taus.append(0.1)
    cat = lambda a: np.concatenate(a)  # noqa: E731
    many = parity_forwards(
        cat(segs),
        5,
        cat(Ks),
        cat(cs),
        cat(ps),
        np.array(taus),
        0.045,
        4500.0,
        call_spread=cat(css),
        put_spread=cat(pss),
        n_pairs=4,
    )
    for i in range(5):
        one = parity_forward(
            Ks[i],
            cs[i],
            ps[i],
            taus[i],
            0.045,
            4500.0,
            call_spread=css[i],
            put_spread=pss[i],
            n_pairs=4,
        )
        got = many[i]
        for name in ("forward", "q", "dispersion", "mad", "spot_gap"):
            a, b = getattr(got, name), getattr(one, name)
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-14), name
        assert got.n_pairs == one.n_pairs and got.spot_consistent == one.spot_consistent
    assert not many[3].spot_consistent  # q = 40 %: beyond any dividend yield
    assert many[4].n_pairs == 0
