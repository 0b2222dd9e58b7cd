"""The HTTP layer: pure retry-policy functions, body decoding, settings validation, the retry
loop (MockTransport for exact sequences, a raw local socket server for broken HTTP), and
secret hygiene (Secret, RedactingFilter, env-only credentials)."""

from __future__ import annotations

import asyncio
import copy
import logging
import pickle
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hedgeflow.feeds.errors import (
    BadPayload,
    BadRequest,
    FeedAuthError,
    FeedUnavailable,
    RateLimited,
)
from hedgeflow.feeds.http import (
    HttpFeedBase,
    HttpSettings,
    backoff,
    decode_json,
    env_var_key,
    int_key,
    parse_retry_after,
    request_id,
    should_retry,
)
from hedgeflow.feeds.secrets import (
    RedactingFilter,
    Secret,
    install_log_redaction,
    redact,
    secret_from_env,
)
from tests.feeds.conftest import fast_settings

NOW = datetime(2026, 5, 15, 17, 30, tzinfo=UTC)


# --- parse_retry_after ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": " 0.25 "}, 0.25),
        ({"Retry-After": "-3"}, 0.0),
        ({"Retry-After": "100000"}, 60.0),  # capped
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "nan"}, None),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "x", "Retry-After": "3"}, 3.0),
        # Tradier: window expiry in epoch ms, only when nothing is left
        (
            {
                "X-Ratelimit-Available": "0",
                "X-Ratelimit-Expiry": str(int(NOW.timestamp() * 1000) + 4000),
            },
            4.0,
        ),
        (
            {
                "X-Ratelimit-Available": "12",
                "X-Ratelimit-Expiry": str(int(NOW.timestamp() * 1000) + 4000),
            },
            None,
        ),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, NOW, cap=60.0) == expected


def test_parse_retry_after_http_date() -> None:
    later = format_datetime(NOW + timedelta(seconds=7), usegmt=True)
    assert parse_retry_after({"Retry-After": later}, NOW) == pytest.approx(7.0)
    earlier = format_datetime(NOW - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"Retry-After": earlier}, NOW) == 0.0
    far = format_datetime(NOW + timedelta(hours=2), usegmt=True)
    assert parse_retry_after({"Retry-After": far}, NOW, cap=30.0) == 30.0


# --- backoff --------------------------------------------------------------------------------


@given(
    attempt=st.integers(1, 200),
    seed=st.integers(0, 2**32),
    base=st.floats(0.001, 5.0),
    cap=st.floats(0.001, 60.0),
)
def test_backoff_is_bounded_full_jitter(attempt: int, seed: int, base: float, cap: float) -> None:
    b = backoff(attempt, random.Random(seed), base=base, cap=cap)
    assert 0.0 <= b <= min(cap, base * 2.0 ** min(attempt - 1, 30))


def test_backoff_grows_then_caps_and_is_reproducible() -> None:
    means = [
        sum(backoff(n, random.Random(s), base=1.0, cap=8.0) for s in range(2000)) / 2000
        for n in (1, 2, 3, 4, 6)
    ]
    # full jitter: mean = ceiling / 2 = 0.5, 1, 2, 4, then capped at 4
    assert means == pytest.approx([0.5, 1.0, 2.0, 4.0, 4.0], rel=0.06)
    assert backoff(3, random.Random(7)) == backoff(3, random.Random(7))
    with pytest.raises(ValueError, match="attempt"):
        backoff(0, random.Random(0))


# --- should_retry -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
def test_should_retry_transient_statuses(status: int) -> None:
    assert should_retry(status)


@pytest.mark.parametrize("status", [200, 301, 400, 401, 403, 404, 409, 422, 600])
def test_should_not_retry_other_statuses(status: int) -> None:
    assert not should_retry(status)


def test_should_retry_exceptions() -> None:
    req = httpx.Request("GET", "https://x.test/")
    for exc in (
        httpx.ConnectError("refused", request=req),
        httpx.ConnectTimeout("t", request=req),
        httpx.ReadTimeout("t", request=req),
        httpx.PoolTimeout("t", request=req),
        httpx.ReadError("reset", request=req),
        httpx.RemoteProtocolError("closed", request=req),
    ):
        assert should_retry(exc), exc
    for exc in (
        httpx.UnsupportedProtocol("ftp", request=req),
        httpx.TooManyRedirects("loop", request=req),
        ValueError("x"),
    ):
        assert not should_retry(exc), exc
    assert not should_retry(True)  # a bool is not a status


# --- decode_json / request_id ---------------------------------------------------------------------


