"""The expiry scope (docs/METHOD.md "Expiry scope"): which expiries a scope holds, and the
scope's sums against the sums of per-expiry analyses and against by-hand numbers."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from hedgeflow.engine.charm import compute_charm_integral
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.exposure import sum_exposures
from hedgeflow.engine.pipeline import AnalysisError, analyze_chain, build_books, live_expiries
from hedgeflow.engine.regime import smile_interpolant
from hedgeflow.engine.scope import (
    ExpiryScope,
    ScopeKind,
    analyze_scope,
    parse_scope,
    scope_expiries,
    sum_charm,
)
from hedgeflow.engine.types import ExposurePerExpiry
from hedgeflow.feeds.files import read_chain_file
from tests.engine.option_books import make_book
from tests.engine.smile_chains import AS_OF, synthetic_chain

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
DAY = 1440.0
# Monday 12:00 New York: today 16:00, Tuesday 16:00, Thursday 16:00, in 10 days
EXPIRIES = (240.0, DAY + 240.0, 3 * DAY + 240.0, 10 * DAY + 240.0)


@pytest.fixture(scope="module")
def chain():
    c, _ = synthetic_chain(minutes=EXPIRIES[0], extra_expiries=EXPIRIES[1:], seed=3)
    return c


def _epochs(minutes: tuple[float, ...]) -> list[float]:
    return [(AS_OF + timedelta(minutes=m)).timestamp() for m in minutes]


def test_each_scope_holds_the_expiries_it_names(chain) -> None:
    live = live_expiries(chain)
    assert list(scope_expiries(chain, ExpiryScope(ScopeKind.ZERO_DTE), live)) == _epochs(
        EXPIRIES[:1]
    )
    assert list(scope_expiries(chain, ExpiryScope(ScopeKind.NEXT_SESSION), live)) == _epochs(
        EXPIRIES[1:2]
    )
    within = scope_expiries(chain, ExpiryScope(ScopeKind.WITHIN_DAYS, days=4), live)
    assert list(within) == _epochs(EXPIRIES[:3])
    assert list(scope_expiries(chain, ExpiryScope(ScopeKind.ALL), live)) == _epochs(EXPIRIES)
    one = _epochs(EXPIRIES[2:3])[0]
    assert list(scope_expiries(chain, ExpiryScope(ScopeKind.EXPIRY, expiry=one), live)) == [one]
    with pytest.raises(AnalysisError, match="no live expiry in the scope ≤0.01d"):
        scope_expiries(chain, ExpiryScope(ScopeKind.WITHIN_DAYS, days=0.01), live)


def test_the_scope_key_cycles_and_the_cli_words_parse() -> None:
    s = ExpiryScope()
    labels = []
    for _ in range(6):
        labels.append(s.label)
        s = s.cycled()
    assert labels == ["nearest", "0DTE", "next session", "≤7d", "all", "nearest"]
    assert parse_scope("30d") == ExpiryScope(ScopeKind.WITHIN_DAYS, 30.0)
    assert parse_scope("days", 5) == ExpiryScope(ScopeKind.WITHIN_DAYS, 5.0)
    assert parse_scope("ALL").kind is ScopeKind.ALL
    with pytest.raises(ValueError, match="expected nearest"):
        parse_scope("weekly")


def test_the_nearest_scope_is_the_single_expiry_analysis_exactly(chain) -> None:
    a = analyze_chain(chain)
    s = analyze_scope(chain)
    assert s.scope == "nearest"
    assert np.array_equal(s.hedge_flow.impulse_curve.impulse, a.hedge_flow.impulse_curve.impulse)
    assert s.hedge_flow.charm_integral.total_charm_to_close == (
        a.hedge_flow.charm_integral.total_charm_to_close
    )
    assert s.repriced is not None and a.repriced is not None
    assert np.array_equal(s.repriced.impulse, a.repriced.impulse)
    assert s.repriced.zero_gamma_levels == a.repriced.zero_gamma_levels
    assert np.array_equal(s.exposure.gamma, a.exposure.gamma)
    assert [r.in_scope for r in s.expiry_rows] == [True, False, False, False]
    assert sum(r.gex_share for r in s.expiry_rows) == pytest.approx(1.0)


@pytest.mark.parametrize("kind", [ScopeKind.ALL, ScopeKind.WITHIN_DAYS])
def test_the_scope_sum_is_the_sum_of_the_per_expiry_analyses(chain, kind) -> None:
    s = analyze_scope(chain, scope=ExpiryScope(kind, days=4))
    epochs = [r.expiration.timestamp() for r in s.expiry_rows if r.in_scope]
    assert len(epochs) == (4 if kind is ScopeKind.ALL else 3)
    each = [analyze_chain(chain, expiry=e) for e in epochs]
    curve = s.hedge_flow.impulse_curve
    # the impulse density on the common grid and the strike totals
    np.testing.assert_allclose(
        curve.impulse,
        np.sum([a.hedge_flow.impulse_curve.impulse for a in each], axis=0),
        rtol=1e-12,
        atol=1e-9 * np.abs(curve.impulse).max(),
    )
    assert curve.impulse_total == pytest.approx(
        sum(a.hedge_flow.impulse_curve.impulse_total for a in each), rel=1e-12
    )
    assert s.hedge_flow.charm_integral.total_charm_to_close == pytest.approx(
        sum(a.hedge_flow.charm_integral.total_charm_to_close for a in each), rel=1e-12
    )
    assert s.hedge_flow.charm_integral.settlement_step == pytest.approx(
        sum(a.hedge_flow.charm_integral.settlement_step for a in each), rel=1e-12
    )
    # each expiry's own charm and settlement step, apart, in its row
    rows = [r for r in s.expiry_rows if r.in_scope]
    for row, a in zip(rows, each, strict=True):
        assert row.charm_total == a.hedge_flow.charm_integral.total_charm_to_close
        assert row.settlement_step == a.hedge_flow.charm_integral.settlement_step
        assert row.impulse == a.hedge_flow.impulse_curve.impulse_total
    # the 0DTE settles at today's close: its step is apart and non-zero, the others' are 0
    assert rows[0].settlement_step != 0 and all(r.settlement_step == 0 for r in rows[1:])
    # the repriced profile reprices every expiry: the sum of each expiry's profile
    assert s.repriced is not None
    np.testing.assert_allclose(
        s.repriced.impulse,
        np.sum([a.repriced.impulse for a in each], axis=0),  # type: ignore[union-attr]
        rtol=1e-9,
        atol=1e-9 * np.abs(s.repriced.impulse).max(),
    )
    assert s.repriced.impulse_at_spot == pytest.approx(curve.impulse_total, rel=1e-9)
    # per-strike exposures on the union of strikes
    gex = {}
    for a in each:
        for k, g in zip(a.exposure.strikes, a.exposure.gamma, strict=True):
            gex[k] = gex.get(k, 0.0) + g
    assert list(s.exposure.strikes) == sorted(gex)
    np.testing.assert_allclose(s.exposure.gamma, [gex[k] for k in sorted(gex)], rtol=1e-12)
    # the zones follow the summed curve
    assert s.pressure_cloud.total_contracts.contracts["ES"] == pytest.approx(
        -curve.impulse_total / (50.0 * s.spot), rel=1e-12
    )


def _delta(S, K, tau, sigma, r, q, call):
    d1 = (math.log(S / K) + (r - q + 0.5 * sigma * sigma) * tau) / (sigma * math.sqrt(tau))
    e = math.exp(-q * tau)
    return e * norm.cdf(d1) if call else -e * norm.cdf(-d1)


def test_a_two_expiry_charm_by_hand() -> None:
    """Two hand-made books (1 and 3 days out) to a horizon 6 hours away: the summed charm is
    sum pos m (Delta(tau - 6h) - Delta(tau)) S over both books' options, by hand."""
    strikes = np.array([5400.0, 5500.0, 5600.0])
    b1 = make_book(tau_days=1.0, strikes=strikes, seed=1)
    b2 = make_book(tau_days=3.0, strikes=strikes + 50.0, seed=2)
    now = b1.as_of
    horizon = now + timedelta(hours=6)
    total = sum_charm([compute_charm_integral(b, now=now, horizon=horizon) for b in (b1, b2)])
    by_hand = 0.0
    for b in (b1, b2):
        for K, sig, call, pos in zip(b.strike, b.iv, b.is_call, b.position, strict=True):
            d0 = _delta(b.spot, K, b.tau, sig, b.r, b.q, call)
            d1 = _delta(b.spot, K, b.tau - 0.25 / 365.0, sig, b.r, b.q, call)
            by_hand += pos * 100.0 * (d1 - d0) * b.spot
    assert total.total_charm_to_close == pytest.approx(by_hand, rel=1e-9)
    assert total.cumulative_cex[-1] == total.total_charm_to_close
    assert set(total.contribution_strikes) == {5400.0, 5450.0, 5500.0, 5550.0, 5600.0, 5650.0}
    assert float(np.sum(total.strike_contribution)) == pytest.approx(by_hand, rel=1e-9)


