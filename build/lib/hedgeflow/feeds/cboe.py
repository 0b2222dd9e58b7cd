"""CBOE delayed-quotes CDN (keyless, ~15 minutes delayed): one JSON file per underlying.

`GET https://cdn.cboe.com/api/global/delayed_quotes/options/{SYM}.json`, indexes with a
leading underscore (`_SPX`, `_NDX`, `_RUT`, `_VIX`); `_SPX.json` holds both the SPX (AM)
and SPXW (PM) roots. Shape (FEEDS.md section 1):

    {"timestamp": "YYYY-MM-DD HH:MM:SS", "symbol": "_SPX",
     "data": {"current_price": ..., "close": ..., "options": [{"option": "SPXW...", ...}]}}

Timestamps (decided here, see `parse_cboe_json`):

- top-level `timestamp` is **UTC** and is the time the file was generated, not the quote
  time. Evidence: a capture of `SPY.json` (public evidence file next to a test suite,
  fetched 2026-08-17 18:43:25Z) has `timestamp` "2026-08-17 18:42:26", the CDN's
  `Last-Modified: 18:42:34 GMT` eight seconds later, and its SPY `last_trade_time`
  "2026-08-17T14:27:23" (New York, = 18:27:23Z) fifteen minutes earlier, which is the
  documented delay. Read as New York time the stamp would lie four hours in the future
  of the fetch. The `_VIX.json` stamp "23:02:44" fits too (19:02 New York, after hours).
- `last_trade_time` is naive **New York** wall time (opening prints at 09:30:02).
- The quotes are therefore valid at `timestamp - 900 s`; that is `as_of`, so time to
  expiry is measured from the quote time (docs/METHOD.md "Expiry clock": a 15-min-delayed quote seen at
  15:50 has 25 minutes left). If a trade print in the file is newer than that (the
  delay shrank), the newest print (capped at `timestamp`) is used instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from hedgeflow.engine.chain import OptionChain
from hedgeflow.feeds.errors import BadPayload
from hedgeflow.feeds.http import HttpFeedBase, HttpSettings
from hedgeflow.feeds.normalize import (
    INDEX_SYMBOLS,
    as_float_array,
    assemble_chain,
    check_underlying,
    first_positive,
    ny_naive_to_epoch,
    parse_occ,
    plain_symbol,
    settlement,
    spot_note_for,
)

VENDOR = "cboe"
BASE_URL = "https://cdn.cboe.com/api/global/delayed_quotes"
DELAY_SECONDS = 900.0


#: The CDN is reported to reject non-browser user agents (FEEDS.md, [3P]).
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)


def cboe_file_symbol(symbol: str) -> str:
    """The CDN file name for an underlying: indexes take "_" ("SPX" -> "_SPX"), ETFs and
    stocks do not ("spy" -> "SPY")."""
    sym = plain_symbol(symbol)
    return f"_{sym}" if sym in INDEX_SYMBOLS else sym


def _parse_timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise BadPayload("no top-level `timestamp` string", vendor=VENDOR)
    try:
        stamp = datetime.strptime(
            value.strip()[:19].replace("T", " ") + " +0000", "%Y-%m-%d %H:%M:%S %z"
        )
        if not 2000 <= stamp.year < 2100:
            raise ValueError("implausible year")
        return stamp
    except ValueError:
        raise BadPayload(
            f"top-level `timestamp` {value[:40]!r} is not 'YYYY-MM-DD HH:MM:SS'", vendor=VENDOR
        ) from None


def parse_cboe_json(
    payload: Any,
    *,
    symbol: str | None = None,
    as_of: datetime | None = None,
    delay_seconds: float = DELAY_SECONDS,
    source: str = VENDOR,
) -> OptionChain:
    """Normalize one CBOE delayed-quotes options file.

    Parameters
    ----------
    payload : the decoded JSON object.
    symbol : the requested underlying ("SPX"); a payload naming another one (its `symbol`
        or `data.symbol`; without either, its option roots) is refused. Default: from the
        payload's `symbol` ("_SPX" -> "SPX"), else the first option root.
    as_of : override of the quote time (aware); default `timestamp` (UTC) minus
        `delay_seconds`, see the module docstring.
    delay_seconds : the CDN's quote delay, 900 s.

    Returns
    -------
    OptionChain with strikes in points (symbol digits / 1000), expiry = exact settlement
    epoch by root (SPX 09:30 New York, SPXW at the close), vendor IV decimal (0 -> NaN),
    OI and volume as float counts, spot from `data.current_price` (else `data.close`).

    Raises
    ------
    BadPayload naming what is missing or malformed (not an object, no `data`, no
    `data.options` list, no usable `timestamp`, no parseable option at all); WrongSymbol
    for another underlying's payload.
    """
    if not isinstance(payload, Mapping):
        raise BadPayload(f"expected a JSON object, got {type(payload).__name__}", vendor=VENDOR)
    data = payload.get("data")
    if not isinstance(data, Mapping):
        raise BadPayload("missing `data` object", vendor=VENDOR)
    options = data.get("options")
    if not isinstance(options, list):
        raise BadPayload("missing `data.options` list", vendor=VENDOR)
    stamp = _parse_timestamp(payload.get("timestamp")) if as_of is None else None
    if as_of is not None and as_of.tzinfo is None:
        raise ValueError("`as_of` must be timezone-aware")

    counts: Counter[str] = Counter()
    rows = [o for o in options if isinstance(o, Mapping)]
    if len(rows) != len(options):
        counts["bad_row"] += len(options) - len(rows)
    if options and not rows:
        raise BadPayload("`data.options` holds no option objects", vendor=VENDOR)

    def col(key: str) -> np.ndarray:
        return as_float_array([o.get(key) for o in rows], counts)

    root, dates, is_call, strike = parse_occ([o.get("option") for o in rows])
    if rows and not (root != "").any():
        raise BadPayload("no `option` field parses as an OCC symbol", vendor=VENDOR)
    check_underlying(symbol, [payload.get("symbol"), data.get("symbol")], root, vendor=VENDOR)
    trade_time = ny_naive_to_epoch([o.get("last_trade_time") for o in rows])

    if as_of is None:
        assert stamp is not None
        as_of = stamp - timedelta(seconds=delay_seconds)
        prints = np.append(trade_time, ny_naive_to_epoch([data.get("last_trade_time")]))
        newest = float(np.max(prints[np.isfinite(prints)], initial=-np.inf))
        if np.isfinite(newest) and newest > as_of.timestamp():
            as_of = datetime.fromtimestamp(min(float(newest), stamp.timestamp()), tz=UTC)

    if symbol is None:
        raw = payload.get("symbol") or data.get("symbol")
        if isinstance(raw, str) and raw.strip():
            symbol = plain_symbol(raw)
        else:
            symbol = str(root[root != ""][0]) if (root != "").any() else ""

    spot = first_positive([data.get("current_price"), data.get("close")])

    return assemble_chain(
        symbol=symbol,
        spot=spot,
        as_of=as_of,
        root=root,
        expiry=settlement(root, dates),
        listed=dates,
        strike=strike,
        is_call=is_call,
        bid=col("bid"),
        ask=col("ask"),
        last=col("last_trade_price"),
        last_trade_time=trade_time,
        volume=col("volume"),
        open_interest=col("open_interest"),
        vendor_iv=col("iv"),
        counts=counts,
        source=source,
        delay_seconds=delay_seconds,
        spot_note=spot_note_for(as_of),
    )


class CboeFeed(HttpFeedBase):
    """The keyless CBOE CDN feed. One GET per snapshot; expirations come from the chain."""

    name = VENDOR
    vendor = VENDOR
    delay_seconds = DELAY_SECONDS
    default_base_url = BASE_URL
    config_keys = frozenset()

    def _default_headers(self) -> dict[str, str]:
        return {"User-Agent": BROWSER_UA, "Accept": "application/json"}

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> CboeFeed:
        return cls(HttpSettings.from_config(section, cls.config_keys, cls.default_base_url))

    async def snapshot(self, symbol: str) -> OptionChain:
        payload = await self.get_json(f"/options/{cboe_file_symbol(symbol)}.json")
        return await self._parse(parse_cboe_json, payload, symbol=plain_symbol(symbol))

    async def expirations(self, symbol: str) -> list[datetime]:
        chain = await self.snapshot(symbol)
        return [datetime.fromtimestamp(float(e), tz=UTC) for e in chain.expiries()]
