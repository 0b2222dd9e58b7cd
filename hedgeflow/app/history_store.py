"""The level history in a recording: `HistoryRow`/`CurveSample` to and from the recorder's
opaque `history` table (`hedgeflow.feeds.recorder`, schema version 2; docs/HISTORY.md).

A row is stored as its JSON text (`HistoryRow.to_json`, NaN as null: exact for every
float64). A curve sample is a blob in this layout, all little-endian:

    offset  size     field
    0       4        magic b"HFC1"
    4       4        uint32 n: points of the impulse curve's price grid
    8       4        uint32 m: strikes inside the curve's window
    12      8        float64 time, epoch seconds UTC
    20      8        float64 spot, points
    28      4n       float32 price[n], points
    ...     4n       float32 impulse[n]  (H(S'), the units of `CurveSample.impulse`)
    ...     4m       float32 strikes[m], points
    ...     4m       float32 gex[m], $ per +1%
    ...     4m       float32 charm[m], $ to the charm horizon

so a sample of 121 grid points and 60 strikes is 28 + 4 * (2*121 + 3*60) = 1,716 bytes
(float32 values as the sample holds them: the round trip is exact). A blob of any other
length or magic is damaged: `decode_sample` raises `HistoryDataError` (one line), which
the readers turn into a `RecordingError` naming the file and the row.
"""

from __future__ import annotations

import json
import math
import struct
from datetime import datetime
from pathlib import Path

import numpy as np

from hedgeflow.app.history import CurveSample, HistoryRow, SymbolHistory
from hedgeflow.feeds.recorder import Recorder, RecordingError, read_history

MAGIC = b"HFC1"
_HEADER = struct.Struct("<4sIIdd")

#: One stored history entry: the row and its curves (None when stored without).
Entry = tuple[HistoryRow, CurveSample | None]


class HistoryDataError(ValueError):
    """A stored history row or curve blob that does not decode (one line)."""


def encode_sample(s: CurveSample) -> bytes:
    """The blob of `s` (layout in the module docstring)."""
    n, m = int(s.price.size), int(s.strikes.size)
    if s.impulse.size != n or s.gex.size != m or s.charm.size != m:
        raise ValueError("a curve sample's arrays disagree in length")
    parts = [_HEADER.pack(MAGIC, n, m, float(s.time), float(s.spot))]
    for a in (s.price, s.impulse, s.strikes, s.gex, s.charm):
        parts.append(np.ascontiguousarray(a, dtype="<f4").tobytes())
    return b"".join(parts)


def decode_sample(blob: bytes) -> CurveSample:
    """Inverse of `encode_sample`; raises `HistoryDataError` on a damaged blob."""
    if len(blob) < _HEADER.size:
        raise HistoryDataError(f"curve blob of {len(blob)} bytes, shorter than its header")
    magic, n, m, t, spot = _HEADER.unpack_from(blob)
    if magic != MAGIC:
        raise HistoryDataError(f"curve blob starts {magic!r}, not {MAGIC!r}")
    want = _HEADER.size + 4 * (2 * n + 3 * m)
    if len(blob) != want:
        raise HistoryDataError(
            f"curve blob of {len(blob)} bytes, its header says {want} ({n} points, {m} strikes)"
        )
    values = np.frombuffer(blob, dtype="<f4", offset=_HEADER.size).astype(np.float32)
    price, impulse, rest = values[:n], values[n : 2 * n], values[2 * n :]
    return CurveSample(
        time=t,
        spot=spot,
        price=price,
        impulse=impulse,
        strikes=rest[:m],
        gex=rest[m : 2 * m],
        charm=rest[2 * m :],
    )


def encode_row(row: HistoryRow) -> str:
    """The row as strict JSON text (NaN as null)."""
    return json.dumps(row.to_json(), separators=(",", ":"), allow_nan=False)


def decode_row(text: str) -> HistoryRow:
    """Inverse of `encode_row`; raises `HistoryDataError` on a malformed row."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise TypeError("not an object")
        return HistoryRow.from_json(data)
    except KeyError as exc:
        raise HistoryDataError(f"history row without {exc}") from None
    except (ValueError, TypeError) as exc:
        raise HistoryDataError(f"malformed history row: {exc}") from None


def write_entry(
    rec: Recorder, row: HistoryRow, sample: CurveSample | None, clock: datetime | float
) -> int:
    """Store `row` and `sample` in the recording `rec` (`clock`: the feed clock when the
    analysis was submitted); returns the row id. Raises `RecordingError`."""
    c = clock.timestamp() if isinstance(clock, datetime) else float(clock)
    blob = None if sample is None else encode_sample(sample)
    return rec.write_history(row.symbol, row.time, c, encode_row(row), blob)


def load_entries(
    path: str | Path, symbol: str | None = None, until: datetime | float | None = None
) -> list[Entry]:
    """The stored history of `symbol` (or all) in the order the monitor added it, the rows
    whose analysis started at or before the feed clock `until` (an aware datetime or epoch
    seconds; a replay's tape). [] for a recording without stored history.
    Raises `RecordingError` (one line, naming the file and the row) on a damaged row."""
    t = until.timestamp() if isinstance(until, datetime) else until
    out: list[Entry] = []
    for n, (sym, when, text, blob) in enumerate(read_history(path, symbol, t), start=1):
        try:
            row = decode_row(text)
            sample = None if blob is None else decode_sample(blob)
        except HistoryDataError as exc:
            raise RecordingError(path, f"history row {n} of {sym}: {exc}") from None
        if row.symbol != sym or not math.isclose(row.time, when, rel_tol=0, abs_tol=1e-6):
            raise RecordingError(
                path, f"history row {n} of {sym}: its JSON says {row.symbol} at {row.time}"
            )
        out.append((row, sample))
    return out


def built(like: SymbolHistory, entries: list[Entry]) -> SymbolHistory:
    """A new history (`like`'s symbol and bounds) of `entries` (time order): the slow part
    of a reload (each row added to the columns), made in a worker thread so that the event
    loop only swaps it in (`SymbolHistory.adopt`)."""
    out = like.empty_like()
    for row, sample in entries:
        out.add(row, sample)
    return out