def test_sum_exposures_sums_every_per_strike_array_field() -> None:
    t = AS_OF
    a = ExposurePerExpiry(
        5000.0,
        t,
        np.array([10.0, 20.0]),
        np.array([1.0, 2.0]),
        np.array([3.0, 4.0]),
        np.array([5.0, 6.0]),
    )
    b = ExposurePerExpiry(
        5000.0,
        t,
        np.array([20.0, 30.0]),
        np.array([10.0, 20.0]),
        np.array([30.0, 40.0]),
        np.array([50.0, 60.0]),
    )
    s = sum_exposures([a, b], t)
    assert list(s.strikes) == [10.0, 20.0, 30.0]
    assert list(s.gamma) == [1.0, 12.0, 20.0]
    assert list(s.vanna) == [3.0, 34.0, 40.0]
    assert list(s.charm) == [5.0, 56.0, 60.0]


def _gamma_exposure(books, S):
    """sum pos m gamma(S) S^2 0.01 over every option, IV fixed, forward moving with S."""
    total = 0.0
    for b in books:
        if b.tau <= 60 / (365 * 86400):
            continue
        ok = np.isfinite(b.iv) & (b.iv > 0)
        K, sig, w = b.strike[ok], b.iv[ok], (b.position * b.multiplier)[ok]
        d1 = (np.log(S / K) + (b.r - b.q + 0.5 * sig**2) * b.tau) / (sig * np.sqrt(b.tau))
        gamma = np.exp(-b.q * b.tau) * norm.pdf(d1) / (S * sig * np.sqrt(b.tau))
        total += float(np.sum(w * gamma)) * S * S * 0.01
    return total


