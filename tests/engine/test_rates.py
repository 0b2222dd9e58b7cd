"""The discount rate implied by put-call parity per expiry, and its fallbacks.

docs/METHOD.md "Pricing": the slope of C - P against K near the money is -e^{-r tau};
the configured rate is used for American-style roots, too few pairs, an imprecise or an
implausible estimate, and the choice is shown with the book and the analysis.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from hedgeflow.engine.black76 import price
from hedgeflow.engine.books import build_expiry_book, build_expiry_books
from hedgeflow.engine.enums import PositioningModel
from hedgeflow.engine.forward import (
    RATE_MAX,
    RateSource,
    parity_forwards,
)
from hedgeflow.engine.pipeline import analyze_chain
from hedgeflow.feeds.files.read import read_chain_file
from tests.engine.smile_chains import synthetic_chain

CONFIG_R = 0.045
STD = PositioningModel.STANDARD
REAL = Path(__file__).resolve().parents[1] / "data" / "real"
DAYS = 24 * 60


def _book(chain, expiry):
    return build_expiry_book(chain, expiry, r=CONFIG_R, positioning=STD)


def test_exact_quotes_give_the_exact_rate():
    """Noise-free prices: the fitted line is parity itself, r to 1e-9 per year."""
    S, q, tau = 5000.0, 0.013, 0.5
    K = np.arange(4500.0, 5500.0, 5.0)
    for r in (0.001, 0.02, 0.05, 0.09):
        F = S * math.exp((r - q) * tau)
        c = price(F, K, tau, 0.2, r, True)
        p = price(F, K, tau, 0.2, r, False)
        spread = np.full(K.size, 0.1)
        fe = parity_forwards(
            np.zeros(K.size, dtype=np.intp), 1, K, c, p, np.array([tau]), CONFIG_R, S,
            call_spread=spread, put_spread=spread, rate_eligible=np.array([True]),
        )  # fmt: skip
        est = fe[0]
        assert est.rate_source is RateSource.PARITY
        assert est.rate == pytest.approx(r, abs=1e-9)
        assert est.forward == pytest.approx(F, rel=1e-12)
        assert est.q == pytest.approx(q, abs=1e-8)


@pytest.mark.parametrize("r", [0.003, 0.02, 0.05, 0.08])
@pytest.mark.parametrize(("days", "step", "tol"), [(60, 10.0, 0.006), (365, 25.0, 0.0015)])
def test_implied_rate_recovers_the_chain_rate(r, days, step, tol):
    """SPX-like spreads (0.5 % of the price, on ticks), every quote moved off the model by
    noise (0.3 of its spread): the rate the chain was built with is recovered on every
    seed, without bias, instead of the configured 4.5 %."""
    errors = []
    for seed in range(4):
        chain, truth = synthetic_chain(
            minutes=days * DAYS, r=r, step=step, width=0.3, rel_spread=0.005, mid_noise=0.3,
            seed=seed,
        )  # fmt: skip
        book = _book(chain, truth["expiry"])
        assert "rate_parity_pairs" in book.diagnostics, book.rate_source
        assert book.rate_source.startswith(f"{book.r:.2%} implied by put-call parity")
        assert book.r == pytest.approx(r, abs=tol)
        errors.append(book.r - r)
        # the forward and the yield follow the implied rate: F = S e^{(r-q) tau} holds
        assert book.forward == pytest.approx(truth["F"], rel=2e-4)
        assert book.q - book.r == pytest.approx(truth["q"] - r, abs=2e-4 / truth["tau"])
    assert abs(float(np.mean(errors))) <= tol / 2


def test_outlier_pairs_do_not_move_the_rate():
    """Three stale pairs near the money (C - P off by several points) are rejected."""
    r = 0.02
    chain, truth = synthetic_chain(minutes=180 * DAYS, r=r, width=0.3, seed=4)
    K = chain.strike
    near = np.argsort(np.abs(K - truth["F"]))
    bad = near[(chain.is_call[near])][:3]  # three calls nearest the forward
    bid, ask = chain.bid.copy(), chain.ask.copy()
    bid[bad] += 8.0
    ask[bad] += 8.0
    from dataclasses import replace

    stale = replace(chain, bid=bid, ask=ask)
    book = _book(stale, truth["expiry"])
    assert book.r == pytest.approx(r, abs=0.002)
    assert book.diagnostics["rate_parity_pairs"] <= 40 - 3


def test_american_roots_keep_the_configured_rate():
    chain, truth = synthetic_chain(spot=500.0, step=1.0, minutes=365 * DAYS, r=0.01, root="SPY")
    book = _book(chain, truth["expiry"])
    assert book.r == CONFIG_R
    assert book.diagnostics["rate_config_american"] == 1
    assert "American-style" in book.rate_source


def test_short_expiry_is_too_imprecise_and_keeps_the_configured_rate():
    """Four hours out, D - 1 ~ r tau ~ 2e-5 is below the quotes' noise: no rate."""
    chain, truth = synthetic_chain(minutes=240.0, r=0.01, mid_noise=0.3)
    book = _book(chain, truth["expiry"])
    assert book.r == CONFIG_R
    assert book.diagnostics["rate_config_imprecise"] == 1
    assert "under 7 days parity cannot tell the rate" in book.rate_source
    # a week and more out the fit is tried, and with these quotes too imprecise at 10 days
    chain, truth = synthetic_chain(minutes=10 * DAYS, r=0.01, mid_noise=0.3, rel_spread=0.02)
    book = _book(chain, truth["expiry"])
    assert book.r == CONFIG_R
    assert "parity too imprecise at this expiry" in book.rate_source


