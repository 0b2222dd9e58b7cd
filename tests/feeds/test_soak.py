"""Soak: poll a local server serving a changing CBOE-format chain for a few hundred cycles,
with faults mixed in (5xx, 429, truncated bodies, responses slower than the read timeout).

Checks: the loop never dies (every failure is a typed FeedError), every good snapshot the
server delivered was parsed and run through the engine (`hedgeflow.engine.pipeline.analyze_chain`),
and memory stays flat (tracemalloc, after a warm-up, within a small slack).
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from hedgeflow.engine.black76 import SECONDS_PER_YEAR, price
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.pipeline import analyze_chain
from hedgeflow.feeds.cboe import CboeFeed
from hedgeflow.feeds.errors import FeedError, FeedUnavailable, RateLimited
from tests.feeds.conftest import fast_settings

# Thursday 2026-05-14 15:00:00Z = 11:00 New York; quotes valid 900 s earlier.
T0 = datetime(2026, 5, 14, 15, 0, tzinfo=UTC)
EXPIRIES = {  # SPXW settles at 16:00 New York = 20:00Z
    "260515": datetime(2026, 5, 15, 20, tzinfo=UTC),
    "260518": datetime(2026, 5, 18, 20, tzinfo=UTC),
}
CYCLES = 250
WARMUP = 50
SLOW_SECONDS = 0.4
READ_TIMEOUT = 0.25


STAMP = b"__STAMP__"
POOL = 16  # distinct chains, generated before the soak so the server thread stays cheap


def stamp_of(version: int) -> datetime:
    """File timestamp of chain `version`: advances 5 s per version."""
    return T0 + timedelta(seconds=5 * version)


def cboe_payload(version: int, rng: random.Random) -> bytes:
    """Chain number `version` with its timestamp left as a placeholder: spot wanders."""
    as_of = stamp_of(version) - timedelta(seconds=900)
    spot = 5900.0 + 15.0 * np.sin(version / 17.0) + rng.uniform(-1, 1)
    strikes = np.arange(5700.0, 6101.0, 10.0)
    options = []
    for code, expiry in EXPIRIES.items():
        tau = (expiry - as_of).total_seconds() / SECONDS_PER_YEAR
        fwd = spot * np.exp(0.04 * tau)
        iv = 0.14 + 0.25 * (strikes / spot - 1.0) ** 2 - 0.1 * (strikes / spot - 1.0)
        for is_call in (True, False):
            mid = price(fwd, strikes, tau, iv, 0.045, is_call)
            for k, m, v in zip(strikes, mid, iv, strict=True):
                half = max(0.05, 0.01 * m)
                options.append(
                    {
                        "option": f"SPXW{code}{'C' if is_call else 'P'}{int(k * 1000):08d}",
                        "bid": round(max(m - half, 0.0), 2),
                        "ask": round(m + half, 2),
                        "iv": round(float(v), 4),
                        "open_interest": float(rng.randint(100, 5000)),
                        "volume": float(rng.randint(0, 900) + version),
                        "last_trade_price": round(m, 2),
                        "last_trade_time": None,
                    }
                )
    body = {
        "timestamp": STAMP.decode(),
        "symbol": "_SPX",
        "data": {"current_price": round(spot, 2), "options": options},
    }
    return json.dumps(body).encode()


class ChangingChain:
    """werkzeug handler: a new chain version per good answer, faults drawn from a seeded rng."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.version = 0
        self.faults: Counter[str] = Counter()
        self.delivered: list[float] = []  # as_of epochs of the good bodies sent
        self.lock = threading.Lock()
        self.pool = [cboe_payload(v, self.rng) for v in range(POOL)]

    def body(self, version: int) -> bytes:
        stamp = stamp_of(version).strftime("%Y-%m-%d %H:%M:%S").encode()
        return self.pool[version % POOL].replace(STAMP, stamp)

    def __call__(self, request: Request) -> Response:
        with self.lock:
            roll = self.rng.random()
            if roll < 0.06:
                self.faults["500"] += 1
                return Response("upstream error", status=500)
            if roll < 0.10:
                self.faults["429"] += 1
                return Response("", status=429, headers={"Retry-After": "0.001"})
            self.version += 1
            body = self.body(self.version)
            if roll < 0.14:
                self.faults["truncated"] += 1
                return Response(body[: len(body) // 2], content_type="application/json")
            if roll < 0.16:
                self.faults["slow"] += 1
                time.sleep(SLOW_SECONDS)  # longer than the client's read timeout
                return Response(body, content_type="application/json")
            self.delivered.append(stamp_of(self.version).timestamp() - 900.0)
            return Response(body, content_type="application/json")


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    # Threaded, so a slow answer does not hold back the client's retry behind it.
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


@pytest.mark.slow
async def test_soak_polling_with_faults(threaded_server: HTTPServer, caplog) -> None:
    httpserver = threaded_server
    # Keep per-request log records out of memory: pytest holds every captured record.
    caplog.set_level(logging.ERROR)
    caplog.set_level(logging.ERROR, logger="werkzeug")
    caplog.set_level(logging.ERROR, logger="hedgeflow.feeds.http")
    server = ChangingChain()
    httpserver.expect_request("/options/_SPX.json").respond_with_handler(server)
    feed = CboeFeed(fast_settings(httpserver.url_for("/"), read=READ_TIMEOUT, attempts=3))
    config = EngineConfig()
    analyzed: list[float] = []
    errors: Counter[str] = Counter()
    started = time.monotonic()
    try:
        async with feed:
            for cycle in range(CYCLES):
                if cycle == WARMUP:
                    # Traced from here on: what is still allocated at the end is growth.
                    tracemalloc.start()
                    baseline = tracemalloc.take_snapshot()
                    base_mem, _ = tracemalloc.get_traced_memory()
                try:
                    chain = await feed.snapshot("SPX")
                except FeedError as err:  # the only thing a poll may raise
                    errors[type(err).__name__] += 1
                    # A wait is handed over only when the server asked for one (its 429s).
                    assert (err.retry_after is not None) == isinstance(err, RateLimited)
                else:
                    result = analyze_chain(chain, now=chain.as_of, config=config)
                    # the analysis is of this snapshot: its time, its spot, the nearest
                    # live expiry served, and a finite headline impulse
                    assert result.as_of.timestamp() == chain.as_of_epoch
                    assert result.symbol == "SPX" and result.spot == chain.spot
                    assert result.expiration == EXPIRIES["260515"]
                    assert math.isfinite(result.hedge_flow.impulse_curve.impulse_total)
                    analyzed.append(chain.as_of_epoch)
                httpserver.clear_log()  # the fixture keeps every request otherwise
            end_mem, _ = tracemalloc.get_traced_memory()
            growth_top = tracemalloc.take_snapshot().compare_to(baseline, "lineno")[:5]
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started

    # Every good snapshot was analyzed, once, in the order served. A good body can only be
    # missed if it reached the client after its read timeout (a loaded machine); allow at
    # most one such miss per slow fault, never a reordering or a repeat.
    assert analyzed == sorted(set(analyzed))
    assert set(analyzed) <= set(server.delivered)
    assert len(server.delivered) - len(analyzed) <= server.faults["slow"]
    assert len(analyzed) > CYCLES * 0.6
    # Faults happened and surfaced as typed errors only.
    assert server.faults["500"] and server.faults["429"] and server.faults["truncated"]
    assert server.faults["slow"]
    # each truncated body is a BadPayload (unless it arrived after the read timeout)
    assert 0 < errors["BadPayload"] <= server.faults["truncated"]
    assert set(errors) <= {"BadPayload", "FeedUnavailable", "RateLimited"}
    # every poll ended in exactly one analysis or one typed error, and each kind of error
    # is bounded by the faults that can cause it (the client retries some away)
    assert len(analyzed) + sum(errors.values()) == CYCLES
    assert errors["RateLimited"] <= server.faults["429"]
    # Memory flat after warm-up: allow 1.5 MB of slack for caches and allocator noise.
    growth = end_mem - base_mem
    assert growth < 1_500_000, f"memory grew {growth} bytes: {growth_top}"
    assert elapsed < 60, f"soak took {elapsed:.1f}s"
    # 500s and answers slower than the read timeout end as FeedUnavailable, nothing else
    assert errors[FeedUnavailable.__name__] <= server.faults["500"] + server.faults["slow"]