def _repriced_impulse(books, S, R):
    """H(S') repriced independently: every option's IV translated along its smile,
    sigma_i(S') = iv_i + Sigma(ln K - (1 - R) ln(S'/S)) - Sigma(ln K), coupling
    k_i = -(R - 1) Sigma'(...), H = sum pos m (gamma S'^2 - k vanna S') 0.01."""
    total = 0.0
    for b in books:
        if b.tau <= 60 / (365 * 86400):
            continue
        smile = smile_interpolant(b.surface)
        x = np.log(b.strike) - (1 - R) * math.log(S / b.spot)
        sig_x, slope = smile.at_log(x)
        sig0, _ = smile.at_log(np.log(b.strike))
        sig = b.iv + sig_x - sig0
        k = -(R - 1) * slope
        st = sig * math.sqrt(b.tau)
        d1 = (np.log(S / b.strike) + (b.r - b.q) * b.tau) / st + 0.5 * st
        pdf = np.exp(-b.q * b.tau) * norm.pdf(d1)
        gamma = pdf / (S * st)
        vanna = -pdf * (d1 - st) / sig
        w = b.position * b.multiplier
        total += float(np.sum(w * (gamma * S * S - k * vanna * S))) * 0.01
    return total


def test_the_all_expiry_repriced_profile_matches_an_independent_repricing() -> None:
    """SPX 2023-06-09, every expiry: the zero gamma nearest spot and the flip level nearest
    spot are where an independent repricing of every option crosses zero."""
    chain = read_chain_file(REAL / "spx_quotedata_2023-06-09.csv")
    s = analyze_scope(chain, scope=ExpiryScope(ScopeKind.ALL))
    books = list(build_books(chain, EngineConfig())[0].values())
    assert all(r.in_scope for r in s.expiry_rows) and len(s.expiry_rows) == len(books)
    assert s.levels is not None and s.repriced is not None
    z = s.levels.zero_gamma
    assert z is not None
    root = brentq(lambda x: _gamma_exposure(books, x), z - 0.01 * z, z + 0.01 * z, xtol=1e-6)
    assert z == pytest.approx(root, abs=0.05)
    flip = s.repriced.nearest_flip
    assert flip is not None
    R = s.repriced.skew_stickiness
    line = lambda x: _repriced_impulse(books, x, R)  # noqa: E731
    # the independent line at spot is the strike total
    assert line(s.spot) == pytest.approx(s.hedge_flow.impulse_curve.impulse_total, rel=1e-6)
    lo, hi = flip - 0.004 * flip, flip + 0.004 * flip
    assert line(lo) * line(hi) < 0
    assert flip == pytest.approx(brentq(line, lo, hi, xtol=1e-6), abs=0.05)


