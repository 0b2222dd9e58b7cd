"""The fault matrix (issue 8, acceptance): the REAL app, polling a REAL HTTP feed (CBOE,
Tradier, Schwab adapters) served by a real local HTTP server, through every fault a
server can throw at it.

For each fault: a good payload gives an analysis; then the fault. The monitor stays up,
keeps the last good analysis on screen marked STALE (read from the rendered status line
and pane), shows exactly one notice for the condition however many polls fail, and lists
every failure on the error-log screen (key `l`). Then the server is healthy again and
the app recovers by itself (an auth error: after the user presses space twice): a fresh
analysis, STALE gone, one recovery notice.

Time: the poll timers are real (0.1 s interval, so backoffs stay short); the app's
injected monotonic clock is advanced by hand to age the last good fetch past the stale
limit, instead of waiting for it.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bench.chains import AS_OF, spx_like_chain
from hedgeflow.feeds.cboe import CboeFeed
from hedgeflow.feeds.http import HttpSettings
from hedgeflow.feeds.schwab import SchwabFeed
from hedgeflow.feeds.tradier import TradierFeed
from hedgeflow.tui.app import HedgeflowApp
from hedgeflow.tui.errorlog import ErrorLogScreen
from hedgeflow.tui.panes import ImpulsePane, StatusLine
from tests.feeds.test_schwab import ACCESS, APP_KEY, APP_SECRET, REFRESH, SECRETS
from tests.feeds.test_soak import STAMP, cboe_payload, stamp_of
from tests.test_cli_feeds import schwab_payload, tradier_payloads
from tests.tui.conftest import (
    Posted,
    error_log_rows,
    errors_raised,
    make_app,
    record_notices,
    rendered,
    wait_for_analyses,
    wait_for_notice,
    wait_until,
)

INTERVAL = 0.1  # seconds between polls
# Generous for a loaded machine: a good answer must never time out (the server runs in
# this process, beside the app's engine threads). The "slow" server holds its answer
# until the test heals it (SLOW seconds at most), so a faulted poll never succeeds, however
# late the client's timeout fires.
READ_TIMEOUT = 3.0
SLOW = 60.0
RETRY_AFTER = 1.0  # seconds, the 429's Retry-After
MAX_PAYLOAD_MB = 0.1  # the good CBOE body is ~28 kB, the oversized one ~300 kB
TOKEN = "tradier-SECRET-token-91fe"


# ------------------------------------------------------------------ the servers


@dataclass
class Hit:
    at: float  # time.monotonic() when the server received it
    path: str
    mode: str  # "good" or the fault it was answered with


@dataclass
class Vendor:
    """A werkzeug handler for one vendor's endpoints: `good` answers each path with the
    payload of `version`; a fault answers per `fault_response`. Every request is kept."""

    mode: str = "good"
    version: int = 0
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    healed: threading.Event = field(default_factory=threading.Event)

    def __call__(self, request: Request) -> Response:
        with self.lock:
            version = self.version
            mode = self.mode if self.faulted_path(request.path) else "good"
            self.hits.append(Hit(time.monotonic(), request.path, mode))
        if mode != "good":
            return self.fault_response(mode, request, version)
        return self.good(request, version)

    def faulted_path(self, path: str) -> bool:
        """Whether a fault, when set, answers `path` (else it is answered well)."""
        return True

    def clock(self) -> datetime:
        """The feed's wall clock: the payloads' own time (so nothing is stale by lag)."""
        return AS_OF.astimezone(UTC)

    def good(self, request: Request, version: int) -> Response:
        raise NotImplementedError

    def good_body(self, request: Request, version: int) -> bytes:
        return bytes(self.good(request, version).get_data())

    def fault_response(self, mode: str, request: Request, version: int) -> Response:
        """The faults any JSON endpoint can serve."""
        if mode == "429":
            return Response("", status=429, headers={"Retry-After": f"{RETRY_AFTER:g}"})
        if mode == "500":
            return Response("upstream error", status=500)
        if mode == "slow":
            self.healed.wait(SLOW)
            return self.good(request, version)
        if mode == "truncated":
            body = self.good_body(request, version)
            # The header promises the whole body; the connection closes after half of it
            # (streamed, so werkzeug leaves the promised length as it is).
            return Response(
                iter([body[: len(body) // 2]]),
                headers={"Content-Length": str(len(body)), "Connection": "close"},
                content_type="application/json",
                direct_passthrough=True,
            )
        if mode == "html":
            page = "<!doctype html><html><body><h1>Access Denied</h1></body></html>"
            return Response(page, content_type="text/html")
        if mode == "empty":
            return Response(b"", content_type="application/json")
        if mode == "401":
            return Response('{"fault": "invalid token"}', status=401)
        raise AssertionError(f"{type(self).__name__} cannot serve {mode!r}")

    def faulted(self) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.mode != "good"]

    def heal(self) -> None:
        """Healthy again, with a new snapshot (so the recovery is a fresh analysis)."""
        with self.lock:
            self.mode = "good"
            self.version += 1
        self.healed.set()


class Cboe(Vendor):
    """`/options/_SPX.json`, the soak test's changing chain (164 contracts)."""

    def __init__(self) -> None:
        super().__init__()
        rng = random.Random(5)
        self.pool = [cboe_payload(v, rng) for v in range(3)]

    def body(self, version: int) -> bytes:
        stamp = stamp_of(version).strftime("%Y-%m-%d %H:%M:%S").encode()
        return self.pool[version % len(self.pool)].replace(STAMP, stamp)

    def clock(self) -> datetime:
        return stamp_of(self.version)  # the file is as fresh as the CDN makes it

    def good(self, request: Request, version: int) -> Response:
        return Response(self.body(version), content_type="application/json")

    def fault_response(self, mode: str, request: Request, version: int) -> Response:
        if mode == "zeros":  # the next snapshot, every quote zero
            payload = json.loads(self.body(version + 1))
            for row in payload["data"]["options"]:
                row.update(bid=0.0, ask=0.0, last_trade_price=0.0, iv=0.0)
            return Response(json.dumps(payload), content_type="application/json")
        if mode == "wrong-symbol":  # SPY's chain at the SPX address
            spy = self.body(version).replace(b"SPXW", b"SPY").replace(b'"_SPX"', b'"SPY"')
            return Response(spy, content_type="application/json")
        if mode == "oversized":
            padded = self.body(version) + b" " * int(3 * MAX_PAYLOAD_MB * 2**20)
            return Response(padded, content_type="application/json")
        return super().fault_response(mode, request, version)


