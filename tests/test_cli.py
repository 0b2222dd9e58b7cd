"""`hedgeflow analyze` end to end: every real file, the one-line errors, JSON output."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hedgeflow.cli import main

REAL = Path(__file__).resolve().parent / "data" / "real"
REAL_FILES = sorted(p for p in REAL.iterdir() if p.name.split("_")[1:2] == ["quotedata"])


def _finite_numbers(obj: object) -> bool:
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_finite_numbers(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_finite_numbers(v) for v in obj)
    return True


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_every_real_file_analyzes(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    for word in ("spot", "expiry", "ATM IV", "impulse", "charm", "min left"):
        assert word in out
    # a buy/sell word is always there: the charm line names the dealers' trade
    assert "dealers" in out


@pytest.mark.parametrize("path", REAL_FILES[:3], ids=lambda p: p.name)
def test_json_output_is_strict_json(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["symbol"]
    assert _finite_numbers(data)  # JSON has no NaN: non-finite became null
    assert data["hedge_flow"]["impulse_curve"]["price"]


def test_after_close_file_analyzes_next_live_expiry(capsys: pytest.CaptureFixture[str]) -> None:
    # Saved Sep 14 2023 16:31 EDT: the same-day SPXW series has expired; the next live
    # expiry is Sep 15 (the SPXW PM series, preferred over the AM SPX monthly on that date).
    path = REAL / "spx_quotedata_2023-09-14.csv"
    assert main(["analyze", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["expiration"].startswith("2023-09-15")
    assert data["minutes_to_expiry"] > 0


def test_expiry_date_and_models(capsys: pytest.CaptureFixture[str]) -> None:
    path = REAL / "spx_quotedata_2023-06-09.csv"
    assert main(["analyze", str(path), "--expiry", "0dte", "--json"]) == 0
    physical = json.loads(capsys.readouterr().out)
    assert physical["expiration"].startswith("2023-06-09T16:00")
    assert main(["analyze", str(path), "--expiry", "0dte", "--model", "floe", "--json"]) == 0
    floe = json.loads(capsys.readouterr().out)
    assert floe["model"] == "floe" and floe["positioning"] == "floe"
    assert main(["analyze", str(path), "--expiry", "2023-06-16", "--positioning", "short-all"]) == 0
    assert "short-all" in capsys.readouterr().out


def test_positioning_flips_every_exposure(capsys: pytest.CaptureFixture[str]) -> None:
    path = REAL / "spy_quotedata_2023-09-14.csv"
    results = {}
    for model in ("standard", "floe"):
        assert main(["analyze", str(path), "--positioning", model, "--json"]) == 0
        results[model] = json.loads(capsys.readouterr().out)
    s, f = results["standard"]["exposure"], results["floe"]["exposure"]
    for key in ("gex", "vex", "cex"):
        assert s[key] == pytest.approx([-v for v in f[key]], rel=1e-12, abs=1e-9)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["analyze", "/nonexistent/chain.csv"], "chain.csv"),
        (["analyze", "{real}", "--expiry", "2031-01-02"], "2031-01-02"),
        (["analyze", "{real}", "--expiry", "tomorrow"], "--expiry"),
        (["analyze", "{real}", "--as-of", "yesterday"], "--as-of"),
        (["analyze", "{garbage}"], "garbage.csv"),
        (["analyze", "{noquotes}"], "noquotes.json"),
        (["analyze"], "FILE"),
        (["analyze", "--feed", "file", "--path", "{real}", "--symbol", "QQQ"], "has no QQQ"),
        (["analyze", "--feed", "replay", "--path", "{garbage}", "--symbol", "SPX"], "garbage"),
        (["analyze", "{real}", "--model", "magic"], "--model"),
    ],
)
def test_errors_are_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\x00\x01not a chain\n<html></html>\n")
    noquotes = tmp_path / "noquotes.json"
    noquotes.write_text(
        json.dumps(
            {
                "format": "hedgeflow.chain",
                "version": 1,
                "symbol": "SPX",
                "spot": 4000.0,
                "as_of": "2023-06-09T13:40:00-04:00",
                "columns": {
                    "root": ["SPXW", "SPXW"],
                    "is_call": [True, False],
                    "strike": [4000.0, 4000.0],
                    "expiry": [1686340800.0, 1686340800.0],
                    "bid": [None, None],
                    "ask": [None, None],
                    "last": [None, None],
                    "last_trade_time": [None, None],
                    "volume": [0, 0],
                    "open_interest": [10, 10],
                    "multiplier": [100, 100],
                    "vendor_iv": [None, None],
                },
            }
        ),
        encoding="utf-8",
    )
    real = REAL / "spx_quotedata_2023-06-09.csv"
    argv = [a.format(real=real, garbage=garbage, noquotes=noquotes) for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "hedgeflow.cli", *argv], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert message in lines[0]


@pytest.mark.parametrize("extra", [[], ["--json"]], ids=["text", "json"])
def test_output_into_a_closed_pipe_ends_quietly(extra: list[str]) -> None:
    """`hedgeflow analyze FILE | head`: the reader is gone before the command writes. The
    command stops quietly, exit 0, no BrokenPipeError traceback (nor Python's "Exception
    ignored" at exit)."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # closed before the analysis has printed anything
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "hedgeflow.cli", "analyze", str(REAL_FILES[0]), *extra],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_ndx_zero_gamma_beyond_the_plotted_window(capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 10 item 5: the all-expiry zero gamma of NDX 2023-05-15 sits about 5.5 % below
    # spot, outside the ±3 % plotted window; the search (±10 % here) finds it.
    path = REAL / "ndx_quotedata_2023-05-15.csv"
    assert main(["analyze", str(path)]) == 0
    text = capsys.readouterr().out
    zero = next(ln for ln in text.splitlines() if ln.startswith("zero γ   "))
    shown = float(zero.split()[2].replace(",", ""))
    assert main(["analyze", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (level,) = data["repriced"]["zero_gamma_levels"]
    spot = data["spot"]
    assert -0.06 < level / spot - 1 < -0.05
    assert shown == pytest.approx(level, abs=0.005)
    prices = data["repriced"]["price"]
    assert prices[0] == pytest.approx(0.97 * spot) and prices[-1] == pytest.approx(1.03 * spot)
    assert data["repriced"]["search_range"] == pytest.approx([0.9 * spot, 1.1 * spot])


@pytest.mark.parametrize("cell", ["abc", "", "-5", "1e400"])
def test_an_unreadable_open_interest_is_a_note_not_a_silent_zero(tmp_path: Path, cell: str) -> None:
    """One garbled Open Interest cell on SPY's 450 call of 2023-09-15 (77,508 contracts, at
    the money) turned the impulse from "+$2.1B dampens" to "-$132M amplifies" with no word
    of why: the cell read as 0 and only a diagnostics counter knew."""
    src = (REAL / "spy_quotedata_2023-09-14.csv").read_text(encoding="utf-8").split("\n")
    i = next(
        n for n, line in enumerate(src) if line.startswith("Fri Sep 15 2023,SPY230915C00450000")
    )
    fields = src[i].split(",")
    assert fields[10] == "77508"  # the calls' Open Interest
    fields[10] = cell
    src[i] = ",".join(fields)
    garbled = tmp_path / "spy.csv"
    garbled.write_text("\n".join(src), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "hedgeflow.cli", "analyze", str(garbled), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    notes = json.loads(proc.stdout)["notes"]
    assert "1 contract's open interest unreadable, negative or infinite: counted as 0" in notes