def test_a_chosen_expiry_and_the_floe_model_are_the_single_expiry_analysis(chain) -> None:
    from datetime import date

    from hedgeflow.engine.enums import EngineModel

    day = date(2026, 3, 5)  # Thursday's expiry
    a = analyze_chain(chain, expiry=day)
    s = analyze_scope(chain, expiry=day)
    assert s.scope == "2026-03-05"
    assert s.expiration == a.expiration
    assert np.array_equal(s.hedge_flow.impulse_curve.impulse, a.hedge_flow.impulse_curve.impulse)
    assert [r.in_scope for r in s.expiry_rows] == [False, False, True, False]
    floe = EngineConfig(model=EngineModel.FLOE)
    f = analyze_scope(chain, config=floe)
    g = analyze_chain(chain, config=floe)
    assert np.array_equal(f.hedge_flow.impulse_curve.impulse, g.hedge_flow.impulse_curve.impulse)
    assert f.levels is not None and f.repriced is None
    with pytest.raises(AnalysisError, match="needs the physical model"):
        analyze_scope(chain, config=floe, scope=ExpiryScope(ScopeKind.ALL))


def test_sum_exposures_sums_the_delta_and_each_right_too(chain) -> None:
    s = analyze_scope(chain, scope=ExpiryScope(ScopeKind.ALL))
    each = [analyze_chain(chain, expiry=r.expiration.timestamp()) for r in s.expiry_rows]
    x = s.exposure
    assert x.delta is not None and x.calls is not None and x.puts is not None
    by_k: dict[float, float] = {}
    for a in each:
        assert a.exposure.delta is not None
        for k, d in zip(a.exposure.strikes, a.exposure.delta, strict=True):
            by_k[k] = by_k.get(k, 0.0) + d
    np.testing.assert_allclose(x.delta, [by_k[k] for k in x.strikes], rtol=1e-12)
    np.testing.assert_allclose(x.calls.gamma + x.puts.gamma, x.gamma, rtol=1e-9, atol=1e-6)
    # the levels' net DEX is the summed DEX
    assert s.levels is not None
    assert s.levels.net_dex == pytest.approx(float(np.sum(x.delta)), rel=1e-9)


def test_the_levels_card_and_the_regime_pane_give_one_expected_move(chain) -> None:
    """The nearest expiry's expected move to its settlement is one number wherever it is
    shown: the scope's row (the levels card) and the regime parameters (the regime pane)
    use one ATM IV (`regime.atm_iv`); they differed by 1 % (±31.8 against ±32.11)."""
    a = analyze_scope(chain, scope=parse_scope("all"))
    rp = a.hedge_flow.regime_params
    row = next(r for r in a.expiry_rows if r.expiration == a.expiration)
    horizon_tau = (a.expiration - a.as_of).total_seconds() / (365.0 * 86400.0)
    assert a.levels is not None
    assert row.expected_move == pytest.approx(a.spot * rp.atm_iv * math.sqrt(horizon_tau))
    assert a.levels.expected_move == row.expected_move


@pytest.mark.parametrize("extra", [(), (1440.0, 9000.0)])
def test_rows_reuse_the_base_analysis_and_equal_fresh_computations(extra: tuple) -> None:
    """The nearest scope's rows take the analyzed expiry's exposures from the base analysis
    and, on a chain with one built expiry, its zero gamma from the all-expiry line: the
    same numbers as computing them afresh (`compute_exposures`, `zero_gamma_profile`)."""
    from hedgeflow.engine.exposure import compute_exposures
    from hedgeflow.engine.reprice import zero_gamma_profile

    one, _ = synthetic_chain(minutes=180.0, extra_expiries=extra)
    result = analyze_scope(one, config=EngineConfig())
    books, _ = build_books(one, EngineConfig())
    book = books[min(books)]
    curve = result.hedge_flow.impulse_curve
    _, zeros = zero_gamma_profile([book], curve.price, search_range=result.repriced.search_range)
    row = result.expiry_rows[0]
    assert row.in_scope
    want = min(zeros, key=lambda z: abs(z - book.spot)) if zeros else None
    assert row.zero_gamma == want
    assert row.net_gex == float(compute_exposures(book).gamma.sum())
    for e, r in zip(sorted(books), result.expiry_rows, strict=True):
        assert r.net_gex == float(compute_exposures(books[e]).gamma.sum())
