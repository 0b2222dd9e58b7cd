"""The scope's sums and levels where users meet them: the `analyze` text, the card CSV,
the Pine script and the CLI (a real subprocess)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from hedgeflow.app.export import card_csv, pine_script
from hedgeflow.app.summary import summary_text
from hedgeflow.engine.expiry_scope import ExpiryScope, ScopeKind
from hedgeflow.engine.scope import analyze_scope
from hedgeflow.feeds.files import read_chain_file

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
SPX = REAL / "spx_quotedata_2023-06-09.csv"


@pytest.fixture(scope="module")
def all_scope():
    return analyze_scope(read_chain_file(SPX), scope=ExpiryScope(ScopeKind.ALL))


def test_the_summary_prints_the_aggregate_then_a_row_per_expiry(all_scope) -> None:
    text = summary_text(all_scope)
    lines = text.splitlines()
    n = len(all_scope.expiry_rows)
    assert f"scope    all: {n} expiries summed" in text
    head = next(i for i, line in enumerate(lines) if line.startswith("expiries "))
    # the aggregate (impulse, levels) comes before the rows
    assert next(i for i, line in enumerate(lines) if line.startswith("impulse ")) < head
    assert next(i for i, line in enumerate(lines) if line.startswith("levels ")) < head
    rows = lines[head + 2 : head + 2 + n]
    assert [r.split()[0] for r in rows] == [
        f"{r.expiration:%Y-%m-%d}" for r in all_scope.expiry_rows
    ]
    assert "futures  ES " in text and "basis " in text


def test_the_card_csv_and_the_pine_script_carry_every_level(all_scope) -> None:
    lv = all_scope.levels
    assert lv is not None and lv.futures is not None
    rows = list(csv.DictReader(io.StringIO(card_csv(all_scope))))
    assert [r["level"] for r in rows] == [e.name for e in lv.entries]
    for r, e in zip(rows, lv.entries, strict=True):
        assert float(r["price"]) == e.price
        assert float(r["future_price"]) == pytest.approx(e.price * lv.futures.factor)
        assert r["future"] == "ES" and r["basis_source"] == lv.futures.source
        assert r["scope"] == "all"
    pine = pine_script(all_scope)
    assert f"k = on_future ? {lv.futures.factor!r} : 1.0" in pine
    assert lv.call_wall is not None and f'hline({lv.call_wall!r} * k, "call wall ' in pine
    assert lv.max_pain is not None and f'hline({lv.max_pain!r} * k, "max pain ' in pine


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hedgeflow.cli", "analyze", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_cli_scope_flags() -> None:
    ok = _run(str(SPX), "--scope", "30d")
    assert ok.returncode == 0, ok.stderr
    assert "scope    ≤30d: " in ok.stdout and "expiries scope ≤30d" in ok.stdout
    bad = _run(str(SPX), "--scope", "weekly")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "--scope: expected nearest" in bad.stderr and "Traceback" not in bad.stderr
    both = _run(str(SPX), "--scope", "all", "--expiry", "2023-06-16")
    assert both.returncode == 2 and "give one of them" in both.stderr
    floe = _run(str(SPX), "--scope", "all", "--model", "floe")
    assert floe.returncode == 2 and "needs --model physical" in floe.stderr


def test_the_configured_scope(tmp_path: Path) -> None:
    from hedgeflow.app.config import ConfigError, default_settings, load_settings

    assert default_settings().monitor.expiry_scope() == ExpiryScope()
    path = tmp_path / "c.toml"
    path.write_text('[monitor]\nscope = "days"\nscope_days = 30\n', encoding="utf-8")
    assert load_settings(path).monitor.expiry_scope() == ExpiryScope(ScopeKind.WITHIN_DAYS, 30.0)
    path.write_text('[monitor]\nscope = "weekly"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="monitor.scope"):
        load_settings(path)
    path.write_text("[monitor]\nscope_days = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="monitor.scope_days"):
        load_settings(path)
