"""The engine's fast paths against the straightforward computations they replace.

Each optimized kernel (precomputed Hermite pieces, repriced profile and zero-gamma
line with folded factors) is checked here against a plain evaluation written out in
the test from the textbook greeks (`hedgeflow.black76.greeks`) and the smile
interpolant's reference methods (`SmileInterpolant.__call__` / `log_slope`), on books
built to reach the edge cases: exact nodes and ends, a floored Hermite overshoot,
translated IVs below zero (masked), far strikes with huge positions, several expiries.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgeflow.engine.black76 import MIN_GREEK_TAU, greeks
from hedgeflow.engine.book import ExpiryBook
from hedgeflow.engine.charm import valid_options
from hedgeflow.engine.impulse import price_grid
from hedgeflow.engine.lattice import lattice_pieces
from hedgeflow.engine.regime import smile_interpolant
from hedgeflow.engine.reprice import compute_repriced_profile, zero_gamma_profile
from hedgeflow.engine.types import IVSurface
from tests.engine.option_books import make_book

EXP = datetime(2025, 1, 2, 21, tzinfo=UTC)


# --------------------------------------------------------------------------- references


def reference_line(book: ExpiryBook, prices: np.ndarray, R: float) -> tuple[np.ndarray, int]:
    """H(S') (or the fixed-IV gamma line for R = 1) option by option from the closed-form
    greeks: sum pos m (gamma S'^2 0.01 - k vanna S' 0.01), the translated IV
    iv + Sigma(ln K - (1 - R) ln(S'/S)) - Sigma(ln K) masked where not positive.
    Returns (line, distinct strikes with a masked cell)."""
    valid = valid_options(book)
    K = book.strike[valid]
    iv0 = book.iv[valid]
    w = book.position[valid] * book.multiplier[valid]
    S = prices[:, None]
    if not book.tau >= MIN_GREEK_TAU:
        return np.zeros(prices.size), 0
    if R == 1.0:
        sigma = np.broadcast_to(iv0, (prices.size, K.size))
        k = np.zeros_like(sigma)
    else:
        sm = smile_interpolant(book.surface)
        KT = K * (S / book.spot) ** (-(1.0 - R))  # e^{ln K - (1 - R) ln(S'/S)}
        sigma = iv0 + sm(KT) - sm(K)
        k = -(R - 1.0) * sm.log_slope(KT)
    ok = np.isfinite(sigma) & (sigma > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = greeks(S, K, book.tau, np.where(ok, sigma, 1.0), book.r, book.q, True)
        cell = g.gamma * S * S * 0.01 - k * g.vanna * S * 0.01
    cell = np.where(ok, cell, 0.0)
    masked_strikes = np.unique(K[(~ok).any(axis=0)]).size
    return cell @ w, masked_strikes


def assert_line_close(got: np.ndarray, want: np.ndarray) -> None:
    scale = float(np.max(np.abs(want)))
    assert scale > 0
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-11 * scale)


# --------------------------------------------------------------------------- at_log


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 12),
    seed=st.integers(0, 2**32 - 1),
    wild=st.booleans(),
)
def test_at_log_pieces_equal_the_reference_interpolant(n: int, seed: int, wild: bool) -> None:
    rng = np.random.default_rng(seed)
    strikes = np.sort(rng.choice(np.arange(3000.0, 7000.0, 5.0), n, replace=False))
    # wild: IVs jumping by orders of magnitude, so the cubic overshoots and the floor binds
    iv = rng.uniform(0.01, 3.0, n) if wild else 0.2 + 0.05 * rng.standard_normal(n) ** 2
    smile = smile_interpolant(IVSurface(EXP, strikes, iv, iv, 5000.0, 0.01))
    inside = rng.uniform(strikes[0], strikes[-1], 200)
    K = np.concatenate((strikes, inside, [strikes[0] * 0.5, strikes[-1] * 2.0, 1e-3, 1e9]))
    value, slope = smile.at_log(np.log(K))
    top = float(np.max(iv))  # rounding is relative to the cubic's terms, not its value
    np.testing.assert_allclose(value, smile(K), rtol=1e-12, atol=1e-14 * top)
    scale = float(np.max(np.abs(smile.slope)))
    np.testing.assert_allclose(slope, smile.log_slope(K), rtol=1e-10, atol=1e-12 * scale)
    # exactly on the end nodes: the end cubics (node slope), beyond them flat (slope 0)
    ends, end_slope = smile.at_log(smile.x[[0, -1]])
    # the last cubic at its far end: rounding relative to its terms, of order slope x width
    # (two strikes 5 points apart give slopes of hundreds: terms of +-57 summing to 0.2)
    terms = top + float(np.max(np.abs(smile.slope) * np.append(np.diff(smile.x), 0.0)))
    terms = max(terms, top + float(np.max(np.abs(smile.slope[1:]) * np.diff(smile.x))))
    np.testing.assert_allclose(ends, iv[[0, -1]], rtol=1e-14, atol=1e-14 * terms)
    np.testing.assert_allclose(end_slope, smile.slope[[0, -1]], rtol=1e-12)
    _, out_slope = smile.at_log(np.array([smile.x[0] - 1e-9, smile.x[-1] + 1e-9]))
    assert np.all(out_slope == 0.0)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 40),
    seed=st.integers(0, 2**32 - 1),
    near_one=st.booleans(),
)
def test_piece_index_equals_searchsorted(n: int, seed: int, near_one: bool) -> None:
    """The interpolated piece search (large arrays) against np.searchsorted, on the
    breakpoints themselves, one ulp either side of them, and wide gaps around ln K ~ 0
    (strikes near 1, where a position rounds up to the next breakpoint most easily)."""
    rng = np.random.default_rng(seed)
    base = np.exp(rng.uniform(-3.0, 3.0, n)) if near_one else rng.uniform(1000.0, 9000.0, n)
    strikes = np.unique(np.round(base, 6))
    if strikes.size < 2:
        return
    iv = rng.uniform(0.1, 0.5, strikes.size)
    smile = smile_interpolant(IVSurface(EXP, strikes, iv, iv, float(strikes.mean()), 0.01))
    br = smile._pieces[0]
    pts = np.concatenate((br, np.nextafter(br, -np.inf), np.nextafter(br, np.inf), smile.x))
    lo, hi = float(smile.x[0]), float(smile.x[-1])
    x = np.concatenate((pts, rng.uniform(lo - 0.5, hi + 0.5, 700 - pts.size % 700)))
    rows = np.sort(x).reshape(-1, 1) if x.size % 2 else np.sort(x).reshape(2, -1)
    for arr in (x, rows, rng.permutation(x)):
        np.testing.assert_array_equal(
            smile._piece_index(arr), np.searchsorted(br, arr, side="right")
        )
    with_nan = x.copy()
    with_nan[3] = np.nan
    np.testing.assert_array_equal(
        smile._piece_index(with_nan), np.searchsorted(br, with_nan, side="right")
    )


def test_at_log_keeps_shape_and_handles_one_node() -> None:
    strikes = np.array([4900.0, 5000.0, 5100.0])
    iv = np.array([0.25, 0.2, 0.18])
    smile = smile_interpolant(IVSurface(EXP, strikes, iv, iv, 5000.0, 0.01))
    x = np.log(np.linspace(4800.0, 5200.0, 12)).reshape(3, 4)
    value, slope = smile.at_log(x)
    assert value.shape == slope.shape == (3, 4)
    np.testing.assert_allclose(value.ravel(), smile(np.exp(x.ravel())), rtol=1e-12)
    for scalar in (math.log(5050.0), np.float64(math.log(4950.0)), np.array(math.log(5000.0))):
        v0, s0 = smile.at_log(scalar)
        assert v0.shape == s0.shape == ()
        assert float(v0) == pytest.approx(float(smile(math.exp(scalar))), rel=1e-13)
        assert float(s0) == pytest.approx(float(smile.log_slope(math.exp(scalar))), rel=1e-12)
    one = smile_interpolant(IVSurface(EXP, strikes[:1], iv[:1], iv[:1], 5000.0, 0.01))
    v1, s1 = one.at_log(x)
    assert np.all(v1 == 0.25) and np.all(s1 == 0.0)


# --------------------------------------------------------------------------- repriced profile


@pytest.mark.parametrize("R", [0.0, 0.5, 1.0, 1.5, 3.0])
@pytest.mark.parametrize("tau_days", [0.02, 0.3, 5.0, 60.0])
def test_repriced_profile_equals_option_by_option_greeks(R: float, tau_days: float) -> None:
    book = make_book(tau_days=tau_days, seed=int(tau_days * 100))
    prices = price_grid(book.spot, 3.0, 0.05)
    prof = compute_repriced_profile(book, prices, skew_stickiness=R)
    want, masked = reference_line(book, np.append(prices, book.spot), R)
    assert_line_close(np.append(prof.impulse, prof.impulse_at_spot), want)
    assert prof.masked_options == masked


def test_far_strikes_with_huge_positions_still_count() -> None:
    """Deep wings carrying 1e6 times the near-money open interest, 15-minute expiry: every
    strike whose contribution is not negligible must be in the line."""
    strikes = np.concatenate((np.arange(4000.0, 5000.0, 25.0), np.arange(5400.0, 5600.0, 5.0),
                              np.arange(6000.0, 7000.0, 25.0)))  # fmt: skip
    book = make_book(strikes=strikes, tau_days=15.0 / 1440.0, seed=3)
    far = np.abs(book.strike - book.spot) > 300
    book = replace(book, position=np.where(far, book.position * 1e6, book.position))
    for R in (1.0, 1.5):
        prices = price_grid(book.spot, 8.0, 0.05)
        prof = compute_repriced_profile(book, prices, skew_stickiness=R)
        want, _ = reference_line(book, prices, R)
        assert_line_close(prof.impulse, want)
        line, _ = zero_gamma_profile([book], prices)
        assert_line_close(line, reference_line(book, prices, 1.0)[0])


def test_masked_cells_where_the_translated_iv_is_not_positive() -> None:
    book = make_book(tau_days=2.0, seed=5)
    low = replace(book, iv=book.iv * 0.02)  # own IV far below the smile: sigma(S') < 0 away
    prices = price_grid(book.spot, 3.0, 0.05)
    for R in (0.0, 2.5):
        prof = compute_repriced_profile(low, prices, skew_stickiness=R)
        want, masked = reference_line(low, np.append(prices, book.spot), R)
        assert masked > 0
        assert prof.masked_options == masked
        assert_line_close(np.append(prof.impulse, prof.impulse_at_spot), want)


@pytest.mark.parametrize("block_cells", [None, 1, 700, 5000])
def test_zero_gamma_line_over_several_expiries_equals_the_sum_of_references(
    block_cells: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if block_cells is not None:  # rows in blocks (a whole chain's array is blocked)
        monkeypatch.setattr("hedgeflow.engine.reprice._BLOCK_CELLS", block_cells)
    books = [
        make_book(tau_days=d, seed=i, r=0.04 + 0.001 * i, q=0.01 * i)
        for i, d in enumerate((0.05, 1.0, 3.0, 30.0, 200.0))
    ]
    books.append(make_book(tau_days=20.0 / 86400.0, seed=9))  # under 60 s: adds nothing
    prices = price_grid(books[0].spot, 5.0, 0.1)
    line, levels = zero_gamma_profile(books, prices)
    want = sum(reference_line(b, prices, 1.0)[0] for b in books)
    assert_line_close(line, want)
    assert all(prices[0] <= lv <= prices[-1] for lv in levels)


@settings(max_examples=25, deadline=None)
@given(
    tau_days=st.floats(0.002, 400.0),
    R=st.floats(0.0, 3.0),
    seed=st.integers(0, 10_000),
    spot_shift=st.floats(-0.08, 0.08),
)
def test_repriced_profile_property(tau_days: float, R: float, seed: int, spot_shift: float) -> None:
    book = make_book(tau_days=tau_days, seed=seed)
    book = replace(book, spot=book.spot * (1.0 + spot_shift))
    prices = price_grid(book.spot, 3.0, 0.05)
    prof = compute_repriced_profile(book, prices, skew_stickiness=R)
    want, masked = reference_line(book, np.append(prices, book.spot), R)
    assert prof.masked_options == masked
    scale = float(np.max(np.abs(want)))
    if scale == 0.0 or not math.isfinite(scale):
        assert np.all(prof.impulse == 0.0)
        return
    assert_line_close(np.append(prof.impulse, prof.impulse_at_spot), want)


# --------------------------------------------------------------------------- pipeline sharing


@pytest.mark.parametrize(
    "extra", [(), (60.0 * 24 * 3,), (60.0 * 24 * 10, 60.0 * 24 * 40)], ids=["0dte", "3d", "far"]
)
def test_pipeline_shared_smile_and_regime_equal_fresh_computations(extra: tuple) -> None:
    """analyze_chain builds the smile interpolant once and reuses the regime fit `_regime_iv`
    made when it is of the analyzed book; the public stage functions, each building its own,
    must give the same results."""
    from hedgeflow.engine.config import EngineConfig
    from hedgeflow.engine.exposure import compute_exposures
    from hedgeflow.engine.pipeline import analyze_chain, analyze_hedge_flow, build_books
    from hedgeflow.engine.regime import derive_regime_params
    from tests.engine.smile_chains import synthetic_chain

    chain, _ = synthetic_chain(minutes=200.0, extra_expiries=extra, seed=2)
    config = EngineConfig()
    got = analyze_chain(chain, config=config)
    by_epoch, _ = build_books(chain, config)
    books = sorted(by_epoch.values(), key=lambda b: b.tau)
    book = books[0]
    # the regime IV as documented: nearest >= 7-day ATM IV, else the farthest converted
    far = [b for b in books if b.tau * 365.0 >= 7.0]
    reg_book = far[0] if far else books[-1]
    reg = derive_regime_params(reg_book.surface, reg_book.spot, horizon_tau=reg_book.tau)
    regime_iv = reg.atm_iv if far else reg.regime_iv
    want = analyze_hedge_flow(
        compute_exposures(book), book.surface, now=chain.as_of, book=book, regime_iv=regime_iv
    )
    assert got.hedge_flow.regime_params == want.regime_params
    np.testing.assert_array_equal(got.hedge_flow.impulse_curve.impulse, want.impulse_curve.impulse)
    assert got.hedge_flow.impulse_curve.impulse_total == want.impulse_curve.impulse_total
    fresh = compute_repriced_profile(
        book, got.repriced.price, search_range=got.repriced.search_range
    )
    np.testing.assert_array_equal(got.repriced.impulse, fresh.impulse)
    assert got.repriced.flip_levels == fresh.flip_levels


def test_analyze_hedge_flow_one_interpolant_equals_the_stage_functions() -> None:
    """analyze_hedge_flow builds one smile interpolant for the regime fit and the impulse
    curve; each public stage function building its own must give the same results."""
    from hedgeflow.engine.charm import compute_charm_integral
    from hedgeflow.engine.config import EngineConfig
    from hedgeflow.engine.exposure import compute_exposures
    from hedgeflow.engine.impulse import compute_hedge_impulse_curve
    from hedgeflow.engine.pipeline import (
        SECONDS_PER_YEAR,
        analyze_hedge_flow,
        build_books,
        charm_horizon,
    )
    from hedgeflow.engine.regime import derive_regime_params
    from tests.engine.smile_chains import synthetic_chain

    chain, _ = synthetic_chain(minutes=200.0, seed=4)
    by_epoch, _ = build_books(chain, EngineConfig())
    book = by_epoch[min(by_epoch)]
    exposure = compute_exposures(book)
    now = chain.as_of
    got = analyze_hedge_flow(exposure, book.surface, now=now, book=book)
    horizon = charm_horizon(now, book.expiration)
    horizon_tau = (horizon - now).total_seconds() / SECONDS_PER_YEAR
    assert got.regime_params == derive_regime_params(
        book.surface, exposure.spot, horizon_tau=horizon_tau
    )
    curve = compute_hedge_impulse_curve(exposure, book.surface, now=now)
    np.testing.assert_array_equal(got.impulse_curve.impulse, curve.impulse)
    np.testing.assert_array_equal(got.impulse_curve.strike_coupling, curve.strike_coupling)
    assert got.impulse_curve.spot_vol_coupling == curve.spot_vol_coupling
    charm = compute_charm_integral(book, now=now, horizon=horizon)
    np.testing.assert_array_equal(got.charm_integral.cumulative_cex, charm.cumulative_cex)


# --------------------------------------------------------------------------- sorted unique


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.sampled_from([1.7e9, 1.7e9 + 3600.0, 1.8e9, -0.0, 0.0, float("nan"), float("inf")]),
        max_size=30,
    ),
    st.booleans(),
)
def test_sorted_unique_equals_np_unique(values: list, presort: bool) -> None:
    from hedgeflow.engine.chain import sorted_unique

    v = np.array(values, dtype=np.float64)
    if presort:
        v = np.sort(v)
    got, want = sorted_unique(v), np.unique(v)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype


# --------------------------------------------------------------------------- netting


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([4990.0, 5000.0, 5005.0, 5010.0]), st.sampled_from([0.2, 0.25])),
        min_size=0,
        max_size=12,
    ),
    st.booleans(),
)
def test_net_by_strike_equals_the_lexsort_grouping(rows: list, book_order: bool) -> None:
    from hedgeflow.engine.reprice import _net_by_strike

    if book_order:  # strike ascending, one IV per strike (a built book)
        rows = sorted((k, 0.2 + k / 1e5) for k, _ in rows)
    K = np.array([k for k, _ in rows], dtype=np.float64)
    iv = np.array([v for _, v in rows], dtype=np.float64)
    w = np.arange(1.0, K.size + 1.0) ** 1.5
    order = np.lexsort((iv, K))
    keys = sorted({(k, v) for k, v in zip(K.tolist(), iv.tolist(), strict=True)})
    want_w = [float(sum(w[order][(K[order] == k) & (iv[order] == v)])) for k, v in keys]
    gK, giv, gw = _net_by_strike(K, iv, w)
    assert gK.tolist() == [k for k, _ in keys] and giv.tolist() == [v for _, v in keys]
    np.testing.assert_allclose(gw, want_w, rtol=1e-15)


# --------------------------------------------------------------------------- charm grouping


def _shuffled(book: ExpiryBook, seed: int) -> ExpiryBook:
    perm = np.random.default_rng(seed).permutation(book.strike.size)
    return replace(
        book,
        strike=book.strike[perm],
        is_call=book.is_call[perm],
        position=book.position[perm],
        multiplier=book.multiplier[perm],
        iv=book.iv[perm],
    )


@pytest.mark.parametrize("tau_days", [0.1, 2.0])
def test_charm_integral_book_order_and_any_order_agree_with_closed_form(tau_days: float) -> None:
    """The grouping skips its sort on a book in strike order; any other order (and two IVs
    at one strike) takes the sort. Both equal the option-by-option dollar delta."""
    from datetime import timedelta

    from hedgeflow.engine.charm import compute_charm_integral

    book = make_book(tau_days=tau_days, seed=7)
    twin = replace(book, iv=np.where(book.is_call, book.iv, book.iv * 1.01))  # put IV differs
    now = book.as_of
    horizon = min(book.expiration, now + timedelta(hours=5))
    for b in (book, _shuffled(book, 1), twin, _shuffled(twin, 2)):
        got = compute_charm_integral(b, now=now, horizon=horizon)
        tau0 = b.tau
        tau1 = (b.expiration - horizon).total_seconds() / (365.0 * 86400.0)

        def dollar_delta(tau: float, b: ExpiryBook = b) -> float:
            g = greeks(b.spot, b.strike, tau, b.iv, b.r, b.q, b.is_call)
            return float(np.sum(b.position * b.multiplier * g.delta * b.spot))

        want = dollar_delta(max(tau1, MIN_GREEK_TAU)) - dollar_delta(tau0)
        assert got.total_charm_to_close == pytest.approx(want, rel=1e-9, abs=1e-6)
        per_strike = {}
        for k in np.unique(b.strike):
            sel = b.strike == k
            g0 = greeks(b.spot, k, tau0, b.iv[sel], b.r, b.q, b.is_call[sel])
            g1 = greeks(b.spot, k, max(tau1, MIN_GREEK_TAU), b.iv[sel], b.r, b.q, b.is_call[sel])
            w = b.position[sel] * b.multiplier[sel] * b.spot
            per_strike[k] = float(np.sum(w * (g1.delta - g0.delta)))
        np.testing.assert_array_equal(got.contribution_strikes, np.unique(b.strike))
        np.testing.assert_allclose(
            got.strike_contribution,
            [per_strike[k] for k in got.contribution_strikes],
            rtol=1e-8,
            atol=1e-9 * float(np.max(np.abs(got.strike_contribution))),
        )


# --------------------------------------------------------------------------- implied vol


def test_implied_vol_batch_with_and_without_deep_wing_elements_is_elementwise() -> None:
    """The solver skips its deep-wing branch when no element needs it; an element solved
    alone (no wing in the batch) and inside a batch with deep-wing elements must come out
    bitwise the same, and every solution must reprice."""
    from hedgeflow.engine.black76 import price
    from hedgeflow.engine.iv import implied_vol

    F, tau = 5000.0, 2.0 / 365.0
    K = np.array([4000.0, 4500.0, 4900.0, 5000.0, 5100.0, 5600.0, 6500.0])
    sigma = np.array([0.45, 0.30, 0.2, 0.18, 0.16, 0.14, 0.25])
    call = K >= F
    p = price(F, K, tau, sigma, 0.04, call)
    batch, _ = implied_vol(p, F, K, tau, 0.04, call)
    alone = np.array(
        [implied_vol(p[i : i + 1], F, K[i], tau, 0.04, call[i])[0][0] for i in range(K.size)]
    )
    np.testing.assert_array_equal(batch, alone)
    np.testing.assert_allclose(batch, sigma, rtol=1e-9)
    # the deep wing really is in the batch: |ln(F/K)| > 3 sigma sqrt(tau) for the far strikes
    assert np.any(np.abs(np.log(F / K)) > 3.0 * sigma * np.sqrt(tau))


# --------------------------------------------------------------------------- impulse kernel


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    width=st.floats(0.5, 40.0),
    n_strikes=st.integers(1, 300),
)
def test_kernel_density_equals_the_plain_gaussian_sum(
    seed: int, width: float, n_strikes: int
) -> None:
    """The density skips strikes beyond 9 widths and evaluates exp only where it does not
    underflow to 0; against sum_K v_K exp(-((K - P)/w)^2) / (sqrt(pi) w) over every pair
    (strikes far beyond the grid included, where the weights underflow) it differs by no
    more than rounding of the largest term, and its weights are the plain ones bitwise."""
    from hedgeflow.engine.impulse import SQRT_PI, kernel_density

    rng = np.random.default_rng(seed)
    price = price_grid(5000.0, 3.0, 0.05)
    strikes = np.sort(rng.uniform(3000.0, 7000.0, n_strikes))
    values = rng.normal(0.0, 1e9, (n_strikes, 3)) * rng.choice([1e-6, 1.0, 1e3], (n_strikes, 1))
    got = kernel_density(price, strikes, values, width)
    z = (strikes[None, :] - price[:, None]) / width
    want = (np.exp(-(z * z)) @ values) / (SQRT_PI * width)
    scale = (np.exp(-(z * z)) @ np.abs(values)) / (SQRT_PI * width)
    # skipped strikes weigh < exp(-81) = 7e-36
    floor = 7e-36 * np.sum(np.abs(values), axis=0) / (SQRT_PI * width)
    assert np.all(np.abs(got - want) <= 1e-13 * scale + floor)
    # every strike in reach: the masked exp gives the plain weights bitwise (subnormal
    # ones included), so the density is the plain matrix product exactly
    near = kernel_density(price, strikes, values, 1e4)
    zn = (strikes[None, :] - price[:, None]) * (1.0 / 1e4)
    np.testing.assert_array_equal(near, (np.exp(-(zn * zn)) @ values) * (1.0 / (SQRT_PI * 1e4)))
    grid = np.linspace(-40.0, 40.0, 20001)
    ones = kernel_density(grid, np.array([0.0]), np.ones((1, 1)), 1.0)[:, 0]
    np.testing.assert_array_equal(ones, np.exp(-(grid * grid)) * (1.0 / SQRT_PI))
    assert np.count_nonzero((ones > 0) & (ones < 2.3e-308)) > 10  # subnormal weights kept


def test_cumulative_integral_equals_the_trapezoid_rule() -> None:
    """Clipped ends and the running trapezoid sum against np.trapezoid on the grid cut at x
    (x inside, on grid points, beyond both ends)."""
    from hedgeflow.engine.impulse import cumulative_integral

    rng = np.random.default_rng(3)
    price = np.cumsum(rng.uniform(0.5, 2.0, 50)) + 100.0
    values = rng.normal(size=50)
    xs = np.concatenate(
        ([price[0] - 5.0, price[-1] + 5.0], price[[0, 7, 49]], rng.uniform(price[0], price[-1], 20))
    )
    got = cumulative_integral(price, values, xs)
    for x, g in zip(xs, got, strict=True):
        xc = min(max(x, price[0]), price[-1])
        inside = price < xc
        px = np.append(price[inside], xc)
        vx = np.append(values[inside], np.interp(xc, price, values))
        assert g == pytest.approx(np.trapezoid(vx, px), rel=1e-12, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 40))
def test_implied_vol_1d_fast_path_equals_the_broadcast_path(seed: int, n: int) -> None:
    """1-d inputs with scalar F, r or is_call skip np.broadcast_arrays; the same inputs as
    (n, 1) columns take the general broadcasting path. Same IVs and reasons bitwise, bad
    inputs (NaN, zero, negative, tau <= 0, below intrinsic, above the bound) included."""
    from hedgeflow.engine.black76 import price as b76_price
    from hedgeflow.engine.iv import implied_vol

    rng = np.random.default_rng(seed)
    F = 5000.0
    K = F * np.exp(rng.normal(0.0, 0.1, n))
    tau = rng.choice([2e-4, 0.01, 0.5, 0.0, -1.0], n, p=[0.3, 0.3, 0.3, 0.05, 0.05])
    sigma = rng.uniform(0.05, 1.5, n)
    call = rng.random(n) < 0.5
    p = b76_price(F, K, np.maximum(tau, 1e-6), sigma, 0.03, call)
    p = np.where(rng.random(n) < 0.1, rng.choice([np.nan, 0.0, -1.0, 1e9]), p)
    for args in ((p, F, K, tau, 0.03, call), (p, np.full(n, F), K, tau, 0.03, True)):
        fast = implied_vol(*args)
        cols = tuple(np.asarray(a)[..., None] if np.ndim(a) else a for a in args)
        slow = implied_vol(*cols)
        np.testing.assert_array_equal(fast[0], slow[0][:, 0])
        np.testing.assert_array_equal(fast[1], slow[1][:, 0])


def test_smile_skips_failed_quotes_without_changing_the_smile() -> None:
    """Strikes whose OTM quote failed (quote_mid's NaN mid, reason ONE_SIDED/NO_QUOTE) are
    not passed to the solver; passing the same mids with every reason OK sends them through
    it (NaN in, NaN out): the raw and smoothed smiles must be identical."""
    from hedgeflow.engine.black76 import price as b76_price
    from hedgeflow.engine.iv import IVFailure, quote_mid
    from hedgeflow.engine.smile import build_surface
    from tests.engine.smile_chains import expiry_datetime, ssvi_iv

    F, tau, r = 5000.0, 5.0 / (365.0 * 24.0), 0.04
    K = np.arange(4400.0, 5600.0, 5.0)
    sig = ssvi_iv(np.log(K / F), tau)
    cm = b76_price(F, K, tau, sig, r, True)
    pm = b76_price(F, K, tau, sig, r, False)
    rng = np.random.default_rng(5)
    # far wings: no bid (one-sided) and some strikes with no quote at all
    cbid = np.where(cm > 0.05, cm * 0.99, 0.0)
    pbid = np.where(pm > 0.05, pm * 0.99, 0.0)
    cask = np.where(rng.random(K.size) < 0.05, np.nan, cm * 1.01 + 0.05)
    pask = np.where(rng.random(K.size) < 0.05, np.nan, pm * 1.01 + 0.05)
    c_mid, c_reason = quote_mid(cbid, cask)
    p_mid, p_reason = quote_mid(pbid, pask)
    assert np.count_nonzero(c_reason == IVFailure.ONE_SIDED) > 10
    vendor = np.where(rng.random(K.size) < 0.5, sig, np.nan)
    args = (K, c_mid, p_mid, cask - cbid, pask - pbid, vendor)
    kw = {"forward": F, "tau": tau, "r": r, "expiration": expiry_datetime(1.7e9)}
    with_reasons, diag = build_surface(*args, **kw, call_reason=c_reason, put_reason=p_reason)
    all_ok, _ = build_surface(*args, **kw)
    assert diag["iv_one_sided"] > 0
    np.testing.assert_array_equal(with_reasons.raw_iv, all_ok.raw_iv)
    np.testing.assert_array_equal(with_reasons.smoothed_iv, all_ok.smoothed_iv)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    width=st.sampled_from([0.02, 0.3, 2.0]),
    vol=st.sampled_from([0.002, 0.05, 0.5, 3.0]),
)
def test_normalized_solver_equals_a_bracketed_root_find(
    seed: int, width: float, vol: float
) -> None:
    """The lean Newton-Halley loop (Halley's denominator from d1 d2, no second-derivative
    pass) against the straightforward inversion: brentq on B(h, s) - b per element, to
    1e-10 relative in s, from the money to the deep wing (h / s down to -30)."""
    from scipy.optimize import brentq

    from hedgeflow.engine.iv import _solve_normalized, normalized_otm_price

    rng = np.random.default_rng(seed)
    n = 25
    h = -np.abs(rng.normal(0.0, width, n))
    s_true = vol * rng.uniform(0.3, 1.5, n)
    b = normalized_otm_price(h, s_true)
    keep = (b > 1e-280) & (b < 0.999 * np.exp(0.5 * h))
    h, b, s_true = h[keep], b[keep], s_true[keep]
    got, ok = _solve_normalized(h, b)
    for hi, bi, si, gi, oki in zip(h, b, s_true, got, ok, strict=True):

        def f(s: float, hi: float = hi, bi: float = bi) -> float:
            return float(normalized_otm_price(np.array([hi]), np.array([s]))[0]) - bi

        want = brentq(f, si * 0.5, si * 2.0, xtol=1e-300, rtol=1e-15, maxiter=500)
        if oki:
            assert gi == pytest.approx(want, rel=1e-10)
        else:  # refused only where B is flat to double precision (it cannot reprice)
            assert abs(f(want)) > 1e-9 * bi or not math.isfinite(gi)


# --------------------------------------------------------------------------- book expiries


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.sampled_from([1.0, 2.0, 3.5, 7.0, 9.0]), max_size=5, unique=True),
    st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.5, 5.0, 7.0, float("nan"), -0.0]), max_size=30),
)
def test_member_equals_isin_and_searchsorted(values: list, x: list) -> None:
    from hedgeflow.engine.books import _member

    sv = np.array(sorted(values), dtype=np.float64)
    xs = np.array(x, dtype=np.float64)
    hit, pos = _member(sv, xs)
    np.testing.assert_array_equal(hit, np.isin(xs, sv))
    np.testing.assert_array_equal(pos, np.searchsorted(sv, xs))


def test_books_of_an_expiry_array_equal_those_of_a_list() -> None:
    """build_expiry_books takes an ascending array through sorted_unique and membership by
    search (the candidates for the spot inside the request or not); a list of the same
    epochs in another order (np.unique, np.isin, np.union1d) gives the same books."""
    from hedgeflow.engine.books import build_expiry_books
    from hedgeflow.engine.enums import PositioningModel
    from tests.engine.smile_chains import synthetic_chain

    chain, _ = synthetic_chain(
        minutes=200.0, extra_expiries=(60.0 * 24 * 3, 60.0 * 24 * 10), seed=3
    )
    live = chain.expiries()
    for want in (live, live[1:], live[-1:], live[:1]):
        kw = {"r": 0.04, "positioning": PositioningModel.STANDARD}
        fast, skipped_fast = build_expiry_books(chain, np.asarray(want), **kw)
        slow, skipped_slow = build_expiry_books(chain, list(want[::-1]) + [float("nan")], **kw)
        assert len(fast) == len(slow) == want.size
        assert skipped_fast == {k: v for k, v in skipped_slow.items() if k == k}
        for a, b in zip(fast, slow, strict=True):
            assert a.expiration == b.expiration and a.spot == b.spot and a.q == b.q
            np.testing.assert_array_equal(a.iv, b.iv)
            np.testing.assert_array_equal(a.position, b.position)
            assert a.diagnostics == b.diagnostics and a.notes == b.notes


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from([5.0, 10.0, 25.0, 4000.0, 4005.0, float("nan"), float("inf")]),
            st.floats(-1e3, 1e4, allow_nan=False),
            st.integers(0, 400).map(lambda i: 4000.0 + 5.0 * i + 1e-9 * (i % 3)),
        ),
        max_size=40,
    )
)
def test_modal_strike_spacing_equals_np_unique_counts(strikes: list) -> None:
    """The mode of the rounded positive gaps between sorted finite strikes (ties: the
    smaller), written with np.unique(return_counts)."""
    from hedgeflow.engine.regime import modal_strike_spacing

    k = np.array(strikes, dtype=np.float64)
    got = modal_strike_spacing(k)
    ks = np.sort(k[np.isfinite(k)])
    with np.errstate(over="ignore"):
        gaps = np.round(np.diff(ks), 6)
    gaps = gaps[gaps > 0]
    if gaps.size == 0:
        assert math.isnan(got)
        return
    values, counts = np.unique(gaps, return_counts=True)
    assert got == values[np.argmax(counts)]


# --------------------------------------------------------------------------- pressure zones


def _zone_bounds_reference(price: np.ndarray, values: np.ndarray, index: np.ndarray) -> tuple:
    """zone_bounds extremum by extremum, written out: the half-level crossing on each
    side, or the saddle before higher ground, or the grid end."""
    g = price.size
    lower, upper = [], []
    for i in index.tolist():
        sgn = 1.0 if values[i] > 0 else (-1.0 if values[i] < 0 else 0.0)
        sv = [float(v) * sgn for v in values]
        peak = abs(float(values[i]))
        h = 0.5 * peak
        jl = next((j for j in range(i - 1, -1, -1) if sv[j] <= h), None)
        jr = next((j for j in range(i + 1, g) if sv[j] <= h), None)
        kl = next((j for j in range(i - 1, -1, -1) if sv[j] > peak), None)
        kr = next((j for j in range(i + 1, g) if sv[j] > peak), None)
        if jl is None:
            lo = float(price[0])
        else:
            t = (h - sv[jl]) / (sv[jl + 1] - sv[jl])
            lo = float(price[jl]) + t * (float(price[jl + 1]) - float(price[jl]))
        if jr is None:
            hi = float(price[-1])
        else:
            t = (sv[jr - 1] - h) / (sv[jr - 1] - sv[jr])
            hi = float(price[jr - 1]) + t * (float(price[jr]) - float(price[jr - 1]))
        if kl is not None and (jl is None or kl > jl):
            win = range(kl + 1, i)
            lo = float(price[min(win, key=lambda j: (sv[j], j))]) if len(win) else float(price[i])
        if kr is not None and (jr is None or kr < jr):
            win = range(i + 1, kr)
            hi = float(price[min(win, key=lambda j: (sv[j], j))]) if len(win) else float(price[i])
        lower.append(lo)
        upper.append(hi)
    return np.array(lower), np.array(upper)


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(3, 80), wiggle=st.floats(0.0, 2.0))
def test_zone_bounds_equals_the_extremum_by_extremum_reference(
    seed: int, n: int, wiggle: float
) -> None:
    from hedgeflow.engine.impulse import find_extrema
    from hedgeflow.engine.pressure import zone_bounds

    rng = np.random.default_rng(seed)
    price = 5000.0 + 2.5 * np.arange(n)
    x = np.linspace(-3.0, 3.0, n)
    values = np.sin(rng.uniform(0.5, 4.0) * x) * np.exp(-0.2 * x * x) + wiggle * rng.normal(
        0.0, 0.3, n
    )
    values[rng.random(n) < 0.1] = 0.0
    ext = find_extrema(price, values, 0.0)
    index = np.array([int(np.flatnonzero(price == e.price)[0]) for e in ext], dtype=np.intp)
    if index.size == 0:
        return
    got = zone_bounds(price, values, index)
    want = _zone_bounds_reference(price, values, index)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_smile_slope_and_value_of_valid_strikes_skip_the_mask_bitwise() -> None:
    """With every strike valid, `log_slope` and `__call__` skip the masking passes; the
    same strikes among invalid ones (NaN, 0, -1, inf: NaN out) take them. Same values,
    and the slope agrees with a central difference of the value in ln K."""
    book = make_book(tau_days=0.2, seed=11)
    sm = smile_interpolant(book.surface)
    k = np.concatenate((book.strike, [book.strike[0] * 0.5, book.strike[-1] * 2.0]))
    bad = np.array([np.nan, 0.0, -1.0, np.inf])
    mixed = np.concatenate((bad[:2], k, bad[2:]))
    np.testing.assert_array_equal(sm.log_slope(k), sm.log_slope(mixed)[2:-2])
    np.testing.assert_array_equal(sm(k), sm(mixed)[2:-2])
    assert np.isnan(sm.log_slope(mixed)[[0, 1, -2, -1]]).all()
    inner = k[(k > book.strike[0]) & (k < book.strike[-1])]
    e = 1e-6
    fd = (sm(inner * math.exp(e)) - sm(inner * math.exp(-e))) / (2 * e)
    np.testing.assert_allclose(sm.log_slope(inner), fd, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------- exposure greeks


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 60))
def test_exposure_greeks_equal_the_full_greeks_bitwise(seed: int, n: int) -> None:
    """The exposures' lean kernel (no delta or vega, one N(+-d1) pass) against
    black76.greeks, invalid inputs (NaN, tau <= 0, sigma <= 0) included."""
    from hedgeflow.engine.black76 import exposure_greeks

    rng = np.random.default_rng(seed)
    K = 5000.0 * np.exp(rng.normal(0.0, 0.2, n))
    tau = rng.choice([1e-6, 2e-4, 0.05, 1.0, 0.0, np.nan], n)
    sigma = rng.choice([0.0, 0.1, 0.5, 3.0, -0.1], n) * rng.uniform(0.5, 1.5, n)
    call = rng.random(n) < 0.5
    for q in (0.0, 0.013):
        g = greeks(5000.0, K, tau, sigma, 0.04, q, call)
        gamma, vanna, charm = exposure_greeks(5000.0, K, tau, sigma, 0.04, q, call)
        np.testing.assert_array_equal(gamma, g.gamma)
        np.testing.assert_array_equal(vanna, g.vanna)
        np.testing.assert_array_equal(charm, g.charm)
    # scalar option type broadcast as in `greeks`
    g = greeks(5000.0, K, tau, sigma, 0.04, 0.01, False)
    charm = exposure_greeks(5000.0, K, tau, sigma, 0.04, 0.01, False)[2]
    np.testing.assert_array_equal(charm, g.charm)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -1.0, 1.0, 2.0, 1.5, 1e308]),
            st.sampled_from([np.nan, np.inf, 0.0, -2.0, 1.0, 2.0, 1.5, 1e308]),
        ),
        max_size=30,
    )
)
def test_quote_mid_equals_the_rules_quote_by_quote(quotes: list) -> None:
    """quote_mid's nested wheres against its rules applied one quote at a time: missing
    (a side non-finite, ask <= 0) before crossed (bid > ask) before one-sided (bid <= 0)."""
    from hedgeflow.engine.iv import IVFailure, quote_mid

    bid = np.array([q[0] for q in quotes], dtype=np.float64)
    ask = np.array([q[1] for q in quotes], dtype=np.float64)
    mid, reason = quote_mid(bid, ask)
    assert reason.dtype == np.int8 and mid.shape == reason.shape == bid.shape
    for b, a, m, r in zip(bid.tolist(), ask.tolist(), mid.tolist(), reason.tolist(), strict=True):
        if not (math.isfinite(b) and math.isfinite(a) and a > 0):
            want = IVFailure.NO_QUOTE
        elif b > a:
            want = IVFailure.CROSSED
        elif not b > 0:
            want = IVFailure.ONE_SIDED
        else:
            want = IVFailure.OK
        assert r == want
        if want == IVFailure.OK:
            assert m == 0.5 * (b + a)
        else:
            assert math.isnan(m)


# --------------------------------------------------------------------------- engine-speed


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.sampled_from([4990.0, 5000.0, 5005.0, 1e-300, 1e300]),
            st.booleans(),
        ),
        max_size=25,
    ),
    st.sampled_from(["chain", "call first", "any"]),
)
def test_rows_by_expiry_strike_right_equal_lexsort(rows: list, presort: str) -> None:
    """The book rows' order skips its sort only when the rows already come in lexsort's
    order (a normalized chain); either way the order is lexsort's, ties in row order."""
    from hedgeflow.engine.books import _by_expiry_strike_right

    if presort == "chain":  # a normalized chain's order: the sort is skipped
        rows = sorted(rows, key=lambda t: (t[0], t[1], t[2]))
    elif presort == "call first":  # (expiry, strike) ascending, the call listed first
        rows = sorted(rows, key=lambda t: (t[0], t[1], not t[2]))
    seg = np.array([s for s, _, _ in rows], dtype=np.intp)
    K = np.array([k for _, k, _ in rows], dtype=np.float64)
    call = np.array([c for _, _, c in rows], dtype=bool)
    idx = np.arange(100, 100 + K.size)
    order = np.lexsort((call, K, seg))
    got_rows, got_seg = _by_expiry_strike_right(idx, seg, K, call)
    np.testing.assert_array_equal(got_rows, idx[order])
    np.testing.assert_array_equal(got_seg, seg[order])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.sampled_from([4990.0, 5000.0, 5005.0, 5010.0]), st.sampled_from([0.2, 0.25])
            ),
            max_size=8,
        ),
        max_size=4,
    ),
    st.booleans(),
)
def test_net_by_book_and_strike_equals_net_by_strike_book_by_book(
    books: list, book_order: bool
) -> None:
    """The zero-gamma line nets every book's options at once: the same groups, book after
    book, with bitwise the same weights as `_net_by_strike` book by book."""
    from hedgeflow.engine.reprice import _net_by_book_and_strike, _net_by_strike

    if book_order:  # strike ascending, one IV per strike (built books)
        books = [sorted((k, 0.2 + k / 1e5) for k, _ in rows) for rows in books]
    rng = np.random.default_rng(len(books))
    parts = []
    for i, rows in enumerate(books):
        K = np.array([k for k, _ in rows], dtype=np.float64)
        iv = np.array([v for _, v in rows], dtype=np.float64)
        w = rng.normal(size=K.size) * 10.0 ** rng.integers(-3, 4, size=K.size)
        parts.append((np.full(K.size, i, dtype=np.intp), K, iv, w))
    cat = [np.concatenate([p[c] for p in parts]) if parts else np.empty(0) for c in range(4)]
    g, K, iv, w = _net_by_book_and_strike(cat[0].astype(np.intp), cat[1], cat[2], cat[3])
    want = [_net_by_strike(p[1], p[2], p[3]) for p in parts]
    want_g = np.concatenate([np.full(x[0].size, i) for i, x in enumerate(want)] or [[]])
    np.testing.assert_array_equal(g, want_g)
    for got, col in zip((K, iv, w), range(3), strict=True):
        np.testing.assert_array_equal(got, np.concatenate([x[col] for x in want] or [[]]))


