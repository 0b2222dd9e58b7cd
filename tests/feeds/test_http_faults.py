"""Faults a real server can cause, against real local servers: redirects that would carry a
credential elsewhere, an untrusted TLS certificate, bodies over the size cap, another
underlying's payload, and a big payload parsed while the event loop keeps running."""

from __future__ import annotations

import asyncio
import copy
import gzip
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trustme
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from hedgeflow.feeds import cboe as cboe_module
from hedgeflow.feeds import http as http_module
from hedgeflow.feeds.cboe import CboeFeed, parse_cboe_json
from hedgeflow.feeds.errors import (
    FeedAuthError,
    FeedUnavailable,
    PayloadTooLarge,
    Redirected,
    TlsError,
    WrongSymbol,
)
from hedgeflow.feeds.http import HttpSettings
from hedgeflow.feeds.schwab import SchwabFeed, parse_schwab_chain
from hedgeflow.feeds.tradier import TradierFeed, parse_tradier_chain
from tests.feeds.conftest import fast_settings, load_payload
from tests.feeds.test_schwab import APP_KEY, APP_SECRET, NOW, REFRESH, SECRETS
from tests.feeds.test_tradier import chains, quote

SPX = "cboe/options/_SPX.json"
TOKEN = "tradier-SECRET-token-4c1d"


@pytest.fixture
def elsewhere() -> Iterator[HTTPServer]:
    """A second server on another host name (127.0.0.1, the fixture's is localhost) that
    would accept anything sent to it: it must receive nothing."""
    server = HTTPServer(host="127.0.0.1")
    server.expect_request("/steal").respond_with_json({"access_token": "x", "expires_in": 1800})
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


@pytest.fixture
def schwab_creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHWAB_APP_KEY", APP_KEY)
    monkeypatch.setenv("SCHWAB_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("SCHWAB_REFRESH_TOKEN", REFRESH)


# --- redirects are never followed ------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_schwab_token_redirect_sends_no_credential(
    httpserver: HTTPServer, elsewhere: HTTPServer, schwab_creds: None, status: int
) -> None:
    # 307/308 would re-send the POST body (the refresh token) to the target.
    httpserver.expect_request("/v1/oauth/token", method="POST").respond_with_data(
        "", status=status, headers={"Location": elsewhere.url_for("/steal?x=1")}
    )
    feed = SchwabFeed(
        fast_settings(httpserver.url_for("/marketdata/v1")),
        token_url=httpserver.url_for("/v1/oauth/token"),
        clock=lambda: NOW,
    )
    async with feed:
        with pytest.raises(Redirected) as info:
            await feed.snapshot("SPX")
    assert elsewhere.log == []  # nothing reached the redirect target
    assert len(httpserver.log) == 1  # and a redirect is not retried
    text = str(info.value)
    assert "redirected to 127.0.0.1" in text and "x=1" not in text
    for secret in SECRETS:
        assert secret not in text


