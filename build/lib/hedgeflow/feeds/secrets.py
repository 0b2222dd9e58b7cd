"""Credentials: read from environment variables only, never shown, never logged.

- `secret_from_env(var, ...)` is the only way a feed gets a credential. Config files may
  name the variable (`token_env = "MY_TRADIER_TOKEN"`), never hold the value; command-line
  arguments never carry secrets.
- A `Secret` prints as `***` (repr, str, f-strings) and refuses to be pickled or copied into
  a recording; `reveal()` is called only where a header or form body is built.
- `RedactingFilter` rewrites log records: Authorization headers, bearer/basic credentials,
  `access_token` / `refresh_token` / `client_secret` / `apikey` values, and the exact value
  of every secret loaded through this module. `install_log_redaction()` attaches it to the
  loggers of httpx, httpcore and the feeds (idempotent); an application can also add a
  `RedactingFilter()` to its own handlers.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import NoReturn

from hedgeflow.feeds.errors import FeedAuthError

MASK = "***"

_known_lock = threading.Lock()
#: Values of every secret loaded in this process (so they are redacted wherever they show up).
_known: set[str] = set()

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer abc / Basic abc (header dumps, reprs of header dicts)
    (
        re.compile(r"(?i)\b(authorization['\"]?\s*[:=]\s*['\"]?)(bearer|basic)?\s*[^\s'\",}]+"),
        r"\1\2 " + MASK,
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 " + MASK),
    # key=value and "key": "value" for the usual credential names
    (
        re.compile(
            r"(?i)(\b(?:access_token|refresh_token|id_token|client_secret|app_secret|apikey|api_key|"
            r"token|password)\b['\"]?\s*[:=]\s*['\"]?)[^\s'\"&,}]+"
        ),
        r"\1" + MASK,
    ),
)


class Secret:
    """A credential value that never shows itself. Compare and use only via `reveal()`."""

    __slots__ = ("_value", "env_var")

    def __init__(self, value: str, env_var: str) -> None:
        self._value = value
        self.env_var = env_var
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.env_var}={MASK})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret is never serialized")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: object) -> Secret:
        return self


def register_secret(value: str) -> None:
    """Redact `value` from every log record from now on (values shorter than 6 chars are
    ignored: they would mangle ordinary text and are not credentials anyway)."""
    if value and len(value) >= 6:
        with _known_lock:
            _known.add(value)


def secret_from_env(env_var: str, *, vendor: str, what: str) -> Secret:
    """The credential in environment variable `env_var`.

    Raises FeedAuthError naming the variable (never a value) when it is unset or blank.
    """
    if not env_var or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env_var):
        raise ValueError(f"{env_var!r} is not an environment variable name")
    value = os.environ.get(env_var, "").strip()
    if not value:
        raise FeedAuthError(
            f"{what} is missing: set the environment variable {env_var}",
            vendor=vendor,
            env_var=env_var,
        )
    return Secret(value, env_var)


def redact(text: str) -> str:
    """`text` with credentials replaced by ***."""
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and exception text) with `redact`; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not kill logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


#: Loggers that can see requests: httpx and httpcore (which log by these exact names) and
#: the feed modules.
REDACTED_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "feeds",
    "hedgeflow.feeds.http",
    "hedgeflow.feeds.cboe",
    "hedgeflow.feeds.tradier",
    "hedgeflow.feeds.schwab",
)

_FILTER = RedactingFilter()


def install_log_redaction(*extra_loggers: str) -> RedactingFilter:
    """Attach the shared `RedactingFilter` to `REDACTED_LOGGERS` and `extra_loggers` (once)."""
    for name in (*REDACTED_LOGGERS, *extra_loggers):
        lg = logging.getLogger(name)
        if _FILTER not in lg.filters:
            lg.addFilter(_FILTER)
    return _FILTER
