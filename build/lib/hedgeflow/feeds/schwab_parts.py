"""Asking Schwab for a chain it would truncate, in parts: the pure pieces.

A /chains response with `isChainTruncated: true` (or a 502 "TooBigBody", `ChainTooBig`)
holds less than was asked for. `SchwabFeed._fetch_window` asks again for less at a time:
the date window halved down to one day, one day's calls and puts apart, and, for a side
still refused as too big, fewer strikes (`NARROW_STRIKES`), within `MAX_CHAIN_REQUESTS`
requests a snapshot. This module holds what that needs without the network: the flag, the
merge of the parts into one response, and the words of the note for what is missing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any


def is_truncated(payload: Any) -> bool:
    """True when a /chains response says Schwab cut it short (`isChainTruncated`)."""
    return isinstance(payload, Mapping) and payload.get("isChainTruncated") is True


def merge_chain_payloads(parts: Sequence[Any]) -> Any:
    """One /chains response from the responses of disjoint requests (date windows, sides,
    strikes): the first part's header (symbol, status, underlying...) with every part's
    `callExpDateMap`/`putExpDateMap` entries, strike lists of the same expiration and strike
    joined. A single part is returned as it is; parts that are not objects are left to the
    parser (the first one is returned so that it says what is wrong)."""
    if len(parts) == 1 or not all(isinstance(p, Mapping) for p in parts):
        return parts[0]
    merged = {k: v for k, v in parts[0].items() if k not in ("callExpDateMap", "putExpDateMap")}
    for key in ("callExpDateMap", "putExpDateMap"):
        out: dict[str, Any] = {}
        for part in parts:
            m = part.get(key)
            if not isinstance(m, Mapping):
                continue
            for exp_key, strikes in m.items():
                have = out.get(exp_key)
                if isinstance(have, dict) and isinstance(strikes, Mapping):
                    for strike, contracts in strikes.items():
                        prev = have.get(strike)
                        if isinstance(prev, list) and isinstance(contracts, list):
                            have[strike] = [*prev, *contracts]
                        else:
                            have[strike] = contracts
                else:
                    out[exp_key] = dict(strikes) if isinstance(strikes, Mapping) else strikes
        merged[key] = out
    merged["isChainTruncated"] = any(is_truncated(p) for p in parts)
    counts = [p.get("numberOfContracts") for p in parts]
    if all(isinstance(c, int) for c in counts):
        merged["numberOfContracts"] = sum(counts)
    return merged


def count_contracts(payload: Any) -> int:
    """Contracts in a /chains response's maps (for the notes)."""
    n = 0
    if isinstance(payload, Mapping):
        for key in ("callExpDateMap", "putExpDateMap"):
            m = payload.get(key)
            for strikes in m.values() if isinstance(m, Mapping) else ():
                for contracts in strikes.values() if isinstance(strikes, Mapping) else ():
                    n += len(contracts) if isinstance(contracts, list) else 1
    return n


#: Requests one snapshot may spend on a chain Schwab truncates: a 7-day window halves down
#: to 8 days (7 more requests) and each day to its calls and puts (16), with room for a few
#: narrowed retries; a poll must stay a poll, not a crawl.
MAX_CHAIN_REQUESTS = 32
#: `strikeCount` values tried, in order, for one day's side Schwab refuses as too big.
NARROW_STRIKES = (200, 100, 50)


#: Part requests in flight at once (Schwab publishes no GET quota; a burst of 16 invites
#: a 429).
PARALLEL_PARTS = 4


@dataclass
class Budget:
    """What one snapshot's chain requests may still spend (`left`), how many run at once
    (`gate`), and what they could not get (`notes`)."""

    left: int
    notes: list[str] = field(default_factory=list)
    gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(PARALLEL_PARTS))


def window_words(lo: date, hi: date, side: str) -> str:
    days = lo.isoformat() if lo == hi else f"{lo.isoformat()}..{hi.isoformat()}"
    return days if side == "ALL" else f"{days} {side.lower()}s"
