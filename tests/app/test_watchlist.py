"""The watchlist model: rows agree with the headline, sorting, filtering, ticker files."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from hedgeflow.app.presentation import headline
from hedgeflow.app.watchlist import (
    COLUMN_KEYS,
    COLUMNS,
    TickerFileError,
    WatchRow,
    filter_rows,
    read_ticker_file,
    sort_rows,
    watch_row,
)
from hedgeflow.engine.scope import analyze_scope
from tests.tui.conftest import START, shared_sim


@pytest.fixture(scope="module")
def spx():
    return analyze_scope(shared_sim().chain_at("SPX", START), now=START)


def test_a_row_is_the_headline_with_signed_distances(spx) -> None:
    h = headline(spx)
    r = watch_row("SPX", spx, first_spot=spx.spot - 10.0, age=12.0, last_alert="x")
    assert r.state == "" and not r.stale and r.last_alert == "x" and r.age == 12.0
    assert r.last == spx.spot and r.change == pytest.approx(10.0)
    assert r.change_pct == pytest.approx(10.0 / (spx.spot - 10.0))
    assert r.impulse == h.impulse and r.regime == h.regime.value and r.charm == h.charm_total
    assert r.scope == spx.scope
    em = h.expected_move
    assert em > 0
    if h.nearest_flip is not None:
        assert r.flip == h.nearest_flip
        assert r.flip_pct == pytest.approx((h.nearest_flip - spx.spot) / spx.spot)
        assert r.flip_em == pytest.approx((h.nearest_flip - spx.spot) / em)
    assert h.zero_gamma is not None
    assert r.zero_gamma_em == pytest.approx((h.zero_gamma - spx.spot) / em)
    assert spx.levels is not None and r.call_wall == spx.levels.call_wall
    # every column prints something for a full row and for a waiting one
    waiting = watch_row("QQQ", None, error="HTTP 503")
    assert waiting.state == "error: HTTP 503" and math.isnan(waiting.last)
    for col in COLUMNS:
        assert col.cell(r) and col.cell(waiting)


def _rows() -> list[WatchRow]:
    return [
        WatchRow("SPY", last=600.0, impulse=-2e9, flip_pct=0.004, state=""),
        WatchRow("AAPL", last=230.0, impulse=5e8, flip_pct=-0.02, state=""),
        WatchRow("QQQ", state="waiting"),
        WatchRow("IWM", last=220.0, impulse=5e8, flip_pct=float("nan"), stale=True, state=""),
    ]


def test_sorting_keeps_rows_without_a_value_last_either_way() -> None:
    rows = _rows()
    up = [r.symbol for r in sort_rows(rows, "impulse")]
    assert up == ["SPY", "AAPL", "IWM", "QQQ"]  # AAPL/IWM tie: by symbol
    down = [r.symbol for r in sort_rows(rows, "impulse", descending=True)]
    assert down == ["AAPL", "IWM", "SPY", "QQQ"]
    # the flip column sorts by distance from spot, either side
    assert [r.symbol for r in sort_rows(rows, "flip")] == ["SPY", "AAPL", "IWM", "QQQ"]
    assert [r.symbol for r in sort_rows(rows, "symbol")] == ["AAPL", "IWM", "QQQ", "SPY"]
    for key in COLUMN_KEYS:
        assert sorted(r.symbol for r in sort_rows(rows, key)) == sorted(r.symbol for r in rows)
    with pytest.raises(KeyError, match="no watchlist column 'nope'"):
        sort_rows(rows, "nope")


def test_filter_needs_every_word() -> None:
    rows = [replace(r, regime="squeeze-up") if r.symbol == "SPY" else r for r in _rows()]
    assert [r.symbol for r in filter_rows(rows, "")] == [r.symbol for r in rows]
    assert [r.symbol for r in filter_rows(rows, "squeeze")] == ["SPY"]
    assert [r.symbol for r in filter_rows(rows, "SQUEEZE spy")] == ["SPY"]
    assert filter_rows(rows, "squeeze qqq") == []
    assert [r.symbol for r in filter_rows(rows, "stale")] == ["IWM"]
    assert [r.symbol for r in filter_rows(rows, "waiting")] == ["QQQ"]


def test_ticker_files(tmp_path: Path) -> None:
    f = tmp_path / "desk.txt"
    f.write_text("# the desk\nspx, SPY qqq\n\n$NDX  brk.b # class B\nSPY\n", encoding="utf-8")
    assert read_ticker_file(f) == ["SPX", "SPY", "QQQ", "NDX", "BRK.B"]
    f.write_text("SPX\nnot-a-ticker\n", encoding="utf-8")
    with pytest.raises(TickerFileError, match=r"desk.txt:2: 'not-a-ticker' is not a ticker"):
        read_ticker_file(f)
    f.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(TickerFileError, match="no tickers in the file"):
        read_ticker_file(f)
    f.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(TickerFileError, match="not a text file"):
        read_ticker_file(f)
    with pytest.raises(TickerFileError, match="no such ticker file"):
        read_ticker_file(tmp_path / "missing.txt")
