"""Typed feed errors that the monitor can show and act on.

    FeedError                 base: vendor, status, request_id, a message a user can act on
    ├── FeedAuthError         401/403, missing or expired credentials (never retried)
    ├── RateLimited           429; retry_after seconds when the vendor said so
    ├── BadPayload            unparseable, truncated, schema-wrong or empty payload
    └── FeedUnavailable       timeouts, connection errors, 5xx after retries

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
    ) -> None:
        super().__init__(message)
        self.message = message
        self.vendor = vendor
        self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        prefix = f"{self.vendor}: " if self.vendor else ""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{prefix}{self.message}{status}"


class FeedAuthError(FeedError):
    """Credentials missing, rejected or expired: the user must act; retrying cannot help."""


class RateLimited(FeedError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class BadPayload(FeedError):
    """The vendor answered, but not with a usable option chain."""


class FeedUnavailable(FeedError):
    """The vendor could not be reached or failed (timeouts, connection errors, 5xx)."""
