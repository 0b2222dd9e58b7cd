"""The HTTP layer shared by the vendor feeds: retry policy, one client per feed, typed errors.

The retry policy is three small pure functions (tested on their own):

- `parse_retry_after(headers, now)`: the server's requested wait in seconds, from
  `Retry-After` (seconds or an HTTP date), `retry-after-ms`, or Tradier-style
  `X-Ratelimit-Available: 0` + `X-Ratelimit-Expiry` (epoch ms); capped.
- `backoff(attempt, rng)`: exponential with full jitter, capped.
- `should_retry(status_or_exc)`: connect errors, timeouts, dropped connections, 408, 429, 5xx.
  Never 401/403 or any other 4xx.

`HttpFeedBase` owns ONE `httpx.AsyncClient` (base_url, explicit connect/read/write/pool
timeouts, default headers, TLS verification always on), opened and closed by the feed's
async context manager. `get_json(path, params)` retries per the policy and maps every
failure to a `hedgeflow.feeds.errors` type:

    401/403                         -> FeedAuthError (not retried; names the env var to fix)
    429                             -> retried after Retry-After, then RateLimited(retry_after)
    408, 5xx, timeouts, connect err -> retried with backoff, then FeedUnavailable
    body cut off mid-transfer       -> retried, then BadPayload("truncated")
    other 4xx                       -> BadRequest (not retried)
    2xx with empty / HTML / non-JSON / truncated JSON body -> BadPayload (not retried)

Waits longer than `RetryPolicy.max_wait` are not slept inside one call: the error is
raised at once with `retry_after` set, so the monitor schedules the next poll instead of
freezing. `feed.last_backoff` is the wait currently in effect (None after a success) and
`feed.last_request_id` the vendor request id of the last response.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Self, TypeVar

import httpx

from hedgeflow.feeds.errors import (
    BadPayload,
    BadRequest,
    FeedAuthError,
    FeedError,
    FeedUnavailable,
    RateLimited,
)
from hedgeflow.feeds.secrets import install_log_redaction, redact

log = logging.getLogger("hedgeflow.feeds.http")

T = TypeVar("T")

#: Response headers that carry a vendor request id, most specific first.
REQUEST_ID_HEADERS = (
    "x-request-id",
    "request-id",
    "schwab-client-correlid",
    "x-correlation-id",
    "x-amzn-requestid",
    "x-amz-cf-id",
    "cf-ray",
)

RETRY_STATUSES = frozenset({408, 429})


# --- the policy: pure functions -----------------------------------------------------------


def parse_retry_after(
    headers: Mapping[str, str], now: datetime, *, cap: float = 60.0
) -> float | None:
    """Seconds the server asks us to wait, or None when it did not say.

    Sources, first found wins: `retry-after-ms` (milliseconds), `Retry-After` as seconds
    ("2", "0.5") or as an HTTP date (relative to `now`, aware), and Tradier's
    `X-Ratelimit-Expiry` (epoch ms) when `X-Ratelimit-Available` is 0. The result is
    clamped to [0, cap]; unparseable or non-finite values give None.
    """
    h = httpx.Headers(headers)
    ms = h.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return min(max(value, 0.0), cap)
    ra = h.get("retry-after")
    if ra is not None:
        ra = ra.strip()
        try:
            value = float(ra)
        except ValueError:
            try:
                when = parsedate_to_datetime(ra)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                if when.tzinfo is None:  # RFC 7231 dates are GMT
                    when = when.replace(tzinfo=UTC)
                value = (when - now).total_seconds()
            else:
                value = math.nan
        if math.isfinite(value):
            return min(max(value, 0.0), cap)
    available, expiry = h.get("x-ratelimit-available"), h.get("x-ratelimit-expiry")
    if available is not None and expiry is not None:
        try:
            if int(float(available)) <= 0:
                value = float(expiry) / 1000.0 - now.timestamp()
                if math.isfinite(value):
                    return min(max(value, 0.0), cap)
        except ValueError:
            pass
    return None


def backoff(attempt: int, rng: random.Random, *, base: float = 0.5, cap: float = 10.0) -> float:
    """Wait before retry number `attempt` (1 = first retry): "full jitter", uniform in
    [0, min(cap, base * 2**(attempt-1))] seconds. Jitter spreads many clients' retries."""
    if attempt < 1:
        raise ValueError("`attempt` counts from 1")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 30))
    return rng.uniform(0.0, ceiling)


def should_retry(status_or_exc: int | BaseException) -> bool:
    """True for transient failures: 408, 429, 5xx; connect errors, timeouts (connect, read,
    write, pool), read/write errors and dropped connections. False for every other status
    (401/403 need new credentials; other 4xx need a different request) and exception."""
    if isinstance(status_or_exc, bool):
        return False
    if isinstance(status_or_exc, int):
        return status_or_exc in RETRY_STATUSES or 500 <= status_or_exc <= 599
    return isinstance(
        status_or_exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError
    )