class Tradier(Vendor):
    """quotes, expirations and one chain per expiration, from a generated SPX chain."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = [tradier_payloads(spx_like_chain(n_expiries=2, seed=s)) for s in (11, 12)]

    def good(self, request: Request, version: int) -> Response:
        quote, expirations, chains = self.pool[version % len(self.pool)]
        if request.path.endswith("/markets/quotes"):
            return Response(json.dumps(quote), content_type="application/json")
        if request.path.endswith("/expirations"):
            return Response(json.dumps(expirations), content_type="application/json")
        return Response(
            json.dumps(chains[request.args["expiration"]]), content_type="application/json"
        )


class Schwab(Vendor):
    """The OAuth token endpoint and `/chains`; faults hit the token endpoint only. Tokens
    live 60 s, Schwab's refresh margin, so every snapshot refreshes one."""

    def __init__(self, elsewhere: str) -> None:
        super().__init__()
        self.elsewhere = elsewhere
        self.pool = [schwab_payload(spx_like_chain(n_expiries=2, seed=s)) for s in (11, 12)]

    def faulted_path(self, path: str) -> bool:
        return path.endswith("/oauth/token")

    def good(self, request: Request, version: int) -> Response:
        if request.path.endswith("/oauth/token"):
            token = {"access_token": ACCESS, "expires_in": 60, "token_type": "Bearer"}
            return Response(json.dumps(token), content_type="application/json")
        return Response(
            json.dumps(self.pool[version % len(self.pool)]), content_type="application/json"
        )

    def fault_response(self, mode: str, request: Request, version: int) -> Response:
        if mode == "token-redirect":  # 307 would re-send the POST body: the refresh token
            return Response("", status=307, headers={"Location": self.elsewhere})
        return super().fault_response(mode, request, version)


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    """A threaded server: a slow answer does not hold up the next request."""
    srv = HTTPServer(host="localhost", threaded=True)
    srv.start()
    try:
        yield srv
    finally:
        srv.clear()
        srv.stop()


@pytest.fixture
def elsewhere() -> Iterator[HTTPServer]:
    """A second server, where a redirect points: it must receive nothing at all."""
    srv = HTTPServer(host="127.0.0.1")
    srv.expect_request(re.compile(".*")).respond_with_json({"access_token": "stolen"})
    srv.start()
    try:
        yield srv
    finally:
        srv.clear()
        srv.stop()


def settings(base_url: str, max_payload_mb: float = 64.0) -> HttpSettings:
    """As a user's config section would say it: short timeouts, one attempt per poll (the
    app's backoff is what is tested), a payload cap."""
    section = {
        "base_url": base_url,
        "read_timeout": READ_TIMEOUT,
        "connect_timeout": 5.0,
        "max_attempts": 1,
        "max_payload_mb": max_payload_mb,
    }
    return HttpSettings.from_config(section, frozenset(), "https://unused.example")


