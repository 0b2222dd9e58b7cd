"""`hedgeflow history export`: recordings' level history as Parquet datasets (pyarrow),
for weeks of sessions queried with DuckDB or pandas (docs/HISTORY.md).

Layout under OUT (hive partitioning, the New York session date of each row's data time):

    OUT/levels/date=YYYY-MM-DD/symbol=SPX/<recording>.parquet    one row per analysis
    OUT/strikes/date=YYYY-MM-DD/symbol=SPX/<recording>.parquet   with --strikes: one row
                                                                 per (analysis, strike)

One file per recording and partition, named after the recording, so exporting the same
recording again replaces its files and several recordings sit side by side. A recording's
stored rows are exported as the monitor had them (`app.history_store.load_entries`,
folded as `SymbolHistory.add` folds them); a recording without stored rows (`hedgeflow
record`) is analyzed (`app.history_rebuild.Rebuilder`) with the configured engine.

Every column's unit is in its Parquet field metadata (`unit`, `doc`); the levels that a
row has none of (NaN in a `HistoryRow`) are null.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hedgeflow.app.config import Settings
from hedgeflow.app.history import CurveSample, HistoryTable, SymbolHistory
from hedgeflow.app.history_rebuild import Rebuilder
from hedgeflow.app.history_store import load_entries
from hedgeflow.engine.clock import NY
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.expiry_scope import ExpiryScope
from hedgeflow.feeds.recorder import history_counts
from hedgeflow.feeds.replay import check_recording, recorded_symbols

#: (name, arrow type name, unit, doc) of the levels dataset's columns, in order.
LEVEL_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("time", "timestamp", "UTC", "the analysis' data time (the chain's as-of)"),
    ("scope", "string", "", "expiry scope label (nearest, 0dte, all, ...)"),
    ("expiration", "timestamp", "UTC", "settlement of the analyzed (nearest in scope) expiry"),
    ("spot", "float64", "points", "underlying price"),
    ("impulse", "float64", "$ per +1%", "dealer delta change per +1% at spot; + dampening"),
    ("slope", "float64", "$/1%/pt² (physical), $/1%/pt (floe)", "dH/dS' at spot"),
    ("flip_levels", "list<float64>", "points", "every flip level, ascending"),
    ("flip_count", "int32", "count", "number of flip levels (a fragmented regime: many)"),
    ("nearest_flip", "float64", "points", "the flip level nearest spot; null for none"),
    ("zero_gamma", "float64", "points", "zero-gamma level; null for none"),
    ("call_wall", "float64", "points", "call wall; null for none"),
    ("put_wall", "float64", "points", "put wall; null for none"),
    ("attractor_above", "float64", "points", "nearest attractor above spot; null for none"),
    ("attractor_below", "float64", "points", "nearest attractor below spot; null for none"),
    ("regime", "string", "", "impulse regime held (with hysteresis)"),
    ("firmness", "float64", "dead-band widths", "margin of the regime; null without"),
    ("charm_total", "float64", "$", "dealer delta change to the charm horizon; + dealers sell"),
    ("gex", "float64", "$ per +1%", "scope's net GEX (sum over strikes)"),
    ("dex", "float64", "$", "scope's net dealer delta; null where not computed"),
)

#: (name, arrow type name, unit, doc) of the strikes dataset's columns.
STRIKE_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("time", "timestamp", "UTC", "the analysis' data time (joins levels.time)"),
    ("strike", "float32", "points", "strike inside the impulse curve's price window"),
    ("gex", "float32", "$ per +1%", "GEX at the strike (dealer gamma exposure)"),
    ("charm", "float32", "$", "the strike's charm to the horizon"),
)


class ExportError(ValueError):
    """Bad input to the export (one line)."""


@dataclass
class ExportSummary:
    levels: int = 0  # rows written to the levels dataset
    strikes: int = 0  # rows written to the strikes dataset
    files: int = 0  # Parquet files written
    analyzed: int = 0  # symbols whose history was rebuilt from snapshots


Progress = Callable[[str], None]


def _schema(columns: tuple[tuple[str, str, str, str], ...]) -> Any:
    import pyarrow as pa

    types = {
        "timestamp": pa.timestamp("us", tz="UTC"),
        "string": pa.string(),
        "float64": pa.float64(),
        "float32": pa.float32(),
        "int32": pa.int32(),
        "list<float64>": pa.list_(pa.float64()),
    }
    return pa.schema(
        [
            pa.field(name, types[kind], metadata={"unit": unit, "doc": doc})
            for name, kind, unit, doc in columns
        ]
    )


def _level_columns(t: HistoryTable) -> dict[str, Any]:
    """The levels dataset's columns of `t` (time stamps in microseconds; a non-finite
    number null, as `HistoryRow.to_json` writes it)."""
    import pyarrow as pa

    out: dict[str, Any] = {}
    for name, kind, *_ in LEVEL_COLUMNS:
        v = getattr(t, name)
        if kind == "timestamp":
            out[name] = np.round(v * 1e6).astype(np.int64)
        elif kind == "float64":
            out[name] = pa.array(v, type=pa.float64(), mask=~np.isfinite(v))
        elif kind == "list<float64>":
            out[name] = [list(f) for f in v]
        else:
            out[name] = list(v) if kind == "string" else v
    return out


def _strike_columns(samples: Sequence[CurveSample]) -> dict[str, Any]:

    n = [s.strikes.size for s in samples]
    return {
        "time": np.repeat([int(round(s.time * 1e6)) for s in samples], n).astype(np.int64),
        "strike": np.concatenate([s.strikes for s in samples]) if samples else [],
        "gex": np.concatenate([s.gex for s in samples]) if samples else [],
        "charm": np.concatenate([s.charm for s in samples]) if samples else [],
    }


def _write(
    out: Path, dataset: str, day: str, symbol: str, name: str, schema: Any, cols: Any
) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = [
        cols[f.name]
        if isinstance(cols[f.name], pa.Array)
        else pa.array(cols[f.name], type=pa.int64()).cast(f.type)
        if pa.types.is_timestamp(f.type)
        else pa.array(cols[f.name], type=f.type)
        for f in schema
    ]
    table = pa.Table.from_arrays(arrays, schema=schema)
    where = out / dataset / f"date={day}" / f"symbol={symbol}"
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"{name}.parquet"
    pq.write_table(table, path)
    return path


def check_out(out: Path) -> None:
    """OUT must be a directory or not exist yet (its parent is created)."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a directory")


