"""`hedgeflow history export`: Parquet read back with pyarrow equals the rows; the hive
layout by New York date and symbol; bad input is one line and exit 2."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from hedgeflow.app.history import CurveSample, HistoryRow, curve_sample, history_row
from hedgeflow.app.history_export import LEVEL_COLUMNS, export_parquet
from hedgeflow.app.history_store import write_entry
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.scope import analyze_scope
from hedgeflow.feeds.recorder import Recorder
from tests.tui.conftest import START, shared_sim

ET = START.tzinfo


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.fixture(scope="module")
def stored(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[tuple[HistoryRow, CurveSample]]]:
    """A recording with SPX and SPY snapshots and stored rows: SPX on two New York dates
    (one row at 19:30 ET, already the next day in UTC)."""
    path = tmp_path_factory.mktemp("rec") / "day.db"
    sim = shared_sim()
    entries = []
    with Recorder(path) as rec:
        for symbol in ("SPX", "SPY"):
            rec.write(sim.chain_at(symbol, START), feed="sim", fetched_at=START)
        a = analyze_scope(sim.chain_at("SPX", START), now=START)
        b = analyze_scope(sim.chain_at("SPX", START + timedelta(minutes=5)), now=START)
        times = (
            "2026-11-24T10:30:00-05:00",
            "2026-11-24T19:30:00-05:00",
            "2026-11-25T09:45:00-05:00",
        )
        for t, x in zip(times, (a, b, a), strict=True):
            row = replace(history_row(x), time=_at(t))
            sample = curve_sample(x)
            sample = CurveSample(row.time, sample.spot, sample.price, sample.impulse,
                                 sample.strikes, sample.gex, sample.charm)  # fmt: skip
            write_entry(rec, row, sample, row.time)
            entries.append((row, sample))
        spy = analyze_scope(sim.chain_at("SPY", START), now=START)
        write_entry(rec, history_row(spy), curve_sample(spy), START)
    return path, entries


def _export(path: Path, out: Path, **kw: object) -> None:
    export_parquet([path], out, config_for=lambda s: EngineConfig(), **kw)  # type: ignore[arg-type]


def test_levels_read_back_equal_the_rows(stored, tmp_path: Path) -> None:
    path, entries = stored
    out = tmp_path / "out"
    _export(path, out, symbols=["spx"])
    table = ds.dataset(out / "levels", format="parquet", partitioning="hive").to_table()
    table = table.sort_by("time")
    assert table.num_rows == 3
    got = table.to_pylist()
    for g, (row, _) in zip(got, entries, strict=True):
        want = row.to_json()
        assert g["time"].timestamp() == row.time and g["symbol"] == "SPX"
        assert g["expiration"].timestamp() == row.expiration
        for name, *_ in LEVEL_COLUMNS:
            if name in ("time", "expiration"):
                continue
            if name == "flip_count":
                assert g[name] == row.flip_count
            else:
                assert g[name] == want[name], name  # NaN as null, every float exactly
    # partition columns: the New York session date, not the UTC one
    assert [g["date"] for g in got] == ["2026-11-24", "2026-11-24", "2026-11-25"]
    # every column carries its unit
    schema = pq.read_schema(next((out / "levels").rglob("*.parquet")))
    units = {f.name: f.metadata[b"unit"].decode() for f in schema}
    assert units["spot"] == "points" and units["impulse"] == "$ per +1%"
    assert schema.field("flip_levels").type == pa.list_(pa.float64())


def test_the_layout_is_hive_by_date_and_symbol(stored, tmp_path: Path) -> None:
    path, _ = stored
    out = tmp_path / "out"
    _export(path, out, strikes=True)
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet"))
    assert files == [
        "levels/date=2026-11-24/symbol=SPX/day.parquet",
        "levels/date=2026-11-24/symbol=SPY/day.parquet",
        "levels/date=2026-11-25/symbol=SPX/day.parquet",
        "strikes/date=2026-11-24/symbol=SPX/day.parquet",
        "strikes/date=2026-11-24/symbol=SPY/day.parquet",
        "strikes/date=2026-11-25/symbol=SPX/day.parquet",
    ]
    # the partition values are in the paths only, not repeated in the files
    assert "symbol" not in pq.read_schema(out / files[0]).names
    # exported again: the same files replaced, not doubled
    _export(path, out, strikes=True)
    assert len(list(out.rglob("*.parquet"))) == 6


def test_strikes_read_back_equal_the_curve_samples(stored, tmp_path: Path) -> None:
    path, entries = stored
    out = tmp_path / "out"
    _export(path, out, strikes=True, symbols=["SPX"])
    t = ds.dataset(out / "strikes", format="parquet", partitioning="hive").to_table()
    for row, sample in entries:
        mask = pa.compute.equal(
            t["time"], pa.scalar(int(row.time * 1e6), pa.timestamp("us", "UTC"))
        )
        part = t.filter(mask)
        order = np.argsort(part["strike"].to_numpy())
        np.testing.assert_array_equal(part["strike"].to_numpy()[order], sample.strikes)
        np.testing.assert_array_equal(part["gex"].to_numpy()[order], sample.gex)
        np.testing.assert_array_equal(part["charm"].to_numpy()[order], sample.charm)


def test_a_recording_without_rows_is_analyzed(tmp_path: Path) -> None:
    path = tmp_path / "rec.db"
    sim = shared_sim()
    times = [START, START + timedelta(minutes=1)]
    with Recorder(path) as rec:
        for t in times:
            rec.write(sim.chain_at("SPX", t), feed="sim", fetched_at=t)
    said: list[str] = []
    summary = export_parquet(
        [path], tmp_path / "out", config_for=lambda s: EngineConfig(), progress=said.append
    )
    assert summary.analyzed == 1 and summary.levels == 2
    assert said[-1] == "rec.db: SPX: analyzing snapshots 2/2"
    got = ds.dataset(tmp_path / "out" / "levels", partitioning="hive").to_table().sort_by("time")
    want = analyze_scope(sim.chain_at("SPX", times[1]), now=times[1])
    last = got.to_pylist()[-1]
    assert last["time"].timestamp() == want.as_of.timestamp()
    assert last["spot"] == want.spot and math.isfinite(last["impulse"])


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hedgeflow.cli", "history", "export", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_cli_bad_input_is_one_line_and_exit_2(stored, tmp_path: Path) -> None:
    path, _ = stored
    (tmp_path / "file.txt").write_text("not a recording")
    (tmp_path / "taken").write_text("x")
    cases = [
        (["missing.db", "--parquet", "out"], "missing.db: no such recording"),
        (["file.txt", "--parquet", "out"], "not a SQLite file"),
        ([str(path), "--parquet", "taken"], "taken: exists and is not a directory"),
        ([str(path), "--parquet", "out", "--symbols", "QQQ"], "--symbols QQQ: not in"),
        ([str(path)], "the following arguments are required: --parquet"),
    ]
    for args, words in cases:
        r = _cli(*args, cwd=tmp_path)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (args, r.stderr)
        assert "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()  # nothing written on bad input


def test_cli_writes_and_says_what(stored, tmp_path: Path) -> None:
    path, _ = stored
    r = _cli(str(path), "--parquet", "out", "--strikes", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("4 level rows, ") and "6 files in out" in r.stdout