def test_zero_gamma_line_of_books_in_any_order_equals_the_line_book_by_book() -> None:
    """The one-pass zero-gamma line equals the sum of each book's own line (each book's
    options netted and masked alone), with books whose rows are out of order, with masked
    options and one book entirely masked."""
    books = [
        make_book(tau_days=d, seed=i, r=0.04 + 0.001 * i, q=0.01 * i)
        for i, d in enumerate((0.05, 1.0, 30.0))
    ]
    books[1] = _shuffled(books[1], 4)
    iv = books[2].iv.copy()
    iv[::3] = np.nan  # masked options
    books[2] = replace(books[2], iv=iv)
    gone = replace(books[0], iv=np.full(books[0].iv.size, np.nan))
    books.append(gone)
    prices = price_grid(books[0].spot, 5.0, 0.1)
    line, _ = zero_gamma_profile(books, prices)
    each = sum(zero_gamma_profile([b], prices)[0] for b in books)
    np.testing.assert_allclose(line, each, rtol=1e-12, atol=1e-9 * np.max(np.abs(each)))


def test_zero_gamma_line_leaves_out_strikes_netting_to_no_position() -> None:
    """Strikes whose call and put positions cancel (and strikes without any) add exactly 0
    and are left out of the zero-gamma work: the line still equals the option-by-option
    reference, and equals the line with those strikes' weights made tiny instead of 0."""
    books = []
    for i, d in enumerate((0.3, 4.0, 40.0)):
        base = make_book(tau_days=d, seed=i)
        oi = np.random.default_rng(i).integers(100, 5000, base.strike.size).astype(np.float64)
        oi[1::2] = oi[0::2]  # put (even rows) and call at a strike hold the same OI...
        oi[8:40:2] += 7.0  # ...except at a few strikes
        oi[100:120] = 0.0  # and strikes nobody holds
        books.append(make_book(tau_days=d, seed=i, position=np.where(base.is_call, oi, -oi)))
    prices = price_grid(books[0].spot, 5.0, 0.1)
    line, _ = zero_gamma_profile(books, prices)
    want = sum(reference_line(b, prices, 1.0)[0] for b in books)
    assert_line_close(line, want)
    nudged = [replace(b, position=b.position + 1e-300 * b.is_call) for b in books]
    np.testing.assert_allclose(line, zero_gamma_profile(nudged, prices)[0], rtol=1e-12)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.sampled_from([0.0, -0.0, 1.0, 2.5, -3.0, float("nan"), float("inf"), 1e300]),
        ),
        max_size=30,
    )
)
def test_by_segment_then_equals_lexsort(rows: list) -> None:
    """The parity fit's sorts by (expiry, value) equal np.lexsort's order, NaN last and
    ties in input order."""
    from hedgeflow.engine.forward import _by_segment_then

    seg = np.array([s for s, _ in rows], dtype=np.intp)
    v = np.array([x for _, x in rows], dtype=np.float64)
    np.testing.assert_array_equal(_by_segment_then(v, seg), np.lexsort((v, seg)))
    big_seg, big_v = np.repeat(seg, 60), np.tile(v, 60)  # the two stable sorts' path
    np.testing.assert_array_equal(_by_segment_then(big_v, big_seg), np.lexsort((big_v, big_seg)))


