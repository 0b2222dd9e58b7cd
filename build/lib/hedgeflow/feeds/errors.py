"""Typed feed errors that the monitor can show and act on.

    FeedError                 base: vendor, status, request_id, retry_after, an actionable message
    ├── FeedAuthError         401/403, missing or expired credentials (never retried)
    ├── RateLimited           429; retry_after seconds when the vendor said so
    ├── BadPayload            unparseable, truncated, HTML, schema-wrong or empty payload
    │   ├── PayloadTooLarge   body over the feed's size cap (reading stopped there)
    │   └── WrongSymbol       a chain of another underlying than the one requested
    ├── BadRequest            other 4xx (404 unknown symbol, 400 bad parameter): fix the request
    ├── Redirected            a 3xx: never followed (credentials stay with the configured host)
    ├── TlsError              the server's certificate failed verification
    └── FeedUnavailable       timeouts, connection errors, 5xx after retries
        └── ChainTooBig       the vendor refused to send a body this big (Schwab's 502
                              "TooBigBody"): not retried as is, the request is split

`retry_after` (seconds) is set only from what the server said (`Retry-After` and its vendor
variants), never invented: the monitor waits max(its own exponential backoff, retry_after).

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

    `env_var` names the environment variable the user has to set or refresh; the message
    always names it (appended when the vendor-specific text did not)."""

    def __init__(self, message: str, *, env_var: str | None = None, **kw: object) -> None:
        if env_var and env_var not in message:
            message = f"{message} (set the environment variable {env_var})"
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.env_var = env_var


class RateLimited(FeedError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, retry_after=retry_after, **kw)  # type: ignore[arg-type]


class BadPayload(FeedError):
    """The vendor answered, but not with a usable option chain."""


class PayloadTooLarge(BadPayload):
    """The body passed the feed's `max_payload_mb` cap; reading stopped at the cap."""


class WrongSymbol(BadPayload):
    """The payload names another underlying than the request: `requested`, `received`."""

    def __init__(self, requested: str, received: str, **kw: object) -> None:
        super().__init__(
            f"payload is for {received}, not the requested {requested} (refused)",
            **kw,  # type: ignore[arg-type]
        )
        self.requested = requested
        self.received = received


class BadRequest(FeedError):
    """The vendor rejected the request itself (404 unknown symbol, 400 bad parameter)."""


class Redirected(FeedError):
    """The server answered with a redirect, which is never followed: a credential (bearer
    token, refresh token) must not travel to an address the user did not configure. The
    message names the target's host only (a query string could carry a secret)."""


class TlsError(FeedError):
    """TLS failed: the certificate did not verify for the host (self-signed, expired, wrong
    name, unknown authority) or the handshake failed. Not "cannot reach": the server was
    reached and refused to prove who it is."""


class FeedUnavailable(FeedError):
    """The vendor could not be reached or failed (timeouts, connection errors, 5xx)."""


class ChainTooBig(FeedUnavailable):
    """The vendor would not send a response this big (Schwab answers 502 with the gateway
    error `protocol.http.TooBigBody`). Asking again for the same thing cannot help: the
    feed asks for less (fewer expirations, one side, fewer strikes) and says what it left
    out."""
