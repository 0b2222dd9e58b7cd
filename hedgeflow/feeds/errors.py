"""Typed feed errors that the monitor can show and act on.

    FeedError                 base: vendor, status, request_id, retry_after, an actionable message
    ├── FeedAuthError         401/403, missing or expired credentials (never retried)
    ├── RateLimited           429; retry_after seconds when the vendor said so
    ├── BadPayload            unparseable, truncated, HTML, schema-wrong or empty payload
    ├── BadRequest            other 4xx (404 unknown symbol, 400 bad parameter): fix the request
    └── FeedUnavailable       timeouts, connection errors, 5xx after retries

`retry_after` (seconds) is the wait the feed suggests before the next poll: the vendor's
Retry-After for 429, the backoff in effect for transient failures, None when retrying
cannot help (auth, bad request).

Messages never contain secrets (tokens, keys, refresh tokens, client secrets).
"""

from __future__ import annotations


class FeedError(Exception):
    def __init__(
        self,
        message: str,
        *,
        vendor: str = "",
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.vendor = vendor
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        prefix = f"{self.vendor}: " if self.vendor else ""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        rid = f" [request id {self.request_id}]" if self.request_id else ""
        return f"{prefix}{self.message}{status}{rid}"


class FeedAuthError(FeedError):
    """Credentials missing, rejected or expired: the user must act; retrying cannot help.

    `env_var` names the environment variable the user has to set or refresh."""

    def __init__(self, message: str, *, env_var: str | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.env_var = env_var


class RateLimited(FeedError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, retry_after=retry_after, **kw)  # type: ignore[arg-type]


class BadPayload(FeedError):
    """The vendor answered, but not with a usable option chain."""


class BadRequest(FeedError):
    """The vendor rejected the request itself (404 unknown symbol, 400 bad parameter)."""


class FeedUnavailable(FeedError):
    """The vendor could not be reached or failed (timeouts, connection errors, 5xx)."""
