"""CBOE delayed-quotes JSON: the pure parser on a recorded-format payload, then the feed
against a real local HTTP server (pytest-httpserver, werkzeug in a thread)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import numpy as np
import pytest
from pytest_httpserver import HTTPServer

from hedgeflow.feeds.base import Feed, open_feed
from hedgeflow.feeds.cboe import CboeFeed, cboe_file_symbol, parse_cboe_json
from hedgeflow.feeds.errors import BadPayload, BadRequest, FeedUnavailable, RateLimited
from tests.feeds.conftest import fast_settings, find, load_payload, utc

SPX = "cboe/options/_SPX.json"


# --- parser ---------------------------------------------------------------------------------


def test_parse_spx_roots_settlement_and_units() -> None:
    chain = parse_cboe_json(load_payload(SPX))
    assert chain.symbol == "SPX"
    assert chain.spot == pytest.approx(5912.34)  # data.current_price
    # timestamp "2026-05-15 17:45:00" is UTC (see feeds/cboe.py); quotes are 900 s older.
    assert chain.as_of == datetime(2026, 5, 15, 17, 30, tzinfo=UTC)
    assert chain.delay_seconds == 900.0
    assert chain.spot_note == ""  # 13:30 New York, inside the session
    # PM weekly: 16:00 EDT = 20:00Z on the date.
    i = find(chain, "SPXW", utc(2026, 5, 15, 20), 5900.0, True)
    assert (chain.bid[i], chain.ask[i], chain.last[i]) == (12.3, 12.6, 12.5)
    assert chain.vendor_iv[i] == pytest.approx(0.1432)  # decimal, not percent
    assert chain.open_interest[i] == 1523.0 and chain.volume[i] == 8311.0
    # last_trade_time is New York wall time: 13:29:58 EDT = 17:29:58Z.
    assert chain.last_trade_time[i] == utc(2026, 5, 15, 17, 29, 58)
    # Third Friday June 19 2026 is Juneteenth: AM SPX dated Jun 18 settles 09:30 EDT (13:30Z),
    # the SPXW dated Jun 19 moves to the previous session's close (Jun 18 20:00Z).
    find(chain, "SPX", utc(2026, 6, 18, 13, 30), 6000.0, True)
    find(chain, "SPXW", utc(2026, 6, 18, 20), 6000.0, True)
    # iv 0 means "not computed" -> NaN; strike from the symbol / 1000.
    j = find(chain, "SPXW", utc(2026, 5, 15, 20), 5950.0, False)
    assert np.isnan(chain.vendor_iv[j])


def test_parse_drops_and_nans_bad_rows_and_counts_them() -> None:
    chain = parse_cboe_json(load_payload(SPX))
    assert len(chain) == 12
    assert dict(chain.dropped) == {
        "expired": 2,  # the AM SPX series of May 15 settled at 09:30, before the quote time
        "duplicate": 1,
        "bad_symbol": 1,
        "bad_strike": 1,
        "bad_row": 1,
        "bad_number": 1,
        "crossed_quote": 1,
        "negative_quote": 1,
    }
    monday = utc(2026, 5, 18, 20)
    # the first of two duplicate rows wins
    assert chain.bid[find(chain, "SPXW", monday, 5900.0, True)] == 30.1
    crossed = find(chain, "SPXW", monday, 5950.0, True)
    assert np.isnan(chain.bid[crossed]) and np.isnan(chain.ask[crossed])
    assert chain.open_interest[crossed] == 77.0  # OI kept
    neg = find(chain, "SPXW", monday, 5950.0, False)
    assert np.isnan(chain.bid[neg]) and chain.ask[neg] == 0.4
    text = find(chain, "SPXW", monday, 6000.0, False)
    assert np.isnan(chain.bid[text]) and chain.ask[text] == 61.0
    # no row settles at or before as_of
    assert (chain.expiry > chain.as_of_epoch).all()


def test_parse_rows_sorted_by_expiry_root_strike() -> None:
    chain = parse_cboe_json(load_payload(SPX))
    key = list(zip(chain.expiry, chain.root, chain.strike, chain.is_call, strict=True))
    assert key == sorted(key)


def test_as_of_follows_a_trade_newer_than_the_assumed_delay() -> None:
    payload = load_payload(SPX)
    payload["data"]["options"][0]["last_trade_time"] = "2026-05-15T13:40:00"  # 17:40Z
    chain = parse_cboe_json(payload)
    assert chain.as_of == datetime(2026, 5, 15, 17, 40, tzinfo=UTC)
    # never later than the file's own timestamp
    payload["data"]["options"][0]["last_trade_time"] = "2026-05-15T15:00:00"
    assert parse_cboe_json(payload).as_of == datetime(2026, 5, 15, 17, 45, tzinfo=UTC)


def test_spot_falls_back_to_close_and_missing_spot_is_nan() -> None:
    payload = load_payload(SPX)
    payload["data"]["current_price"] = None
    assert parse_cboe_json(payload).spot == 5911.0
    payload["data"]["close"] = 0.0
    chain = parse_cboe_json(payload)
    assert np.isnan(chain.spot) and chain.spot_note == "missing"


def test_after_hours_spot_is_marked_stale() -> None:
    payload = load_payload(SPX)
    payload["timestamp"] = "2026-05-15 23:02:44"  # 19:02 New York
    for o in payload["data"]["options"]:
        if isinstance(o, dict):
            o["last_trade_time"] = None
    chain = parse_cboe_json(payload)
    assert chain.spot_note.startswith("stale")
    # the 0DTE weekly settled at 16:00 and is now expired too
    assert not (chain.expiry == utc(2026, 5, 15, 20)).any()


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ([], "expected a JSON object"),
        ({}, "missing `data`"),
        ({"timestamp": "2026-05-15 17:45:00", "data": {}}, r"data\.options"),
        ({"timestamp": "2026-05-15 17:45:00", "data": {"options": {}}}, r"data\.options"),
        ({"data": {"options": []}}, "timestamp"),
        ({"timestamp": "15/05/2026", "data": {"options": []}}, "timestamp"),
        ({"timestamp": "2026-05-15 17:45:00", "data": {"options": [1, 2]}}, "no option objects"),
        (
            {"timestamp": "2026-05-15 17:45:00", "data": {"options": [{"option": "x"}]}},
            "OCC symbol",
        ),
    ],
)
def test_schema_wrong_payloads_raise_bad_payload(payload: object, match: str) -> None:
    with pytest.raises(BadPayload, match=match):
        parse_cboe_json(payload)


def test_empty_options_list_is_an_empty_chain() -> None:
    chain = parse_cboe_json(
        {"timestamp": "2026-05-15 17:45:00", "data": {"options": []}}, symbol="SPX"
    )
    assert len(chain) == 0 and chain.symbol == "SPX"


def test_explicit_as_of_and_symbol_override() -> None:
    as_of = datetime(2026, 5, 15, 14, 0, tzinfo=UTC)
    payload = load_payload(SPX)
    del payload["timestamp"]
    chain = parse_cboe_json(payload, symbol="SPX", as_of=as_of)
    assert chain.as_of == as_of
    # at 10:00 New York the AM series of May 15 has settled, the PM one has not
    assert chain.dropped["expired"] == 2


def test_file_symbol_mapping() -> None:
    assert cboe_file_symbol("SPX") == "_SPX"
    assert cboe_file_symbol("^ndx") == "_NDX"
    assert cboe_file_symbol("_VIX") == "_VIX"
    assert cboe_file_symbol("spy") == "SPY"


# --- feed against a local server -------------------------------------------------------------


def spx_body() -> bytes:
    return json.dumps(load_payload(SPX)).encode()


async def test_feed_session_user_agent_and_expirations(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/options/_SPX.json").respond_with_data(
        spx_body(), content_type="application/json"
    )
    feed = CboeFeed(fast_settings(httpserver.url_for("/")))
    assert isinstance(feed, Feed)
    async with feed:
        chain = await feed.snapshot("SPX")
        exps = await feed.expirations("SPX")
    assert len(chain) == 12 and chain.source == "cboe"
    assert exps == sorted(exps) and all(e.tzinfo is not None for e in exps)
    assert datetime(2026, 5, 15, 20, tzinfo=UTC) in exps
    req, _ = httpserver.log[0]
    assert req.headers["User-Agent"].startswith("Mozilla/5.0")
    assert req.headers["Accept"] == "application/json"
    assert feed.clock().tzinfo is UTC


async def test_feed_from_registry_with_base_url(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/options/SPY.json").respond_with_json(
        {"timestamp": "2026-05-15 17:45:00", "data": {"current_price": 590.1, "options": []}}
    )
    async with open_feed("cboe", {"base_url": httpserver.url_for("/"), "read_timeout": 2}) as feed:
        chain = await feed.snapshot("spy")
    assert chain.symbol == "SPY" and chain.spot == 590.1


def test_from_config_rejects_unknown_keys_and_plain_http() -> None:
    with pytest.raises(ValueError, match="unknown config key `colour`"):
        CboeFeed.from_config({"colour": "red"})
    with pytest.raises(ValueError, match="https"):
        CboeFeed.from_config({"base_url": "http://cdn.example.com/api"})
    with pytest.raises(ValueError, match="`read_timeout` must be a number"):
        CboeFeed.from_config({"read_timeout": "fast"})


async def test_feed_500_then_success(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/options/_SPX.json").respond_with_data("oops", status=500)
    httpserver.expect_ordered_request("/options/_SPX.json").respond_with_data(
        spx_body(), content_type="application/json"
    )
    async with CboeFeed(fast_settings(httpserver.url_for("/"))) as feed:
        chain = await feed.snapshot("SPX")
    assert len(chain) == 12 and len(httpserver.log) == 2


async def test_feed_429_honours_retry_after(httpserver: HTTPServer) -> None:
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    httpserver.expect_ordered_request("/options/_SPX.json").respond_with_data(
        "", status=429, headers={"Retry-After": "0.2"}
    )
    httpserver.expect_ordered_request("/options/_SPX.json").respond_with_data(
        spx_body(), content_type="application/json"
    )
    async with CboeFeed(fast_settings(httpserver.url_for("/")), sleep=sleep) as feed:
        chain = await feed.snapshot("SPX")
    assert slept == [0.2] and len(chain) == 12


async def test_feed_persistent_429_is_rate_limited(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/options/_SPX.json").respond_with_data(
        "", status=429, headers={"Retry-After": "0.01"}
    )
    async with CboeFeed(fast_settings(httpserver.url_for("/"))) as feed:
        with pytest.raises(RateLimited) as info:
            await feed.snapshot("SPX")
    assert info.value.retry_after == pytest.approx(0.01)
    assert info.value.status == 429 and len(httpserver.log) == 3


async def test_feed_html_truncated_and_404(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/options/_SPX.json").respond_with_data(
        "<html><body>Access Denied</body></html>", content_type="text/html"
    )
    httpserver.expect_request("/options/_NDX.json").respond_with_data(
        spx_body()[:5000], content_type="application/json"
    )
    httpserver.expect_request("/options/NOPE.json").respond_with_data("not found", status=404)
    async with CboeFeed(fast_settings(httpserver.url_for("/"))) as feed:
        with pytest.raises(BadPayload, match="HTML"):
            await feed.snapshot("SPX")
        with pytest.raises(BadPayload, match="truncated"):
            await feed.snapshot("NDX")
        with pytest.raises(BadRequest, match="not found"):
            await feed.snapshot("NOPE")
    assert len(httpserver.log) == 3  # none of these is retried


async def test_feed_unreachable_is_unavailable() -> None:
    # a port nobody listens on (the server fixture's port after it stopped is not reliable)
    settings = fast_settings("http://127.0.0.1:9", attempts=2)
    async with CboeFeed(settings) as feed:
        with pytest.raises(FeedUnavailable, match="cannot reach") as info:
            await feed.snapshot("SPX")
    # Nobody asked for a wait: the monitor's own backoff decides (never an invented one).
    assert info.value.retry_after is None


def test_payload_file_is_unchanged_by_parsing() -> None:
    payload = load_payload(SPX)
    before = copy.deepcopy(payload)
    parse_cboe_json(payload)
    assert payload == before


def test_a_juneteenth_series_merges_with_the_thursday_series() -> None:
    # Issue 10 item 1 on a vendor payload: an SPXW series listed on Thursday Jun 18 2026
    # besides the one dated Juneteenth (Jun 19, moved to Thursday's close). One contract,
    # open interest and volume summed, the tighter quote (Thursday's, 0.6 wide) kept, the
    # newest trade's last price.
    payload = load_payload(SPX)
    opts = payload["data"]["options"]
    friday = next(o for o in opts if isinstance(o, dict) and o["option"] == "SPXW260619C06000000")
    thursday = dict(friday, option="SPXW260618C06000000", bid=41.6, ask=42.2, iv=0.1301)
    thursday.update(open_interest=500.0, volume=30.0, last_trade_price=41.9)
    thursday["last_trade_time"] = "2026-05-15T13:20:00"
    opts.append(thursday)
    before = parse_cboe_json(load_payload(SPX))
    chain = parse_cboe_json(payload)
    assert len(chain) == len(before)
    assert chain.dropped["merged_same_settlement"] == 1
    assert chain.dropped["duplicate"] == before.dropped["duplicate"]
    i = find(chain, "SPXW", utc(2026, 6, 18, 20), 6000.0, True)
    assert chain.open_interest[i] == 1012.0 + 500.0 and chain.volume[i] == 120.0 + 30.0
    assert (chain.bid[i], chain.ask[i], chain.vendor_iv[i]) == (41.6, 42.2, 0.1301)
    assert chain.last[i] == 41.9  # the Juneteenth row has no trade
    assert chain.last_trade_time[i] == utc(2026, 5, 15, 17, 20)
