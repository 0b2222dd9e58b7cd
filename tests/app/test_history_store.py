"""The level history in a recording: rows exact, curves float32-exact, damage one line."""

from __future__ import annotations

import math
import sqlite3
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from hedgeflow.app.history import CurveSample, HistoryRow, SymbolHistory, curve_sample, history_row
from hedgeflow.app.history_store import (
    HistoryDataError,
    built,
    decode_row,
    decode_sample,
    encode_row,
    encode_sample,
    load_entries,
    write_entry,
)
from hedgeflow.engine.scope import analyze_scope
from hedgeflow.engine.types import ExpiryAnalysis
from hedgeflow.feeds.recorder import (
    SCHEMA_VERSION,
    Recorder,
    RecordingError,
    read_history,
)
from hedgeflow.feeds.replay import ReplayFeed, check_recording
from tests.tui.conftest import START, shared_sim


@pytest.fixture(scope="module")
def analyses() -> list[ExpiryAnalysis]:
    sim = shared_sim()
    out = []
    for m in (0.0, 5.0, 10.0):
        when = START + timedelta(minutes=m)
        out.append(analyze_scope(sim.chain_at("SPX", when), now=when))
    return out


def _same_sample(a: CurveSample, b: CurveSample) -> None:
    assert (a.time, a.spot) == (b.time, b.spot)
    for name in ("price", "impulse", "strikes", "gex", "charm"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype == np.float32
        np.testing.assert_array_equal(x, y)


def _same_row(a: HistoryRow, b: HistoryRow) -> None:
    # NaN != NaN: compare the JSON forms (NaN as None) and the floats bit for bit
    assert a.to_json() == b.to_json()
    for name, v in vars(a).items():
        w = getattr(b, name)
        if isinstance(v, float):
            assert (math.isnan(v) and math.isnan(w)) or v == w, name


def test_a_row_and_its_curves_round_trip(analyses: list[ExpiryAnalysis]) -> None:
    a = analyses[0]
    row, sample = history_row(a), curve_sample(a)
    _same_row(decode_row(encode_row(row)), row)
    blob = encode_sample(sample)
    assert len(blob) == 28 + 4 * (2 * sample.price.size + 3 * sample.strikes.size)
    _same_sample(decode_sample(blob), sample)


def test_a_row_with_nan_levels_round_trips() -> None:
    nan = float("nan")
    row = HistoryRow(
        time=1.5, symbol="SPX", scope="nearest", expiration=2.0, spot=6000.123456789,
        impulse=-1.2345678901234e9, slope=nan, flip_levels=(), nearest_flip=nan,
        zero_gamma=nan, call_wall=6100.0, put_wall=nan, attractor_above=nan,
        attractor_below=nan, regime="unknown", firmness=nan, charm_total=0.1 + 0.2,
        gex=nan, dex=nan,
    )  # fmt: skip
    _same_row(decode_row(encode_row(row)), row)


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda b: b[:10], "shorter than its header"),
        (lambda b: b"XXXX" + b[4:], "not b'HFC1'"),
        (lambda b: b[:-4], "its header says"),
        (lambda b: b + b"\0", "its header says"),
    ],
)
def test_a_damaged_blob_is_one_line(analyses: list[ExpiryAnalysis], damage, words: str) -> None:
    blob = damage(encode_sample(curve_sample(analyses[0])))
    with pytest.raises(HistoryDataError, match=words) as exc:
        decode_sample(blob)
    assert "\n" not in str(exc.value)


