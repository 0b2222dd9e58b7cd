"""Review: the all-expiry zero-gamma line of `hedgeflow.engine.reprice` on real files: at spot it
is the sum of every expiry's fixed-IV gamma exposure.

Source: tests/data/real/spy_quotedata_2023-09-14.csv (README): Last 450.81 after the close;
Sep 15 2023 is SPY's ex-dividend day, so the short expiries' parity forwards sit ~1.4
points below the Last and their books take S = F e^{-r tau} (~449.1-449.4, q = 0) while
the longer ones kept 450.81 (DESIGN: a spot that disagrees with the forward is flagged).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.exposure import compute_exposures
from hedgeflow.engine.pipeline import analyze_chain, build_books
from hedgeflow.feeds.files import read_chain_file

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def _line_at_spot_and_book_sum(name: str) -> tuple[float, float, int]:
    chain = read_chain_file(REAL / name)
    a = analyze_chain(chain)
    assert a.repriced is not None
    books = list(build_books(chain, EngineConfig())[0].values())
    i = int(np.argmin(np.abs(a.repriced.zero_gamma_price - a.spot)))
    assert a.repriced.zero_gamma_price[i] == pytest.approx(a.spot, rel=1e-12)
    # today's market: every expiry's fixed-IV gamma exposure at its own spot, summed
    book_sum = sum(float(np.sum(compute_exposures(b).gamma)) for b in books)
    return float(a.repriced.zero_gamma[i]), book_sum, len({b.spot for b in books})


def test_zero_gamma_line_at_spot_sums_the_books_when_spots_agree() -> None:
    """SPX 2023-06-09: every book trusts the vendor spot, and the identity holds."""
    line, book_sum, n_spots = _line_at_spot_and_book_sum("spx_quotedata_2023-06-09.csv")
    assert n_spots == 1
    assert line == pytest.approx(book_sum, rel=1e-9)


def test_zero_gamma_line_at_spot_sums_the_books_on_an_ex_dividend_day() -> None:
    """SPY 2023-09-14: the line used to read -$580M at spot against +$315M summed over the
    books (zero gamma 449.77 vs 449.20), because the short expiries took S = F e^{-r tau}
    while the long ones kept 450.81 and `reprice.zero_gamma_profile` evaluates every book
    at the same absolute spot. Since smile's one-spot-per-chain rule (bab939f) the books
    share one spot and the identity holds; this guards it."""
    line, book_sum, n_spots = _line_at_spot_and_book_sum("spy_quotedata_2023-09-14.csv")
    assert n_spots == 1
    assert line == pytest.approx(book_sum, rel=1e-9)
    assert book_sum > 0  # the sign at spot that the mixed-spot line got wrong


def test_an_expiry_left_out_of_the_zero_gamma_line_is_noted_with_its_open_interest() -> None:
    """An expiry whose smile cannot be built (here: every quote of the third live expiry
    blanked, vendor IVs too) is left out of the all-expiry line; the analysis says so,
    with the date, the reason and the open interest it carried. Untouched files: no note."""
    from dataclasses import replace

    from hedgeflow.engine.pipeline import live_expiries

    chain = read_chain_file(REAL / "spy_quotedata_2023-09-14.csv")
    assert not [n for n in analyze_chain(chain).notes if "zero γ" in n]
    gone = float(live_expiries(chain)[2])
    rows = chain.expiry == gone
    blank = np.where(rows, np.nan, 1.0)
    broken = replace(
        chain,
        bid=chain.bid * blank,
        ask=chain.ask * blank,
        last=chain.last * blank,
        vendor_iv=chain.vendor_iv * blank,
    )
    a = analyze_chain(broken)
    (note,) = [n for n in a.notes if "zero γ" in n]
    oi = float(np.sum(chain.open_interest[rows]))
    assert oi > 0
    day = _ny(gone)
    assert note.startswith(f"zero γ line leaves out 1 expiry with {oi:,.0f} open interest ({day}: ")
    # and the line is the sum over the books that were built (the left-out one absent)
    books, skipped = build_books(broken, EngineConfig())
    assert gone in skipped and gone not in books
    assert a.repriced is not None
    i = int(np.argmin(np.abs(a.repriced.zero_gamma_price - a.spot)))
    book_sum = sum(float(np.sum(compute_exposures(b).gamma)) for b in books.values())
    assert float(a.repriced.zero_gamma[i]) == pytest.approx(book_sum, rel=1e-9)


def _ny(epoch: float) -> str:
    from datetime import UTC, datetime

    from hedgeflow.engine.clock import NY

    return datetime.fromtimestamp(epoch, tz=UTC).astimezone(NY).date().isoformat()
