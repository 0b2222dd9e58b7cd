"""The normalized option chain: a structure of arrays, one row per contract.

Every feed and file reader produces an `OptionChain`; the engine consumes it.
Units: prices and strikes in underlying points, implied vol decimal, times as
float64 epoch seconds (UTC) inside the arrays and timezone-aware datetimes at
the API. A contract is keyed by (root, expiry, strike, is_call): on a third
Friday the AM SPX and PM SPXW series share date and strike, never expiry time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

FLOAT_FIELDS = (
    "strike",
    "expiry",
    "bid",
    "ask",
    "last",
    "last_trade_time",
    "volume",
    "open_interest",
    "multiplier",
    "vendor_iv",
)
ARRAY_FIELDS = ("root", *FLOAT_FIELDS[:2], "is_call", *FLOAT_FIELDS[2:])

FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class OptionChain:
    """A snapshot of one underlying's option chain.

    Attributes
    ----------
    symbol : underlying symbol as the user names it ("SPX", "SPY").
    spot : underlying price, points. NaN when the feed has none.
    as_of : timezone-aware time the quotes are valid at (vendor time, not fetch time).
    root : str array, option root ("SPX", "SPXW", "SPY").
    strike : float64, points.
    expiry : float64, settlement time as epoch seconds UTC (exact, by root).
    is_call : bool.
    bid, ask, last : float64, option price in points; NaN = missing.
    last_trade_time : float64 epoch seconds of the contract's last trade; NaN = none.
    volume : float64, contracts traded this session.
    open_interest : float64, contracts (start of day as published by OCC).
    multiplier : float64, shares (or index units) per contract, 100 standard.
    vendor_iv : float64 decimal vendor IV on the vendor's clock; NaN = missing.
    source : feed or file the snapshot came from.
    delay_seconds : the vendor's own quote delay (900 for a 15-minute delayed feed).
    spot_note : "" when spot is a live print, else why it is not ("stale", "derived", ...).
    dropped : rows dropped by the reader or feed, counted by reason (and values repaired
        in kept rows, counted by what was repaired).
    dropped_open_interest : open interest (contracts) carried by the rows dropped, by reason;
        only reasons whose rows held some. A listed contract left out with its open interest
        changes every exposure, so the analysis notes it (docs/METHOD.md "Input rules").
    notes : what the source said about its own data that a user must see (a vendor that
        truncated the chain, with what is missing); the analysis notes them, after the open
        interest of dropped contracts.
    """

    symbol: str
    spot: float
    as_of: datetime
    root: np.ndarray
    strike: np.ndarray
    expiry: np.ndarray
    is_call: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    last: np.ndarray
    last_trade_time: np.ndarray
    volume: np.ndarray
    open_interest: np.ndarray
    multiplier: np.ndarray
    vendor_iv: np.ndarray
    source: str = ""
    delay_seconds: float = 0.0
    spot_note: str = ""
    dropped: Mapping[str, int] = field(default_factory=dict)
    dropped_open_interest: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise ValueError("`as_of` must be timezone-aware")
        n = len(self.strike)
        for name in ARRAY_FIELDS:
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.ndim != 1 or len(arr) != n:
                raise ValueError(f"`{name}` must be a 1-d array of length {n}")
        if self.is_call.dtype != np.bool_:
            raise ValueError("`is_call` must be a bool array")
        for name in FLOAT_FIELDS:
            if getattr(self, name).dtype != np.float64:
                raise ValueError(f"`{name}` must be float64")

    def __len__(self) -> int:
        return len(self.strike)

    @property
    def as_of_epoch(self) -> float:
        return self.as_of.timestamp()

    def take(self, index: np.ndarray) -> OptionChain:
        """Rows selected by a boolean mask or an integer index, metadata kept."""
        arrays = {name: getattr(self, name)[index] for name in ARRAY_FIELDS}
        return OptionChain(
            symbol=self.symbol,
            spot=self.spot,
            as_of=self.as_of,
            source=self.source,
            delay_seconds=self.delay_seconds,
            spot_note=self.spot_note,
            dropped=dict(self.dropped),
            dropped_open_interest=dict(self.dropped_open_interest),
            notes=self.notes,
            **arrays,
        )

    def expiries(self) -> np.ndarray:
        """Distinct settlement times (epoch seconds), ascending."""
        return sorted_unique(self.expiry)


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique of a 1-d float array, skipping its sort when the values are already
    ascending (a chain's rows usually come grouped by expiry): the first of each run of
    equal values. A NaN fails the ascending check and takes np.unique's path."""
    v = np.asarray(values)
    if v.ndim == 1 and v.size == 1 and v.dtype.kind == "f":
        return v.copy()  # (np.unique of one value, without its sort)
    if v.ndim == 1 and v.size > 1 and v.dtype.kind == "f" and bool((v[1:] >= v[:-1]).all()):
        first = np.empty(v.size, dtype=bool)
        first[0] = True
        np.not_equal(v[1:], v[:-1], out=first[1:])
        return v[first]
    return np.unique(v)


