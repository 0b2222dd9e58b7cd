"""Shared fixtures for the feed tests: recorded payloads, tiny-timeout feed settings and the
helpers the parser tests use to name a time and find a contract."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from hedgeflow.engine.chain import OptionChain
from hedgeflow.feeds.http import HttpSettings, RetryPolicy

PAYLOADS = Path(__file__).parent / "payloads"


def load_payload(relpath: str) -> Any:
    """A recorded payload, `tests/feeds/payloads/<vendor>/<request path>.json`."""
    return json.loads((PAYLOADS / relpath).read_text(encoding="utf-8"))


def utc(*args: int) -> float:
    """Epoch seconds of a UTC wall time: `utc(2026, 5, 15, 20)`."""
    return datetime(*args, tzinfo=UTC).timestamp()


def find(chain: OptionChain, root: str, expiry: float, strike: float, is_call: bool) -> int:
    """Index of the one contract (root, expiry epoch, strike, right) in `chain`; fails the test
    unless there is exactly one."""
    hit = np.flatnonzero(
        (chain.root == root)
        & (chain.expiry == expiry)
        & (chain.strike == strike)
        & (chain.is_call == is_call)
    )
    assert len(hit) == 1, (root, expiry, strike, is_call)
    return int(hit[0])


def fast_settings(
    base_url: str, *, read: float = 2.0, attempts: int = 3, **extra: Any
) -> HttpSettings:
    """Settings for tests against the local server: tiny backoffs and timeouts."""
    return HttpSettings(
        base_url=base_url.rstrip("/"),
        timeout=httpx.Timeout(connect=1.0, read=read, write=1.0, pool=1.0),
        retry=RetryPolicy(max_attempts=attempts, backoff_base=0.01, backoff_max=0.05, max_wait=1.0),
        extra=extra,
    )


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)
