"""The HTTP layer shared by the vendor feeds: one client per feed, retries, typed errors.

The retry policy is three small pure functions in `hedgeflow.feeds.retry`
(`parse_retry_after`, `backoff`, `should_retry`), tested on their own.

`HttpFeedBase` owns ONE `httpx.AsyncClient` (base_url, explicit connect/read/write/pool
timeouts, default headers, TLS verification always on, redirects never followed), opened
and closed by the feed's async context manager. `get_json(path, params)` retries per the
policy and maps every failure to a `hedgeflow.feeds.errors` type:

    401/403                         -> FeedAuthError (not retried; names the env var to fix)
    429                             -> retried after Retry-After, then RateLimited(retry_after)
    408, 5xx, timeouts, connect err -> retried with backoff, then FeedUnavailable
    body cut off mid-transfer       -> retried, then BadPayload("truncated")
    3xx                             -> Redirected naming the target host (not followed)
    certificate fails verification  -> TlsError naming the host (not retried)
    body over `max_payload_mb`      -> PayloadTooLarge (reading stops at the cap)
    other 4xx                       -> BadRequest (not retried)
    a vendor's own failure answer   -> the feed's `_vendor_error` type (Schwab's 502
                                       "TooBigBody" -> ChainTooBig, not retried)
    2xx with empty / HTML / non-JSON / truncated JSON body -> BadPayload (not retried)

`retry_after` on an error is only ever what the server asked for (Retry-After and its
vendor variants); the caller's own backoff covers the rest. A server wait longer than
`RetryPolicy.max_wait` is not slept inside one call: the error is raised at once, so the
monitor schedules the next poll instead of freezing.

Bodies are streamed and counted (decoded bytes, so a compressed bomb counts at its real
size); JSON decoding and the vendor parsers run in a worker thread (`asyncio.to_thread`),
so a big chain never stalls the event loop that draws the screen.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, Self, TypeVar

import httpx

from hedgeflow.feeds.errors import (
    BadPayload,
    BadRequest,
    FeedAuthError,
    FeedError,
    FeedUnavailable,
    PayloadTooLarge,
    RateLimited,
    Redirected,
    TlsError,
)
from hedgeflow.feeds.retry import backoff, parse_retry_after, request_id, should_retry
from hedgeflow.feeds.secrets import install_log_redaction, redact

log = logging.getLogger("hedgeflow.feeds.http")

T = TypeVar("T")


class Reply(Protocol):
    """What `decode_json` reads: an `httpx.Response`, or the `Body` of a streamed one."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> httpx.Headers: ...
    @property
    def content(self) -> bytes: ...


@dataclass(frozen=True)
class Body:
    """A response read to its end (within the size cap): status, headers, decoded bytes."""

    status_code: int
    headers: httpx.Headers
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


def decode_json(response: Reply, *, vendor: str) -> Any:
    """The JSON body of a 2xx response, or BadPayload saying what was wrong with it."""
    rid = request_id(response.headers)
    body = response.content
    kw: dict[str, Any] = {"vendor": vendor, "status": response.status_code, "request_id": rid}
    if not body.strip():
        raise BadPayload("empty response body where JSON was expected", **kw)
    ctype = response.headers.get("content-type", "").lower()
    if "html" in ctype or body.lstrip()[:1] == b"<":
        raise BadPayload(
            "got HTML instead of JSON (an error, login or bot-check page; check base_url)", **kw
        )
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise BadPayload("response body is not UTF-8 text", **kw) from None
    except json.JSONDecodeError as exc:
        tail = len(exc.doc.rstrip())
        if exc.pos >= tail - 1 or exc.msg.startswith("Unterminated string"):
            raise BadPayload(
                f"truncated JSON: body ends after {len(body)} bytes mid-document", **kw
            ) from None
        raise BadPayload(f"malformed JSON at byte {exc.pos}: {exc.msg}", **kw) from None


def _is_truncation(exc: httpx.RemoteProtocolError) -> bool:
    text = str(exc).lower()
    return "complete message body" in text or "incomplete" in text


