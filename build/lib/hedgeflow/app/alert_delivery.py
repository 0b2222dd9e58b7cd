"""Alert delivery beyond the screen: a shell hook and a webhook, each on its own thread
with a bounded queue, so neither can block or crash the monitor (docs/METHOD.md "Alerts").

- `HookSink`: runs the configured command, an argv list run WITHOUT a shell (no quoting
  rules, no way for alert text to become shell syntax; write ["sh", "-c", "..."] to get a
  shell on purpose), with the alert's JSON on its standard input. A hook still running
  after `timeout` seconds is killed with its process group; a non-zero exit is a failure.
- `WebhookSink`: an HTTP POST of the same JSON through httpx, with the feeds' retry rules
  (`hedgeflow.feeds.retry`: connect errors, timeouts, 408, 429 and 5xx are retried with
  full-jitter backoff, Retry-After honoured up to MAX_RETRY_WAIT; redirects are not
  followed; other 4xx are not retried). A bearer token, if any, is read from the
  environment variable named in the config at each delivery and goes only into the
  Authorization header: it is never in a message, the log or the screen, and messages
  name the URL's host, not the URL (which may carry a key in its query).
- `DeliveryWorker`: one sink's thread and queue. A full queue drops its oldest alert and
  counts it (the dropped alert's status says so). Results go to `on_status(seq, channel,
  status, error)` from the worker thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

import httpx

from hedgeflow.feeds.retry import backoff, parse_retry_after, should_retry

log = logging.getLogger("hedgeflow.alerts")

#: Longest wait a server's Retry-After is honoured for, seconds.
MAX_RETRY_WAIT = 30.0
#: stderr kept from a failing hook, characters (its last line is shown).
STDERR_TAIL = 200

StatusCallback = Callable[[int, str, str, "DeliveryError | None"], None]


class DeliveryError(Exception):
    """A delivery failed; the text is safe to show (no secret, no URL query)."""


class HookTimeout(DeliveryError):
    pass


class HookFailed(DeliveryError):
    pass


class WebhookFailed(DeliveryError):
    pass


class QueueFull(DeliveryError):
    """The channel's queue was full: its oldest alert was dropped undelivered."""


class Sink(Protocol):
    name: str

    def deliver(self, payload: bytes) -> str:
        """Deliver `payload`; the status ("sent ...") or DeliveryError."""
        ...

    def close(self) -> None: ...