@pytest.mark.parametrize("call_first", [False, True])
def test_books_take_the_last_row_of_a_duplicate_contract_in_either_row_order(
    call_first: bool,
) -> None:
    """A contract listed twice at one strike: the book's quotes per strike node come from
    its last row, whether the rows come in chain order (the sort skipped) or with the call
    first at each strike (the integer-key sort), as np.lexsort's order gives."""
    from hedgeflow.engine.books import build_expiry_books
    from hedgeflow.engine.enums import PositioningModel
    from tests.engine.smile_chains import synthetic_chain

    chain, _ = synthetic_chain(minutes=600.0, extra_expiries=(60.0 * 24 * 5,), seed=2)
    order = np.lexsort((chain.is_call ^ call_first, chain.strike, chain.expiry))
    chain = chain.take(order)
    i = int(np.flatnonzero(chain.is_call & (chain.strike > chain.spot))[3])
    wider = chain.take(np.array([i]))
    wider = replace(wider, bid=wider.bid * 0.9, ask=wider.ask * 1.1)
    rows = np.arange(len(chain))
    # the duplicate right after its twin (the last of the two), and the chain with the
    # twin's quote replaced by it
    dup = chain.take(np.insert(rows, i + 1, i))
    dup = replace(dup, bid=dup.bid.copy(), ask=dup.ask.copy())
    dup.bid[i + 1], dup.ask[i + 1] = wider.bid[0], wider.ask[0]
    one = replace(chain, bid=chain.bid.copy(), ask=chain.ask.copy())
    one.bid[i], one.ask[i] = wider.bid[0], wider.ask[0]
    kw = {"r": 0.04, "positioning": PositioningModel.STANDARD}
    got, _ = build_expiry_books(dup, **kw)
    want, _ = build_expiry_books(one, **kw)
    assert len(got) == len(want) == 2
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a.surface.raw_iv, b.surface.raw_iv)
        np.testing.assert_array_equal(a.surface.smoothed_iv, b.surface.smoothed_iv)
        assert a.forward == b.forward
    assert (
        got[0].diagnostics.get("duplicate_contracts", 0)
        + got[1].diagnostics.get("duplicate_contracts", 0)
        == 1
    )


