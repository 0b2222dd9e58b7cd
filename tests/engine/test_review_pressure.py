"""Review fix in `hedgeflow.engine.pressure`: a zone stops at the saddle before higher ground.

Half-maximum bounds alone let the zone of a minor extremum run over a higher extremum of
the same kind; the minor zone then swallows the major one (its integral can exceed the
strike total) and, once the minor zone is the stronger by reachability, the major
extremum (the real wall) is folded into it and vanishes from the list.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from hedgeflow.engine.enums import ExtremumKind
from hedgeflow.engine.pipeline import analyze_chain
from hedgeflow.engine.pressure import compute_pressure_cloud, zone_bounds
from hedgeflow.feeds.files import read_chain_file
from tests.engine.test_pressure import CFG, NOW, curve_from, gauss, grid, regime

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def test_bounds_stop_at_the_saddle_before_a_higher_extremum() -> None:
    # maxima 3 (index 2) and 5 (index 6), saddle 2 at index 4: half of 3 (1.5) is never
    # reached between them, so the minor zone used to run over the major one to 8.5
    p = np.arange(0.0, 11.0)
    v = np.array([0.0, 1.0, 3.0, 2.5, 2.0, 4.0, 5.0, 4.0, 2.0, 1.0, 0.0])
    lo, hi = zone_bounds(p, v, np.array([2, 6]))
    assert (lo[0], hi[0]) == (1.25, 4.0)  # minor: half on the left, the saddle on the right
    assert (lo[1], hi[1]) == (4.25, 7.75)  # major: half (2.5) on both sides, as before


def test_the_highest_wall_is_listed_even_when_a_nearer_one_is_stronger() -> None:
    """A basin of 0.8 at spot and a higher one of 1.0 15 points up (reach 20): the nearer one
    ranks first by strength, and the dip between them stays above half of 0.8, but the
    global maximum must stay a zone of its own, not a ripple of the nearer zone."""
    p = grid()
    v = gauss(p, 0.8e8, 5000.0, 8.0) + gauss(p, 1.0e8, 5015.0, 8.0)
    c = curve_from(p, v, total=1e9)
    top = max(c.extrema, key=lambda e: e.impulse)
    cloud = compute_pressure_cloud(c, regime(10.0), CFG, now=NOW)
    assert cloud.stability_zones[0].center < top.price  # the nearer zone ranks first
    assert any(z.center == top.price for z in cloud.stability_zones)
    for z in cloud.stability_zones:
        assert not (z.lower < top.price < z.upper) or z.center == top.price


def test_real_file_zones_never_span_a_higher_extremum() -> None:
    """SPX 2023-06-09, the Jun 16 expiry: the density peaks at 4325.8 (global max, OI wall)
    beside a basin at spot 4300.0; the 4401 basin's half-maximum zone used to be
    [4260.7, 4415.1], over both, with an integral ($4.76B) above the strike total ($4.40B),
    and the 4325.8 wall was folded into the spot zone and not listed."""
    a = analyze_chain(
        read_chain_file(REAL / "spx_quotedata_2023-06-09.csv"),
        expiry=dt.date(2023, 6, 16),
        all_expiries=False,
    )
    c = a.hedge_flow.impulse_curve
    zones = a.pressure_cloud.stability_zones
    basins = [e for e in c.extrema if e.kind is ExtremumKind.BASIN]
    top = max(basins, key=lambda e: e.impulse)
    assert top.price == pytest.approx(4325.8, abs=0.1)
    assert any(z.center == pytest.approx(top.price) for z in zones)
    for z in zones:
        higher = [e for e in basins if e.impulse > z.peak_density and z.lower < e.price < z.upper]
        assert not higher, (z.center, z.lower, z.upper, higher)
        assert z.impulse <= c.impulse_total
