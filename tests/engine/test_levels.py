"""The standard levels (docs/METHOD.md "Levels") and the futures mapping ("Futures
levels"), by hand on small chains and against a chain built with a known basis."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import numpy as np
import pytest
from scipy.stats import norm

from hedgeflow.engine.clock import NY
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.futures import front_quarterly, futures_basis, parity_forward, third_friday
from hedgeflow.engine.levels import max_pain, net_dex, per_strike
from hedgeflow.engine.scope import ExpiryScope, ScopeKind, analyze_scope
from hedgeflow.engine.types import PressureCloudConfig
from tests.engine.option_books import make_book
from tests.engine.smile_chains import AS_OF, synthetic_chain


def test_max_pain_by_hand() -> None:
    """Strikes 90/100/110; calls 100 OI at 90, 10 at 110; puts 50 at 110, 200 at 90.
    Pay at P (per unit multiplier): P=90: puts at 110 pay 50*20 = 1000; P=100: calls 90 pay
    100*10 = 1000, puts 110 pay 50*10 = 500 -> 1500; P=110: calls 90 pay 100*20 = 2000,
    puts 90 pay 0 -> 2000. The least is 90."""
    K = np.array([90.0, 110.0, 110.0, 90.0])
    call = np.array([True, True, False, False])
    oi = np.array([100.0, 10.0, 50.0, 200.0])
    assert max_pain(K, call, oi) == 90.0
    assert max_pain(K, call, oi * 0) is None
    K2 = np.array([90.0, 100.0, 110.0, 90.0, 100.0, 110.0])
    c2 = np.array([True, True, True, False, False, False])
    oi2 = np.array([10.0, 10.0, 10.0, 0.0, 0.0, 500.0])
    # P=90: puts 110 pay 500*20 = 10000; P=100: calls 90 pay 100, puts 110 pay 5000 -> 5100;
    # P=110: calls 90 pay 200, calls 100 pay 100 -> 300: the least is 110
    assert max_pain(K2, c2, oi2) == 110.0


def test_walls_by_open_interest_and_abs_gamma_per_strike() -> None:
    K = np.array([95.0, 100.0, 100.0, 105.0, 95.0])
    call = np.array([True, True, False, False, False])
    v = np.array([1.0, 5.0, 2.0, 7.0, 3.0])
    k, c, p = per_strike(K, v, call)
    assert list(k) == [95.0, 100.0, 105.0]
    assert list(c) == [1.0, 5.0, 0.0] and list(p) == [3.0, 2.0, 7.0]


def _bs_delta(S, K, tau, sigma, r, q, call):
    d1 = (math.log(S / K) + (r - q + 0.5 * sigma * sigma) * tau) / (sigma * math.sqrt(tau))
    return math.exp(-q * tau) * (norm.cdf(d1) if call else norm.cdf(d1) - 1.0)


def test_net_dex_by_hand() -> None:
    b = make_book(tau_days=2.0, strikes=np.array([5400.0, 5500.0, 5600.0]), seed=4)
    by_hand = sum(
        pos * 100.0 * _bs_delta(b.spot, K, b.tau, s, b.r, b.q, c) * b.spot
        for K, s, c, pos in zip(b.strike, b.iv, b.is_call, b.position, strict=True)
    )
    assert net_dex([b]) == pytest.approx(by_hand, rel=1e-12)


def _small_chain():
    """Two expiries, three strikes, quotes from a flat 20 % smile (enough for a smile),
    open interest set by hand so that the walls are known."""
    chain, _ = synthetic_chain(
        minutes=240.0, extra_expiries=(1440.0 + 240.0,), width=0.02, step=25.0
    )
    K, call = chain.strike, chain.is_call
    oi = np.full(K.size, 10.0)
    near = chain.expiry == chain.expiry.min()
    oi[near & call & (K == 5025.0)] = 9000.0  # call wall by OI, near expiry
    oi[~near & ~call & (K == 4925.0)] = 7000.0  # put wall by OI, far expiry
    from dataclasses import replace

    return replace(chain, open_interest=oi)


def test_the_levels_of_a_small_two_expiry_chain() -> None:
    chain = _small_chain()
    near = analyze_scope(chain)
    both = analyze_scope(chain, scope=ExpiryScope(ScopeKind.ALL))
    assert near.levels is not None and both.levels is not None
    assert near.levels.call_wall_oi == 5025.0
    # the far expiry's put OI is out of the nearest scope, in the all scope
    assert near.levels.put_wall_oi != 4925.0
    assert both.levels.put_wall_oi == 4925.0
    assert both.levels.call_wall_oi == 5025.0
    # walls by GEX: 9000 calls at 5025 (half a 4-hour sigma away: gamma x 0.34) outweigh 10 at the money
    assert near.levels.call_wall == 5025.0 and near.levels.abs_gamma == 5025.0
    # entries: nearest spot first, distances in points and percent
    d = [abs(e.distance) for e in both.levels.entries]
    assert d == sorted(d)
    for e in both.levels.entries:
        assert e.distance == pytest.approx(e.price - both.spot)
        assert e.distance_percent == pytest.approx(e.distance / both.spot)
    names = {e.name for e in both.levels.entries}
    assert {"call wall", "put wall OI", "max pain", "EM high", "EM low"} <= names
    # the expected move is the nearest expiry's, to its settlement
    assert both.levels.expected_move_to == both.expiry_rows[0].expiration
    assert both.levels.expected_move == both.expiry_rows[0].expected_move


def test_quarterly_futures_dates() -> None:
    assert third_friday(2026, 3) == date(2026, 3, 20)
    assert third_friday(2026, 12) == date(2026, 12, 18)
    # before the roll (8 days ahead of settlement) the front is March; after it, June
    assert front_quarterly(datetime(2026, 3, 2, 17, tzinfo=UTC)).date() == date(2026, 3, 20)
    assert front_quarterly(datetime(2026, 3, 13, 17, tzinfo=UTC)).date() == date(2026, 6, 19)
    assert front_quarterly(datetime(2026, 12, 15, 17, tzinfo=UTC)).date() == date(2027, 3, 19)
    assert front_quarterly(AS_OF).astimezone(NY).hour == 9


def test_parity_forward_interpolates_and_extrapolates_the_carry() -> None:
    S, c = 5000.0, 0.03
    curve = [(t, S * math.exp(c * t)) for t in (0.01, 0.05, 0.2)]
    for tau in (0.005, 0.03, 0.1, 0.5):
        assert parity_forward(S, curve, tau) == pytest.approx(S * math.exp(c * tau), rel=1e-12)
    assert math.isnan(parity_forward(S, [], 0.1))


def test_futures_levels_from_a_chain_with_a_known_basis() -> None:
    """A chain priced on F = S e^{(r-q) tau} with r - q = 3.2 %: the ES fair value at the
    March future's settlement is S e^{0.032 tau_fut}, recovered from the options' parity
    forwards (expiries on both sides of it), and every level maps by F_fut / S."""
    r, q = 0.045, 0.013
    fut_settle = datetime(2026, 3, 20, 9, 30, tzinfo=NY)
    tau_fut = (fut_settle - AS_OF).total_seconds() / (365 * 86400)
    chain, _ = synthetic_chain(
        r=r,
        q=q,
        minutes=3 * 1440.0 + 240.0,
        extra_expiries=(14 * 1440.0 + 240.0, 30 * 1440.0 + 240.0),
    )
    config = EngineConfig(cloud=PressureCloudConfig())
    a = analyze_scope(chain, config=config, scope=ExpiryScope(ScopeKind.ALL))
    assert a.levels is not None and a.levels.futures is not None
    f = a.levels.futures
    truth = 5000.0 * math.exp((r - q) * tau_fut)
    assert f.product == "ES" and f.source == "parity"
    assert f.expiration == fut_settle
    assert f.price == pytest.approx(truth, abs=0.25)
    assert f.basis == pytest.approx(truth - 5000.0, abs=0.25)
    for e in a.levels.entries:
        assert e.futures == pytest.approx(e.price * f.price / 5000.0, rel=1e-12)
    # a live futures price wins, and says so
    b = analyze_scope(chain, config=config, futures_price=5031.5)
    assert b.levels is not None and b.levels.futures is not None
    assert b.levels.futures.source == "feed" and b.levels.futures.basis == pytest.approx(31.5)
    # SPY -> ES: ratio 10 scales the fair value
    spy = futures_basis("ES", 10.0, 500.0, AS_OF, [(0.1, 501.0)])
    assert spy is not None
    assert spy.price == pytest.approx(5000.0 * (501.0 / 500.0) ** (tau_fut / 0.1), rel=1e-12)
    assert spy.basis == pytest.approx(spy.price - 5000.0) and spy.factor == spy.price / 500.0
    # no mapping configured: no futures levels
    none = analyze_scope(chain, config=EngineConfig(cloud=PressureCloudConfig(futures=())))
    assert none.levels is not None and none.levels.futures is None
    assert all(math.isnan(e.futures) for e in none.levels.entries)