# --------------------------------------------------------------------------- lattice, exposures


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(2, 60),
    seed=st.integers(0, 2**32 - 1),
    on_nodes=st.booleans(),
    spread=st.sampled_from([1e-4, 0.05, 0.4, 3.0]),
)
def test_translated_smile_equals_at_log_bitwise(
    n: int, seed: int, on_nodes: bool, spread: float
) -> None:
    """`at_translated` (the lattice piece search) against `at_log` of the same translated
    log strikes, bitwise: strikes on the smile's nodes or between them, shifts of every size,
    a zero shift (the spot row: every point exactly on a node, the last node included), and
    strikes a hundredth of a point apart (a lattice too fine: the searched fallback)."""
    rng = np.random.default_rng(seed)
    step = rng.choice([0.01, 1.0, 5.0])
    strikes = np.unique(1000.0 + step * rng.choice(np.arange(1, 2000), n, replace=False))
    iv = rng.uniform(0.05, 0.9, strikes.size)
    smile = smile_interpolant(IVSurface(EXP, strikes, iv, iv, float(strikes.mean()), 0.01))
    if on_nodes:
        xk = np.sort(rng.choice(smile.x, rng.integers(1, strikes.size + 1)))
    else:
        xk = np.sort(rng.uniform(smile.x[0] - 0.05, smile.x[-1] + 0.05, 300))
    shift = np.sort(rng.uniform(-spread, spread, rng.integers(1, 200)))
    shift[rng.integers(0, shift.size)] = 0.0
    value, slope = smile.at_translated(xk, shift)
    want_value, want_slope = smile.at_log(xk - shift[:, None])
    np.testing.assert_array_equal(value, want_value)
    np.testing.assert_array_equal(slope, want_slope)


