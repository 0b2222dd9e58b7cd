"""Informational timing of the chain pipeline (smile + exposures), not a timed test.

    .venv/bin/python scripts/time_chain_pipeline.py

Times, on bench's SPX-like chains: one 0DTE expiry (482 options) through
`build_expiry_book` + `compute_exposures`, and the whole chain (16 expiries, ~7,700
options) one expiry at a time and batched (`build_expiry_books` +
`compute_exposures_many`). Prints medians over repeated runs.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.chains import spx_like_chain  # noqa: E402
from hedgeflow.engine.enums import PositioningModel  # noqa: E402
from hedgeflow.engine.exposure import compute_exposures, compute_exposures_many  # noqa: E402
from hedgeflow.engine.smile import build_expiry_book, build_expiry_books  # noqa: E402

STD = PositioningModel.STANDARD


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    for _ in range(3):
        fn()
    gc.disable()
    try:
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t0) * 1e3)
    finally:
        gc.enable()
    return statistics.median(samples)


def main() -> None:
    one = spx_like_chain(1, seed=1)
    full = spx_like_chain(16, seed=2)
    e1 = float(one.expiries()[0])

    def zero_dte() -> None:
        compute_exposures(build_expiry_book(one, e1, r=0.045, positioning=STD))

    def one_by_one() -> None:
        for e in full.expiries():
            compute_exposures(build_expiry_book(full, float(e), r=0.045, positioning=STD))

    def batched() -> None:
        books, _ = build_expiry_books(full, r=0.045, positioning=STD)
        compute_exposures_many(books)

    print(f"0DTE, {len(one)} options:            {median_ms(zero_dte, 200):7.3f} ms")
    print(f"full, {len(full)} options, one by one: {median_ms(one_by_one, 20):7.3f} ms")
    print(f"full, {len(full)} options, batched:    {median_ms(batched, 50):7.3f} ms")


if __name__ == "__main__":
    main()
