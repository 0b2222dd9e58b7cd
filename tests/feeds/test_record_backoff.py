"""`record` against a real local HTTP server: an auth error stops it after one request,
other failures back off exponentially, a Retry-After is honoured in full."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

from hedgeflow.feeds import recorder
from hedgeflow.feeds.cboe import CboeFeed
from hedgeflow.feeds.errors import FeedAuthError, FeedUnavailable, RateLimited
from hedgeflow.feeds.recorder import read_rows, record, retry_wait
from hedgeflow.feeds.tradier import TradierFeed
from tests.feeds.conftest import fast_settings, load_payload

REPO = Path(__file__).resolve().parents[2]
SPX = "cboe/options/_SPX.json"


class Clocked:
    """A handler that answers from a script (last entry repeats) and notes when each request
    arrived (monotonic seconds)."""

    def __init__(self, *answers: Response) -> None:
        self.answers = list(answers)
        self.times: list[float] = []

    def __call__(self, request: Request) -> Response:
        self.times.append(time.monotonic())
        i = min(len(self.times), len(self.answers)) - 1
        return self.answers[i]

    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.times, self.times[1:], strict=False)]


def test_retry_wait_doubles_caps_and_never_shortens_retry_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(recorder, "MIN_BACKOFF", 1.0)
    monkeypatch.setattr(recorder, "MAX_BACKOFF", 60.0)
    short = FeedUnavailable("down", retry_after=0.2)  # the HTTP client's own short backoff
    assert [retry_wait(k, 0.5, short) for k in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert retry_wait(1, 5.0, short) == 5.0  # never faster than the poll interval
    assert retry_wait(4, 120.0, short) == 120.0  # ... even past the cap
    assert retry_wait(1, 1.0, RateLimited("429", retry_after=90.0)) == 90.0  # past the cap
    assert retry_wait(3, 1.0, FeedUnavailable("x", retry_after=float("nan"))) == 4.0
    with pytest.raises(ValueError):
        retry_wait(0, 1.0, short)


async def test_auth_error_stops_the_recording_after_one_request(
    httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TEST_TOKEN", "not-a-valid-token-123")
    handler = Clocked(Response("unauthorized", status=401))
    httpserver.expect_request("/v1/markets/quotes").respond_with_handler(handler)
    feed = TradierFeed(fast_settings(httpserver.url_for("/v1")), token_env="HF_TEST_TOKEN")
    out = tmp_path / "auth.sqlite"
    with pytest.raises(FeedAuthError, match="HF_TEST_TOKEN"):
        await asyncio.wait_for(record(feed, ["SPX"], interval=0.01, out=out), timeout=30)
    assert len(handler.times) == 1  # not retried, not re-polled
    assert sum(1 for _ in read_rows(out)) == 0
    assert b"not-a-valid-token" not in out.read_bytes()


async def test_server_errors_back_off_exponentially(
    httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A vendor answering 500 is polled at growing gaps, not every interval (and not at the
    HTTP client's short `retry_after`); when it recovers, recording resumes."""
    monkeypatch.setattr(recorder, "MIN_BACKOFF", 0.05)
    monkeypatch.setattr(recorder, "MAX_BACKOFF", 0.4)
    body = json.dumps(load_payload(SPX))
    fail = Response("oops", status=500)
    handler = Clocked(*[fail] * 6, Response(body, status=200, content_type="application/json"))
    httpserver.expect_request("/options/_SPX.json").respond_with_handler(handler)
    feed = CboeFeed(fast_settings(httpserver.url_for("/"), attempts=1))
    n = await asyncio.wait_for(
        record(feed, ["SPX"], interval=0.01, out=tmp_path / "5xx.sqlite", max_snapshots=2),
        timeout=60,
    )
    assert n == 2
    gaps = handler.gaps()
    # after failure k the wait is min(0.05 * 2**(k-1), 0.4): 0.05 0.1 0.2 0.4 0.4 0.4
    expected = [min(0.05 * 2**k, 0.4) for k in range(6)]
    assert len(handler.times) == 8  # 6 failures, then 2 snapshots
    for gap, want in zip(gaps[:6], expected, strict=True):
        assert gap >= want * 0.95, (gaps, expected)  # timers only ever run late


async def test_retry_after_is_honoured_not_shortened(
    httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder, "MIN_BACKOFF", 0.01)
    body = json.dumps(load_payload(SPX))
    handler = Clocked(
        Response("slow down", status=429, headers={"Retry-After": "1"}),
        Response(body, status=200, content_type="application/json"),
    )
    httpserver.expect_request("/options/_SPX.json").respond_with_handler(handler)
    feed = CboeFeed(fast_settings(httpserver.url_for("/"), attempts=1))
    n = await asyncio.wait_for(
        record(feed, ["SPX"], interval=0.01, out=tmp_path / "429.sqlite", max_snapshots=1),
        timeout=60,
    )
    assert n == 1 and len(handler.times) == 2
    assert handler.gaps()[0] >= 1.0  # the exponential wait alone would be 0.01 s


def test_record_command_stops_on_401_with_one_line_and_exit_2(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """The real `hedgeflow record` against a local Tradier that rejects the token: one
    request, one line naming the variable to set, exit 2, no traceback."""
    handler = Clocked(Response("unauthorized", status=401))
    httpserver.expect_request("/v1/markets/quotes").respond_with_handler(handler)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[feeds.tradier]\nbase_url = "{httpserver.url_for("/v1")}"\n', encoding="utf-8")
    out = tmp_path / "rec.sqlite"
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "TRADIER_TOKEN": "expired-token-abc",
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hedgeflow.cli",
            "record",
            "--config",
            str(cfg),
            "--feed",
            "tradier",
            "--symbols",
            "SPX",
            "--interval",
            "0.1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "TRADIER_TOKEN" in lines[0] and "HTTP 401" in lines[0]
    assert "expired-token-abc" not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    assert len(handler.times) == 1