def _tls_failure(exc: BaseException, host: str) -> str | None:
    """What went wrong with TLS, if `exc` (or an exception it wraps) is a TLS failure."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError):
            why = cur.verify_message or "untrusted certificate"
            return f"TLS certificate verification failed for {host}: {why}"
        if isinstance(cur, ssl.SSLError):
            return f"TLS handshake with {host} failed ({cur.reason or type(cur).__name__})"
        cur = cur.__cause__ or cur.__context__
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return f"TLS certificate verification failed for {host}"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- settings -----------------------------------------------------------------------------

#: Keys every HTTP feed accepts in its config section.
COMMON_KEYS = frozenset(
    {
        "base_url",
        "timeout",
        "connect_timeout",
        "read_timeout",
        "write_timeout",
        "pool_timeout",
        "max_attempts",
        "backoff_base",
        "backoff_max",
        "max_retry_wait",
        "max_payload_mb",
    }
)

#: Default cap on one response body. The largest real chain in ../shared/data/real (NDX
#: 2023-05-15, 20,322 contracts; SPX 2023-09-14 has 19,920) is 8.3 MiB written as CBOE JSON
#: in the recorded file's row format (measured with tests/feeds/test_http_faults.py's
#: `big_spx_payload(10161)`); the recorded payloads are 0.5 to 11 KB. 64 MB leaves room for
#: several times today's SPX and stops a runaway body long before it costs the monitor
#: its memory.
DEFAULT_MAX_PAYLOAD_MB = 64.0

#: Words that mark a key as holding a credential: such values belong in the environment.
_SECRET_WORDS = ("token", "secret", "password", "apikey", "api_key", "app_key", "client_id")


@dataclass(frozen=True)
class RetryPolicy:
    """max_attempts : total tries per request (>= 1); backoff_base / backoff_max : seconds
    for `backoff`; retry_after_cap : cap on a server's Retry-After; max_wait : longest wait
    slept inside one request, longer waits are handed to the caller as `retry_after`."""

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    #: An hour: longer asks are treated as a broken header, not honoured literally.
    retry_after_cap: float = 3600.0
    max_wait: float = 10.0


@dataclass(frozen=True)
class HttpSettings:
    base_url: str
    timeout: httpx.Timeout = field(
        default_factory=lambda: httpx.Timeout(connect=5.0, read=20.0, write=10.0, pool=5.0)
    )
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Largest response body read, bytes (config key `max_payload_mb`, in MiB).
    max_payload_bytes: int = int(DEFAULT_MAX_PAYLOAD_MB * 2**20)
    #: The vendor-specific keys of the config section (validated by the feed).
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any], vendor_keys: frozenset[str], default_base_url: str
    ) -> HttpSettings:
        """Validate a config section; ValueError names the offending key (never its value)."""
        for key in section:
            if key not in COMMON_KEYS and key not in vendor_keys:
                if any(w in key.lower() for w in _SECRET_WORDS) and not key.endswith("_env"):
                    raise ValueError(
                        f"config key `{key}` looks like a credential: secrets are read from "
                        "environment variables only; name the variable with a `*_env` key"
                    )
                allowed = ", ".join(sorted(COMMON_KEYS | vendor_keys))
                raise ValueError(f"unknown config key `{key}` (allowed: {allowed})")

        def num(key: str, default: float, *, lo: float = 0.0, integer: bool = False) -> Any:
            v = section.get(key, default)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"config key `{key}` must be a number")
            if v < lo or (lo == 0.0 and v == 0 and not integer):
                raise ValueError(f"config key `{key}` must be > {lo}")
            if integer and int(v) != v:
                raise ValueError(f"config key `{key}` must be an integer")
            return int(v) if integer else float(v)

        base_url = section.get("base_url", default_base_url)
        if not isinstance(base_url, str):
            raise ValueError("config key `base_url` must be a URL string")
        url = httpx.URL(base_url)
        if url.scheme not in ("https", "http") or not url.host:
            raise ValueError("config key `base_url` must be an absolute http(s) URL")
        if url.scheme == "http" and not _is_loopback(url.host):
            raise ValueError("config key `base_url` must use https (plain http only for localhost)")
        total = num("timeout", 20.0)
        timeout = httpx.Timeout(
            connect=num("connect_timeout", min(5.0, total)),
            read=num("read_timeout", total),
            write=num("write_timeout", min(10.0, total)),
            pool=num("pool_timeout", min(5.0, total)),
        )
        retry = RetryPolicy(
            max_attempts=num("max_attempts", 4, lo=1, integer=True),
            backoff_base=num("backoff_base", 0.5),
            backoff_max=num("backoff_max", 8.0),
            max_wait=num("max_retry_wait", 10.0),
        )
        extra = {k: v for k, v in section.items() if k in vendor_keys}
        return cls(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            retry=retry,
            max_payload_bytes=int(num("max_payload_mb", DEFAULT_MAX_PAYLOAD_MB) * 2**20),
            extra=extra,
        )


def env_var_key(section: Mapping[str, Any], key: str, default: str) -> str:
    """The config value of `key` (default `default`) naming an environment variable, where a
    credential lives (never the credential itself); ValueError naming the key unless it is a
    valid variable name (an identifier)."""
    v = section.get(key, default)
    if not isinstance(v, str) or not v.isidentifier():
        raise ValueError(f"config key `{key}` must name an environment variable")
    return v


def int_key(section: Mapping[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    """The config value of `key` (default `default`) as an integer in lo..hi; booleans and
    floats are refused with a ValueError naming the key and the range."""
    v = section.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"config key `{key}` must be an integer {lo}..{hi}")
    return v


# --- the base feed ------------------------------------------------------------------------


class HttpFeedBase:
    """One vendor over HTTP: `async with Feed.from_config(...) as feed: await feed.snapshot(...)`.

    Subclasses set `name`, `vendor`, `delay_seconds`, `default_base_url`, `config_keys` and
    implement `snapshot`/`expirations`; credentialed feeds override `_auth_headers`,
    `_auth_error` and (for refreshable tokens) `_on_unauthorized`.
    """

    name: ClassVar[str] = "http"
    vendor: ClassVar[str] = "http"
    delay_seconds: float = 0.0
    default_base_url: ClassVar[str] = ""
    config_keys: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        settings: HttpSettings,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._rng = rng or random.Random()
        self._sleep = sleep or asyncio.sleep
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.settings.base_url!r})"

    # hooks --------------------------------------------------------------------------------

    def _default_headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    async def _auth_headers(self) -> dict[str, str]:
        """Headers carrying credentials, built per request (a token may be refreshed)."""
        return {}

    def check_credentials(self) -> None:
        """Raise FeedAuthError naming the first credential missing from the environment.
        A command calls it before it starts: a running process cannot be given a variable
        later, so a monitor opened without one could only show a screen of errors."""

    def _auth_error(self, status: int) -> tuple[str, str | None]:
        """(message, env var to fix) for a 401/403 from the data endpoints."""
        return (f"access denied by {self.vendor}", None)

    def _vendor_error(self, body: Body, kw: Mapping[str, Any]) -> FeedError | None:
        """A typed error for a vendor-specific failure answer (raised at once, not retried;
        e.g. Schwab's 502 "TooBigBody"), or None for the generic mapping. `kw` holds the
        vendor, status and request id for the error."""
        return None

    async def _on_unauthorized(self, sent: Mapping[str, str]) -> bool:
        """Called on a 401 with the credential headers that request carried; return True to
        retry once (e.g. after dropping that token, if it is still the current one)."""
        return False

    # lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        install_log_redaction()
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.settings.base_url,
                timeout=self.settings.timeout,
                headers=self._default_headers(),
                verify=True,
                # A redirect would carry the bearer token or the refresh token (re-sent in a
                # 307's POST body) to a host the user never configured, maybe over plain http.
                follow_redirects=False,
                transport=self._transport,
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def clock(self) -> datetime:
        """Wall clock, aware UTC: the only place a real feed reads the time (a `clock`
        callable given to the constructor replaces it, for tests and replays)."""
        if self._clock is not None:
            return self._clock().astimezone(UTC)
        return datetime.now(UTC)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError(f"{type(self).__name__} must be used inside `async with`")
        return self._client

    async def _parse(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run a pure parser in a worker thread (a big chain takes seconds to parse; the
        screen keeps drawing meanwhile). An exception no rule anticipated becomes
        BadPayload, so an odd payload costs one poll, never the monitor."""
        return await asyncio.to_thread(self._parse_now, fn, *args, **kw)

    def _parse_now(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        try:
            return fn(*args, **kw)
        except FeedError:
            raise
        except Exception as exc:  # the boundary between vendor data and the app
            raise BadPayload(
                redact(f"unexpected payload shape ({type(exc).__name__}: {exc})")[:300],
                vendor=self.vendor,
            ) from exc

    # requests -----------------------------------------------------------------------------

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `path` (relative to base_url) and decode its JSON (in a worker thread),
        retrying per the policy."""
        body = await self._send("GET", path, params=params)
        return await asyncio.to_thread(decode_json, body, vendor=self.vendor)

    async def _read_capped(self, response: httpx.Response, what: str) -> bytes:
        """The whole (decoded) body, or PayloadTooLarge as soon as it passes the cap."""
        cap = self.settings.max_payload_bytes
        over = PayloadTooLarge(
            f"{what}: payload over {cap / 2**20:.4g} MB (config key `max_payload_mb`)",
            vendor=self.vendor,
            status=response.status_code,
            request_id=request_id(response.headers),
        )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and "content-encoding" not in response.headers:
            if int(declared) > cap:
                raise over
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise over
            chunks.append(chunk)
        return b"".join(chunks)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        authorize: bool = True,
        passthrough: frozenset[int] = frozenset(),
    ) -> Body:
        """One request with retries. Returns a 2xx response read to its end (or one whose
        status is in `passthrough`, for callers that interpret it); raises a typed
        FeedError otherwise."""
        client = self.client
        policy = self.settings.retry
        target = client.base_url.join(url) if not httpx.URL(url).is_absolute_url else url
        host = httpx.URL(target).host
        what = f"{method} {httpx.URL(url).path}"
        unauthorized_retried = False
        err: FeedError | None = None
        attempt = 0
        while attempt < policy.max_attempts:
            attempt += 1
            server_wait: float | None = None
            headers = await self._auth_headers() if authorize else {}
            request = client.build_request(method, url, params=params, data=data, headers=headers)
            try:
                response = await client.send(
                    request, auth=auth or httpx.USE_CLIENT_DEFAULT, stream=True
                )
                try:
                    content = await self._read_capped(response, what)
                finally:
                    await response.aclose()
            except httpx.TimeoutException as exc:
                err = FeedUnavailable(
                    f"{what} timed out ({type(exc).__name__})", vendor=self.vendor
                )
            except httpx.RemoteProtocolError as exc:
                if _is_truncation(exc):
                    err = BadPayload(
                        f"{what}: response body truncated (connection closed mid-body)",
                        vendor=self.vendor,
                    )
                else:
                    err = FeedUnavailable(
                        f"{what}: server closed the connection", vendor=self.vendor
                    )
            except httpx.TransportError as exc:
                tls = _tls_failure(exc, host)
                if tls is not None:
                    raise TlsError(tls, vendor=self.vendor) from None
                if not should_retry(exc):
                    raise FeedUnavailable(
                        f"{what} failed: {type(exc).__name__}", vendor=self.vendor
                    ) from exc
                err = FeedUnavailable(
                    f"cannot reach {self.vendor} at {host} ({type(exc).__name__})",
                    vendor=self.vendor,
                )
            else:
                status = response.status_code
                body = Body(status, response.headers, content)
                kw: dict[str, Any] = {
                    "vendor": self.vendor,
                    "status": status,
                    "request_id": request_id(response.headers),
                }
                if 200 <= status < 300 or status in passthrough:
                    return body
                if 300 <= status < 400:
                    location = response.headers.get("location", "")
                    to = httpx.URL(target).join(location).host if location else "nowhere"
                    raise Redirected(
                        f"{what} was redirected to {to}; redirects are never followed, so no "
                        "credential leaves the configured host (set base_url to the final "
                        "address if it moved)",
                        **kw,
                    )
                if status in (401, 403):
                    if (
                        status == 401
                        and not unauthorized_retried
                        and await self._on_unauthorized(headers)
                    ):
                        unauthorized_retried = True
                        attempt -= 1  # a refreshed credential is a new request, not a retry
                        continue
                    message, env_var = self._auth_error(status)
                    raise FeedAuthError(message, env_var=env_var, **kw)
                special = self._vendor_error(body, kw)
                if special is not None:
                    raise special
                server_wait = parse_retry_after(
                    response.headers, self.clock(), cap=policy.retry_after_cap
                )
                if status == 429:
                    err = RateLimited(f"{what}: rate limited", retry_after=server_wait, **kw)
                elif should_retry(status):
                    err = FeedUnavailable(f"{what}: server error", retry_after=server_wait, **kw)
                else:
                    # One line of the vendor's reason (redacted), never a page of HTML.
                    snippet = " ".join(redact(body.text[:200]).split())
                    reason = (
                        "not found (check the symbol and base_url)"
                        if status == 404
                        else "request rejected"
                    )
                    raise BadRequest(
                        f"{what}: {reason}" + (f": {snippet}" if snippet else ""), **kw
                    )
            if attempt == policy.max_attempts:
                break
            if server_wait is not None and server_wait > policy.max_wait:
                break  # too long to block a poll: the caller schedules it (err.retry_after)
            delay = (
                server_wait
                if server_wait is not None
                else backoff(attempt, self._rng, base=policy.backoff_base, cap=policy.backoff_max)
            )
            log.warning("%s; retry %d/%d in %.2fs", err, attempt, policy.max_attempts - 1, delay)
            await self._sleep(delay)
        assert err is not None
        raise err