def request_id(headers: Mapping[str, str]) -> str | None:
    """The vendor's request/correlation id from response headers, if any."""
    h = httpx.Headers(headers)
    for name in REQUEST_ID_HEADERS:
        v: str | None = h.get(name)
        if v:
            return v[:120]
    return None


def decode_json(response: httpx.Response, *, vendor: str) -> Any:
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
    }
)

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
    retry_after_cap: float = 120.0
    max_wait: float = 10.0


@dataclass(frozen=True)
class HttpSettings:
    base_url: str
    timeout: httpx.Timeout = field(
        default_factory=lambda: httpx.Timeout(connect=5.0, read=20.0, write=10.0, pool=5.0)
    )
    retry: RetryPolicy = field(default_factory=RetryPolicy)
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
        return cls(base_url=base_url.rstrip("/"), timeout=timeout, retry=retry, extra=extra)


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
        #: The wait (s) currently in effect after a failure; None after a success.
        self.last_backoff: float | None = None
        #: The vendor request id of the last response seen.
        self.last_request_id: str | None = None
        #: The last typed error raised (None after a success).
        self.last_error: FeedError | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.settings.base_url!r})"

    # hooks --------------------------------------------------------------------------------

    def _default_headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    async def _auth_headers(self) -> dict[str, str]:
        """Headers carrying credentials, built per request (a token may be refreshed)."""
        return {}

    def _auth_error(self, status: int) -> tuple[str, str | None]:
        """(message, env var to fix) for a 401/403 from the data endpoints."""
        return (f"access denied by {self.vendor}", None)

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
                follow_redirects=True,
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

    def _parse(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run a pure parser; an exception no rule anticipated becomes BadPayload, so an
        odd payload costs one poll, never the monitor."""
        try:
            return fn(*args, **kw)
        except FeedError as err:
            self.last_error = err
            raise
        except Exception as exc:  # the boundary between vendor data and the app
            bad = BadPayload(
                redact(f"unexpected payload shape ({type(exc).__name__}: {exc})")[:300],
                vendor=self.vendor,
                request_id=self.last_request_id,
            )
            self.last_error = bad
            raise bad from exc

    # requests -----------------------------------------------------------------------------

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET `path` (relative to base_url) and decode its JSON, retrying per the policy."""
        try:
            response = await self._send("GET", path, params=params)
            return decode_json(response, vendor=self.vendor)
        except FeedError as err:
            self.last_error = err
            raise

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
    ) -> httpx.Response:
        """One request with retries. Returns a 2xx response (or one whose status is in
        `passthrough`, for callers that interpret it); raises a typed FeedError otherwise."""
        client = self.client
        policy = self.settings.retry
        what = f"{method} {httpx.URL(url).path}"
        unauthorized_retried = False
        err: FeedError | None = None
        attempt = 0
        while attempt < policy.max_attempts:
            attempt += 1
            wait: float | None = None
            headers = await self._auth_headers() if authorize else {}
            try:
                response = await client.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=headers,
                    auth=auth or httpx.USE_CLIENT_DEFAULT,
                )
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
                if not should_retry(exc):
                    raise FeedUnavailable(
                        f"{what} failed: {type(exc).__name__}", vendor=self.vendor
                    ) from exc
                err = FeedUnavailable(
                    f"cannot reach {self.vendor} ({type(exc).__name__})", vendor=self.vendor
                )
            else:
                status = response.status_code
                rid = request_id(response.headers)
                self.last_request_id = rid
                kw: dict[str, Any] = {"vendor": self.vendor, "status": status, "request_id": rid}
                if 200 <= status < 300 or status in passthrough:
                    self.last_backoff = None
                    self.last_error = None
                    return response
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
                    self.last_backoff = None
                    raise FeedAuthError(message, env_var=env_var, **kw)
                server_wait = parse_retry_after(
                    response.headers, self.clock(), cap=policy.retry_after_cap
                )
                if status == 429:
                    err = RateLimited(f"{what}: rate limited", retry_after=server_wait, **kw)
                    wait = server_wait
                elif should_retry(status):
                    err = FeedUnavailable(f"{what}: server error", **kw)
                    wait = server_wait
                else:
                    # One line of the vendor's reason (redacted), never a page of HTML.
                    snippet = (
                        " ".join(redact(response.text[:200]).split()) if response.content else ""
                    )
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
            delay = (
                wait
                if wait is not None
                else backoff(attempt, self._rng, base=policy.backoff_base, cap=policy.backoff_max)
            )
            self.last_backoff = delay
            if delay > policy.max_wait:
                # Too long to block a poll: hand the wait to the caller.
                err.retry_after = delay
                break
            log.warning(
                "%s; retry %d/%d in %.2fs",
                err,
                attempt,
                policy.max_attempts - 1,
                delay,
            )
            await self._sleep(delay)
        assert err is not None
        if err.retry_after is None:
            err.retry_after = backoff(
                policy.max_attempts, self._rng, base=policy.backoff_base, cap=policy.backoff_max
            )
        self.last_backoff = err.retry_after
        self.last_error = err
        raise err
