"""`run_job`: an expiry that is gone falls back to the nearest live one; a bug is not
mistaken for a settled expiry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.pipeline import AnalysisError
from hedgeflow.tui.dispatch import EngineJob, run_job

NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


def _job(expiry: float | None) -> EngineJob:
    return EngineJob(
        state=None,  # type: ignore[arg-type]  # run_job never reads it
        snapshot=1,
        arrived=0.0,
        chain="chain",  # type: ignore[arg-type]
        now=NOW,
        config=EngineConfig(),
        expiry=expiry,
        positions=None,
    )


class Analyzer:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls: list[float | None] = []

    def __call__(self, chain: Any, *, expiry: float | None, **kw: Any) -> Any:
        self.calls.append(expiry)
        if expiry is not None:
            raise self.error
        return ("analysis of the nearest", kw["now"])


def test_a_settled_expiry_falls_back_to_the_nearest() -> None:
    analyze = Analyzer(AnalysisError("expiry 2026-11-20 is not in the chain"))
    out = run_job(analyze, _job(1_763_672_400.0))
    assert out.take() == ("analysis of the nearest", NOW)
    assert analyze.calls == [1_763_672_400.0, None]


def test_a_bug_is_not_taken_for_a_settled_expiry() -> None:
    analyze = Analyzer(ValueError("operands could not be broadcast together"))
    with pytest.raises(ValueError, match="broadcast"):
        run_job(analyze, _job(1_763_672_400.0))
    assert analyze.calls == [1_763_672_400.0]


def test_the_nearest_expiry_failing_is_the_failure() -> None:
    calls: list[float | None] = []

    def nearest_fails(chain: Any, *, expiry: float | None, **kw: Any) -> Any:
        calls.append(expiry)
        raise AnalysisError("no usable quotes")

    with pytest.raises(AnalysisError, match="no usable quotes"):
        run_job(nearest_fails, _job(None))
    assert calls == [None]