def export_parquet(
    recordings: Sequence[str | Path],
    out: str | Path,
    *,
    config_for: Callable[[str], EngineConfig],
    scope: ExpiryScope | None = None,
    symbols: Sequence[str] | None = None,
    strikes: bool = False,
    progress: Progress | None = None,
) -> ExportSummary:
    """Write the level history of `recordings` (and with `strikes` the per-strike GEX and
    charm) under `out` (layout in the module docstring). Every recording is checked before
    anything is written: raises `ExportError` or `RecordingError` (one line)."""
    out = Path(out)
    check_out(out)
    paths = [Path(p) for p in recordings]
    held: dict[Path, list[str]] = {}
    for p in paths:
        check_recording(p).close()  # missing, not a recording, damaged: one line
        held[p] = recorded_symbols(p)
    wanted = None if symbols is None else {s.upper() for s in symbols}
    if wanted is not None and not any(wanted & set(v) for v in held.values()):
        recorded = sorted({s for v in held.values() for s in v})
        raise ExportError(
            f"--symbols {','.join(sorted(wanted))}: not in the recordings "
            f"(recorded: {', '.join(recorded)})"
        )
    level_schema, strike_schema = _schema(LEVEL_COLUMNS), _schema(STRIKE_COLUMNS)
    summary = ExportSummary()
    for p in paths:
        stored = history_counts(p)
        for symbol in held[p]:
            if wanted is not None and symbol not in wanted:
                continue
            h = SymbolHistory(symbol, max_rows=10**9)
            if stored.get(symbol, 0) > 0:
                entries = load_entries(p, symbol)
            else:
                summary.analyzed += 1

                def say(done: int, total: int, s: str = symbol, name: str = p.name) -> None:
                    if progress is not None and (done == total or done % 50 == 0):
                        progress(f"{name}: {s}: analyzing snapshots {done}/{total}")

                rb = Rebuilder(p, symbol, config_for(symbol), scope, max_rows=10**9)
                entries = rb.run(math.inf, progress=say) or []
            for row, sample in entries:
                h.add(row, sample)
            days = np.array([_ny_date(t) for t in h.times().tolist()])
            curves = h.curves()
            for day in sorted(set(days.tolist())):
                at = np.flatnonzero(days == day)
                cols = _level_columns(h.table(None, at))
                _write(out, "levels", day, symbol, p.stem, level_schema, cols)
                summary.levels += int(at.size)
                summary.files += 1
                if strikes:
                    mine = np.flatnonzero(days[curves.positions] == day).tolist()
                    cols = _strike_columns([curves[i] for i in mine])
                    _write(out, "strikes", day, symbol, p.stem, strike_schema, cols)
                    summary.strikes += len(cols["strike"])
                    summary.files += 1
    return summary


def export_command(
    recordings: Sequence[str],
    out: str,
    settings: Settings,
    symbols: Sequence[str] | None,
    strikes: bool,
) -> int:
    """The `history export` command: progress on stderr, the summary on stdout; returns
    the exit code. Raises `ExportError`/`RecordingError` (one line) on bad input."""
    import sys

    try:
        done = export_parquet(
            recordings,
            out,
            config_for=settings.engine_config,
            scope=settings.monitor.expiry_scope(),
            symbols=symbols,
            strikes=strikes,
            progress=lambda text: print(f"hedgeflow: {text}", file=sys.stderr, flush=True),
        )
    except OSError as exc:
        raise ExportError(f"{exc.filename or out}: {exc.strerror or exc}") from None
    print(f"{done.levels} level rows, {done.strikes} strike rows, {done.files} files in {out}")
    return 0


def _ny_date(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).astimezone(NY).strftime("%Y-%m-%d")