async def test_tradier_data_redirect_sends_no_bearer_token(
    httpserver: HTTPServer, elsewhere: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADIER_TOKEN", TOKEN)
    httpserver.expect_request("/v1/markets/quotes").respond_with_data(
        "", status=302, headers={"Location": elsewhere.url_for("/steal")}
    )
    async with TradierFeed(fast_settings(httpserver.url_for("/v1")), clock=lambda: NOW) as feed:
        with pytest.raises(Redirected, match="127.0.0.1") as info:
            await feed.snapshot("SPX")
    assert elsewhere.log == [] and len(httpserver.log) == 1
    assert TOKEN not in str(info.value)
    # the one request that was made did carry the token (so the check above means something)
    assert httpserver.log[0][0].headers["Authorization"] == f"Bearer {TOKEN}"


# --- TLS ------------------------------------------------------------------------------------


@pytest.fixture
def untrusted_https() -> Iterator[HTTPServer]:
    """An HTTPS server whose certificate comes from a CA nobody trusts (made now)."""
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    server = HTTPServer(host="localhost", ssl_context=context)
    server.expect_request("/options/_SPX.json").respond_with_json(load_payload(SPX))
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


async def test_untrusted_certificate_is_a_tls_error_not_unreachable(
    untrusted_https: HTTPServer,
) -> None:
    url = untrusted_https.url_for("/")
    assert url.startswith("https://localhost:")
    async with CboeFeed(fast_settings(url)) as feed:
        with pytest.raises(TlsError) as info:
            await feed.snapshot("SPX")
    text = str(info.value)
    assert "certificate verification failed for localhost" in text
    assert "cannot reach" not in text
    assert not isinstance(info.value, FeedUnavailable)
    assert untrusted_https.log == []  # no request got past the handshake


# --- the size cap ---------------------------------------------------------------------------


def capped(url: str, mb: float) -> HttpSettings:
    base = fast_settings(url)
    return HttpSettings(
        base_url=base.base_url,
        timeout=base.timeout,
        retry=base.retry,
        max_payload_bytes=int(mb * 2**20),
    )


def test_max_payload_mb_config_key() -> None:
    assert CboeFeed.from_config({}).settings.max_payload_bytes == 64 * 2**20
    assert CboeFeed.from_config({"max_payload_mb": 2}).settings.max_payload_bytes == 2 * 2**20
    for bad in (0, -1, "big", True):
        with pytest.raises(ValueError, match="max_payload_mb"):
            CboeFeed.from_config({"max_payload_mb": bad})


async def test_body_over_the_cap_with_content_length(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/options/_SPX.json").respond_with_data(
        b" " * (3 * 2**20), content_type="application/json"
    )
    async with CboeFeed(capped(httpserver.url_for("/"), 1)) as feed:
        with pytest.raises(PayloadTooLarge, match="payload over 1 MB"):
            await feed.snapshot("SPX")
    assert len(httpserver.log) == 1  # not retried: the next poll will be as big


async def test_endless_streamed_body_is_cut_at_the_cap(httpserver: HTTPServer) -> None:
    sent: list[int] = []

    def endless(request: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            # No Content-Length; up to 200 MB, far more than the client may read.
            for _ in range(3200):
                sent.append(1)
                yield b" " * 65536

        return Response(chunks(), content_type="application/json", direct_passthrough=True)

    httpserver.expect_request("/options/_SPX.json").respond_with_handler(endless)
    async with CboeFeed(capped(httpserver.url_for("/"), 1)) as feed:
        with pytest.raises(PayloadTooLarge, match="payload over 1 MB"):
            await feed.snapshot("SPX")
    assert len(sent) < 3200  # the client hung up long before the server was done


async def test_compressed_body_counts_at_its_decoded_size(httpserver: HTTPServer) -> None:
    bomb = gzip.compress(b" " * (4 * 2**20))
    assert len(bomb) < 2**20 // 8
    httpserver.expect_request("/options/_SPX.json").respond_with_data(
        bomb, content_type="application/json", headers={"Content-Encoding": "gzip"}
    )
    async with CboeFeed(capped(httpserver.url_for("/"), 1)) as feed:
        with pytest.raises(PayloadTooLarge):
            await feed.snapshot("SPX")


async def test_body_under_the_cap_is_read(httpserver: HTTPServer) -> None:
    body = json.dumps(load_payload(SPX)).encode()
    httpserver.expect_request("/options/_SPX.json").respond_with_data(
        body, content_type="application/json"
    )
    async with CboeFeed(capped(httpserver.url_for("/"), len(body) / 2**20 + 0.001)) as feed:
        assert len(await feed.snapshot("SPX")) == 12


# --- parsing off the event loop -------------------------------------------------------------


def big_spx_payload(n_strikes: int) -> dict[str, Any]:
    """The recorded SPX file widened to `n_strikes` strikes x 2 rights x 1 expiry."""
    payload = load_payload(SPX)
    template = payload["data"]["options"][0]
    rows = []
    for i in range(n_strikes):
        for right in "CP":
            row = dict(template)
            row["option"] = f"SPXW260515{right}{(3000 + i) * 1000:08d}"
            rows.append(row)
    payload["data"]["options"] = rows
    return payload


async def test_big_payload_is_decoded_and_parsed_while_the_loop_ticks(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = json.dumps(big_spx_payload(5000)).encode()  # 10,000 contracts, ~5 MB
    httpserver.expect_request("/options/_SPX.json").respond_with_data(
        body, content_type="application/json"
    )
    ticks = 0
    gated: list[str] = []

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    def needs_ticks(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        # Runs `fn` only after the event loop ticked 5 more times: on the loop itself this
        # would wait for ever (hence the deadline), off it the ticks come at once.
        def run(*args: Any, **kw: Any) -> Any:
            start, deadline = ticks, time.monotonic() + 20.0
            while ticks < start + 5:
                if time.monotonic() > deadline:
                    raise AssertionError(f"event loop stalled during {name}")
                time.sleep(0.001)
            gated.append(threading.current_thread().name)
            return fn(*args, **kw)

        return run

    monkeypatch.setattr(http_module, "decode_json", needs_ticks("decode", http_module.decode_json))
    monkeypatch.setattr(cboe_module, "parse_cboe_json", needs_ticks("parse", parse_cboe_json))
    task = asyncio.create_task(ticker())
    try:
        async with CboeFeed(fast_settings(httpserver.url_for("/"), read=30.0)) as feed:
            chain = await feed.snapshot("SPX")
    finally:
        task.cancel()
    assert len(chain) == 10_000
    assert len(gated) == 2 and threading.main_thread().name not in gated


# --- data is what it claims to be -----------------------------------------------------------


def spy_as_cboe() -> dict[str, Any]:
    payload = load_payload(SPX)
    payload["symbol"] = "SPY"
    payload["data"]["symbol"] = "SPY"
    for row in payload["data"]["options"]:
        if isinstance(row, dict) and isinstance(row.get("option"), str):
            row["option"] = row["option"].replace("SPXW", "SPY").replace("SPX", "SPY")
    return payload


def test_cboe_parser_refuses_another_underlying() -> None:
    with pytest.raises(WrongSymbol, match="payload is for SPY, not the requested SPX") as info:
        parse_cboe_json(spy_as_cboe(), symbol="SPX")
    assert (info.value.requested, info.value.received) == ("SPX", "SPY")
    # Without any name in the payload the option roots decide.
    anonymous = spy_as_cboe()
    del anonymous["symbol"], anonymous["data"]["symbol"]
    with pytest.raises(WrongSymbol, match="SPY"):
        parse_cboe_json(anonymous, symbol="SPX")
    # The payload's own name, vendor prefixes aside, passes; so do SPXW roots for SPX.
    assert parse_cboe_json(load_payload(SPX), symbol="SPX").symbol == "SPX"
    assert parse_cboe_json(spy_as_cboe(), symbol="SPY").symbol == "SPY"


async def test_cboe_feed_refuses_spy_served_at_the_spx_address(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/options/_SPX.json").respond_with_json(spy_as_cboe())
    async with CboeFeed(fast_settings(httpserver.url_for("/"))) as feed:
        with pytest.raises(WrongSymbol, match="SPY.*SPX"):
            await feed.snapshot("SPX")


def test_tradier_parser_refuses_another_underlying() -> None:
    q = quote()
    q["quotes"]["quote"] = {**q["quotes"]["quote"], "symbol": "SPY"}
    with pytest.raises(WrongSymbol, match="SPY"):
        parse_tradier_chain(q, chains("2026-05-18"), now=NOW, symbol="SPX")
    rows = copy.deepcopy(chains("2026-05-15"))
    for r in rows[0]["options"]["option"]:
        if isinstance(r, dict):
            r["underlying"] = "SPY"
    with pytest.raises(WrongSymbol, match="payload is for SPY, not the requested SPX"):
        parse_tradier_chain(quote(), rows, now=NOW, symbol="SPX")
    assert parse_tradier_chain(quote(), chains("2026-05-18"), now=NOW, symbol="SPX").symbol


def test_schwab_parser_refuses_another_underlying() -> None:
    payload = load_payload("schwab/marketdata/v1/chains/SPX.json")
    other = {**payload, "symbol": "$NDX"}
    with pytest.raises(WrongSymbol, match="payload is for NDX, not the requested SPX"):
        parse_schwab_chain(other, now=NOW, symbol="SPX")
    und = {**payload, "underlying": {**payload["underlying"], "symbol": "SPY"}}
    with pytest.raises(WrongSymbol, match="SPY"):
        parse_schwab_chain(und, now=NOW, symbol="SPX")
    assert len(parse_schwab_chain(payload, now=NOW, symbol="SPX")) > 0


# --- auth errors say what to do ------------------------------------------------------------


def test_auth_error_always_names_its_variable() -> None:
    err = FeedAuthError("the token was rejected", env_var="TRADIER_TOKEN", vendor="tradier")
    assert "TRADIER_TOKEN" in str(err)
    named = FeedAuthError("put a valid token in MY_TOKEN", env_var="MY_TOKEN")
    assert str(named).count("MY_TOKEN") == 1
