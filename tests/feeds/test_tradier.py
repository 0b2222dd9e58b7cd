"""Tradier: the pure parser on payloads in Tradier's documented shape (FEEDS.md section 2),
then the feed against a real local HTTP server."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from datetime import UTC, date, datetime

import numpy as np
import pytest
from pytest_httpserver import HTTPServer

from hedgeflow.feeds.base import Feed
from hedgeflow.feeds.errors import BadPayload, FeedAuthError, FeedUnavailable
from hedgeflow.feeds.tradier import (
    SANDBOX_URL,
    TradierFeed,
    parse_tradier_chain,
    parse_tradier_expirations,
)
from tests.feeds.conftest import fast_settings, find, load_payload, utc

TOKEN = "tradier-SECRET-token-4f1c9e"
NOW = datetime(2026, 5, 15, 17, 30, 5, tzinfo=UTC)  # 13:30:05 New York


def quote() -> dict:
    return load_payload("tradier/markets/quotes.json")


def chains(*days: str) -> list[dict]:
    return [load_payload(f"tradier/markets/options/chains/SPX_{d}.json") for d in days]


# --- parser ---------------------------------------------------------------------------------


def test_parse_roots_iv_fallbacks_and_times() -> None:
    chain = parse_tradier_chain(quote(), chains("2026-05-15", "2026-05-18", "2026-05-19"), now=NOW)
    assert chain.symbol == "SPX" and chain.spot == 5912.34 and chain.spot_note == ""
    # newest vendor time: the index print at 17:29:58Z (epoch ms), before `now`
    assert chain.as_of == datetime(2026, 5, 15, 17, 29, 58, tzinfo=UTC)
    today_pm = utc(2026, 5, 15, 20)  # SPXW: 16:00 EDT
    i = find(chain, "SPXW", today_pm, 5900.0, True)
    assert chain.vendor_iv[i] == pytest.approx(0.1432)  # greeks.mid_iv, decimal
    assert chain.last_trade_time[i] == utc(2026, 5, 15, 17, 29, 58)
    j = find(chain, "SPXW", today_pm, 5950.0, True)
    assert chain.vendor_iv[j] == pytest.approx(0.38)  # mid_iv 0.0 -> smv_vol
    assert chain.bid[j] == 0.0 and chain.ask[j] == 0.05  # a zero bid is a real quote
    k = find(chain, "SPXW", today_pm, 5950.0, False)
    assert np.isnan(chain.vendor_iv[k])  # greeks: null
    assert np.isnan(chain.last_trade_time[k]) and np.isnan(chain.last[k])  # trade_date 0
    # the single-object chain of May 18
    m = find(chain, "SPXW", utc(2026, 5, 18, 20), 5900.0, True)
    assert chain.open_interest[m] == 3001.0 and chain.multiplier[m] == 100.0


def test_parse_counts_bad_rows() -> None:
    chain = parse_tradier_chain(quote(), chains("2026-05-15", "2026-05-18", "2026-05-19"), now=NOW)
    # the AM SPX series of May 15 settled at 09:30 -> expired; "garbage" row; crossed quote
    assert dict(chain.dropped) == {"expired": 1, "bad_row": 1, "crossed_quote": 1}
    assert len(chain) == 6
    crossed = find(chain, "SPXW", utc(2026, 5, 15, 20), 5975.0, True)
    assert np.isnan(chain.bid[crossed]) and chain.open_interest[crossed] == 5.0


def test_parse_quote_list_and_missing_underlying() -> None:
    q = quote()
    spx = q["quotes"]["quote"]
    q["quotes"]["quote"] = [{"symbol": "SPY", "last": 590.0}, spx]
    chain = parse_tradier_chain(q, chains("2026-05-18"), now=NOW, symbol="SPX")
    assert chain.spot == 5912.34
    q2 = {"quotes": {"unmatched_symbols": {"symbol": "SPX"}}}
    chain = parse_tradier_chain(q2, chains("2026-05-18"), now=NOW, symbol="SPX")
    assert np.isnan(chain.spot) and chain.spot_note == "missing"


def test_parse_spot_fallbacks() -> None:
    q = quote()
    q["quotes"]["quote"].update(last=None, bid=5911.0, ask=5913.0)
    assert parse_tradier_chain(q, [], now=NOW).spot == 5912.0
    q["quotes"]["quote"].update(bid=None, ask=None)
    chain = parse_tradier_chain(q, [], now=NOW)
    assert chain.spot == 5890.12 and chain.spot_note.startswith("stale")


def test_parse_without_vendor_times_uses_now_minus_delay() -> None:
    q = {"quotes": {"quote": {"symbol": "SPX", "last": 5912.0}}}
    chain = parse_tradier_chain(q, [{"options": None}], now=NOW, delay_seconds=900)
    assert chain.as_of == datetime(2026, 5, 15, 17, 15, 5, tzinfo=UTC)
    assert chain.delay_seconds == 900


def test_parse_as_of_never_after_now() -> None:
    c = chains("2026-05-18")
    c[0]["options"]["option"]["bid_date"] = int(utc(2026, 5, 15, 18) * 1000)  # clock skew
    chain = parse_tradier_chain(quote(), c, now=NOW)
    assert chain.as_of == NOW


def test_parse_row_without_root_symbol_uses_occ_symbol() -> None:
    c = chains("2026-05-18")
    row = c[0]["options"]["option"]
    for key in ("root_symbol", "strike", "expiration_date", "option_type"):
        del row[key]
    chain = parse_tradier_chain(quote(), c, now=NOW)
    assert chain.root.tolist() == ["SPXW"] and chain.strike.tolist() == [5900.0]
    assert chain.is_call.tolist() == [True] and chain.expiry[0] == utc(2026, 5, 18, 20)


@pytest.mark.parametrize(
    ("quote_payload", "chain_payloads", "match"),
    [
        ({}, [], "lacks `quotes`"),
        ([], [], "lacks `quotes`"),
        ({"quotes": {"quote": {"symbol": "SPX"}}}, [{}], "lacks `options`"),
        ({"quotes": {"quote": {"symbol": "SPX"}}}, ["<xml/>"], "lacks `options`"),
        ({"quotes": {"quote": {"symbol": "SPX"}}}, [{"options": [1]}], "not an object"),
    ],
)
def test_parse_schema_wrong(quote_payload: object, chain_payloads: list, match: str) -> None:
    with pytest.raises(BadPayload, match=match):
        parse_tradier_chain(quote_payload, chain_payloads, now=NOW)


def test_parse_expirations_shapes() -> None:
    days = parse_tradier_expirations(load_payload("tradier/markets/options/expirations.json"))
    assert days[0] == date(2026, 5, 15) and len(days) == 5
    assert parse_tradier_expirations({"expirations": {"date": "2026-05-15"}}) == [date(2026, 5, 15)]
    assert parse_tradier_expirations({"expirations": None}) == []
    assert parse_tradier_expirations(
        {"expirations": {"expiration": [{"date": "2026-05-18"}, {"date": "2026-05-15"}]}}
    ) == [date(2026, 5, 15), date(2026, 5, 18)]
    with pytest.raises(BadPayload):
        parse_tradier_expirations({"error": "x"})


# --- feed against a local server -------------------------------------------------------------


def serve_session(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        "/v1/markets/quotes", query_string={"symbols": "SPX", "greeks": "false"}
    ).respond_with_json(quote())
    httpserver.expect_request(
        "/v1/markets/options/expirations",
        query_string={"symbol": "SPX", "includeAllRoots": "true", "strikes": "false"},
    ).respond_with_json(load_payload("tradier/markets/options/expirations.json"))
    for day in ("2026-05-15", "2026-05-18", "2026-05-19"):
        httpserver.expect_request(
            "/v1/markets/options/chains",
            query_string={"symbol": "SPX", "expiration": day, "greeks": "true"},
        ).respond_with_json(chains(day)[0])


def make_feed(httpserver: HTTPServer, **kw) -> TradierFeed:
    return TradierFeed(
        fast_settings(httpserver.url_for("/v1")), max_expirations=3, clock=lambda: NOW, **kw
    )


async def test_feed_session(httpserver: HTTPServer, monkeypatch, caplog) -> None:
    monkeypatch.setenv("TRADIER_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    serve_session(httpserver)
    feed = make_feed(httpserver)
    assert isinstance(feed, Feed)
    async with feed:
        chain = await feed.snapshot("SPX")
        exps = await feed.expirations("SPX")
    assert len(chain) == 6 and chain.source == "tradier"
    for req, _ in httpserver.log:
        assert req.headers["Authorization"] == f"Bearer {TOKEN}"
        assert req.headers["Accept"] == "application/json"
    # 3 nearest dates fetched: May 15, 18, 19 (not June)
    chain_paths = [r.args["expiration"] for r, _ in httpserver.log if r.path.endswith("chains")]
    assert sorted(chain_paths) == ["2026-05-15", "2026-05-18", "2026-05-19"]
    # May 15 is the monthly: SPX (09:30, already past at NOW) is excluded, SPXW 16:00 kept;
    # Jun 18 (Juneteenth-moved monthly) gives both the AM SPX and the PM SPXW times.
    assert exps[0] == datetime(2026, 5, 15, 20, tzinfo=UTC)
    assert datetime(2026, 6, 18, 13, 30, tzinfo=UTC) in exps
    assert datetime(2026, 6, 18, 20, tzinfo=UTC) in exps
    assert TOKEN not in repr(feed) and TOKEN not in caplog.text


async def test_feed_401_is_auth_error_without_retry(
    httpserver: HTTPServer, monkeypatch, caplog
) -> None:
    monkeypatch.setenv("TRADIER_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    httpserver.expect_request("/v1/markets/quotes").respond_with_data(
        "Invalid Access Token", status=401, headers={"X-Request-Id": "req-77"}
    )
    async with make_feed(httpserver) as feed:
        with pytest.raises(FeedAuthError) as info:
            await feed.snapshot("SPX")
    err = info.value
    assert len(httpserver.log) == 1  # never retried
    assert err.env_var == "TRADIER_TOKEN" and "TRADIER_TOKEN" in str(err)
    assert err.status == 401 and err.request_id == "req-77"
    assert TOKEN not in str(err) and TOKEN not in repr(err) and TOKEN not in caplog.text


async def test_feed_missing_token_names_env_var(httpserver: HTTPServer, monkeypatch) -> None:
    monkeypatch.delenv("MY_TRADIER", raising=False)
    async with make_feed(httpserver, token_env="MY_TRADIER") as feed:
        with pytest.raises(FeedAuthError, match="MY_TRADIER"):
            await feed.snapshot("SPX")
    assert len(httpserver.log) == 0


async def test_feed_slow_response_times_out(httpserver: HTTPServer, monkeypatch) -> None:
    import time

    monkeypatch.setenv("TRADIER_TOKEN", TOKEN)

    calls: list[str] = []
    done: list[str] = []
    both_done = threading.Event()

    def slow(request):
        calls.append(request.path)
        time.sleep(0.3)
        done.append(request.path)
        if len(done) == 2:
            both_done.set()
        from werkzeug import Response

        return Response(json.dumps(quote()), content_type="application/json")

    httpserver.expect_request("/v1/markets/quotes").respond_with_handler(slow)
    feed = TradierFeed(
        fast_settings(httpserver.url_for("/v1"), read=0.1, attempts=2), clock=lambda: NOW
    )
    async with feed:
        with pytest.raises(FeedUnavailable, match="timed out") as info:
            await feed.snapshot("SPX")
    assert info.value.retry_after is None  # no server asked for a wait: none is invented
    assert calls  # the request reached the server; the client gave up waiting
    # let the single-threaded server finish both slow answers before the next test
    assert await asyncio.to_thread(both_done.wait, 3.0)  # retried once after the first timeout


async def test_feed_uses_ratelimit_expiry_header(httpserver: HTTPServer, monkeypatch) -> None:
    monkeypatch.setenv("TRADIER_TOKEN", TOKEN)
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    expiry_ms = str(int((NOW.timestamp() + 0.25) * 1000))
    httpserver.expect_ordered_request("/v1/markets/quotes").respond_with_data(
        "", status=429, headers={"X-Ratelimit-Available": "0", "X-Ratelimit-Expiry": expiry_ms}
    )
    serve_session(httpserver)
    async with make_feed(httpserver, sleep=sleep) as feed:
        chain = await feed.snapshot("SPX")
    assert slept == [pytest.approx(0.25, abs=1e-3)] and len(chain) == 6


def test_from_config() -> None:
    feed = TradierFeed.from_config({"sandbox": True, "max_expirations": 2, "token_env": "TT"})
    assert feed.settings.base_url == SANDBOX_URL and feed.delay_seconds == 900.0
    assert feed.max_expirations == 2 and feed.token_env == "TT"
    assert TradierFeed.from_config({}).settings.base_url == "https://api.tradier.com/v1"
    with pytest.raises(ValueError, match="`token` looks like a credential") as info:
        TradierFeed.from_config({"token": TOKEN})
    assert TOKEN not in str(info.value)
    with pytest.raises(ValueError, match="max_expirations"):
        TradierFeed.from_config({"max_expirations": 0})
