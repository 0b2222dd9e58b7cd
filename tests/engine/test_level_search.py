"""Flip and zero-gamma levels are searched beyond the plotted window (issue 10, item 5).

The plotted grid stays ±3 %; levels are searched over `level_search_range` (±3 expected
moves of the expiry, at least ±10 %, at most ±50 %) on a coarse grid, refined near a sign
change to the plotted step.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

from hedgeflow.engine.black76 import SECONDS_PER_YEAR
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.impulse import find_zero_crossings, relative_tolerance
from hedgeflow.engine.pipeline import analyze_chain, build_books
from hedgeflow.engine.reprice import (
    SEARCH_MAX_FRACTION,
    SEARCH_MIN_FRACTION,
    attach_zero_gamma,
    compute_repriced_profile,
    level_search_range,
    zero_gamma_profile,
)
from hedgeflow.feeds.files import read_chain_file
from tests.engine.option_books import make_book, smile
from tests.engine.test_reprice import scalar_h

NDX = Path(__file__).resolve().parents[1] / "data" / "real" / "ndx_quotedata_2023-05-15.csv"


def test_search_range_is_three_expected_moves_with_a_floor_and_a_cap() -> None:
    assert level_search_range(100.0, 0.2, 1.0 / 365.0) == pytest.approx((90.0, 110.0))  # floor
    half = 3 * 0.2 * math.sqrt(0.25)  # 30 %
    assert level_search_range(100.0, 0.2, 0.25) == pytest.approx(
        (100 * (1 - half), 100 * (1 + half))
    )
    assert level_search_range(100.0, 0.9, 2.0) == pytest.approx((50.0, 150.0))  # capped
    assert SEARCH_MAX_FRACTION == 0.5 and SEARCH_MIN_FRACTION == 0.1
    for iv, tau in ((float("nan"), 0.1), (0.2, 0.0), (-1.0, 0.1)):
        assert level_search_range(100.0, iv, tau) == pytest.approx((90.0, 110.0))


def _far_wall_book():  # noqa: ANN202 (an ExpiryBook)
    # Rows are (put, call) per strike. Dealers long 1000 calls at the money (positive gamma
    # at spot) and short 6000 puts 9 % below it: the line turns negative about 6-7 % below
    # spot, outside the ±3 % window.
    pos = np.array([-6000.0, 0.0, 0.0, 1000.0])
    return make_book(strikes=np.array([5005.0, 5500.0]), tau_days=2.0, position=pos)


def _plotted(spot: float) -> np.ndarray:
    return spot * (1 + np.arange(-60, 61) * 0.0005)  # the default ±3 %, 0.05 % steps


def test_a_crossing_outside_the_window_is_found_and_located() -> None:
    book = _far_wall_book()
    prices = _plotted(book.spot)
    search = level_search_range(book.spot, 0.2, book.tau)  # the ±10 % floor here

    def h(s: float) -> float:  # the exact fixed-IV gamma line (R = 1: no coupling)
        total = 0.0
        for K, p in ((5005.0, -6000.0), (5500.0, 1000.0)):
            sigma = float(smile(np.log(K / book.forward)))
            total += p * 100.0 * scalar_h(s, K, book.tau, sigma, 0.0, book.r, book.q)
        return total

    exact = brentq(h, 5005.0, 5400.0, xtol=1e-10)
    assert exact < prices[0] and exact > search[0]  # outside the window, inside the search

    old = compute_repriced_profile(book, prices, skew_stickiness=1.0)
    assert old.flip_levels == ()  # the window alone shows nothing
    prof = compute_repriced_profile(book, prices, skew_stickiness=1.0, search_range=search)
    np.testing.assert_array_equal(prof.price, prices)  # the plotted line is unchanged
    np.testing.assert_array_equal(prof.impulse, old.impulse)
    assert prof.search_range == search
    assert len(prof.flip_levels) == 1
    flip = prof.flip_levels[0]
    # refined by regula falsi to a tenth of the plotted step (2.75 points here)
    step = prices[1] - prices[0]
    assert flip.price == pytest.approx(exact, abs=0.1 * step)
    assert flip.direction.value == "rising"  # negative below, positive above
    assert prof.nearest_flip == flip.price

    line, levels = zero_gamma_profile([book], prices, search_range=search)
    np.testing.assert_array_equal(line, zero_gamma_profile([book], prices)[0])
    assert len(levels) == 1 and levels[0] == pytest.approx(exact, abs=0.1 * step)
    attached = attach_zero_gamma(prof, [book])
    assert attached.zero_gamma_levels == levels


@pytest.mark.parametrize("R", [0.0, 1.5, 2.0])
def test_the_coupled_profile_agrees_with_a_fine_grid_over_the_whole_range(R: float) -> None:
    book = _far_wall_book()
    prices = _plotted(book.spot)
    search = level_search_range(book.spot, 0.2, book.tau)
    prof = compute_repriced_profile(book, prices, skew_stickiness=R, search_range=search)
    fine = np.arange(search[0], search[1], 0.25)  # a tenth of the plotted step everywhere
    brute = compute_repriced_profile(book, fine, skew_stickiness=R)
    tol = relative_tolerance(prof.impulse, 1e-3)
    expected = [c.price for c in find_zero_crossings(fine, brute.impulse, tol)]
    assert expected  # the walls give this profile a crossing somewhere in the range
    # to the plotted step: where |H| stays under the tolerance for a while (R = 0 here) the
    # level is the middle of that near-zero run, whose ends are known to the grid's step
    step = prices[1] - prices[0]
    assert [c.price for c in prof.flip_levels] == pytest.approx(expected, abs=step)


def test_ndx_2023_05_15_shows_its_zero_gamma_five_percent_below_spot() -> None:
    chain = read_chain_file(NDX)
    a = analyze_chain(chain)
    assert a.repriced is not None
    spot = a.spot
    # the plotted window is as before: ±3 % around spot, and no zero gamma inside it
    assert a.repriced.price[0] == pytest.approx(spot * 0.97) and a.repriced.zero_gamma.size
    tol = relative_tolerance(a.repriced.zero_gamma, 1e-3)
    assert find_zero_crossings(a.repriced.price, a.repriced.zero_gamma, tol) == ()
    # the 0DTE expected move is small: the ±10 % floor decides the range
    lo, hi = a.repriced.search_range or (math.nan, math.nan)
    assert lo == pytest.approx(0.9 * spot) and hi == pytest.approx(1.1 * spot)
    (level,) = a.repriced.zero_gamma_levels
    assert -0.06 < level / spot - 1 < -0.05
    # the same level as a brute-force search of the all-expiry line on a fine grid
    books, _ = build_books(chain, EngineConfig())
    fine = np.arange(lo, hi, 0.5)
    line, _ = zero_gamma_profile(list(books.values()), fine)
    brute = find_zero_crossings(fine, line, tol)
    assert [c.price for c in brute] == pytest.approx([level], abs=0.5)
    minutes = (a.expiration - a.as_of).total_seconds() / 60.0
    assert minutes * 60.0 / SECONDS_PER_YEAR == pytest.approx(books[a.expiration.timestamp()].tau)


REAL_FILES = sorted((NDX.parent).glob("*_quotedata_*"))


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_levels_on_every_real_file_match_a_fine_search_of_the_whole_range(path: Path) -> None:
    """The coarse search plus refinement finds the same flip and zero-gamma levels as
    evaluating both lines on a grid four times finer than the plotted one over the whole
    search range (and none is lost or invented)."""
    chain = read_chain_file(path)
    a = analyze_chain(chain)
    rep = a.repriced
    assert rep is not None and rep.search_range is not None
    books, _ = build_books(chain, EngineConfig())
    lo, hi = rep.search_range
    step = rep.price[1] - rep.price[0]
    fine = np.arange(lo, hi, step / 4)
    line, _ = zero_gamma_profile(list(books.values()), fine)
    want_zero = find_zero_crossings(fine, line, relative_tolerance(rep.zero_gamma, 1e-3))
    assert rep.zero_gamma_levels == pytest.approx([c.price for c in want_zero], abs=0.25 * step)
    book = books[a.expiration.timestamp()]
    profile = compute_repriced_profile(book, fine, skew_stickiness=rep.skew_stickiness)
    want_flips = find_zero_crossings(fine, profile.impulse, relative_tolerance(rep.impulse, 1e-3))
    got = [c.price for c in rep.flip_levels]
    assert got == pytest.approx([c.price for c in want_flips], abs=0.25 * step)
    assert [c.direction for c in rep.flip_levels] == [c.direction for c in want_flips]
