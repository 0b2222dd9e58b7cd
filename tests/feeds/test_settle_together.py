"""Listed contracts that settle together are one position, never "duplicates".

A series whose listed expiration is an exchange holiday settles at the previous session
(the clock), where a series listed on that session already settles: same root, settlement,
strike and right. Both are kept as one contract with their open interest summed. Only a
repeated row of the same listed contract is a duplicate, and the open interest of every
dropped row is recorded for the analysis to show.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from hedgeflow.engine.clock import NY, settlement_time
from hedgeflow.feeds.files import read_chain_file
from hedgeflow.feeds.normalize import (
    RepairedQuotes,
    assemble_chain,
    chain_order,
    merge_contracts,
    settlement,
)

THURSDAY = date(2024, 3, 28)  # the session before Good Friday 2024
GOOD_FRIDAY = date(2024, 3, 29)  # an exchange holiday: a series listed on it settles Thursday


def _dates(*days: date) -> np.ndarray:
    return np.array([d.isoformat() for d in days], dtype="datetime64[D]")


def test_the_clock_moves_the_holiday_series_onto_thursday() -> None:
    thu, fri = settlement(np.array(["SPXW", "SPXW"]), _dates(THURSDAY, GOOD_FRIDAY))
    assert thu == fri == settlement_time("SPXW", THURSDAY).timestamp()


def _assemble(listed: np.ndarray | None, **cols: np.ndarray) -> object:
    root = np.array(["SPXW"] * 4)
    days = _dates(THURSDAY, GOOD_FRIDAY, THURSDAY, GOOD_FRIDAY)
    base = {
        "bid": np.array([10.0, 10.2, 5.0, 5.0]),
        "ask": np.array([11.0, 10.6, 5.5, 5.4]),
        "last": np.array([10.5, 10.3, 5.2, np.nan]),
        "last_trade_time": np.full(4, np.nan),
        "volume": np.array([100.0, 40.0, 7.0, 3.0]),
        "open_interest": np.array([1200.0, 800.0, 50.0, 25.0]),
        "vendor_iv": np.array([0.20, 0.21, 0.30, 0.31]),
    }
    base.update(cols)
    return assemble_chain(
        symbol="SPX",
        spot=5200.0,
        as_of=datetime(2024, 3, 25, 15, 0, tzinfo=UTC),
        root=root,
        expiry=settlement(root, days),
        strike=np.array([5200.0, 5200.0, 5100.0, 5100.0]),
        is_call=np.array([True, True, False, False]),
        listed=listed,
        **base,
    )


def test_holiday_accelerated_series_keeps_its_open_interest() -> None:
    days = _dates(THURSDAY, GOOD_FRIDAY, THURSDAY, GOOD_FRIDAY)
    chain = _assemble(days)
    assert len(chain) == 2  # one contract per (root, settlement, strike, right)
    # put 5100 first (chain order), then call 5200; open interest and volume summed
    assert chain.strike.tolist() == [5100.0, 5200.0]
    assert chain.open_interest.tolist() == [75.0, 2000.0]
    assert chain.volume.tolist() == [10.0, 140.0]
    # the tighter two-sided quote wins, with its own vendor IV: the Friday call (0.4 wide
    # against 1.0), the Friday put (0.4 against 0.5)
    assert chain.bid.tolist() == [5.0, 10.2] and chain.ask.tolist() == [5.4, 10.6]
    assert chain.vendor_iv.tolist() == [0.31, 0.21]
    assert chain.dropped == {"merged_same_settlement": 2}
    assert chain.dropped_open_interest == {}  # nothing left out
    assert chain.expiry.tolist() == [settlement_time("SPXW", THURSDAY).timestamp()] * 2


def test_without_listed_dates_the_later_series_was_dropped_with_its_open_interest() -> None:
    # What a reader that does not pass the listed dates gets (the old rule): the Friday rows
    # are "duplicates" and their 825 contracts of open interest are recorded as left out.
    chain = _assemble(None)
    assert chain.open_interest.tolist() == [50.0, 1200.0]
    assert chain.dropped == {"duplicate": 2}
    assert chain.dropped_open_interest == {"duplicate": 825.0}


def test_a_repeated_row_of_one_listed_contract_is_a_duplicate_not_a_merge() -> None:
    days = _dates(THURSDAY, THURSDAY, THURSDAY, GOOD_FRIDAY)
    chain = _assemble(days)
    # the call row repeats (same listed date): the first is kept, its OI not summed
    assert chain.open_interest.tolist() == [75.0, 1200.0]
    assert chain.dropped == {"duplicate": 1, "merged_same_settlement": 1}
    assert chain.dropped_open_interest == {"duplicate": 800.0}


def test_merge_takes_the_most_recent_trade_and_keeps_one_sided_quotes_whole() -> None:
    start = np.array([True, False, False, True])
    q = RepairedQuotes(
        bid=np.array([np.nan, 1.0, 1.1, 2.0]),
        ask=np.array([1.2, 1.5, 1.4, 2.5]),
        last=np.array([1.1, 1.3, np.nan, 2.2]),
        volume=np.array([1.0, 2.0, 3.0, 4.0]),
        open_interest=np.array([10.0, 20.0, 30.0, 40.0]),
        vendor_iv=np.array([0.1, 0.2, 0.3, 0.4]),
    )
    trade_time = np.array([200.0, 300.0, 400.0, np.nan])
    first, m, tt = merge_contracts(start, q, trade_time)
    assert first.tolist() == [0, 3]
    # the 1.1/1.4 quote is the tightest two-sided one; the one-sided 1.2 ask is not
    assert m.bid.tolist() == [1.1, 2.0] and m.ask.tolist() == [1.4, 2.5]
    assert m.vendor_iv.tolist() == [0.3, 0.4]
    # the newest trade with a price (row 2 has a time but no price)
    assert m.last.tolist() == [1.3, 2.2] and tt[0] == 300.0 and np.isnan(tt[1])
    assert m.open_interest.tolist() == [60.0, 40.0] and m.volume.tolist() == [6.0, 4.0]


def test_chain_order_marks_the_rows_to_merge() -> None:
    root = np.array(["SPXW"] * 3)
    days = _dates(GOOD_FRIDAY, THURSDAY, THURSDAY)
    expiry = settlement(root, days)
    counts: Counter[str] = Counter()
    oi: dict[str, float] = {}
    co = chain_order(
        np.arange(3),
        root,
        expiry,
        np.array([5.0, 5.0, 5.0]),
        np.ones(3, dtype=bool),
        counts,
        listed=days,
        open_interest=np.array([3.0, 4.0, 5.0]),
        oi_counts=oi,
    )
    # Thursday's listed row first (earlier listed date), its repeat dropped, Friday merged
    assert co.rows.tolist() == [1, 0] and co.start.tolist() == [True, False]
    assert counts == {"duplicate": 1, "merged_same_settlement": 1} and oi == {"duplicate": 5.0}


CSV_HEADER = (
    "Expiration Date,Calls,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,"
    "Strike,Puts,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest"
)


def _csv_row(day: date, strike: float, oi_call: int, oi_put: int, bid: float = 10.0) -> str:
    ymd = day.strftime("%y%m%d")
    k = f"{round(strike * 1000):08d}"
    return (
        f"{day:%a %b %d %Y},SPXW{ymd}C{k},10.5,0,{bid},{bid + 1},5,0.2,0.5,0.001,{oi_call},"
        f"{strike:.2f},SPXW{ymd}P{k},9.5,0,9,10,5,0.2,-0.5,0.001,{oi_put}"
    )


def test_csv_reader_merges_a_good_friday_series(tmp_path: Path) -> None:
    lines = [
        "",
        "S&P 500 INDEX,Last: 5200.00,Change: 1.0",
        '"Date: March 25, 2024 at 11:00 AM EDT",Bid: 0,Ask: 0,Size: 0,Volume: 0',
        CSV_HEADER,
        _csv_row(THURSDAY, 5200.0, 100, 200),
        _csv_row(THURSDAY, 5210.0, 10, 20),
        _csv_row(GOOD_FRIDAY, 5200.0, 1000, 2000, bid=10.2),
        _csv_row(GOOD_FRIDAY, 5220.0, 7, 9),
    ]
    path = tmp_path / "spx_quotedata.csv"
    path.write_text("\n".join(lines) + "\n")
    chain = read_chain_file(path)
    # 8 listed contracts, 6 distinct (root, settlement, strike, right): nothing lost
    assert len(chain) == 6
    assert chain.open_interest.sum() == 100 + 200 + 10 + 20 + 1000 + 2000 + 7 + 9
    assert chain.dropped == {"merged_same_settlement": 2}
    thursday_close = datetime(2024, 3, 28, 16, 0, tzinfo=NY).timestamp()
    assert (chain.expiry == thursday_close).all()
    at_5200 = chain.strike == 5200.0
    assert sorted(chain.open_interest[at_5200].tolist()) == [1100.0, 2200.0]
