"""The fitted smile inside the market on every real CBOE file (issue 10, item 3).

For the nearest live expiry and the one closest to 30 days of each file in tests/data/real
(and ../shared/data/real where present), the two-sided out-of-the-money quotes are read
from the chain (puts below the book's forward, calls at and above), each priced at the
fitted IV with a Black-76 written here (scipy's ndtr, not `hedgeflow.engine.black76`),
discounted with the book's rate. A quote is outside its band when that price is below its
bid or above its ask (the same as the fitted IV outside [IV(bid), IV(ask)]: the price is
increasing in the IV).

Whether an in-band arbitrage-free smile exists is decided here by a linear program of its
own (scipy's HiGHS): undiscounted call prices over F at the quoted strikes, within the
bands (puts by parity), convex and decreasing with C(0) = 1, slope >= -1 from the origin
and C >= 0 at the last strike. Where it exists, at most 2 % of the quotes may be outside;
everywhere, the fitted smile has no butterfly violation.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.special import ndtr

from hedgeflow.engine.book import ExpiryBook
from hedgeflow.engine.books import build_expiry_book, build_expiry_books
from hedgeflow.engine.butterfly import check_butterfly
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import PositioningModel
from hedgeflow.feeds.files import read_chain_file

HERE = Path(__file__).resolve().parents[1] / "data" / "real"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
YEAR_S = 365.0 * 86400.0
MAX_OUTSIDE_SHARE = 0.02


def _files() -> list[Path]:
    out = {p.name: p for p in sorted(HERE.iterdir()) if p.suffix in (".csv", ".dat")}
    if SHARED.is_dir():
        for p in sorted(SHARED.iterdir()):
            if p.suffix in (".csv", ".dat"):
                out.setdefault(p.name, p)
    return [out[k] for k in sorted(out)]


def black76(F: float, K: np.ndarray, tau: float, sigma: np.ndarray, r: float, call: np.ndarray):
    """Discounted Black-76 price, points."""
    sd = sigma * math.sqrt(tau)
    d1 = np.log(F / K) / sd + 0.5 * sd
    d2 = d1 - sd
    c = F * ndtr(d1) - K * ndtr(d2)
    p = K * ndtr(-d2) - F * ndtr(-d1)
    return math.exp(-r * tau) * np.where(call, c, p)


@dataclass(frozen=True)
class Band:
    """Two-sided OTM quotes of one expiry: strike, bid, ask (points), call or put."""

    strike: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    call: np.ndarray


def otm_quotes(chain, book: ExpiryBook) -> Band:
    rows = (chain.expiry == book.expiration.timestamp()) & np.isin(chain.root, book.roots)
    K, call = chain.strike[rows], chain.is_call[rows]
    bid, ask = chain.bid[rows], chain.ask[rows]
    otm = np.where(call, K >= book.forward, K < book.forward)
    two = otm & np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (ask > bid)
    return Band(K[two], bid[two], ask[two], call[two])


def outside(book: ExpiryBook, q: Band) -> np.ndarray:
    """Quotes whose price at the fitted IV is outside [bid, ask] (a relative 1e-9 of the
    spread plus 1e-13 F of slack for double-precision round trips)."""
    s = book.surface
    iv = np.interp(q.strike, s.strikes, s.smoothed_iv)  # every quoted strike is a node
    assert np.isin(q.strike, s.strikes).all()
    p = black76(book.forward, q.strike, book.tau, iv, book.r, q.call)
    tol = 1e-9 * (q.ask - q.bid) + 1e-13 * book.forward
    return (p < q.bid - tol) | (p > q.ask + tol)


def in_band_smile_exists(book: ExpiryBook, q: Band) -> bool:
    """An arbitrage-free call-price curve through every quote's band (this module's LP)."""
    disc = math.exp(-book.r * book.tau)
    x = q.strike / book.forward
    lo = q.bid / (disc * book.forward) + np.where(q.call, 0.0, 1.0 - x)
    hi = q.ask / (disc * book.forward) + np.where(q.call, 0.0, 1.0 - x)
    xs, inv = np.unique(x, return_inverse=True)  # one variable per strike, bands intersected
    m = xs.size
    lo_u = np.full(m, -np.inf)
    hi_u = np.full(m, np.inf)
    np.maximum.at(lo_u, inv, lo)
    np.minimum.at(hi_u, inv, hi)
    if (lo_u > hi_u).any():
        return False
    # row i: the slope into point i is at most the slope out of it (convex), the origin
    # (0, 1) before the first point; the last point's row is "the slope into it <= 0"
    # (decreasing); row m: the slope from the origin is at least -1
    px = np.concatenate(([0.0], xs))
    a = np.zeros((m + 1, m))
    b = np.zeros(m + 1)
    for i in range(m):
        h0 = px[i + 1] - px[i]
        if i + 1 < m:
            h1 = xs[i + 1] - xs[i]
            a[i, i + 1] -= 1.0 / h1
            a[i, i] += 1.0 / h1
        if i == 0:
            a[i, 0] += 1.0 / h0
            b[i] += 1.0 / h0
        else:
            a[i, i] += 1.0 / h0
            a[i, i - 1] -= 1.0 / h0
    a[m, 0] = -1.0 / xs[0]  # (c_0 - 1)/x_0 >= -1
    b[m] = 1.0 - 1.0 / xs[0]
    bounds = list(zip(np.maximum(lo_u, 0.0), hi_u, strict=True))
    res = linprog(
        np.zeros(m),
        A_ub=a,
        b_ub=b,
        bounds=bounds,
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10},
    )
    return bool(res.status == 0)


def picked_books(path: Path) -> tuple[object, list[ExpiryBook]]:
    chain = read_chain_file(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        books, _ = build_expiry_books(
            chain, r=EngineConfig().rate, positioning=PositioningModel.STANDARD
        )
    books = [b for b in books if np.isfinite(b.surface.smoothed_iv).all()]
    nearest = books[0]
    month = min(books, key=lambda b: abs(b.tau * 365.0 - 30.0))
    return chain, [nearest] if month is nearest else [nearest, month]


@dataclass(frozen=True)
class Measured:
    label: str
    quotes: int
    outside: int
    feasible: bool
    butterflies: int


@cache
def measure(path: Path) -> tuple[Measured, ...]:
    chain, books = picked_books(path)
    out = []
    for book in books:
        q = otm_quotes(chain, book)
        s = book.surface
        out.append(
            Measured(
                f"{path.name} {book.expiration:%Y-%m-%d} ({book.tau * 365:.1f} d)",
                int(q.strike.size),
                int(outside(book, q).sum()),
                in_band_smile_exists(book, q),
                int(check_butterfly(s).sum()),
            )
        )
    return tuple(out)


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_real_smiles_sit_inside_the_market_and_are_arbitrage_free(path):
    for m in measure(path):
        assert m.quotes >= 5, m
        assert m.butterflies == 0, m
        if m.feasible:
            assert m.outside <= MAX_OUTSIDE_SHARE * m.quotes, m


@pytest.mark.parametrize("name", ["perf_spx_0dte_480", "perf_spx_full_8000"])
def test_perf_chains_every_feasible_smile_inside_the_market(name):
    """The original library's perf chains (bench/data/floe-perf), every expiry: a 0DTE grid
    whose far wings price at 1e-100 F (it once scaled the program to nothing) is brought
    inside every band where one exists; where none does, at most a tenth of the quotes
    stay outside; never a butterfly."""
    from bench.perf_chains import load_perf_case, perf_chain

    chain = perf_chain(load_perf_case(name))
    books, _ = build_expiry_books(
        chain, r=EngineConfig().rate, positioning=PositioningModel.STANDARD
    )
    for book in books:
        q = otm_quotes(chain, book)
        n_out = int(outside(book, q).sum())
        assert not check_butterfly(book.surface).any(), book.expiration
        if in_band_smile_exists(book, q):
            assert n_out <= MAX_OUTSIDE_SHARE * q.strike.size, (book.expiration, n_out)
        else:
            assert n_out <= 0.15 * q.strike.size, (book.expiration, n_out)
            assert book.diagnostics["smile_outside_band"] == n_out


def test_a_fitted_smile_does_not_depend_on_the_other_expiries():
    """The program fits every expiry that needs it at once; an L1 optimum is often not
    unique, so without its tie-break the SPY file's smiles moved by 0.05 vol points
    between a whole-chain build and a one-expiry build."""
    path = HERE / "spy_quotedata_2023-09-14.csv"
    chain = read_chain_file(path)
    books, _ = build_expiry_books(chain, r=0.045, positioning=PositioningModel.STANDARD)
    for book in books[:6]:
        one = build_expiry_book(
            chain, book.expiration.timestamp(), r=0.045, positioning=PositioningModel.STANDARD
        )
        np.testing.assert_allclose(one.surface.smoothed_iv, book.surface.smoothed_iv, atol=1e-9)


def test_the_feasibility_check_can_say_no():
    """The LP above is a real test: a quote band above the chord of its neighbours' bands
    (a butterfly sold below zero) is infeasible, the same bands widened are feasible."""

    @dataclass
    class _Book:
        forward: float = 100.0
        r: float = 0.0
        tau: float = 0.1

    K = np.array([90.0, 95.0, 100.0, 105.0, 110.0])
    iv = np.full(K.size, 0.2)
    call = np.ones(K.size, dtype=bool)
    p = black76(100.0, K, 0.1, iv, 0.0, call)
    ok = Band(K, p - 0.01, p + 0.01, call)
    assert in_band_smile_exists(_Book(), ok)  # type: ignore[arg-type]
    bid = p - 0.01
    bid[2] = p[2] + 1.0  # the ATM call bid a point above the model
    bad = Band(K, bid, bid + 0.02, call)
    assert not in_band_smile_exists(_Book(), bad)  # type: ignore[arg-type]


if __name__ == "__main__":  # the before/after table of docs/METHOD.md
    for path in _files():
        for m in measure(path):
            share = m.outside / m.quotes if m.quotes else float("nan")
            print(
                f"| {m.label} | {m.quotes} | {m.outside} | {share:.1%} | "
                f"{'yes' if m.feasible else 'no'} | {m.butterflies} |"
            )