def make_chain(
    *,
    symbol: str,
    spot: float,
    as_of: datetime,
    root: Any,
    strike: Any,
    expiry: Any,
    is_call: Any,
    bid: Any = None,
    ask: Any = None,
    last: Any = None,
    last_trade_time: Any = None,
    volume: Any = None,
    open_interest: Any = None,
    multiplier: Any = 100.0,
    vendor_iv: Any = None,
    source: str = "",
    delay_seconds: float = 0.0,
    spot_note: str = "",
    dropped: Mapping[str, int] | None = None,
    dropped_open_interest: Mapping[str, float] | None = None,
    notes: tuple[str, ...] = (),
) -> OptionChain:
    """Build an `OptionChain` from array-likes, casting dtypes; missing columns become NaN
    (prices, times, IV) or 0 (volume, open interest). Scalars broadcast."""
    n = len(np.atleast_1d(np.asarray(strike)))

    def f64(value: Any, default: float) -> np.ndarray:
        if value is None:
            return np.full(n, default, dtype=np.float64)
        arr = np.asarray(value, dtype=np.float64)
        return np.broadcast_to(arr, (n,)).copy() if arr.ndim == 0 else arr.reshape(n)

    roots = np.asarray(root, dtype=str)
    if roots.ndim == 0:
        roots = np.full(n, str(roots))
    return OptionChain(
        symbol=symbol,
        spot=float(spot),
        as_of=as_of,
        root=roots,
        strike=f64(strike, np.nan),
        expiry=f64(expiry, np.nan),
        is_call=np.asarray(is_call, dtype=bool).reshape(n),
        bid=f64(bid, np.nan),
        ask=f64(ask, np.nan),
        last=f64(last, np.nan),
        last_trade_time=f64(last_trade_time, np.nan),
        volume=f64(volume, 0.0),
        open_interest=f64(open_interest, 0.0),
        multiplier=f64(multiplier, 100.0),
        vendor_iv=f64(vendor_iv, np.nan),
        source=source,
        delay_seconds=float(delay_seconds),
        spot_note=spot_note,
        dropped=dict(dropped or {}),
        dropped_open_interest=dict(dropped_open_interest or {}),
        notes=tuple(notes),
    )


def _json_number(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def chain_to_dict(chain: OptionChain) -> dict[str, Any]:
    """The normalized chain JSON format (docs/CHAIN_FORMAT.md): columns as lists, NaN as null,
    times as ISO-8601 with offset (as_of) and epoch seconds (expiry, last_trade_time)."""
    columns: dict[str, Any] = {
        "root": chain.root.tolist(),
        "is_call": chain.is_call.tolist(),
    }
    for name in FLOAT_FIELDS:
        columns[name] = [_json_number(v) for v in getattr(chain, name).tolist()]
    return {
        "format": "hedgeflow.chain",
        "version": FORMAT_VERSION,
        "symbol": chain.symbol,
        "spot": _json_number(chain.spot),
        "as_of": chain.as_of.isoformat(),
        "source": chain.source,
        "delay_seconds": chain.delay_seconds,
        "spot_note": chain.spot_note,
        "dropped": dict(chain.dropped),
        "dropped_open_interest": dict(chain.dropped_open_interest),
        "notes": list(chain.notes),
        "columns": columns,
    }


def chain_from_dict(data: Mapping[str, Any]) -> OptionChain:
    """Inverse of `chain_to_dict`. Raises ValueError naming the first bad field."""
    if data.get("format") != "hedgeflow.chain":
        raise ValueError("not a hedgeflow chain: `format` must be 'hedgeflow.chain'")
    if data.get("version") != FORMAT_VERSION:
        raise ValueError(f"unsupported chain `version` {data.get('version')!r}")
    try:
        as_of = datetime.fromisoformat(str(data["as_of"]))
    except (KeyError, ValueError) as exc:
        raise ValueError("`as_of` must be an ISO-8601 time with offset") from exc
    if as_of.tzinfo is None:
        raise ValueError("`as_of` must carry a UTC offset")
    cols = data.get("columns")
    if not isinstance(cols, Mapping):
        raise ValueError("`columns` must be an object of equal-length lists")
    missing = [name for name in ARRAY_FIELDS if name not in cols]
    if missing:
        raise ValueError(f"`columns` lacks {', '.join(missing)}")
    lengths = {len(cols[name]) for name in ARRAY_FIELDS}
    if len(lengths) != 1:
        raise ValueError("`columns` lists differ in length")

    def f64(name: str) -> np.ndarray:
        try:
            return np.array([np.nan if v is None else v for v in cols[name]], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"`columns.{name}` must hold numbers or null") from exc

    spot = data.get("spot")
    return OptionChain(
        symbol=str(data.get("symbol", "")),
        spot=np.nan if spot is None else float(spot),
        as_of=as_of.astimezone(UTC),
        root=np.asarray(cols["root"], dtype=str).reshape(-1),
        is_call=np.asarray(cols["is_call"], dtype=bool).reshape(-1),
        source=str(data.get("source", "")),
        delay_seconds=float(data.get("delay_seconds", 0.0)),
        spot_note=str(data.get("spot_note", "")),
        dropped={str(k): int(v) for k, v in dict(data.get("dropped", {})).items()},
        dropped_open_interest={
            str(k): float(v) for k, v in dict(data.get("dropped_open_interest", {})).items()
        },
        notes=tuple(str(n) for n in data.get("notes", ()) or ()),
        **{name: f64(name) for name in FLOAT_FIELDS},
    )