def test_too_few_pairs_keep_the_configured_rate():
    """Puts quoted two-sided at three strikes only: no line through three pairs."""
    from dataclasses import replace

    chain, truth = synthetic_chain(minutes=365 * DAYS, r=0.01, width=0.3)
    put_k = np.flatnonzero(~chain.is_call)
    gone = put_k[np.argsort(np.abs(chain.strike[put_k] - truth["F"]))[3:]]
    bid = chain.bid.copy()
    bid[gone] = np.nan
    book = _book(replace(chain, bid=bid), truth["expiry"])
    assert book.diagnostics["rate_config_few_pairs"] == 1
    assert book.r == CONFIG_R
    assert "3 call/put pairs" in book.rate_source


def test_implausible_rate_is_refused_and_noted():
    """A precise but absurd estimate (a chain quoted at 30 %) is not believed: the
    configured rate is used, and a note says so (with the estimate)."""
    chain, truth = synthetic_chain(minutes=365 * DAYS, r=0.30, width=0.3)
    book = _book(chain, truth["expiry"])
    assert 0.30 > RATE_MAX
    assert book.r == CONFIG_R
    assert book.diagnostics["rate_config_implausible"] == 1
    assert any("outside" in n and "+30" in n for n in book.notes), book.notes


def test_rate_is_shown_in_the_analysis_and_its_json():
    from hedgeflow.app.export import analysis_json
    from hedgeflow.app.summary import summary_text

    chain, truth = synthetic_chain(minutes=120 * DAYS, r=0.02, width=0.3)
    a = analyze_chain(chain)
    assert a.rate == pytest.approx(0.02, abs=0.003)
    payload = json.loads(analysis_json(a))
    assert payload["rate"] == pytest.approx(a.rate)
    assert "implied by put-call parity" in payload["rate_source"]
    assert payload["diagnostics"]["rate_parity_pairs"] >= 5
    assert f"rate     {a.rate_source}" in summary_text(a)


def _rates(name: str) -> list[tuple[float, float, str]]:
    chain = read_chain_file(REAL / name)
    books, _ = build_expiry_books(chain, r=CONFIG_R, positioning=STD)
    return [(b.tau, b.r, b.rate_source) for b in books]


def test_spx_2020_rates_are_the_2020_market_not_the_config():
    """March 2020: T-bills near 0, SPX box rates ~0.5-1.5 %. Every implied rate is
    plausible for that market, the long ones (where the rate matters most) within
    0-1.5 %, and the configured 4.5 % survives only where parity cannot tell."""
    rows = _rates("spx_quotedata_2020-03-22.dat")
    implied = [(t, r) for t, r, s in rows if "implied" in s]
    assert len(implied) >= 20
    assert all(-0.005 <= r <= 0.025 for _, r in implied)
    assert 0.0 <= float(np.median([r for _, r in implied])) <= 0.015
    assert all(0.0 <= r <= 0.015 for t, r in implied if t > 0.5)
    assert all(r == CONFIG_R for _, r, s in rows if "implied" not in s)


def test_spx_2023_long_rates_near_five_percent():
    rows = _rates("spx_quotedata_2023-06-09.csv")
    long = [r for t, r, s in rows if t > 0.25 and "implied" in s]
    assert len(long) >= 10
    assert all(0.035 <= r <= 0.06 for r in long)


@pytest.mark.parametrize("name", ["spy_quotedata_2023-09-14.csv", "qqq_quotedata_2023-06-12.csv"])
def test_etf_files_keep_the_configured_rate(name):
    """American-style ETF options: their C - P slope gives D > 1 (negative "rates")."""
    rows = _rates(name)
    assert rows and all(r == CONFIG_R and "American-style" in s for _, r, s in rows)
