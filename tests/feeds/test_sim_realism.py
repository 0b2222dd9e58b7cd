"""The simulated chains look like real ones: summary statistics against the real CBOE
exports in tests/data/real/ (see its README for each file).

Reference values measured on those files with the statistics below (expiries within 100
days, vendor IVs, spot from the file):

| file | modal spacing near ATM | ATM IV ~30d | (IV put 95% - IV call 105%) / ATM | OI share within +-5% | round-strike wall |
|---|---|---|---|---|---|
| SPX 2022-07-12 | 5  | 0.240 | 0.25 | 0.30 | x8.1 (100s) |
| SPX 2023-06-09 | 5  | 0.106 | 0.58 | 0.31 | x4.9 |
| SPX 2023-09-14 | 5  | 0.107 | 0.56 | 0.33 | x5.7 |
| SPX 2023-12-09 | 5  | 0.103 | 0.47 | 0.33 | x5.6 |
| SPY 2023-09-14 | 1  | 0.104 | 0.56 | 0.37 | x3.1 (10s) |
| QQQ 2023-06-12 | 1  | 0.182 | 0.25 | 0.21 | x4.5 (10s) |
| NDX 2023-05-15 | 10 | 0.179 | 0.45 | 0.44 | |

The March 2020 SPX file (COVID crash, ATM IV 0.59) is a crisis regime, not a baseline, so
it is left out of the bands. The tests recompute the real statistics rather than trusting
this table.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from hedgeflow.engine.chain import OptionChain
from hedgeflow.feeds.sim import NY, SimFeed

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
REAL_FILES = {
    "SPX": [
        "spx_quotedata_2022-07-12.csv",
        "spx_quotedata_2023-06-09.csv",
        "spx_quotedata_2023-09-14.csv",
        "spx_quotedata_2023-12-09.csv",
    ],
    "SPY": ["spy_quotedata_2023-09-14.csv"],
    "QQQ": ["qqq_quotedata_2023-06-12.csv"],
    "NDX": ["ndx_quotedata_2023-05-15.csv"],
}
FAMILY = {"SPX": "S&P", "SPY": "S&P", "QQQ": "Nasdaq", "NDX": "Nasdaq", "IWM": "all"}
SEEDS = (7, 8, 9)
WHEN = datetime(2026, 11, 18, 11, 30, tzinfo=NY)  # a Wednesday, mid-morning


def read_chain(name: str) -> OptionChain:
    files = pytest.importorskip(
        "hedgeflow.feeds.files", reason="feeds.files (real-file reader) not in yet"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return files.read_chain_file(REAL / name)


@pytest.fixture(scope="module")
def real() -> dict[str, list[OptionChain]]:
    return {sym: [read_chain(f) for f in names] for sym, names in REAL_FILES.items()}


@pytest.fixture(scope="module")
def sim() -> dict[str, list[OptionChain]]:
    out: dict[str, list[OptionChain]] = {}
    for seed in SEEDS:
        f = SimFeed(seed=seed, start=WHEN, speed=0.0)
        for sym in FAMILY:
            out.setdefault(sym, []).append(f.chain_at(sym, WHEN))
    return out


def family_values(real: dict[str, list[OptionChain]], symbol: str, stat: str) -> np.ndarray:
    fam = FAMILY[symbol]
    chains = [c for s, cs in real.items() if fam == "all" or FAMILY[s] == fam for c in cs]
    return np.array([STATS[stat](c) for c in chains])


# --------------------------------------------------------------------------- statistics


def live(c: OptionChain, days: float = 100.0) -> np.ndarray:
    t = c.as_of_epoch
    return (c.expiry > t) & (c.expiry - t < days * 86_400.0)


def expiry_near(c: OptionChain, days: float) -> float:
    exps = np.unique(c.expiry[c.expiry > c.as_of_epoch])
    return float(exps[np.argmin(np.abs((exps - c.as_of_epoch) / 86_400.0 - days))])


def modal_spacing(c: OptionChain) -> float:
    """Most common strike gap within +-2% of spot on the nearest expiry."""
    e = np.unique(c.expiry[c.expiry > c.as_of_epoch])[0]
    k = np.unique(c.strike[c.expiry == e])
    gaps = np.diff(k)[np.abs(k[:-1] / c.spot - 1.0) < 0.02]
    values, counts = np.unique(gaps, return_counts=True)
    return float(values[np.argmax(counts)])


def iv_at(c: OptionChain, expiry: float, strike: float, call: bool) -> float:
    """Vendor IV of the listed strike nearest `strike` with a usable IV (real files use 0)."""
    ok = (c.expiry == expiry) & (c.is_call == call) & (c.vendor_iv > 0)
    i = np.argmin(np.where(ok, np.abs(c.strike - strike), np.inf))
    return float(c.vendor_iv[i])


def atm_iv_30d(c: OptionChain) -> float:
    e = expiry_near(c, 30.0)
    return 0.5 * (iv_at(c, e, c.spot, True) + iv_at(c, e, c.spot, False))


def skew_30d(c: OptionChain) -> float:
    """(IV of the 95% put - IV of the 105% call) / ATM IV, ~30 days out: > 0 is put skew."""
    e = expiry_near(c, 30.0)
    return (iv_at(c, e, 0.95 * c.spot, False) - iv_at(c, e, 1.05 * c.spot, True)) / atm_iv_30d(c)


def oi_share_5pct(c: OptionChain) -> float:
    """Share of open interest (expiries within 100 days) on strikes within +-5% of spot."""
    m = live(c)
    near = m & (np.abs(c.strike / c.spot - 1.0) < 0.05)
    return float(c.open_interest[near].sum() / c.open_interest[m].sum())


STATS = {"atm": atm_iv_30d, "skew": skew_30d, "oi": oi_share_5pct}


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("symbol", ["SPX", "SPY", "QQQ", "NDX"])
def test_modal_strike_spacing_near_the_money(real: dict, sim: dict, symbol: str) -> None:
    real_rel = np.array([modal_spacing(c) / c.spot for c in real[symbol]])
    for c in sim[symbol]:
        if symbol == "NDX":
            # The spec lists NDX at 25 points near the money (~0.12% of 21,000); the 2023
            # file lists 10 points at 13,400 (0.075%): compare relative spacing.
            assert 0.4 < (modal_spacing(c) / c.spot) / real_rel.mean() < 2.5
        else:
            assert {modal_spacing(x) for x in real[symbol]} == {modal_spacing(c)}


@pytest.mark.parametrize("symbol", list(FAMILY))
def test_atm_iv_level_within_the_real_band(real: dict, sim: dict, symbol: str) -> None:
    ref = family_values(real, symbol, "atm")
    lo, hi = 0.7 * ref.min(), 1.3 * ref.max()
    for c in sim[symbol]:
        assert lo <= atm_iv_30d(c) <= hi, (symbol, atm_iv_30d(c), lo, hi)


@pytest.mark.parametrize("symbol", list(FAMILY))
def test_put_skew(real: dict, sim: dict, symbol: str) -> None:
    ref = family_values(real, symbol, "skew")
    assert (ref > 0).all()  # the statistic's sign on real data: OTM puts above OTM calls
    for c in sim[symbol]:
        s = skew_30d(c)
        assert 0.5 * ref.min() <= s <= 1.5 * ref.max(), (symbol, s, ref)
        # Short-dated skew is steeper than 30-day skew in vol terms (the smile rises).
        e0 = np.unique(c.expiry[c.expiry > c.as_of_epoch])[1]
        near_put = iv_at(c, e0, 0.99 * c.spot, False)
        near_call = iv_at(c, e0, 1.01 * c.spot, True)
        e30 = expiry_near(c, 30.0)
        far_put = iv_at(c, e30, 0.99 * c.spot, False)
        far_call = iv_at(c, e30, 1.01 * c.spot, True)
        assert near_put - near_call > far_put - far_call > 0


@pytest.mark.parametrize("symbol", list(FAMILY))
def test_open_interest_concentration(real: dict, sim: dict, symbol: str) -> None:
    ref = np.array([oi_share_5pct(c) for cs in real.values() for c in cs])
    lo, hi = 0.6 * ref.min(), 1.4 * ref.max()
    for c in sim[symbol]:
        assert lo <= oi_share_5pct(c) <= hi, (symbol, oi_share_5pct(c), lo, hi)


def wall_ratio(c: OptionChain, mult: float) -> float:
    """Mean OI on strikes that are multiples of `mult` over the mean on the others, strikes
    within +-5% of spot, expiries within 100 days: how much round strikes stand out."""
    m = live(c) & (np.abs(c.strike / c.spot - 1.0) < 0.05)
    on = np.isclose(np.mod(c.strike, mult), 0.0)
    return float(c.open_interest[m & on].mean() / c.open_interest[m & ~on].mean())


@pytest.mark.parametrize(
    ("symbol", "mult"), [("SPX", 100.0), ("SPX", 25.0), ("SPY", 10.0), ("QQQ", 10.0)]
)
def test_open_interest_walls_at_round_strikes(
    real: dict, sim: dict, symbol: str, mult: float
) -> None:
    """Measured on the real files: SPX x4.9-8.1 at 100s, x4.3-6.0 at 25s; SPY x3.1 and
    QQQ x4.5 at 10s."""
    ref = np.array([wall_ratio(c, mult) for c in real[symbol]])
    assert (ref > 2.0).all()
    for c in sim[symbol]:
        assert 0.5 * ref.min() <= wall_ratio(c, mult) <= 2.0 * ref.max(), (
            symbol,
            wall_ratio(c, mult),
            ref,
        )


def test_index_puts_outweigh_calls_in_open_interest(real: dict, sim: dict) -> None:
    for c in [*real["SPX"], *sim["SPX"]]:
        m = live(c)
        assert c.open_interest[m & ~c.is_call].sum() > c.open_interest[m & c.is_call].sum()


def test_0dte_listing_size_comparable(real: dict, sim: dict) -> None:
    intraday = real["SPX"][0:2]  # the two intraday files (2022-07-12, 2023-06-09)
    sizes = [
        int((c.expiry == np.unique(c.expiry[c.expiry > c.as_of_epoch])[0]).sum()) for c in intraday
    ]
    for c in sim["SPX"]:
        n = int((c.expiry == np.unique(c.expiry[c.expiry > c.as_of_epoch])[0]).sum())
        assert 0.5 * min(sizes) <= n <= 2.0 * max(sizes)


@pytest.mark.parametrize("symbol", list(FAMILY))
def test_flip_level_near_spot(real: dict, sim: dict, symbol: str) -> None:
    """Under the physical model with start-of-day positions, the repriced profile's nearest
    flip lies within a few percent of spot, as on the real intraday SPX file."""
    pipeline = pytest.importorskip("hedgeflow.engine.pipeline", reason="engine pipeline not in yet")
    from hedgeflow.engine.config import EngineConfig

    reference = pipeline.analyze_chain(real["SPX"][1], config=EngineConfig())  # 2023-06-09
    assert reference.repriced is not None and reference.repriced.nearest_flip is not None
    assert abs(reference.repriced.nearest_flip / reference.spot - 1.0) < 0.04
    for c in sim[symbol]:
        a = pipeline.analyze_chain(c, config=EngineConfig())
        assert a.repriced is not None and a.repriced.nearest_flip is not None, symbol
        assert abs(a.repriced.nearest_flip / a.spot - 1.0) < 0.04, (
            symbol,
            a.repriced.nearest_flip,
            a.spot,
        )
