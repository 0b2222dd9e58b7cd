"""The shared normalization step: OCC symbols, vendor times, expiration roots and the
data-quality rules every parser applies."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgeflow.engine.clock import NY
from hedgeflow.feeds import files
from hedgeflow.feeds.normalize import (
    ROW_DROP_REASONS,
    as_float_array,
    as_of_from_stamps,
    assemble_chain,
    chain_order,
    contracts_dropped,
    expiration_roots,
    expirations_from_dates,
    first_positive,
    ms_to_epoch,
    nonstandard_roots,
    ny_naive_to_epoch,
    parse_occ,
    plain_symbol,
    repair_quotes,
    settlement,
    spot_note_for,
    third_friday_expiration,
)
from tests.feeds.conftest import utc


def test_parse_occ_roots_padding_and_junk() -> None:
    root, day, is_call, strike = parse_occ(
        ["SPXW260515C05900000", "SPX   260618P06000500", "SPY1260515C00500000", "x", None, 7]
    )
    assert root.tolist() == ["SPXW", "SPX", "SPY1", "", "", ""]
    assert day[:3].astype(str).tolist() == ["2026-05-15", "2026-06-18", "2026-05-15"]
    assert np.isnat(day[3:]).all()
    assert is_call.tolist()[:3] == [True, False, True]
    assert strike[:3].tolist() == [5900.0, 6000.5, 500.0]  # last 8 digits / 1000
    # an impossible calendar date parses as NaT, not an exception
    _, bad_day, _, _ = parse_occ(["SPX261345C05900000"])
    assert np.isnat(bad_day[0])


def test_ny_naive_times_follow_dst() -> None:
    out = ny_naive_to_epoch(
        ["2026-03-06T10:00:00", "2026-03-09 10:00:00", "2026-11-02T09:30:02", None, "", "soon", "0"]
    )
    assert out[0] == utc(2026, 3, 6, 15)  # EST, UTC-5
    assert out[1] == utc(2026, 3, 9, 14)  # EDT, UTC-4 (DST began Mar 8)
    assert out[2] == utc(2026, 11, 2, 14, 30, 2)  # EST again
    assert np.isnan(out[3:]).all()


def test_ms_to_epoch() -> None:
    # FEEDS.md: 1557172096000 = 2019-05-06 19:48:16Z; 0 = no trade
    out = ms_to_epoch(np.array([1557172096000.0, 0.0, -5.0, np.nan, 1e20]))
    assert out[0] == utc(2019, 5, 6, 19, 48, 16)
    assert np.isnan(out[1:]).all()


def test_as_float_array() -> None:
    counts: Counter[str] = Counter()
    out = as_float_array([1, "2.5", None, "abc", [1], {"a": 1}, True, "1e999"], counts)
    assert (out[0], out[1]) == (1.0, 2.5)
    assert np.isnan(out[2]) and np.isnan(out[3]) and np.isnan(out[4]) and np.isnan(out[5])
    assert out[6] == 1.0 and np.isinf(out[7])
    assert counts["bad_number"] == 3


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 5, 15), True),  # third Friday
        (date(2026, 5, 14), False),
        (date(2026, 5, 22), False),
        (date(2025, 4, 17), True),  # Good Friday Apr 18 2025: the monthly moves to Thursday
        (date(2026, 6, 18), True),  # Juneteenth Jun 19 2026
        (date(2026, 6, 19), True),
    ],
)
def test_third_friday_expiration(day: date, expected: bool) -> None:
    assert third_friday_expiration(day) is expected


def test_expiration_roots_and_times() -> None:
    assert expiration_roots("SPX", date(2026, 5, 15)) == ["SPX", "SPXW"]
    assert expiration_roots("$SPX", date(2026, 5, 18)) == ["SPXW"]
    assert expiration_roots("NDX", date(2026, 5, 15)) == ["NDX", "NDXP"]
    assert expiration_roots("spy", date(2026, 5, 15)) == ["SPY"]
    times = expirations_from_dates("SPX", [date(2026, 5, 18), date(2026, 5, 15), date(1900, 1, 1)])
    assert times == [
        datetime(2026, 5, 15, 13, 30, tzinfo=UTC),  # SPX AM, 09:30 EDT
        datetime(2026, 5, 15, 20, tzinfo=UTC),  # SPXW PM
        datetime(2026, 5, 18, 20, tzinfo=UTC),
    ]


def test_settlement_by_root_and_bad_dates() -> None:
    roots = np.array(["SPX", "SPXW", "SPY", "SPXW", "SPXW"])
    days = np.array(
        ["2026-05-15", "2026-05-15", "2026-11-27", "NaT", "2199-01-01"], dtype="datetime64[D]"
    )
    out = settlement(roots, days)
    assert out[0] == utc(2026, 5, 15, 13, 30)
    assert out[1] == utc(2026, 5, 15, 20)
    assert out[2] == utc(2026, 11, 27, 18)  # day after Thanksgiving: 13:00 EST close
    assert np.isnan(out[3]) and np.isnan(out[4])


def test_spot_note() -> None:
    assert spot_note_for(datetime(2026, 5, 15, 17, 30, tzinfo=UTC)) == ""
    assert spot_note_for(datetime(2026, 5, 16, 17, 30, tzinfo=UTC)).startswith("stale")  # Sat
    assert spot_note_for(datetime(2026, 5, 15, 21, 0, tzinfo=UTC)).startswith("stale")


def test_assemble_chain_rules() -> None:
    as_of = datetime(2026, 5, 15, 17, 30, tzinfo=UTC)
    exp = utc(2026, 5, 18, 20)
    n = 7
    counts: Counter[str] = Counter({"bad_symbol": 2})  # counted upstream, carried through
    chain = assemble_chain(
        symbol="SPX",
        spot=5900.0,
        as_of=as_of,
        root=np.array(["SPXW", "SPXW", "SPXW", "SPXW", "SPY1", "SPXW", "SPXW"]),
        expiry=np.array([exp, exp, exp, exp, exp, utc(2026, 5, 15, 13, 30), np.nan]),
        strike=np.array([5900.0, 5910.0, 5920.0, 5930.0, 5900.0, 5900.0, 5900.0]),
        is_call=np.ones(n, dtype=bool),
        bid=np.array([0.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0]),
        ask=np.array([0.0, 1.5, 2.5, 1.5, 1.5, 1.5, 1.5]),
        last=np.array([-1.0, 0.0, 2.2, np.nan, 1.0, 1.0, 1.0]),
        last_trade_time=np.full(n, np.nan),
        volume=np.array([1.0, np.inf, 3.0, np.nan, 1.0, 1.0, 1.0]),
        open_interest=np.array([10.0, 20.0, -5.0, np.nan, 1.0, 1.0, 1.0]),
        vendor_iv=np.array([0.2, 0.0, -0.1, np.nan, 0.2, 0.2, 0.2]),
        multiplier=np.array([100.0, 0.0, 100.0, np.nan, 100.0, 100.0, 100.0]),
        counts=counts,
        spot_note="",
    )
    assert len(chain) == 4
    assert dict(chain.dropped) == {
        "bad_symbol": 2,
        "nonstandard_root": 1,
        "bad_expiry": 1,
        "expired": 1,
        "no_market": 1,
        "negative_quote": 1,
        "bad_volume": 1,
        "bad_open_interest": 1,
        "bad_multiplier": 2,
    }
    assert np.isnan(chain.bid[0]) and np.isnan(chain.ask[0]) and chain.open_interest[0] == 10.0
    assert np.isnan(chain.last[0]) and np.isnan(chain.last[1])  # negative / zero last
    assert chain.volume.tolist() == [1.0, 0.0, 3.0, 0.0]
    assert chain.open_interest.tolist() == [10.0, 20.0, 0.0, 0.0]
    assert chain.multiplier.tolist() == [100.0] * 4
    assert chain.vendor_iv[0] == 0.2 and np.isnan(chain.vendor_iv[1:]).all()


NAN, INF = np.nan, np.inf


@pytest.mark.parametrize("nan_unreadable", [False, True])
def test_repair_quotes_every_value_class(nan_unreadable: bool) -> None:
    # One contract per case (hand-worked expectations in the comments).
    bid = np.array([1.0, -1.0, INF, -INF, NAN, 2.0, 0.0, 1.0])
    ask = np.array([1.5, 1.0, 2.0, 2.0, 1.0, 1.0, 0.0, INF])
    last = np.array([0.0, 1.0, NAN, INF, -2.0, 1.0, 1.0, 1.0])
    volume = np.array([NAN, INF, -1.0, 3.0, 0.0, 1.0, 1.0, 1.0])
    oi = np.array([10.0, -INF, NAN, -5.0, 1.0, 1.0, 1.0, 1.0])
    iv = np.array([0.2, 0.0, -0.1, NAN, INF, 0.3, 0.3, 0.3])
    inputs = [a.copy() for a in (bid, ask, last, volume, oi, iv)]
    counts: Counter[str] = Counter()
    q = repair_quotes(bid, ask, last, volume, oi, iv, counts, nan_unreadable=nan_unreadable)
    for before, after in zip(inputs, (bid, ask, last, volume, oi, iv), strict=True):
        np.testing.assert_array_equal(before, after)  # inputs untouched
    # bid: -1, +inf, -inf -> NaN (negative_quote); 2 > 1 crossed; 0/0 no market.
    np.testing.assert_array_equal(q.bid, [1.0, NAN, NAN, NAN, NAN, NAN, NAN, 1.0])
    # ask: the +inf ask of the last contract -> NaN; the asks of NaN'd bids stay.
    np.testing.assert_array_equal(q.ask, [1.5, 1.0, 2.0, 2.0, 1.0, NAN, NAN, NAN])
    # last: 0 "no trade" -> NaN uncounted; +inf and -2 -> NaN (negative_quote).
    np.testing.assert_array_equal(q.last, [NAN, 1.0, NAN, NAN, NAN, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(q.volume, [0.0, 0.0, 0.0, 3.0, 0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(q.open_interest, [10.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(q.vendor_iv, [0.2, NAN, NAN, NAN, NAN, 0.3, 0.3, 0.3])
    expected = {
        "negative_quote": 3 + 1 + 2,  # bids -1, +inf, -inf; ask +inf; lasts +inf, -2
        "crossed_quote": 1,
        "no_market": 1,
        "bad_volume": 2,  # +inf, -1
        "bad_open_interest": 2,  # -inf, -5
    }
    if nan_unreadable:
        expected["bad_number"] = 3  # NaN bid, last and volume: unreadable CSV cells
        expected["bad_open_interest"] += 1  # and the NaN OI: a position the book loses
    assert dict(counts) == expected


finite_or_not = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -1.0, NAN, INF, -INF]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(*[finite_or_not] * 6), min_size=1, max_size=12))
def test_repair_quotes_invariants(rows: list[tuple[float, ...]]) -> None:
    cols = [np.array(c, dtype=np.float64) for c in zip(*rows, strict=True)]
    json_counts: Counter[str] = Counter()
    csv_counts: Counter[str] = Counter()
    q = repair_quotes(*cols, json_counts)
    q_csv = repair_quotes(*cols, csv_counts, nan_unreadable=True)
    for a, b in zip(q, q_csv, strict=True):
        np.testing.assert_array_equal(a, b)  # the flag changes counting, never values
    for price in (q.bid, q.ask, q.last):
        assert not (np.isinf(price) | (price < 0)).any()
    assert not (q.bid > q.ask).any() and not ((q.bid == 0) & (q.ask == 0)).any()
    assert not (q.last == 0).any()
    for count in (q.volume, q.open_interest):
        assert np.isfinite(count).all() and (count >= 0).all()
    assert (np.isnan(q.vendor_iv) | ((q.vendor_iv > 0) & np.isfinite(q.vendor_iv))).all()
    unreadable = sum(int(np.isnan(c).sum()) for c in cols[:4])  # bid, ask, last, volume
    assert csv_counts.pop("bad_number", 0) == unreadable
    # an unreadable CSV open interest counts as a bad open interest (JSON's null: missing)
    lost = int(np.isnan(cols[4]).sum())
    assert csv_counts.pop("bad_open_interest", 0) == json_counts.pop("bad_open_interest", 0) + lost
    assert csv_counts == json_counts and "bad_number" not in json_counts


def test_assemble_chain_nans_infinite_prices() -> None:
    # A JSON 1e999 reads as +inf (not a bad_number): an infinite price is no quote.
    as_of = datetime(2026, 5, 15, 17, 30, tzinfo=UTC)
    n = 2
    chain = assemble_chain(
        symbol="SPX",
        spot=5900.0,
        as_of=as_of,
        root=np.array(["SPXW", "SPXW"]),
        expiry=np.full(n, utc(2026, 5, 18, 20)),
        strike=np.array([5900.0, 5910.0]),
        is_call=np.ones(n, dtype=bool),
        bid=np.array([1.0, INF]),
        ask=np.array([INF, 2.0]),
        last=np.array([INF, 1.0]),
        last_trade_time=np.full(n, np.nan),
        volume=np.ones(n),
        open_interest=np.ones(n),
        vendor_iv=np.full(n, 0.2),
    )
    assert chain.bid[0] == 1.0 and np.isnan(chain.ask[0]) and np.isnan(chain.last[0])
    assert np.isnan(chain.bid[1]) and chain.ask[1] == 2.0
    assert dict(chain.dropped) == {"negative_quote": 3}


def test_one_vocabulary_of_row_drop_reasons() -> None:
    # The CSV reader re-exports normalize's set and sum: one place defines them.
    assert files.ROW_DROP_REASONS is ROW_DROP_REASONS
    assert files.contracts_dropped is contracts_dropped
    assert ROW_DROP_REASONS == {
        "bad_row", "empty_row", "bad_symbol", "nonstandard_root", "bad_strike", "bad_expiry",
        "expired", "duplicate",
    }  # fmt: skip
    dropped = {"empty_row": 4, "duplicate": 1, "bad_number": 7, "negative_quote": 2}
    assert contracts_dropped(dropped) == 5


def test_as_of_from_stamps() -> None:
    now = datetime(2026, 5, 15, 13, 30, 5, tzinfo=NY)  # 17:30:05Z
    stamps = np.array([np.nan, utc(2026, 5, 15, 17, 29, 58), utc(2026, 5, 15, 17, 0)])
    got = as_of_from_stamps(stamps, now, 900.0)
    assert got == datetime(2026, 5, 15, 17, 29, 58, tzinfo=UTC) and got.tzinfo is UTC
    # A vendor clock ahead of the fetch is capped at `now`.
    ahead = as_of_from_stamps(np.array([utc(2026, 5, 15, 17, 31)]), now, 900.0)
    assert ahead == now and ahead.tzinfo is UTC
    # No vendor time at all: the fetch time minus the feed's delay.
    for none in (np.array([np.nan, np.nan]), np.array([])):
        assert as_of_from_stamps(none, now, 900.0) == now - timedelta(seconds=900)
    assert as_of_from_stamps(np.array([np.nan]), now, 0.0) == now


def test_first_positive() -> None:
    # Spot fallbacks: null, junk, 0, negative, infinite and NaN are skipped in order.
    assert first_positive([None, "abc", 0, -1.0, float("inf"), "NaN", "5912.34", 1.0]) == 5912.34
    assert first_positive([4500.5, 4400.0]) == 4500.5
    assert np.isnan(first_positive([None, 0.0, "1e999"]))
    assert np.isnan(first_positive([]))


@pytest.mark.parametrize(
    ("given_symbol", "expected"),
    [("spx", "SPX"), (" $SPX ", "SPX"), ("_SPX", "SPX"), ("^spx", "SPX"), ("$^_ndx", "NDX"),
     ("SPY", "SPY"), ("BRK.B", "BRK.B"), ("SP$X", "SP$X")],
)  # fmt: skip
def test_plain_symbol(given_symbol: str, expected: str) -> None:
    assert plain_symbol(given_symbol) == expected


def test_chain_order_sorts_and_keeps_the_first_duplicate() -> None:
    root = np.array(["SPXW", "SPX", "SPXW", "SPXW", "SPXW", "SPX"])
    expiry = np.array([2.0, 1.0, 2.0, 2.0, 1.0, 1.0])
    strike = np.array([10.0, 10.0, 10.0, 5.0, 10.0, 10.0])
    is_call = np.array([True, False, True, True, False, False])
    counts: Counter[str] = Counter()
    # Row 2 repeats row 0 and row 5 repeats row 1: the earlier rows win. Row 3 is not kept.
    order = chain_order(np.array([0, 1, 2, 4, 5]), root, expiry, strike, is_call, counts)
    # expiry 1: SPX before SPXW; expiry 2: the one SPXW 10 call.
    assert order.rows.tolist() == [1, 4, 0]
    assert order.start.all()
    assert counts == {"duplicate": 2}
    empty = chain_order(np.array([], dtype=int), root, expiry, strike, is_call, counts)
    assert empty.rows.size == 0
    assert counts == {"duplicate": 2}


def test_nonstandard_roots() -> None:
    roots = np.array(["SPX", "SPXW", "SPY1", "", "ABCDEFG", "spy", "Q", "NDXP", "2SPY"])
    assert nonstandard_roots(roots).tolist() == [
        False, False, True, True, True, True, False, False, True,
    ]  # fmt: skip
    assert nonstandard_roots(np.array([], dtype=str)).size == 0