class HookSink:
    """Runs `argv` with the alert on stdin; `timeout` seconds per run (see module doc)."""

    name = "hook"

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        if not argv:
            raise ValueError("a hook needs a command")
        self.argv = tuple(argv)
        self.timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._closed = False

    def deliver(self, payload: bytes) -> str:
        if self._closed:
            raise HookFailed("monitor closing")
        try:
            proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group: a timeout kills it all
                close_fds=True,
            )
        except OSError as exc:
            raise HookFailed(f"cannot run {self.argv[0]}: {exc.strerror or exc}") from None
        self._proc = proc
        try:
            _, err = proc.communicate(payload, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self._kill(proc)
            raise HookTimeout(f"hook killed after {self.timeout:g} s") from None
        finally:
            self._proc = None
        if proc.returncode != 0:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            tail = f": {lines[-1][-STDERR_TAIL:]}" if lines else ""
            raise HookFailed(f"hook exited with status {proc.returncode}{tail}")
        return "sent"

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            proc.wait(timeout=5.0)
        finally:
            for pipe in (proc.stdin, proc.stderr):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()

    def close(self) -> None:
        """Kill a hook still running (the monitor is quitting)."""
        self._closed = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(Exception):
                self._kill(proc)


class _NotFromAlertThreads(logging.Filter):
    """httpx logs every request's full URL at INFO; a webhook URL can hold its secret in
    its path (chat services' webhooks do), so requests made by the alert threads are not
    logged (their outcome is, by host)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.threadName or "").startswith(THREAD_PREFIX)


THREAD_PREFIX = "alert-"
_QUIET = _NotFromAlertThreads()


def _quiet_httpx() -> None:
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)


class WebhookSink:
    """POSTs the alert to `url` (see the module doc). timeout : seconds per request
    (connect, read, write); attempts : requests per alert, >= 1."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        token_env: str = "",
        timeout: float = 10.0,
        attempts: int = 4,
        rng: random.Random | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.url = url
        self.host = httpx.URL(url).host or "webhook"
        self.token_env = token_env
        self.attempts = attempts
        self.rng = rng or random.Random()
        self.now = now
        self._stop = threading.Event()
        self._client = httpx.Client(follow_redirects=False, timeout=timeout)
        _quiet_httpx()

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "user-agent": "hedgeflow-alerts"}
        if self.token_env:
            token = os.environ.get(self.token_env, "")
            if not token:
                raise WebhookFailed(f"environment variable {self.token_env} is not set")
            headers["authorization"] = f"Bearer {token}"
        return headers

    def deliver(self, payload: bytes) -> str:
        headers = self._headers()
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                r = self._client.post(self.url, content=payload, headers=headers)
            except httpx.HTTPError as exc:
                what = type(exc).__name__
                if last or not should_retry(exc):
                    raise WebhookFailed(f"{self.host}: {what} after {attempt} tries") from None
                self._wait(backoff(attempt, self.rng))
                continue
            status = r.status_code
            if 200 <= status < 300:
                return f"sent (HTTP {status}{f', try {attempt}' if attempt > 1 else ''})"
            if 300 <= status < 400:
                raise WebhookFailed(f"{self.host}: HTTP {status}, redirect not followed")
            if last or not should_retry(status):
                raise WebhookFailed(f"{self.host}: HTTP {status} after {attempt} tries")
            wait = parse_retry_after(r.headers, self.now(), cap=MAX_RETRY_WAIT)
            self._wait(backoff(attempt, self.rng) if wait is None else wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise WebhookFailed("monitor closing")

    def close(self) -> None:
        self._stop.set()
        self._client.close()


class DeliveryWorker:
    """`sink`'s thread and queue of (seq, payload); at most `capacity` waiting."""

    def __init__(self, sink: Sink, capacity: int, on_status: StatusCallback) -> None:
        if capacity < 1:
            raise ValueError("`capacity` must be >= 1")
        self.sink = sink
        self.name = sink.name
        self.capacity = capacity
        self.on_status = on_status
        self.dropped = 0
        self._queue: deque[tuple[int, bytes]] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name=f"{THREAD_PREFIX}{sink.name}", daemon=True
        )
        self._thread.start()

    def submit(self, seq: int, payload: bytes) -> None:
        """Queue alert `seq`; never blocks."""
        dropped: int | None = None
        with self._cond:
            if self._stopping:
                return
            if len(self._queue) >= self.capacity:
                dropped, _ = self._queue.popleft()
                self.dropped += 1
            self._queue.append((seq, payload))
            self._cond.notify()
        if dropped is not None:
            log.warning(
                "alert %s queue full: alert %d dropped (%d so far)",
                self.name,
                dropped,
                self.dropped,
            )
            err = QueueFull(f"{self.name} queue full: {self.dropped} alerts dropped so far")
            self._report(dropped, "dropped (queue full)", err)

    def _report(self, seq: int, status: str, error: DeliveryError | None) -> None:
        try:
            self.on_status(seq, self.name, status, error)
        except Exception:  # a bug in the callback must not end the worker
            log.exception("alert status callback failed")

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                seq, payload = self._queue.popleft()
            try:
                status = self.sink.deliver(payload)
            except DeliveryError as exc:
                log.warning("alert %d %s failed: %s", seq, self.name, exc)
                self._report(seq, f"failed: {exc}", exc)
            except Exception as exc:  # never let a bug kill the thread
                log.exception("alert %d %s crashed", seq, self.name)
                err = DeliveryError(f"{type(exc).__name__}")
                self._report(seq, f"failed: {err}", err)
            else:
                self._report(seq, status, None)

    def close(self, timeout: float = 2.0) -> None:
        """Stop: alerts still queued are not delivered; a running hook is killed."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self.sink.close()
        self._thread.join(timeout)
