"""Shared fixtures for the feed tests: recorded payloads and tiny-timeout feed settings."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from feeds.http import HttpSettings, RetryPolicy

PAYLOADS = Path(__file__).parent / "payloads"


def load_payload(relpath: str) -> Any:
    """A recorded payload, `tests/feeds/payloads/<vendor>/<request path>.json`."""
    return json.loads((PAYLOADS / relpath).read_text(encoding="utf-8"))


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
