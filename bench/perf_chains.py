"""The original library's performance chains as hedgeflow `OptionChain`s.

bench/data/floe-perf/ is a copy of the floe reference set's `perf/` folder (its README
gives the chain-case format and the workload the original was timed on). A case is
`{kind: "chain", symbol, spot, risk_free_rate, dividend_yield, now_ms, options: [{strike,
expiration_ms, type, bid, ask, mark, open_interest, iv}]}`; times are epoch milliseconds
UTC and every expiry is the 16:00 New York close (PM-settled SPXW), which the loader
checks rather than assumes. Field mapping: `mark` -> `last` (hedgeflow has no mark
column; the engine prices off bid/ask), `iv` (decimal) -> `vendor_iv`. The case's
`risk_free_rate` goes to `EngineConfig.rate`; its `dividend_yield` has no hedgeflow
input (the forward comes from put-call parity).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hedgeflow.engine.chain import OptionChain, make_chain
from hedgeflow.engine.clock import NY

PERF_DIR = Path(__file__).resolve().parent / "data" / "floe-perf"
PERF_CHAINS = ("perf_spx_0dte_480", "perf_spx_full_8000")
_PM_ROOTS = {"SPX": "SPXW", "NDX": "NDXP", "RUT": "RUTW"}


def load_perf_case(name: str) -> dict[str, Any]:
    """The JSON case `name` (a stem of PERF_CHAINS) from bench/data/floe-perf/."""
    data: dict[str, Any] = json.loads((PERF_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return data


def perf_chain(case: Mapping[str, Any]) -> OptionChain:
    """The chain case as an `OptionChain` at `as_of = now_ms` (New York time), one row per
    option in file order. Raises ValueError naming the first field that breaks the format
    (wrong kind, an option type other than call/put, an expiry not at 16:00 New York)."""
    if case.get("kind") != "chain":
        raise ValueError(f"not a chain case: `kind` is {case.get('kind')!r}")
    options = case["options"]
    if not options:
        raise ValueError("`options` is empty")
    types = [o["type"] for o in options]
    bad = next((t for t in types if t not in ("call", "put")), None)
    if bad is not None:
        raise ValueError(f"option `type` must be 'call' or 'put', not {bad!r}")
    expiry_ms = np.array([o["expiration_ms"] for o in options], dtype=np.int64)
    for ms in np.unique(expiry_ms).tolist():
        local = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(NY)
        if (local.hour, local.minute, local.second, local.microsecond) != (16, 0, 0, 0):
            raise ValueError(f"`expiration_ms` {ms} is {local:%Y-%m-%d %H:%M} New York, not 16:00")

    def column(key: str) -> np.ndarray:
        return np.array([o[key] for o in options], dtype=np.float64)

    symbol = str(case.get("symbol", ""))
    return make_chain(
        symbol=symbol,
        spot=float(case["spot"]),
        as_of=datetime.fromtimestamp(case["now_ms"] / 1000, tz=UTC).astimezone(NY),
        root=_PM_ROOTS.get(symbol, symbol),
        strike=column("strike"),
        expiry=expiry_ms / 1000.0,
        is_call=np.array([t == "call" for t in types]),
        bid=column("bid"),
        ask=column("ask"),
        last=column("mark"),
        open_interest=column("open_interest"),
        vendor_iv=column("iv"),
        source=f"floe-perf:{case.get('name', '')}",
    )
