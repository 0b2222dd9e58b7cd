"""Alert delivery: a real hook subprocess and a real local HTTP server (pytest-httpserver),
the worker's bounded queue, and the webhook's secret kept out of every message and log."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from hedgeflow.app.alert_delivery import (
    DeliveryError,
    DeliveryWorker,
    HookFailed,
    HookSink,
    HookTimeout,
    QueueFull,
    WebhookFailed,
    WebhookSink,
)

PAYLOAD = (
    b'{"schema": "hedgeflow.alert/1", "message": "SPX: [nearest] it\'s $(rm -rf ~) \\"x\\""}\n'
)
SECRET = "s3cr3t-token-value-42"


def _py(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has been killed, only not reaped


def test_the_hook_reads_the_json_on_stdin_without_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    sink = HookSink(
        _py(
            "import sys, pathlib; pathlib.Path(sys.argv[1]).write_bytes(sys.stdin.buffer.read())",
            str(out),
        ),
        timeout=30.0,
    )
    assert sink.deliver(PAYLOAD) == "sent"
    assert out.read_bytes() == PAYLOAD  # byte for byte: nothing was interpreted by a shell
    assert json.loads(out.read_bytes())["schema"] == "hedgeflow.alert/1"


def test_a_hung_hook_is_killed_with_its_children_after_its_timeout(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    code = (
        "import os, subprocess, sys, time; "
        "c = subprocess.Popen(['sleep', '60']); "
        "open(sys.argv[1], 'w').write(f'{os.getpid()} {c.pid}'); time.sleep(60)"
    )
    sink = HookSink(_py(code, str(pids)), timeout=1.0)
    with pytest.raises(HookTimeout, match="killed after 1 s"):
        sink.deliver(PAYLOAD)
    hook, child = map(int, pids.read_text().split())
    deadline = time.monotonic() + 10
    while (_alive(hook) or _alive(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(hook) and not _alive(child)


def test_a_failing_hook_says_its_status_and_last_stderr_line() -> None:
    sink = HookSink(
        _py(
            "import sys; sys.stdin.read(); print('first', file=sys.stderr); print('disk full', file=sys.stderr); sys.exit(3)"
        ),
        30.0,
    )
    with pytest.raises(HookFailed, match=r"status 3: disk full$"):
        sink.deliver(PAYLOAD)
    with pytest.raises(HookFailed, match="cannot run /nonexistent/hook"):
        HookSink(["/nonexistent/hook"], 5.0).deliver(PAYLOAD)


class _Blocking:
    """A sink that waits for `go` on each delivery (a slow channel)."""

    name = "slow"

    def __init__(self) -> None:
        self.go = threading.Event()
        self.started = threading.Event()
        self.got: list[bytes] = []

    def deliver(self, payload: bytes) -> str:
        self.started.set()
        self.go.wait(30)
        self.got.append(payload)
        return "sent"

    def close(self) -> None:
        self.go.set()


def test_a_full_queue_drops_its_oldest_and_counts_it() -> None:
    sink = _Blocking()
    seen: list[tuple[int, str, DeliveryError | None]] = []
    done = threading.Event()

    def on_status(seq: int, channel: str, status: str, err: DeliveryError | None) -> None:
        seen.append((seq, status, err))
        if seq == 5 and status == "sent":
            done.set()

    worker = DeliveryWorker(sink, capacity=2, on_status=on_status)
    worker.submit(1, b"1")
    assert sink.started.wait(10)  # 1 is being delivered, the queue is empty
    for seq in (2, 3, 4, 5):
        worker.submit(seq, str(seq).encode())  # never blocks
    assert worker.dropped == 2
    dropped = [(s, e) for s, st, e in seen if st.startswith("dropped")]
    assert [s for s, _ in dropped] == [2, 3] and all(isinstance(e, QueueFull) for _, e in dropped)
    sink.go.set()
    assert done.wait(10)
    assert sink.got == [b"1", b"4", b"5"]
    worker.close()


def test_a_sink_that_raises_a_bug_does_not_end_the_worker() -> None:
    calls: list[str] = []

    class Buggy:
        name = "buggy"

        def deliver(self, payload: bytes) -> str:
            if payload == b"bad":
                raise KeyError("boom")
            return "sent"

        def close(self) -> None:
            pass

    ok = threading.Event()

    def on_status(seq: int, channel: str, status: str, err: DeliveryError | None) -> None:
        calls.append(status)
        if status == "sent":
            ok.set()

    w = DeliveryWorker(Buggy(), 10, on_status)
    w.submit(1, b"bad")
    w.submit(2, b"good")
    assert ok.wait(10)
    assert calls == ["failed: KeyError", "sent"]
    w.close()


# ---------------------------------------------------------------- webhook


class _Recording(WebhookSink):
    """The real sink; the waits it asks for are recorded and not slept (no timed tests)."""

    waits: list[float]

    def _wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        super()._wait(0.0)


def _sink(url: str, **kw: object) -> _Recording:
    s = _Recording(url, **kw)  # type: ignore[arg-type]
    s.waits = []
    return s


@pytest.fixture
def server(httpserver: HTTPServer) -> Iterator[HTTPServer]:
    yield httpserver
    httpserver.clear()


def test_the_webhook_posts_the_json_with_the_bearer_token(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TEST_WEBHOOK_TOKEN", SECRET)
    got: list[Request] = []

    def handler(request: Request) -> Response:
        got.append(request)
        return Response("ok", status=200)

    server.expect_request("/alerts", method="POST").respond_with_handler(handler)
    sink = _sink(server.url_for("/alerts"), token_env="HF_TEST_WEBHOOK_TOKEN", timeout=5.0)
    assert sink.deliver(PAYLOAD) == "sent (HTTP 200)"
    (req,) = got
    assert req.get_data() == PAYLOAD
    assert req.headers["content-type"] == "application/json"
    assert req.headers["authorization"] == f"Bearer {SECRET}"
    sink.close()


def test_a_500_is_retried_then_a_200_delivers(server: HTTPServer) -> None:
    server.expect_ordered_request("/a", method="POST").respond_with_data("no", status=500)
    server.expect_ordered_request("/a", method="POST").respond_with_data("ok", status=200)
    sink = _sink(server.url_for("/a"), timeout=5.0, attempts=3)
    assert sink.deliver(PAYLOAD) == "sent (HTTP 200, try 2)"
    assert len(sink.waits) == 1 and 0.0 <= sink.waits[0] <= 0.5  # full-jitter backoff
    server.check_assertions()
    sink.close()


def test_a_429_waits_what_retry_after_says(server: HTTPServer) -> None:
    server.expect_ordered_request("/a", method="POST").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "7"}
    )
    server.expect_ordered_request("/a", method="POST").respond_with_data("ok", status=202)
    sink = _sink(server.url_for("/a"), timeout=5.0)
    assert sink.deliver(PAYLOAD) == "sent (HTTP 202, try 2)"
    assert sink.waits == [7.0]
    sink.close()


def test_a_4xx_is_not_retried_and_a_redirect_is_not_followed(server: HTTPServer) -> None:
    server.expect_request("/bad", method="POST").respond_with_data("no", status=400)
    server.expect_request("/moved", method="POST").respond_with_data(
        "", status=302, headers={"Location": "/elsewhere"}
    )
    sink = _sink(server.url_for("/bad"), timeout=5.0)
    with pytest.raises(WebhookFailed, match="HTTP 400 after 1 tries"):
        sink.deliver(PAYLOAD)
    moved = _sink(server.url_for("/moved"), timeout=5.0)
    with pytest.raises(WebhookFailed, match="HTTP 302, redirect not followed"):
        moved.deliver(PAYLOAD)
    assert len(server.log) == 2  # /elsewhere never asked
    sink.close()
    moved.close()


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as listener:  # accepts connections (backlog), never reads or answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        sink = _sink(f"http://127.0.0.1:{port}/hook", timeout=0.3, attempts=2)
        with pytest.raises(WebhookFailed, match=r"127\.0\.0\.1: ReadTimeout after 2 tries"):
            sink.deliver(PAYLOAD)
        assert len(sink.waits) == 1  # a timeout is retried, within the attempts
        sink.close()


def test_the_secret_never_reaches_a_message_or_the_log(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("HF_TEST_WEBHOOK_TOKEN", SECRET)
    server.expect_request("/a", method="POST").respond_with_data(f"bad token {SECRET}", status=401)
    seen: list[str] = []
    done = threading.Event()

    def on_status(seq: int, channel: str, status: str, err: DeliveryError | None) -> None:
        seen.append(f"{status} {err}")
        done.set()

    caplog.set_level(logging.DEBUG)
    sink = _sink(
        server.url_for("/a") + f"?key={SECRET}", token_env="HF_TEST_WEBHOOK_TOKEN", timeout=5.0
    )
    w = DeliveryWorker(sink, 5, on_status)
    w.submit(1, PAYLOAD)
    assert done.wait(10)
    w.close()
    assert seen and "HTTP 401" in seen[0]
    ours = [r.getMessage() for r in caplog.records if r.name != "werkzeug"]  # not the server's
    assert any("webhook failed" in m for m in ours)
    assert SECRET not in " ".join(seen) and not any(SECRET in m for m in ours), ours
    # the token's variable unset: said by name, never the value
    monkeypatch.delenv("HF_TEST_WEBHOOK_TOKEN")
    with pytest.raises(WebhookFailed, match="HF_TEST_WEBHOOK_TOKEN is not set"):
        _sink(server.url_for("/a"), token_env="HF_TEST_WEBHOOK_TOKEN").deliver(PAYLOAD)


def test_closing_kills_a_running_hook(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    sink = HookSink(
        _py(
            "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)",
            str(pid_file),
        ),
        60.0,
    )
    statuses: list[str] = []
    w = DeliveryWorker(sink, 5, lambda s, c, st, e: statuses.append(st))
    w.submit(1, PAYLOAD)
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    w.close(timeout=10.0)
    pid = int(pid_file.read_text())
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
    assert os.environ.get("HF_TEST_WEBHOOK_TOKEN") is None