def resp(
    body: bytes, ctype: str = "application/json", status: int = 200, **headers: str
) -> httpx.Response:
    return httpx.Response(status, content=body, headers={"content-type": ctype, **headers})


@pytest.mark.parametrize(
    ("body", "ctype", "match"),
    [
        (b"", "application/json", "empty"),
        (b"  \n", "application/json", "empty"),
        (b"<!DOCTYPE html><html>", "text/html; charset=utf-8", "HTML"),
        (b"<html>captcha</html>", "application/json", "HTML"),
        (b'{"data": {"options": [1, 2', "application/json", "truncated"),
        (b'{"timestamp": "2026-05-1', "application/json", "truncated"),
        (b'{"a": 1} trailing', "application/json", "malformed JSON"),
        (b"\xff\xfe\x00garbage", "application/json", "malformed JSON|UTF-8"),
    ],
)
def test_decode_json_bad_bodies(body: bytes, ctype: str, match: str) -> None:
    with pytest.raises(BadPayload, match=match) as info:
        decode_json(resp(body, ctype, **{"x-request-id": "r-1"}), vendor="v")
    assert info.value.request_id == "r-1" and info.value.status == 200


def test_decode_json_ok_and_request_ids() -> None:
    assert decode_json(resp(b'{"a": [1, 2.5, null]}'), vendor="v") == {"a": [1, 2.5, None]}
    assert request_id({"Schwab-Client-CorrelId": "abc"}) == "abc"
    assert request_id({"X-Request-Id": "1", "cf-ray": "2"}) == "1"
    assert request_id({}) is None


# --- settings -----------------------------------------------------------------------------------