class Mono:
    """The app's injected monotonic clock: still unless the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------ the matrix


@dataclass(frozen=True)
class Fault:
    name: str  # Vendor mode
    vendor: str  # "cboe", "tradier", "schwab"
    feed: str  # the error log's feed: the vendor, or "engine"
    kind: str  # the error log's condition kind
    says: str  # in the error's message
    hits: int = 2  # faulted requests to see before checking (more: the backoff shows)
    #: (vendor, app, the fault's error-log rows, the status line, the notices since it)
    check: Callable[[Vendor, HedgeflowApp, list[list[str]], str, list[Posted]], None] | None = None


def gaps(hits: list[Hit]) -> list[float]:
    return [b.at - a.at for a, b in zip(hits, hits[1:], strict=False)]


def retry_after_honoured(
    vendor: Vendor, app: HedgeflowApp, rows: list[list[str]], line: str, notes: list[Posted]
) -> None:
    assert all(g >= RETRY_AFTER - 0.05 for g in gaps(vendor.faulted())), gaps(vendor.faulted())
    assert all(r[5] == "1s" for r in rows)  # the backoff column: the server's 1 s


def backoff_grows(
    vendor: Vendor, app: HedgeflowApp, rows: list[list[str]], line: str, notes: list[Posted]
) -> None:
    # The app's backoff doubles from the poll interval: 0.1, 0.2, 0.4 s between the 500s
    # (load only lengthens a gap, so these lower bounds hold on a busy machine).
    g = gaps(vendor.faulted())[:3]
    assert len(g) == 3 and all(gap >= 0.9 * INTERVAL * 2**i for i, gap in enumerate(g)), g
    # The 500s' own records, oldest first, from the log itself: the rows read off the
    # screen a moment earlier may already lag a newer 500 on a loaded machine.
    served = [r for r in reversed(app.errors.recent(len(app.errors))) if "HTTP 500" in r.message]
    waits = [r.retry_in for r in served]
    assert waits[:4] == [INTERVAL * 2**i for i in range(4)], waits


def not_retried(
    vendor: Vendor, app: HedgeflowApp, rows: list[list[str]], line: str, notes: list[Posted]
) -> None:
    assert len(vendor.faulted()) == 1 and len(rows) == 1 and rows[0][5] == "not retried"
    (note,) = [n for n in errors_raised(notes) if "auth" in n.title]
    assert note.message.count("TRADIER_TOKEN") == 1
    assert line.count("TRADIER_TOKEN") == 1 and "next poll stopped" in line
    assert TOKEN not in note.message + line + repr(rows)


def no_credential_followed(
    vendor: Vendor, app: HedgeflowApp, rows: list[list[str]], line: str, notes: list[Posted]
) -> None:
    tokens = [h for h in vendor.faulted() if h.path.endswith("/oauth/token")]
    assert len(tokens) >= 2  # the refresh was tried (and retried) ...
    assert app.states["SPX"].error is not None
    text = line + repr(rows)
    text += "".join(n.title + n.message for n in notes)  # every notice, expired or not
    assert not any(secret in text for secret in SECRETS)
    # ... and the redirect target (checked by the caller) saw nothing of it.


def engine_failed(
    vendor: Vendor, app: HedgeflowApp, rows: list[list[str]], line: str, notes: list[Posted]
) -> None:
    st = app.states["SPX"]
    assert st.error is None and st.failed_snapshot > st.analyzed_snapshot  # polls succeed
    assert len(rows) == 1  # one failed run: the unchanged zero snapshot is not re-run


FAULTS = [
    Fault("429", "cboe", "cboe", "rate limited", "rate limited", check=retry_after_honoured),
    Fault("500", "cboe", "cboe", "unavailable", "server error", hits=4, check=backoff_grows),
    Fault("slow", "cboe", "cboe", "unavailable", "timed out"),
    Fault("truncated", "cboe", "cboe", "bad payload", "response body truncated"),
    Fault("html", "cboe", "cboe", "bad payload", "HTML instead of JSON"),
    Fault("empty", "cboe", "cboe", "bad payload", "empty response body"),
    Fault("401", "tradier", "tradier", "auth", "token was rejected", hits=1, check=not_retried),
    Fault("zeros", "cboe", "engine", "AnalysisError", "valid IVs", hits=1, check=engine_failed),
    Fault("wrong-symbol", "cboe", "cboe", "wrong symbol", "payload is for SPY"),
    Fault("oversized", "cboe", "cboe", "payload too large", "payload over 0.1 MB"),
    Fault(
        "token-redirect",
        "schwab",
        "schwab",
        "redirect",
        "redirects are never followed",
        check=no_credential_followed,
    ),
]


def build(
    fault: Fault, server: HTTPServer, elsewhere: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[Vendor, Any]:
    if fault.vendor == "cboe":
        vendor: Vendor = Cboe()
        server.expect_request("/options/_SPX.json").respond_with_handler(vendor)
        feed: Any = CboeFeed(settings(server.url_for("/"), MAX_PAYLOAD_MB), clock=vendor.clock)
    elif fault.vendor == "tradier":
        monkeypatch.setenv("TRADIER_TOKEN", TOKEN)
        vendor = Tradier()
        server.expect_request(re.compile("/v1/markets/.*")).respond_with_handler(vendor)
        feed = TradierFeed(settings(server.url_for("/v1")), clock=vendor.clock)
    else:
        monkeypatch.setenv("SCHWAB_APP_KEY", APP_KEY)
        monkeypatch.setenv("SCHWAB_APP_SECRET", APP_SECRET)
        monkeypatch.setenv("SCHWAB_REFRESH_TOKEN", REFRESH)
        vendor = Schwab(elsewhere.url_for("/steal"))
        server.expect_request(re.compile(".*")).respond_with_handler(vendor)
        feed = SchwabFeed(
            settings(server.url_for("/marketdata/v1")),
            token_url=server.url_for("/v1/oauth/token"),
            clock=vendor.clock,
        )
    return vendor, feed


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
async def test_fault(
    fault: Fault,
    server: HTTPServer,
    elsewhere: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    vendor, feed = build(fault, server, elsewhere, monkeypatch)
    mono = Mono()
    app = make_app(feed, ["SPX"], export_dir=tmp_path, poll_interval=INTERVAL, monotonic=mono)
    shown_all = record_notices(app)
    async with app.run_test(size=(320, 50)) as pilot:
        status, pane = app.screen.query_one(StatusLine), app.screen.query_one(ImpulsePane)
        st = app.states["SPX"]
        await wait_for_analyses(pilot, app)
        good = st.analysis
        assert "STALE" not in rendered(status) and "STALE" not in rendered(pane)

        # ---- the fault (notices counted from here: a loaded machine may have timed out a
        # good poll before, which is its own condition, over by now)
        start, logged = len(shown_all), app.errors.total
        vendor.mode = fault.name
        failing = (
            (lambda: st.engine_error != "")
            if fault.feed == "engine"
            else (lambda: st.error is not None)
        )
        # The condition's notice, seen on screen as it is raised (it leaves the screen
        # after its timeout, which a loaded machine can pass before the checks below).
        await wait_for_notice(pilot, shown_all, lambda n: n.severity == "error", start)
        await wait_until(pilot, lambda: len(vendor.faulted()) >= fault.hits and failing(), 60)
        mono.now += 60.0  # the last good fetch is now a minute old: past the stale limit
        app.refresh_views()
        await pilot.pause()
        assert app.is_running and app.return_code is None  # the monitor stays up
        assert st.analysis is good and pane.view.analysis is good  # the last good one ...
        line = rendered(status)
        assert "STALE" in line and "STALE" in rendered(pane)  # ... marked STALE
        assert fault.says in line, line
        assert f"{fault.feed} {fault.kind} (SPX" in line, line  # the condition, named
        (note,) = errors_raised(shown_all[start:])  # one notice, however many polls
        assert fault.says in note.message or fault.feed == "engine", note
        failures = app.errors.total - logged
        rows = await error_log_rows(pilot)
        assert len(rows) >= failures >= 1
        rows = rows[:failures]  # newest first: the fault's own rows
        assert all(r[1:4] == ["SPX", fault.feed, fault.kind] for r in rows), rows
        assert all(fault.says in r[4] for r in rows)
        if fault.check is not None:
            fault.check(vendor, app, rows, line, shown_all[start:])
        assert elsewhere.log == []  # no request, so no credential, ever reached it
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ErrorLogScreen), 5)

        # ---- healthy again
        vendor.heal()
        if fault.kind == "auth":
            await pilot.press("space", "space")  # not retried until the user acts
        # The recovery's notice, seen on screen as it is raised (the analysis after it
        # can take longer than the notice stays, on a loaded machine).
        await wait_for_notice(pilot, shown_all, lambda n: "recovered" in n.title, start)
        await wait_until(pilot, lambda: st.analysis is not good and not st.busy, 60)
        app.refresh_views()
        await pilot.pause()
        assert st.error is None and st.engine_error == ""
        line = rendered(status)
        assert "STALE" not in line and "STALE" not in rendered(pane)
        assert fault.kind not in line and "⚠" not in line
        since = shown_all[start:]
        (over,) = [n for n in since if n.severity == "information"]  # one recovery notice
        assert "recovered" in over.title and f"{fault.kind} is over" in over.message, over
        assert len(errors_raised(since)) == 1  # and no second error notice
        assert elsewhere.log == []