def test_rows_written_to_a_recording_read_back_exactly(
    tmp_path: Path, analyses: list[ExpiryAnalysis]
) -> None:
    path = tmp_path / "rec.db"
    sim = shared_sim()
    with Recorder(path) as rec:
        rec.write(sim.chain_at("SPX", START), feed="sim", fetched_at=START)
        for i, a in enumerate(analyses):
            write_entry(rec, history_row(a), curve_sample(a), a.as_of.timestamp() + i)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    got = load_entries(path, "spx")
    assert len(got) == 3
    for (row, sample), a in zip(got, analyses, strict=True):
        _same_row(row, history_row(a))
        assert sample is not None
        _same_sample(sample, curve_sample(a))
    # `until` is the feed clock the run started at: the third was submitted 2 s after its data
    until = analyses[2].as_of.timestamp() + 1.0
    assert [r.time for r, _ in load_entries(path, "SPX", until)] == [
        a.as_of.timestamp() for a in analyses[:2]
    ]
    assert load_entries(path, "SPY") == []
    # the replay (which knows only `snapshots`) still reads the file
    check_recording(path).close()
    assert ReplayFeed(path).symbols == ("SPX",)


def test_an_old_recording_without_history_replays_and_is_upgraded_when_appended(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    sim = shared_sim()
    with sqlite3.connect(path) as db:  # the version-0 layout, as the first recorder wrote it
        db.executescript(
            "CREATE TABLE snapshots (id INTEGER PRIMARY KEY, symbol TEXT NOT NULL, as_of REAL "
            "NOT NULL, fetched_at REAL NOT NULL, feed TEXT NOT NULL, payload BLOB NOT NULL);"
        )
    with Recorder(path) as rec:
        rec.write(sim.chain_at("SPX", START), feed="sim", fetched_at=START)
    assert read_history(path) == []
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE history")
    assert read_history(path) == [] and load_entries(path, "SPX") == []
    assert ReplayFeed(path).symbols == ("SPX",)


def test_a_newer_schema_is_not_written_to(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    Recorder(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(RecordingError, match="newer hedgeflow"):
        Recorder(path)


def test_a_damaged_stored_row_names_the_file_and_row(
    tmp_path: Path, analyses: list[ExpiryAnalysis]
) -> None:
    path = tmp_path / "rec.db"
    with Recorder(path) as rec:
        for a in analyses:
            write_entry(rec, history_row(a), curve_sample(a), a.as_of)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE history SET curves = substr(curves, 1, 40) WHERE id = 2")
    with pytest.raises(RecordingError, match=r"rec\.db: history row 2 of SPX: curve blob") as e:
        load_entries(path, "SPX")
    assert "\n" not in str(e.value)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE history SET curves = NULL, row = '{\"time\": 1}' WHERE id = 2")
    with pytest.raises(RecordingError, match="history row 2 of SPX: history row without"):
        load_entries(path, "SPX")


def test_a_built_history_replaces_the_rows_up_to_the_tape_and_keeps_later_ones(
    analyses: list[ExpiryAnalysis],
) -> None:
    h = SymbolHistory("SPX")
    for a in analyses:
        h.add_analysis(a)
    first = [(history_row(analyses[0]), None)]
    h.adopt(built(h, first), analyses[1].as_of.timestamp())
    assert [r.time for r in h] == [analyses[0].as_of.timestamp(), analyses[2].as_of.timestamp()]
    assert len(h.samples()) == 1  # the loaded row had no curves, the kept one has


def test_adopt_takes_a_history_built_elsewhere_and_keeps_later_rows(
    analyses: list[ExpiryAnalysis],
) -> None:
    h = SymbolHistory("SPX", max_rows=2)
    for a in analyses:
        h.add_analysis(a)
    until = analyses[1].as_of.timestamp()
    ready = built(SymbolHistory("SPX", max_rows=2), [(history_row(analyses[0]), None)])
    v = h.version
    h.adopt(ready, until)
    assert [r.time for r in h] == [analyses[0].as_of.timestamp(), analyses[2].as_of.timestamp()]
    assert h.version > v and len(ready) == 0  # the columns moved, not shared
    # the cap holds after the later rows are put back
    big = built(h, [(history_row(a), None) for a in analyses[:2]])
    h.adopt(big, until)
    assert [r.time for r in h] == [analyses[1].as_of.timestamp(), analyses[2].as_of.timestamp()]
    with pytest.raises(ValueError, match="SPY's history adopted by SPX's"):
        h.adopt(SymbolHistory("SPY"), until)