def test_lattice_index_is_used_and_exact_on_a_chain_grid() -> None:
    """On a chain-sized (prices x strikes) grid the lattice answers (no fallback) and gives
    np.searchsorted's pieces, on the nodes (the spot row) and one ulp either side of them."""
    strikes = np.arange(5400.0, 6620.0, 5.0)
    iv = 0.15 + 0.3 * ((strikes - 6000.0) / 600.0) ** 2
    smile = smile_interpolant(IVSurface(EXP, strikes, iv, iv, 6000.0, 0.001))
    xk = np.log(strikes)
    shift = -0.5 * np.log(np.linspace(0.9, 1.1, 151) / 1.0)
    for xs in (xk, np.nextafter(xk, np.inf), np.nextafter(xk, -np.inf)):
        x = xs - shift[:, None]
        j = lattice_pieces(smile._pieces[0], x, xs, shift)
        assert j is not None
        np.testing.assert_array_equal(j, np.searchsorted(smile._pieces[0], x, side="right"))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), n_books=st.integers(1, 4))
def test_exposures_from_folded_terms_equal_the_general_path(seed: int, n_books: int) -> None:
    """Exposures on the fast path (live books, valid strikes and IVs: Black-76 terms with
    the per-book factors folded) against the general path (`black76` greeks, masks), to
    rounding; options the fast path cannot take (NaN or zero IV, a book in its last minute,
    unheld options with NaN IVs) get the general path's values exactly."""
    from hedgeflow.engine.exposure import compute_exposures_many, option_exposures

    rng = np.random.default_rng(seed)
    books = []
    for i in range(n_books):
        tau_days = float(rng.choice([30.0 / 86400.0, 0.02, 1.0, 40.0]))
        book = make_book(tau_days=tau_days, seed=seed + i, q=float(rng.choice([0.0, 0.013])))
        iv = book.iv.copy()
        bad = rng.random(iv.size) < 0.1
        iv[bad] = rng.choice([np.nan, 0.0, -0.1], int(bad.sum()))
        pos = book.position.copy()
        pos[rng.random(pos.size) < 0.2] = 0.0
        books.append(replace(book, iv=iv, position=pos))
    for book, got in zip(books, compute_exposures_many(books), strict=True):
        gex, vex, cex, dex = option_exposures(book)
        first = np.r_[True, book.strike[1:] != book.strike[:-1]]
        inv = np.cumsum(first) - 1
        for name, per_option in (("gamma", gex), ("vanna", vex), ("charm", cex), ("delta", dex)):
            want = np.bincount(inv, weights=per_option)
            have = getattr(got, name)
            assert np.array_equal(np.isnan(have), np.isnan(want))
            ok = ~np.isnan(want)
            scale = float(np.max(np.abs(want[ok]), initial=0.0))
            np.testing.assert_allclose(have[ok], want[ok], rtol=1e-11, atol=1e-13 * scale)
