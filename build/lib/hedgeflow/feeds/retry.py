"""The retry policy of the HTTP feeds: small pure functions, tested on their own.

- `parse_retry_after(headers, now)`: the server's requested wait in seconds, from
  `Retry-After` (seconds or an HTTP date), `retry-after-ms`, or Tradier-style
  `X-Ratelimit-Available: 0` + `X-Ratelimit-Expiry` (epoch ms); capped.
- `backoff(attempt, rng)`: exponential with full jitter, capped.
- `should_retry(status_or_exc)`: connect errors, timeouts, dropped connections, 408, 429, 5xx.
  Never 401/403 or any other 4xx.
- `request_id(headers)`: the vendor's request id, for error messages.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

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
