"""The `file` feed. Expected values are those of tests/data/real/README.md (spot, quote time,
rows, expiry dates, IV = 0 counts, OI totals), which were read off the files by hand; counts
that the README does not state are recomputed here independently with the csv module."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hedgeflow.engine.chain import ARRAY_FIELDS, OptionChain, chain_to_dict
from hedgeflow.engine.clock import NY, settlement_time
from hedgeflow.feeds.base import Feed, open_feed
from hedgeflow.feeds.errors import BadPayload, FeedError
from hedgeflow.feeds.files import (
    ROW_DROP_REASONS,
    ChainFileError,
    FileFeed,
    contracts_dropped,
    parse_chain_bytes,
    parse_quote_time,
    read_chain_file,
    write_chain_json,
)

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def ny(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=NY)


def utc(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


# file: (spot, as_of, rows, expiry dates, first, last, IV == 0 count, OI total) from the README.
README = {
    "spx_quotedata_2020-03-22.dat": (
        2304.92, ny(2020, 3, 22, 18, 24), 9500, 37, date(2020, 3, 23), date(2022, 12, 16), 1161, 16_252_817,
    ),
    "spx_quotedata_2022-07-12.csv": (
        3856.28, ny(2022, 7, 12, 11, 55), 9689, 47, date(2022, 7, 12), date(2027, 12, 17), 651, 15_716_365,
    ),
    "spx_quotedata_2023-06-09.csv": (
        4300.0098, ny(2023, 6, 9, 13, 40), 8894, 49, date(2023, 6, 9), date(2027, 12, 17), 533, 20_105_007,
    ),
    "spx_quotedata_2023-09-14.csv": (
        4505.1001, ny(2023, 9, 14, 16, 31), 9960, 53, date(2023, 9, 14), date(2025, 12, 19), 1447, 20_386_854,
    ),
    "spx_quotedata_2023-12-09.csv": (
        4604.3701, datetime(2023, 12, 9, 13, 49, tzinfo=timezone(timedelta(hours=-5))),
        3115, 15, date(2023, 12, 8), date(2023, 12, 29), 912, 9_978_820,
    ),
    "spy_quotedata_2023-09-14.csv": (
        450.81, ny(2023, 9, 14, 16, 31), 3646, 31, date(2023, 9, 14), date(2026, 1, 16), 1635, 21_573_172,
    ),
    "qqq_quotedata_2023-06-12.csv": (
        358.27, ny(2023, 6, 12, 16, 35), 3623, 29, date(2023, 6, 12), date(2025, 6, 20), 750, 15_402_778,
    ),
    "ndx_quotedata_2023-05-15.csv": (
        13378.3047, ny(2023, 5, 15, 12, 9), 10161, 44, date(2023, 5, 15), date(2025, 12, 19), 1031, 149_715,
    ),
}  # fmt: skip

SYMBOL = {"spx": "SPX", "spy": "SPY", "qqq": "QQQ", "ndx": "NDX"}


@pytest.fixture(scope="module")
def chains() -> dict[str, OptionChain]:
    return {name: read_chain_file(REAL / name) for name in README}


def raw_rows(name: str) -> list[list[str]]:
    """Data rows of a real file, read independently of the parser under test."""
    with open(REAL / name, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    h = next(i for i, r in enumerate(rows) if r and r[0] == "Expiration Date")
    return [r for r in rows[h + 1 :] if r]


def ny_dates(epochs: np.ndarray) -> set[date]:
    return {datetime.fromtimestamp(float(e), tz=NY).date() for e in np.unique(epochs)}


def test_every_real_file_is_covered() -> None:
    on_disk = {
        p.name for p in REAL.iterdir() if p.name != "README.md" and not p.name.startswith(".")
    }
    assert on_disk == set(README)


@pytest.mark.parametrize("name", sorted(README))
def test_real_file_matches_readme(name: str, chains: dict[str, OptionChain]) -> None:
    spot, as_of, rows, n_dates, first, last, iv_zero, oi_total = README[name]
    chain = chains[name]
    assert chain.symbol == SYMBOL[name[:3]]
    assert chain.spot == spot
    assert chain.as_of == as_of
    assert chain.as_of.utcoffset() == as_of.utcoffset()  # New York wall clock, right offset
    assert chain.as_of.tzinfo is NY
    # Every contract of the file is either in the chain or counted as dropped.
    assert len(chain) == 2 * rows - contracts_dropped(chain.dropped)
    assert set(chain.dropped) <= ROW_DROP_REASONS | {
        "negative_quote", "crossed_quote", "no_market", "bad_open_interest", "bad_volume",
    }  # fmt: skip
    dates = ny_dates(chain.expiry)
    assert len(dates) == n_dates
    assert min(dates) == first and max(dates) == last
    # Expiry keyed by root: one settlement time per (root, date) of the raw file.
    pairs = {(s[:-15], r[0]) for r in raw_rows(name) for s in (r[1], r[12])}
    assert len(chain.expiries()) == len(pairs)
    # Dropped rows carry no open interest, so the total survives exactly.
    assert chain.open_interest.sum() == oi_total
    # Vendor IV 0 ("not computed") becomes NaN; the dropped empty rows had IV 0 as well.
    assert np.isnan(chain.vendor_iv).sum() + chain.dropped.get("empty_row", 0) == iv_zero
    assert np.nanmax(chain.vendor_iv) < 10  # decimal, not percent
    assert chain.delay_seconds == 900
    assert np.all(chain.multiplier == 100)
    assert chain.source.endswith(name)
    # Sorted by expiry, and no contract appears twice.
    assert np.all(np.diff(chain.expiry) >= 0)
    keys = set(
        zip(
            chain.root.tolist(),
            chain.expiry.tolist(),
            chain.strike.tolist(),
            chain.is_call.tolist(),
            strict=True,
        )
    )
    assert len(keys) == len(chain)


def test_third_friday_spx_and_spxw_keyed_by_root(chains: dict[str, OptionChain]) -> None:
    chain = chains["spx_quotedata_2023-09-14.csv"]
    spx = settlement_time("SPX", date(2023, 9, 15)).timestamp()
    spxw = settlement_time("SPXW", date(2023, 9, 15)).timestamp()
    assert spx == utc(2023, 9, 15, 13, 30).timestamp()  # 09:30 EDT, opening quotation
    assert spxw == utc(2023, 9, 15, 20).timestamp()  # 16:00 EDT
    on_15 = (chain.expiry == spx) | (chain.expiry == spxw)
    assert on_15.sum() == 2 * 738  # README: Sep 15 holds 738 rows
    assert set(chain.root[chain.expiry == spx]) == {"SPX"}
    assert set(chain.root[chain.expiry == spxw]) == {"SPXW"}
    # Same strike, same right, both roots: two contracts, not a duplicate.
    both = (chain.strike == 4500) & chain.is_call & on_15
    assert sorted(chain.root[both]) == ["SPX", "SPXW"]
    assert "duplicate" not in chain.dropped


def test_same_day_series_after_the_close_is_kept_but_expired(
    chains: dict[str, OptionChain],
) -> None:
    chain = chains["spx_quotedata_2023-09-14.csv"]
    close = utc(2023, 9, 14, 20).timestamp()  # 16:00 EDT
    same_day = chain.expiry == close
    assert same_day.sum() == 2 * 148
    assert set(chain.root[same_day]) == {"SPXW"}
    tau = chain.expiry[same_day] - chain.as_of_epoch
    assert np.all(tau == -31 * 60)  # saved at 16:31
    assert np.isnan(chain.vendor_iv[same_day]).all()  # README: IV 0 on all of them
    assert chain.open_interest[same_day].sum() > 0
    assert chain.spot_note.startswith("stale")
    # The weekend file: last Friday's series (Dec 8) is before the Saturday quote time.
    dec = chains["spx_quotedata_2023-12-09.csv"]
    dec8 = dec.expiry == utc(2023, 12, 8, 21).timestamp()  # 16:00 EST
    assert dec8.sum() == 2 * 216
    assert np.all(dec.expiry[dec8] < dec.as_of_epoch)
    assert np.all(dec.expiry[~dec8] > dec.as_of_epoch)


def test_intraday_same_day_expiry_is_live(chains: dict[str, OptionChain]) -> None:
    chain = chains["spx_quotedata_2022-07-12.csv"]
    today = chain.expiry == utc(2022, 7, 12, 20).timestamp()
    assert np.all(chain.expiry[today] - chain.as_of_epoch == (4 * 60 + 5) * 60)
    atm = today & (chain.strike == 3855)
    iv = dict(zip(chain.is_call[atm].tolist(), chain.vendor_iv[atm].tolist(), strict=True))
    # README: ATM 3855 IV 0.288 / 0.291 (rounded to 3 decimals there; the file has 4).
    assert iv == {True: pytest.approx(0.288, abs=5e-4), False: pytest.approx(0.291, abs=5e-4)}
    assert chain.spot_note == ""


def test_2020_crlf_layout(chains: dict[str, OptionChain]) -> None:
    assert b"\r\n" in (REAL / "spx_quotedata_2020-03-22.dat").read_bytes()[:200]
    chain = chains["spx_quotedata_2020-03-22.dat"]
    assert chain.as_of == utc(2020, 3, 22, 22, 24)  # Sunday 18:24 EDT
    first = (chain.strike == 1500) & chain.is_call & (chain.root == "SPXW")
    first &= chain.expiry == utc(2020, 3, 23, 20).timestamp()
    assert first.sum() == 1
    i = int(np.flatnonzero(first)[0])
    # Row `03/23/2020,SPXW200323C01500000,885.6,-64.8,793,806.7,1,0,0.9311,0.0002,1,1500.000,...`
    assert (chain.bid[i], chain.ask[i], chain.last[i], chain.volume[i], chain.open_interest[i]) == (
        793, 806.7, 885.6, 1, 1,
    )  # fmt: skip
    assert np.isnan(chain.vendor_iv[i])  # IV printed as 0
    assert chain.spot_note == "stale (market closed)"


def test_russian_date_line(chains: dict[str, OptionChain]) -> None:
    chain = chains["spx_quotedata_2023-12-09.csv"]
    assert chain.as_of == utc(2023, 12, 9, 18, 49)
    assert chain.as_of.utcoffset() == timedelta(hours=-5)


def test_ndx_placeholder_rows_and_roots(chains: dict[str, OptionChain]) -> None:
    chain = chains["ndx_quotedata_2023-05-15.csv"]
    assert not (chain.strike == 1.0).any()  # the all-zero strike 1.00 row is gone

    # Every dropped row is empty on both sides in the raw file (recomputed independently).
    def empty(r: list[str]) -> bool:
        return all(float(r[j]) == 0 for j in (2, 4, 5, 6, 10, 13, 15, 16, 17, 21))

    assert chain.dropped == {
        "empty_row": 2 * sum(empty(r) for r in raw_rows(chain.source.split("/")[-1]))
    }
    assert (chain.open_interest > 0).sum() == 6137  # README: 6137 contracts with OI > 0
    # Third Fridays carry only NDX (AM), other dates only NDXP (PM).
    for e in chain.expiries():
        roots = set(chain.root[chain.expiry == e])
        t = datetime.fromtimestamp(float(e), tz=NY)
        assert roots == ({"NDX"} if t.hour == 9 else {"NDXP"})


def test_crossed_and_no_market_quotes_are_nan_and_keep_oi(chains: dict[str, OptionChain]) -> None:
    chain = chains["spx_quotedata_2023-09-14.csv"]
    # `Fri Dec 19 2025,SPX251219C04200000,879.52,27.77,0.1,0,...,1513,4200.00,...`: bid > ask.
    i = np.flatnonzero(
        (chain.root == "SPX") & chain.is_call & (chain.strike == 4200)
        & (chain.expiry == settlement_time("SPX", date(2025, 12, 19)).timestamp())
    )  # fmt: skip
    assert len(i) == 1
    assert np.isnan(chain.bid[i[0]]) and np.isnan(chain.ask[i[0]])
    assert chain.open_interest[i[0]] == 1513
    assert chain.dropped["crossed_quote"] == 1
    both_zero = sum(
        1 for r in raw_rows("spx_quotedata_2023-09-14.csv") for b, a in ((r[4], r[5]), (r[15], r[16]))
        if float(b) == 0 and float(a) == 0
    )  # fmt: skip
    assert chain.dropped["no_market"] == both_zero
    assert np.isnan(chain.bid).sum() == both_zero + 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mar 22 2020 @ 18:24 ET", ny(2020, 3, 22, 18, 24)),
        ("July 12, 2022, 11:55 AM EDT", ny(2022, 7, 12, 11, 55)),
        ("September 14, 2023 at 4:31 PM EDT", ny(2023, 9, 14, 16, 31)),
        ("9 June 2023, 1:40 PM EDT", ny(2023, 6, 9, 13, 40)),
        ("9 декабря 2023 г. в 13:49 GMT-5", utc(2023, 12, 9, 18, 49)),
        ("May 15, 2023 at 12:09 PM EDT", ny(2023, 5, 15, 12, 9)),
        ("June 12, 2023 at 12:05 AM EDT", ny(2023, 6, 12, 0, 5)),
        ("14 сентября 2023 г. в 16:31 GMT-4", ny(2023, 9, 14, 16, 31)),
        ("Jan 3 2024 @ 10:00 ET", utc(2024, 1, 3, 15)),  # EST in January
        ("2023-09-14 16:31:05", ny(2023, 9, 14, 16, 31) + timedelta(seconds=5)),
        ("14.09.2023 22:31 GMT+02:00", ny(2023, 9, 14, 16, 31)),
        ("September 14, 2023 at 8:31 PM UTC", ny(2023, 9, 14, 16, 31)),
        ("Sept 14 2023 4:31 pm", ny(2023, 9, 14, 16, 31)),
    ],
)
def test_parse_quote_time(text: str, expected: datetime) -> None:
    got = parse_quote_time(text)
    assert got == expected
    assert got is not None and got.tzinfo is NY


@pytest.mark.parametrize(
    "text", ["", "Standard & Poors 500 Index", "13:49", "Feb 30 2023 10:00", "25:00 Jan 1 2023"]
)
def test_parse_quote_time_rejects(text: str) -> None:
    assert parse_quote_time(text) is None


# --- round trip ---------------------------------------------------------------------------


def assert_chains_equal(a: OptionChain, b: OptionChain) -> None:
    for name in ARRAY_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=name)  # NaN == NaN here
        else:
            assert x.tolist() == y.tolist(), name
    assert (a.symbol, a.as_of, a.source, a.delay_seconds, a.spot_note) == (
        b.symbol, b.as_of, b.source, b.delay_seconds, b.spot_note,
    )  # fmt: skip
    assert a.spot == b.spot or (np.isnan(a.spot) and np.isnan(b.spot))
    assert dict(a.dropped) == dict(b.dropped)


@pytest.mark.parametrize("name", ["spx_quotedata_2023-09-14.csv", "spx_quotedata_2020-03-22.dat"])
def test_json_round_trip(name: str, chains: dict[str, OptionChain], tmp_path: Path) -> None:
    chain = chains[name]
    out = tmp_path / "chain.json"
    write_chain_json(chain, out)
    back = read_chain_file(out)
    assert_chains_equal(chain, back)
    assert json.loads(out.read_text())["format"] == "hedgeflow.chain"
    # And again: the JSON is a fixed point.
    write_chain_json(back, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == out.read_text()
    assert read_chain_file(out, symbol="spx").symbol == "SPX"


def test_cboe_json_branch(tmp_path: Path) -> None:
    pytest.importorskip(
        "hedgeflow.feeds.cboe", reason="feeds.cboe (CBOE JSON parser) is not available yet"
    )
    payload = {
        "timestamp": "2023-09-14 20:46:00",
        "symbol": "_SPX",
        "data": {
            "current_price": 4505.1,
            "options": [
                {"option": "SPXW230915C04500000", "bid": 10.0, "ask": 10.5, "iv": 0.12,
                 "open_interest": 100.0, "volume": 5.0, "last_trade_price": 10.2,
                 "last_trade_time": "2023-09-14T16:14:00"},
                {"option": "SPX230915P04500000", "bid": 4.0, "ask": 4.4, "iv": 0.13,
                 "open_interest": 50.0, "volume": 1.0, "last_trade_price": 4.1,
                 "last_trade_time": "2023-09-14T16:10:00"},
            ],
        },
    }  # fmt: skip
    path = tmp_path / "_SPX.json"
    path.write_text(json.dumps(payload))
    chain = read_chain_file(path)
    assert chain.symbol == "SPX"
    assert sorted(chain.expiry.tolist()) == [
        settlement_time("SPX", date(2023, 9, 15)).timestamp(),
        settlement_time("SPXW", date(2023, 9, 15)).timestamp(),
    ]
    assert chain.source == str(path)
    path.write_text(json.dumps({"data": {"options": "nope"}}))
    with pytest.raises(ChainFileError, match="CBOE JSON"):
        read_chain_file(path)


# --- malformed files ----------------------------------------------------------------------

SMALL = (REAL / "spy_quotedata_2023-09-14.csv").read_bytes()[:3000].rsplit(b"\n", 1)[0] + b"\n"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty file"),
        (b"  \n\r\n ", "empty file"),
        (bytes(range(256)) * 4, "binary"),
        (b"\x89PNG\r\n\x1a\n" + b"\x01\x02\x03\x04" * 50, "binary"),
        (b"<!DOCTYPE html><html><body>Access denied</body></html>", "HTML"),
        (b'{"timestamp": "2023-09-14 20:46:00", "data": {"opt', "invalid JSON at line 1"),
        (b'{"hello": 1}', "neither a hedgeflow chain"),
        (b'{"format": "hedgeflow.chain", "version": 1, "as_of": "x"}', "bad hedgeflow chain JSON"),
        (b"a,b,c\n1,2,3\n", "no `Expiration Date"),
        (SMALL.split(b"Expiration Date")[0], "no `Expiration Date"),
        (SMALL[: SMALL.index(b"\n", SMALL.index(b"Expiration")) + 1], "no option rows"),
        (SMALL[: len(SMALL) - 60], "fields, expected 22 \\(truncated file\\?\\)"),
        (SMALL.replace(b"September 14, 2023 at 4:31 PM EDT", b"sometime"), "no quote time"),
        (SMALL.replace(b",Bid,", b",Bdi,", 1), "lacks the call `Bid`"),
    ],
)
def test_malformed_files(content: bytes, match: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ChainFileError, match=match) as info:
        read_chain_file(path)
    message = str(info.value)
    assert message.startswith(str(path) + ": ")
    assert "\n" not in message
    assert isinstance(info.value, ValueError) and isinstance(info.value, BadPayload)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ChainFileError, match="no such file"):
        read_chain_file(tmp_path / "nope.csv")
    with pytest.raises(ChainFileError, match="directory"):
        read_chain_file(tmp_path)


def test_small_sample_reads() -> None:
    chain = parse_chain_bytes(SMALL, name="small")
    assert chain.symbol == "SPY" and len(chain) > 0
    # Spreadsheet-style re-save of the same bytes: CRLF, trailing commas, no blank first line.
    lines = SMALL.decode().split("\n")[1:]
    resaved = "\r\n".join(line + ",,," if i < 2 else line for i, line in enumerate(lines))
    again = parse_chain_bytes(resaved.encode(), name="resaved")
    assert_chains_equal(dataclass_replace_source(chain, "x"), dataclass_replace_source(again, "x"))


def dataclass_replace_source(chain: OptionChain, source: str) -> OptionChain:
    import dataclasses

    return dataclasses.replace(chain, source=source)


def test_duplicates_and_bad_values_are_counted() -> None:
    text = SMALL.decode()
    head, _, body = text.partition("Open Interest\n")
    rows = body.strip().split("\n")
    r0 = rows[0].split(",")
    bad_price = list(r0)
    bad_price[4], bad_price[5] = "-1", "abc"  # call bid negative, call ask non-numeric
    bad_price[1] = "SPY230914C00999000"
    bad_price[12] = "SPY230914P00999000"
    bad_price[11] = "999.00"
    no_strike = list(r0)
    no_strike[11] = ""
    wrong_side = list(r0)
    wrong_side[1] = "SPY230914P00360000"  # a put symbol in the call column
    wrong_side[12] = "SPY230914P00365000"  # strike 365 in a row of strike 360
    body2 = "\n".join(
        [*rows, rows[0], ",".join(bad_price), ",".join(no_strike), ",".join(wrong_side)]
    )
    chain = parse_chain_bytes((head + "Open Interest\n" + body2 + "\n").encode(), name="edited")
    base = parse_chain_bytes(SMALL, name="edited")
    assert chain.dropped["duplicate"] == 2  # the repeated row
    assert chain.dropped["bad_strike"] == 2
    assert chain.dropped["bad_symbol"] == 2
    # Unified vocabulary (feeds.normalize): the negative bid is a negative_quote, the
    # non-numeric ask a bad_number (both were counted as negative_quote before).
    assert chain.dropped["negative_quote"] == 1
    assert chain.dropped["bad_number"] == 1
    assert len(chain) == len(base) + 2  # bad_price row's two contracts kept
    assert len(chain) == 2 * (len(rows) + 4) - contracts_dropped(chain.dropped)


# --- property tests -----------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_only_raise_chain_file_error(data: bytes) -> None:
    try:
        chain = parse_chain_bytes(data, name="fuzz")
    except ChainFileError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(chain, OptionChain)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(min_value=0, max_value=len(SMALL)),
    pos=st.integers(min_value=0, max_value=len(SMALL) - 1),
    junk=st.binary(min_size=0, max_size=8),
    prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b"\n", b"{", b"<"]),
)
def test_mutated_real_file_only_raises_chain_file_error(
    cut: int, pos: int, junk: bytes, prefix: bytes
) -> None:
    data = prefix + (SMALL[:pos] + junk + SMALL[pos + len(junk) :])[:cut]
    try:
        chain = parse_chain_bytes(data, name="fuzz")
    except ChainFileError as exc:
        assert "\n" not in str(exc)
    else:
        assert len(chain) == len(chain.root)
        assert np.isfinite(chain.expiry).all()


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(
        st.floats(allow_nan=True, allow_infinity=False, width=64), min_size=1, max_size=20
    ),
    roots=st.sampled_from(["SPX", "SPXW", "SPY"]),
)
def test_json_round_trip_property(
    values: list[float], roots: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from hedgeflow.engine.chain import make_chain

    n = len(values)
    chain = make_chain(
        symbol="SPX", spot=4500.5, as_of=ny(2023, 9, 14, 15, 0), root=roots,
        strike=np.arange(1, n + 1) * 5.0, expiry=settlement_time(roots, date(2023, 9, 15)).timestamp(),
        is_call=np.arange(n) % 2 == 0, bid=values, ask=values, vendor_iv=values,
        dropped={"empty_row": 2},
    )  # fmt: skip
    path = tmp_path_factory.mktemp("rt") / "c.json"
    write_chain_json(chain, path)
    assert_chains_equal(chain, read_chain_file(path))
    assert chain_to_dict(read_chain_file(path)) == chain_to_dict(chain) | {
        "as_of": read_chain_file(path).as_of.isoformat()
    }


# --- the feed -----------------------------------------------------------------------------


async def test_file_feed_single_path() -> None:
    feed = open_feed("file", {"path": str(REAL / "spx_quotedata_2023-09-14.csv")})
    assert isinstance(feed, FileFeed) and isinstance(feed, Feed)
    async with feed:
        chain = await feed.snapshot("spx")
        assert chain.symbol == "SPX"
        assert feed.clock() == ny(2023, 9, 14, 16, 31)
        assert feed.delay_seconds == 900
        exps = await feed.expirations("SPX")
        assert exps == sorted(exps)
        assert all(e > feed.clock() for e in exps)
        assert len(exps) == len(chain.expiries()) - 1  # only the same-day SPXW has expired
        assert exps[0] == settlement_time("SPX", date(2023, 9, 15))
        with pytest.raises(BadPayload, match="no file for QQQ"):
            await feed.snapshot("QQQ")


async def test_file_feed_glob_and_mapping(tmp_path: Path) -> None:
    feed = FileFeed.from_config({"path": str(REAL / "sp?_quotedata_2023-09-14.csv")})
    assert feed.symbols == ("SPX", "SPY")
    assert (await feed.snapshot("SPY")).spot == 450.81
    write_chain_json(read_chain_file(REAL / "qqq_quotedata_2023-06-12.csv"), tmp_path / "q.json")
    mapped = FileFeed.from_config({"path": {"NASDAQ": str(tmp_path / "q.json")}})
    chain = await mapped.snapshot("nasdaq")
    assert chain.symbol == "NASDAQ"
    assert mapped.clock() == ny(2023, 6, 12, 16, 35)
    listed = FileFeed.from_config({"path": [str(REAL / "ndx_quotedata_2023-05-15.csv")]})
    assert listed.clock() == ny(2023, 5, 15, 12, 9)  # loads the first file when nothing served
    with pytest.raises(ValueError, match="matches no file"):
        FileFeed.from_config({"path": str(tmp_path / "*.nothing")})
    with pytest.raises(ValueError, match="`path` is required"):
        FileFeed.from_config({})


async def test_file_feed_rereads_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    chain = read_chain_file(REAL / "spy_quotedata_2023-09-14.csv")
    write_chain_json(chain, path)
    feed = FileFeed.from_config({"path": str(path)})
    assert (await feed.snapshot("SPY")).spot == 450.81
    import dataclasses
    import os

    write_chain_json(dataclasses.replace(chain, spot=451.0), path)
    os.utime(path, (1e9, 1e9))
    assert (await feed.snapshot("SPY")).spot == 451.0
    assert Counter(chain.dropped) == Counter((await feed.snapshot("SPY")).dropped)


def _bad_file(kind: str, tmp_path: Path) -> Path:
    good = (REAL / "spy_quotedata_2023-09-14.csv").read_bytes()
    path = tmp_path / f"{kind}.csv"
    if kind == "directory":
        path.mkdir()
    elif kind == "zero-byte":
        path.write_bytes(b"")
    elif kind == "truncated-csv":
        # cut inside a data row: that row has too few fields
        path.write_bytes(good[: len(good) // 2].rsplit(b",", 3)[0])
    elif kind == "truncated-json":
        path = path.with_suffix(".json")
        write_chain_json(read_chain_file(REAL / "spy_quotedata_2023-09-14.csv"), path)
        path.write_bytes(path.read_bytes()[:5000])
    elif kind == "not-a-chain":
        path.write_text("date,close\n2023-09-14,450.81\n", encoding="utf-8")
    return path


FILE_PROBLEMS = {
    "missing": "no such file",
    "directory": "is a directory",
    "zero-byte": "empty file",
    "truncated-csv": r"line \d+ has \d+ fields, expected \d+ \(truncated file\?\)",
    "truncated-json": "invalid JSON at line 1 column",
    "not-a-chain": "not a CBOE quotedata file",
}


@pytest.mark.parametrize("kind", sorted(FILE_PROBLEMS))
@pytest.mark.parametrize("shape", ["file", "list", "mapping"])
def test_file_feed_refuses_a_bad_file_when_built(kind: str, shape: str, tmp_path: Path) -> None:
    """Building the feed reads every file: a bad one is one line naming it, before any poll."""
    bad = _bad_file(kind, tmp_path)
    good = str(REAL / "spx_quotedata_2023-09-14.csv")
    spec: object = {
        "file": str(bad),
        "list": [good, str(bad)],
        "mapping": {"SPX": good, "SPY": str(bad)},
    }[shape]
    with pytest.raises(ChainFileError) as info:
        open_feed("file", {"path": spec})
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, BadPayload)
    text = str(err)
    assert "\n" not in text and text.startswith(f"{bad}: ")
    assert re.search(FILE_PROBLEMS[kind], text), text


def test_file_feed_symbols_are_the_files_underlyings(tmp_path: Path) -> None:
    write_chain_json(read_chain_file(REAL / "qqq_quotedata_2023-06-12.csv"), tmp_path / "q.json")
    feed = FileFeed.from_config(
        {"path": [str(REAL / "spy_quotedata_2023-09-14.csv"), str(tmp_path / "q.json")]}
    )
    assert feed.symbols == ("QQQ", "SPY")
    mapped = FileFeed.from_config({"path": {"spy": str(REAL / "spy_quotedata_2023-09-14.csv")}})
    assert mapped.symbols == ("SPY",)
    with pytest.raises(ValueError, match="feeds.file.paths"):
        FileFeed.from_config({"paths": "x.csv"})


async def test_a_file_that_goes_bad_during_a_session_raises_a_feed_error(tmp_path: Path) -> None:
    path = tmp_path / "spy.csv"
    shutil.copy(REAL / "spy_quotedata_2023-09-14.csv", path)
    feed = FileFeed.from_config({"path": str(path)})
    first = await feed.snapshot("SPY")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2].rsplit(b",", 3)[0])  # truncated mid-row
    with pytest.raises(FeedError, match=r"truncated file\?"):
        await feed.snapshot("SPY")
    path.unlink()
    with pytest.raises(FeedError, match="no such file"):
        await feed.snapshot("SPY")
    path.write_bytes(data)  # repaired: served again
    again = await feed.snapshot("SPY")
    assert again.spot == first.spot and len(again) == len(first)


def test_chain_format_doc_example_reads(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "CHAIN_FORMAT.md").read_text()
    example = doc.split("## Example", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.json"
    path.write_text(example)
    chain = read_chain_file(path)
    assert chain.as_of == ny(2023, 9, 14, 16, 31)
    assert chain.root.tolist() == ["SPX", "SPX", "SPXW"]
    assert chain.expiry.tolist() == [
        settlement_time("SPX", date(2023, 9, 15)).timestamp(),
        settlement_time("SPX", date(2023, 9, 15)).timestamp(),
        settlement_time("SPXW", date(2023, 9, 15)).timestamp(),
    ]
    assert np.isnan(chain.last_trade_time).all()


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("SPXW230616C04300000", ("SPXW", "C", "2023-06-16", 4300.0)),
        ("SPX   230616P04300000", ("SPX", "P", "2023-06-16", 4300.0)),  # OCC padded form
        ("spy230616c00400500", ("SPY", "C", "2023-06-16", 400.5)),
        ("AAPL1230616C00150000", ("AAPL1", "C", "2023-06-16", 150.0)),  # adjusted root
        ("SPX240229C04300000", ("SPX", "C", "2024-02-29", 4300.0)),
        ("SPX230229C04300000", ("", "", "NaT", np.nan)),  # no Feb 29 in 2023
        ("SPX231316C04300000", ("", "", "NaT", np.nan)),  # month 13
        ("SPXW230616C0430000", ("", "", "NaT", np.nan)),  # 7 strike digits
        ("ABCDEFG230616C04300000", ("", "", "NaT", np.nan)),  # root of 7
        ("", ("", "", "NaT", np.nan)),
    ],
)
def test_parse_symbols(symbol: str, expected: tuple[str, str, str, float]) -> None:
    from hedgeflow.feeds.files.quotedata import _parse_symbols

    # Alone and inside a column of plain symbols (the vectorized path must agree).
    for col in ([symbol], ["SPXW230616C04300000", symbol, "QQQ230616P00350000"]):
        root, right, day, strike = _parse_symbols(col)
        i = 0 if len(col) == 1 else 1
        got = (str(root[i]), str(right[i]), str(day[i]), float(strike[i]))
        assert got[:3] == expected[:3]
        assert got[3] == expected[3] or (np.isnan(got[3]) and np.isnan(expected[3]))


@settings(max_examples=200, deadline=None)
@given(
    root=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=6),
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    call=st.booleans(),
    milli=st.integers(min_value=0, max_value=99_999_999),
    pad=st.booleans(),
)
def test_parse_symbols_round_trip(root: str, day: date, call: bool, milli: int, pad: bool) -> None:
    from hedgeflow.feeds.files.quotedata import _parse_symbols

    sym = f"{root:<6}" if pad else root
    sym += f"{day:%y%m%d}{'C' if call else 'P'}{milli:08d}"
    r, right, d, k = _parse_symbols([sym, "SPXW230616C04300000"])
    assert (str(r[0]), str(right[0]), d[0], k[0]) == (
        root, "C" if call else "P", np.datetime64(day, "D"), milli / 1000.0,
    )  # fmt: skip


def test_spreadsheet_resaves_with_other_delimiters() -> None:
    base = parse_chain_bytes(SMALL, name="x")
    rows = list(csv.reader(SMALL.decode().splitlines()))
    # European/Russian spreadsheet: `;` separated, decimal commas, day-first dates.
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for r in rows:
        cells = [
            c.replace(".", ",") if c.replace(".", "").replace("-", "").isdigit() else c for c in r
        ]
        cells = [c.replace("Last: 450.81", "Last: 450,81") for c in cells]
        cells = [c.replace("Thu Sep 14 2023", "14.09.2023") for c in cells]
        writer.writerow(cells)
    semi = parse_chain_bytes(out.getvalue().encode("cp1252", errors="replace"), name="x")
    assert_chains_equal(base, semi)
    # "Unicode text" export: UTF-16 with BOM, tab separated.
    tab = "\n".join("\t".join(r) for r in rows).encode("utf-16")
    assert_chains_equal(base, parse_chain_bytes(tab, name="x"))
