"""Schwab: the pure parser on payloads in Schwab's documented shape (FEEDS.md section 3), and
the feed with its OAuth refresh against a real local HTTP server."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from datetime import UTC, date, datetime
from urllib.parse import parse_qs

import numpy as np
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from hedgeflow.feeds.base import Feed
from hedgeflow.feeds.errors import BadPayload, FeedAuthError
from hedgeflow.feeds.schwab import (
    SchwabFeed,
    parse_schwab_chain,
    parse_schwab_expirations,
    schwab_symbol,
)
from tests.feeds.conftest import fast_settings, find, load_payload, utc

NOW = datetime(2026, 5, 15, 17, 30, 5, tzinfo=UTC)
APP_KEY = "appkey-SECRET-5d2f8a"
APP_SECRET = "appsecret-SECRET-93bc11"
REFRESH = "refresh-SECRET-token-77aa01"
ACCESS = "access-SECRET-token-0b9e"
SECRETS = (APP_KEY, APP_SECRET, REFRESH, ACCESS)


def chain_payload() -> dict:
    return load_payload("schwab/marketdata/v1/chains/SPX.json")


# --- parser ---------------------------------------------------------------------------------


def test_parse_percent_iv_roots_and_real_price_names() -> None:
    chain = parse_schwab_chain(chain_payload(), now=NOW)
    assert chain.symbol == "SPX" and chain.spot == 5912.34 and chain.delay_seconds == 0.0
    # the newest OPTION quote time (17:29:58), not the underlying's quoteTime (17:29:59)
    assert chain.as_of == datetime(2026, 5, 15, 17, 29, 58, tzinfo=UTC)
    assert chain.spot_note == "" and chain.notes == ()
    pm = utc(2026, 5, 15, 20)
    i = find(chain, "SPXW", pm, 5900.0, True)
    assert chain.vendor_iv[i] == pytest.approx(0.1432)  # 14.32 percent -> decimal
    assert (chain.bid[i], chain.ask[i], chain.last[i]) == (12.3, 12.6, 12.5)
    assert chain.last_trade_time[i] == utc(2026, 5, 15, 17, 29, 58)
    j = find(chain, "SPXW", pm, 5950.0, True)
    assert np.isnan(chain.vendor_iv[j])  # -999 sentinel
    k = find(chain, "SPXW", utc(2026, 5, 18, 20), 5900.0, True)
    assert (chain.bid[k], chain.ask[k], chain.last[k]) == (30.1, 30.9, 30.5)
    assert chain.vendor_iv[k] == pytest.approx(0.1311)
    m = find(chain, "SPX", utc(2026, 6, 18, 13, 30), 6000.0, False)  # AM, 09:30 EDT
    assert np.isnan(chain.vendor_iv[m])  # "NaN"
    assert chain.open_interest[m] == 30555.0  # the first of the duplicate pair


def test_parse_counts_bad_rows() -> None:
    chain = parse_schwab_chain(chain_payload(), now=NOW)
    assert len(chain) == 6
    assert dict(chain.dropped) == {
        "bad_row": 1,  # a strike map that is a list
        "expired": 1,  # AM SPX of May 15, settled 09:30
        "duplicate": 1,
        "crossed_quote": 1,
    }


def test_parse_delayed_and_missing_times() -> None:
    p = chain_payload()
    p["isDelayed"] = True
    for m in ("callExpDateMap", "putExpDateMap"):
        for strikes in p[m].values():
            if isinstance(strikes, dict):
                for contracts in strikes.values():
                    for c in contracts:
                        c["quoteTimeInLong"] = 0
                        c["tradeTimeInLong"] = 0
    p["underlying"] = None
    chain = parse_schwab_chain(p, now=NOW)
    assert chain.delay_seconds == 900.0
    assert chain.as_of == datetime(2026, 5, 15, 17, 15, 5, tzinfo=UTC)  # now - 900 s
    assert chain.spot == 5912.34  # top-level underlyingPrice


def test_parse_rows_without_option_root_use_the_symbol() -> None:
    p = chain_payload()
    c = p["callExpDateMap"]["2026-05-15:0"]["5900.0"][0]
    del c["optionRoot"]
    del c["strikePrice"]
    chain = parse_schwab_chain(p, now=NOW)
    find(chain, "SPXW", utc(2026, 5, 15, 20), 5900.0, True)  # from "SPXW  260515C05900000"


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ("x", "expected a JSON object"),
        ({"status": "FAILED", "symbol": "$NOPE"}, "status"),
        ({"status": "SUCCESS", "symbol": "$SPX"}, "callExpDateMap"),
        ({"callExpDateMap": [], "putExpDateMap": {}}, "not an object"),
    ],
)
def test_parse_schema_wrong(payload: object, match: str) -> None:
    with pytest.raises(BadPayload, match=match):
        parse_schwab_chain(payload, now=NOW)


def test_parse_empty_maps_give_an_empty_chain() -> None:
    chain = parse_schwab_chain(
        {
            "symbol": "$SPX",
            "status": "SUCCESS",
            "underlyingPrice": 5900.0,
            "callExpDateMap": {},
            "putExpDateMap": {},
        },
        now=NOW,
    )
    assert len(chain) == 0 and chain.spot == 5900.0


def test_expirations_and_symbols() -> None:
    days = parse_schwab_expirations(load_payload("schwab/marketdata/v1/expirationchain.json"))
    assert days == [date(2026, 5, 15), date(2026, 5, 18), date(2026, 6, 18)]
    with pytest.raises(BadPayload):
        parse_schwab_expirations({})
    assert schwab_symbol("SPX") == "$SPX" and schwab_symbol("spy") == "SPY"


# --- feed + OAuth against a local server ---------------------------------------------------------


class TokenServer:
    """The OAuth token endpoint: checks Basic auth and the form, hands out access tokens."""

    def __init__(self, *, expires_in: int = 1800, fail: tuple[int, dict] | None = None) -> None:
        self.calls = 0
        self.expires_in = expires_in
        self.fail = fail

    def __call__(self, request: Request) -> Response:
        self.calls += 1
        if self.fail is not None:
            status, body = self.fail
            return Response(json.dumps(body), status=status, content_type="application/json")
        basic = base64.b64encode(f"{APP_KEY}:{APP_SECRET}".encode()).decode()
        form = parse_qs(request.get_data(as_text=True))
        ok = request.headers.get("Authorization") == f"Basic {basic}" and form == {
            "grant_type": ["refresh_token"],
            "refresh_token": [REFRESH],
        }
        if not ok:
            return Response(
                '{"error":"invalid_client"}', status=401, content_type="application/json"
            )
        body = {
            "access_token": f"{ACCESS}-{self.calls}",
            "expires_in": self.expires_in,
            "token_type": "Bearer",
            "refresh_token": REFRESH,
            "scope": "api",
        }
        return Response(json.dumps(body), content_type="application/json")


def chain_handler(expected_prefix: str = ACCESS):
    def handler(request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith(f"Bearer {expected_prefix}"):
            return Response("", status=401)
        return Response(json.dumps(chain_payload()), content_type="application/json")

    return handler


@pytest.fixture
def creds(monkeypatch) -> None:
    monkeypatch.setenv("SCHWAB_APP_KEY", APP_KEY)
    monkeypatch.setenv("SCHWAB_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("SCHWAB_REFRESH_TOKEN", REFRESH)


def make_feed(httpserver: HTTPServer, **kw) -> SchwabFeed:
    return SchwabFeed(
        fast_settings(httpserver.url_for("/marketdata/v1")),
        token_url=httpserver.url_for("/v1/oauth/token"),
        clock=lambda: NOW,
        **kw,
    )


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for s in SECRETS:
            assert s not in text, f"secret leaked into {text[:80]!r}"


async def test_session_refreshes_once_and_reuses_the_token(
    httpserver: HTTPServer, creds, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = TokenServer()
    httpserver.expect_request("/v1/oauth/token", method="POST").respond_with_handler(tokens)
    httpserver.expect_request("/marketdata/v1/chains").respond_with_handler(chain_handler())
    httpserver.expect_request(
        "/marketdata/v1/expirationchain", query_string={"symbol": "$SPX"}
    ).respond_with_json(load_payload("schwab/marketdata/v1/expirationchain.json"))
    feed = make_feed(httpserver)
    assert isinstance(feed, Feed)
    async with feed:
        first = await feed.snapshot("SPX")
        await feed.snapshot("SPX")
        exps = await feed.expirations("SPX")
    assert len(first) == 6 and tokens.calls == 1 and feed.refresh_count == 1
    chain_req = next(r for r, _ in httpserver.log if r.path.endswith("/chains"))
    assert chain_req.args["symbol"] == "$SPX" and chain_req.args["fromDate"] == "2026-05-15"
    assert chain_req.args["toDate"] == "2026-05-22" and chain_req.args["contractType"] == "ALL"
    assert exps[0] == datetime(2026, 5, 15, 20, tzinfo=UTC)
    assert datetime(2026, 6, 18, 13, 30, tzinfo=UTC) in exps
    assert_no_secrets(repr(feed), caplog.text)


async def test_concurrent_snapshots_share_one_refresh(httpserver: HTTPServer, creds) -> None:
    tokens = TokenServer()
    httpserver.expect_request("/v1/oauth/token", method="POST").respond_with_handler(tokens)
    httpserver.expect_request("/marketdata/v1/chains").respond_with_handler(chain_handler())
    async with make_feed(httpserver) as feed:
        chains = await asyncio.gather(*(feed.snapshot("SPX") for _ in range(5)))
    assert all(len(c) == 6 for c in chains)
    assert tokens.calls == 1  # double-checked under the lock


async def test_token_inside_the_margin_is_refreshed_every_time(
    httpserver: HTTPServer, creds
) -> None:
    tokens = TokenServer(expires_in=30)  # < the 60 s margin: never considered fresh
    httpserver.expect_request("/v1/oauth/token", method="POST").respond_with_handler(tokens)
    httpserver.expect_request("/marketdata/v1/chains").respond_with_handler(chain_handler())
    async with make_feed(httpserver) as feed:
        await feed.snapshot("SPX")
        await feed.snapshot("SPX")
    assert tokens.calls == 2


async def test_expired_refresh_token_is_an_actionable_auth_error(
    httpserver: HTTPServer, creds, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = TokenServer(
        fail=(400, {"error": "invalid_grant", "error_description": f"bad token {REFRESH}"})
    )
    httpserver.expect_request("/v1/oauth/token", method="POST").respond_with_handler(tokens)
    async with make_feed(httpserver) as feed:
        with pytest.raises(FeedAuthError) as info:
            await feed.snapshot("SPX")
    err = info.value
    assert tokens.calls == 1  # not retried
    assert err.env_var == "SCHWAB_REFRESH_TOKEN" and err.status == 400
    assert "7 days" in str(err) and "log in again" in str(err).lower()
    assert "SCHWAB_REFRESH_TOKEN" in str(err) and "invalid_grant" in str(err)
    assert not any(r.path.endswith("/chains") for r, _ in httpserver.log)
    assert_no_secrets(str(err), repr(err), repr(feed), caplog.text)


async def test_rejected_app_credentials_name_the_app_key(httpserver: HTTPServer, creds) -> None:
    tokens = TokenServer(fail=(401, {"error": "invalid_client"}))
    httpserver.expect_request("/v1/oauth/token", method="POST").respond_with_handler(tokens)
    async with make_feed(httpserver) as feed:
        with pytest.raises(FeedAuthError, match="SCHWAB_APP_KEY and SCHWAB_APP_SECRET") as info:
            await feed.snapshot("SPX")
    assert info.value.env_var == "SCHWAB_APP_KEY"
    assert_no_secrets(str(info.value))


async def test_missing_env_var_is_named(httpserver: HTTPServer, creds, monkeypatch) -> None:
    monkeypatch.delenv("SCHWAB_REFRESH_TOKEN")
    async with make_feed(httpserver) as feed:
        with pytest.raises(FeedAuthError, match="SCHWAB_REFRESH_TOKEN"):
            await feed.snapshot("SPX")
    assert len(httpserver.log) == 0


async def test_token_endpoint_5xx_is_retried(httpserver: HTTPServer, creds) -> None:
    tokens = TokenServer()
    httpserver.expect_ordered_request("/v1/oauth/token").respond_with_data("down", status=503)
    httpserver.expect_ordered_request("/v1/oauth/token").respond_with_handler(tokens)
    httpserver.expect_request("/marketdata/v1/chains").respond_with_handler(chain_handler())
    async with make_feed(httpserver) as feed:
        chain = await feed.snapshot("SPX")
    assert len(chain) == 6 and tokens.calls == 1


async def test_revoked_access_token_is_refreshed_once_then_retried(
    httpserver: HTTPServer, creds
) -> None:
    tokens = TokenServer()
    httpserver.expect_request("/v1/oauth/token", method="POST").respond_with_handler(tokens)
    # the first access token is refused, the second accepted
    httpserver.expect_request("/marketdata/v1/chains").respond_with_handler(
        chain_handler(expected_prefix=f"{ACCESS}-2")
    )
    async with make_feed(httpserver) as feed:
        chain = await feed.snapshot("SPX")
    assert len(chain) == 6 and tokens.calls == 2


async def test_data_401_after_refresh_is_auth_error(httpserver: HTTPServer, creds) -> None:
    tokens = TokenServer()
    httpserver.expect_request("/v1/oauth/token", method="POST").respond_with_handler(tokens)
    httpserver.expect_request("/marketdata/v1/chains").respond_with_data("", status=401)
    async with make_feed(httpserver) as feed:
        with pytest.raises(FeedAuthError, match="SCHWAB_REFRESH_TOKEN"):
            await feed.snapshot("SPX")
    assert tokens.calls == 2  # one forced refresh, then give up


def test_from_config_and_repr() -> None:
    feed = SchwabFeed.from_config(
        {
            "refresh_token_env": "MY_RT",
            "max_days": 3,
            "strike_count": 40,
            "token_url": "https://api.schwabapi.com/v1/oauth/token",
        }
    )
    assert feed.env["refresh_token_env"] == "MY_RT" and feed.max_days == 3
    assert "***" in repr(feed)
    with pytest.raises(ValueError, match="credential"):
        SchwabFeed.from_config({"refresh_token": REFRESH})
    with pytest.raises(ValueError, match="https"):
        SchwabFeed.from_config({"token_url": "http://evil.example.com/token"})


async def test_concurrent_401s_share_one_extra_refresh(httpserver: HTTPServer, creds) -> None:
    tokens = TokenServer()
    httpserver.expect_request("/v1/oauth/token", method="POST").respond_with_handler(tokens)
    httpserver.expect_request("/marketdata/v1/chains").respond_with_handler(
        chain_handler(expected_prefix=f"{ACCESS}-2")
    )
    async with make_feed(httpserver) as feed:
        chains = await asyncio.gather(*(feed.snapshot("SPX") for _ in range(5)))
    assert all(len(c) == 6 for c in chains)
    # token 1 refused for all five; only the first 401 drops it, one refresh serves them all
    assert tokens.calls == 2