def test_settings_from_config() -> None:
    s = HttpSettings.from_config(
        {
            "base_url": "https://x.test/api/",
            "timeout": 3,
            "connect_timeout": 1.5,
            "max_attempts": 2,
        },
        frozenset(),
        "https://default.test",
    )
    assert s.base_url == "https://x.test/api"
    assert (s.timeout.connect, s.timeout.read, s.timeout.write, s.timeout.pool) == (
        1.5,
        3.0,
        3.0,
        3.0,
    )
    assert s.retry.max_attempts == 2
    assert HttpSettings.from_config({"base_url": "http://127.0.0.1:8080"}, frozenset(), "").base_url
    assert HttpSettings.from_config({"base_url": "http://localhost:1"}, frozenset(), "").base_url


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"base_url": "ftp://x.test"}, "base_url"),
        ({"base_url": "http://10.0.0.1"}, "https"),
        ({"base_url": 3}, "base_url"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 1.5}, "max_attempts"),
        ({"read_timeout": True}, "read_timeout"),
        ({"api_key": "abc123secret"}, "credential"),
        ({"verify": False}, "unknown config key `verify`"),  # TLS verification cannot be disabled
    ],
)
def test_settings_reject_bad_values(section: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        HttpSettings.from_config(section, frozenset(), "https://default.test")
    assert "abc123secret" not in str(info.value)


# --- the retry loop with exact response sequences (MockTransport) --------------------------------


class Probe(HttpFeedBase):
    vendor = "probe"
    name = "probe"

    def _auth_error(self, status: int) -> tuple[str, str | None]:
        return ("set PROBE_TOKEN", "PROBE_TOKEN")


def sequence(*steps: httpx.Response | Exception) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    it = iter(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        step = next(it)
        if isinstance(step, Exception):
            raise step
        return step

    return httpx.MockTransport(handler), seen


@asynccontextmanager
async def probe(
    *steps: httpx.Response | Exception, attempts: int = 4
) -> AsyncIterator[tuple[Probe, list, list]]:
    transport, seen = sequence(*steps)
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    feed = Probe(
        fast_settings("https://probe.test", attempts=attempts),
        transport=transport,
        sleep=sleep,
        rng=random.Random(0),
        clock=lambda: NOW,
    )
    async with feed:
        yield feed, seen, slept


OK = httpx.Response(200, json={"ok": True})


async def test_retry_5xx_then_success_resets_backoff() -> None:
    async with probe(httpx.Response(502), httpx.Response(503), OK) as (feed, seen, slept):
        assert await feed.get_json("/x") == {"ok": True}
    assert len(seen) == 3 and len(slept) == 2
    assert all(0 <= s <= 0.05 for s in slept)


async def test_retry_408_and_connect_errors() -> None:
    err = httpx.ConnectError("refused")
    async with probe(httpx.Response(408), err, OK) as (feed, seen, _):
        assert await feed.get_json("/x") == {"ok": True}
    assert len(seen) == 3


async def test_exhausted_5xx_is_unavailable_without_an_invented_wait() -> None:
    async with probe(*[httpx.Response(500, headers={"x-request-id": "rq"})] * 3, attempts=3) as (
        feed,
        seen,
        slept,
    ):
        with pytest.raises(FeedUnavailable) as info:
            await feed.get_json("/x")
    assert len(seen) == 3 and len(slept) == 2
    err = info.value
    assert err.status == 500 and err.request_id == "rq" and err.vendor == "probe"
    # No Retry-After: the caller's exponential backoff decides, nothing short is handed over.
    assert err.retry_after is None


async def test_5xx_retry_after_is_handed_over_never_shortened() -> None:
    busy = httpx.Response(503, headers={"Retry-After": "45"})
    async with probe(busy, OK) as (feed, seen, slept):
        with pytest.raises(FeedUnavailable) as info:
            await feed.get_json("/x")
    assert info.value.retry_after == 45.0 and slept == [] and len(seen) == 1


async def test_retry_after_as_http_date_is_handed_over() -> None:
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    async with probe(httpx.Response(429, headers={"Retry-After": later})) as (feed, _, slept):
        with pytest.raises(RateLimited) as info:
            await feed.get_json("/x")
    assert info.value.retry_after == pytest.approx(90.0) and slept == []


async def test_429_honours_retry_after_exactly() -> None:
    limited = httpx.Response(429, headers={"Retry-After": "0.3"})
    async with probe(limited, limited, OK) as (feed, _, slept):
        await feed.get_json("/x")
    assert slept == [0.3, 0.3]


async def test_long_retry_after_is_handed_to_the_caller_not_slept() -> None:
    async with probe(httpx.Response(429, headers={"Retry-After": "30"})) as (feed, seen, slept):
        with pytest.raises(RateLimited) as info:
            await feed.get_json("/x")
    assert slept == [] and len(seen) == 1
    assert info.value.retry_after == 30.0


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_errors_are_not_retried(status: int) -> None:
    async with probe(httpx.Response(status), OK) as (feed, seen, slept):
        with pytest.raises(FeedAuthError, match="PROBE_TOKEN") as info:
            await feed.get_json("/x")
    assert len(seen) == 1 and slept == []
    assert info.value.env_var == "PROBE_TOKEN" and info.value.retry_after is None


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_other_4xx_are_bad_requests(status: int) -> None:
    async with probe(httpx.Response(status, text="symbol unknown"), OK) as (feed, seen, _):
        with pytest.raises(BadRequest, match="symbol unknown") as info:
            await feed.get_json("/x")
    assert len(seen) == 1 and info.value.status == status


async def test_bad_body_is_not_retried() -> None:
    async with probe(httpx.Response(200, text="<html>"), OK) as (feed, seen, _):
        with pytest.raises(BadPayload, match="HTML"):
            await feed.get_json("/x")
    assert len(seen) == 1


async def test_use_outside_context_manager_is_a_programming_error() -> None:
    feed = Probe(fast_settings("https://probe.test"))
    with pytest.raises(RuntimeError, match="async with"):
        await feed.get_json("/x")


async def test_client_is_configured_once_with_tls_and_timeouts() -> None:
    feed = Probe(fast_settings("https://probe.test", read=1.25))
    async with feed:
        client = feed.client
        assert client.base_url == httpx.URL("https://probe.test")
        assert client.timeout.read == 1.25 and client.timeout.connect == 1.0
        assert client.headers["accept"] == "application/json"
    assert client.is_closed and feed._client is None


# --- broken HTTP from a real local socket server ---------------------------------------------------


@asynccontextmanager
async def raw_server(reply: Callable[[int], bytes | None]) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP server on 127.0.0.1 that reads a request and writes `reply(n)` raw (None: close
    without answering), then closes the connection."""
    hits: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        hits.append(len(hits) + 1)
        data = reply(len(hits))
        if data:
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", hits


async def test_body_cut_off_mid_transfer_is_truncated_payload() -> None:
    def reply(n: int) -> bytes:
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
            + b'{"data": {"options": ['
        )

    async with raw_server(reply) as (url, hits):
        async with Probe(fast_settings(url, attempts=2)) as feed:
            with pytest.raises(BadPayload, match="truncated"):
                await feed.get_json("/x")
    assert len(hits) == 2  # a dropped transfer is retried once before giving up


async def test_server_closing_without_answer_then_success() -> None:
    def reply(n: int) -> bytes | None:
        if n == 1:
            return None
        return b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"ok": true}'

    async with raw_server(reply) as (url, hits):
        async with Probe(fast_settings(url, attempts=3)) as feed:
            assert await feed.get_json("/x") == {"ok": True}
    assert len(hits) == 2


async def test_server_that_never_answers_is_unavailable() -> None:
    async with raw_server(lambda n: None) as (url, hits):
        async with Probe(fast_settings(url, attempts=2)) as feed:
            with pytest.raises(FeedUnavailable, match="closed the connection"):
                await feed.get_json("/x")
    assert len(hits) == 2


# --- secrets ------------------------------------------------------------------------------------


TOKEN = "tok-SECRET-9f8e7d6c"


def test_secret_never_shows_itself() -> None:
    s = Secret(TOKEN, "MY_TOKEN")
    for text in (repr(s), str(s), f"{s}", f"{s!r}", repr([s]), repr({"t": s})):
        assert TOKEN not in text and "***" in text
    assert s.reveal() == TOKEN
    with pytest.raises(TypeError):
        pickle.dumps(s)
    assert copy.deepcopy(s) is s


def test_secret_from_env(monkeypatch) -> None:
    monkeypatch.setenv("HF_TEST_TOKEN", f"  {TOKEN}\n")
    assert secret_from_env("HF_TEST_TOKEN", vendor="v", what="the token").reveal() == TOKEN
    monkeypatch.setenv("HF_TEST_TOKEN", "  ")
    with pytest.raises(FeedAuthError, match="set the environment variable HF_TEST_TOKEN") as info:
        secret_from_env("HF_TEST_TOKEN", vendor="v", what="the token")
    assert info.value.env_var == "HF_TEST_TOKEN"
    with pytest.raises(ValueError):
        secret_from_env("not a name; rm -rf", vendor="v", what="x")


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer abcdefghijkl123",
        "{'Authorization': 'Bearer abcdefghijkl123'}",
        "headers={'authorization': 'Basic YWJjOmRlZmdoaWprbA=='}",
        "grant_type=refresh_token&refresh_token=abcdefghijkl123",
        '{"access_token": "abcdefghijkl123", "expires_in": 1800}',
        "client_secret=abcdefghijkl123",
        "GET /markets?apikey=abcdefghijkl123&symbol=SPX",
    ],
)
def test_redact_patterns(text: str) -> None:
    out = redact(text)
    assert "abcdefghijkl123" not in out and "YWJjOmRlZmdoaWprbA" not in out and "***" in out


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "GET /markets/options/chains?symbol=SPX&expiration=2026-05-15 -> HTTP 200, 480 rows"
    assert redact(text) == text


def test_log_filter_redacts_registered_secrets_and_exceptions(caplog) -> None:
    Secret(TOKEN, "MY_TOKEN")  # registers the value
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("hedgeflow.feeds.http")
    log.warning("vendor echoed %s in its error", TOKEN)
    logging.getLogger("httpx").info("headers %s", {"Authorization": f"Bearer {TOKEN}"})
    try:
        raise RuntimeError(f"boom {TOKEN}")
    except RuntimeError:
        log.exception("failed")
    assert TOKEN not in caplog.text
    assert caplog.text.count("***") >= 3
    assert all(isinstance(f, RedactingFilter) for f in logging.getLogger("httpx").filters[-1:])


def test_install_is_idempotent() -> None:
    install_log_redaction()
    install_log_redaction()
    assert sum(isinstance(f, RedactingFilter) for f in logging.getLogger("httpx").filters) == 1


async def test_unexpected_parser_exception_becomes_bad_payload() -> None:
    feed = Probe(fast_settings("https://probe.test"))

    def broken(payload: object) -> None:
        raise ZeroDivisionError(f"division by zero in {payload}")

    with pytest.raises(BadPayload, match="unexpected payload shape.*ZeroDivisionError") as info:
        await feed._parse(broken, "row 7")
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_vendor_config_keys() -> None:
    # Names of environment variables: identifiers only (a value here is never a secret).
    assert env_var_key({}, "token_env", "TRADIER_TOKEN") == "TRADIER_TOKEN"
    assert env_var_key({"token_env": "MY_TOKEN"}, "token_env", "X") == "MY_TOKEN"
    for bad in ("", "1ABC", "a-b", "has space", 5, None):
        with pytest.raises(ValueError, match="config key `token_env` must name an environment"):
            env_var_key({"token_env": bad}, "token_env", "X")
    # Bounded integers, bounds included; booleans and floats refused.
    assert int_key({}, "max_days", 7, 0, 400) == 7
    assert int_key({"max_days": 0}, "max_days", 7, 0, 400) == 0
    assert int_key({"max_days": 400}, "max_days", 7, 0, 400) == 400
    for bad in (-1, 401, True, 3.0, "3", None):
        with pytest.raises(ValueError, match=r"config key `max_days` must be an integer 0\.\.400"):
            int_key({"max_days": bad}, "max_days", 7, 0, 400)
