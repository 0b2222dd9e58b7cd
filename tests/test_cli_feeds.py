"""`hedgeflow analyze --feed NAME --symbol SPX` works with every feed.

The HTTP feeds are served by a real local HTTP server (pytest-httpserver) with
payloads in each vendor's own format, generated from one realistic chain; the
sim, file and replay feeds run as configured.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pytest_httpserver import HTTPServer

from bench.chains import AS_OF, cboe_payload, spx_like_chain
from hedgeflow.cli import main
from hedgeflow.engine.chain import OptionChain

MS = 1000.0


@pytest.fixture(scope="module")
def chain() -> OptionChain:
    return spx_like_chain(n_expiries=2, seed=11)


def _rows(chain: OptionChain) -> list[dict[str, Any]]:
    out = []
    for i in range(len(chain)):
        exp = datetime.fromtimestamp(chain.expiry[i], tz=UTC).astimezone(AS_OF.tzinfo)
        out.append(
            {
                "i": i,
                "date": exp.date().isoformat(),
                "occ": f"SPXW{exp:%y%m%d}{'C' if chain.is_call[i] else 'P'}{round(chain.strike[i] * 1000):08d}",
                "call": bool(chain.is_call[i]),
            }
        )
    return out


def tradier_payloads(
    chain: OptionChain,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]:
    t_ms = int(AS_OF.timestamp() * MS)
    quote = {
        "quotes": {
            "quote": {"symbol": "SPX", "last": chain.spot, "trade_date": t_ms, "type": "index"}
        }
    }
    by_date: dict[str, list[dict[str, Any]]] = {}
    for row in _rows(chain):
        i = row["i"]
        by_date.setdefault(row["date"], []).append(
            {
                "symbol": row["occ"],
                "root_symbol": "SPXW",
                "underlying": "SPX",
                "strike": float(chain.strike[i]),
                "expiration_date": row["date"],
                "option_type": "call" if row["call"] else "put",
                "contract_size": 100,
                "bid": float(chain.bid[i]),
                "ask": float(chain.ask[i]),
                "last": float(chain.last[i]),
                "volume": int(chain.volume[i]),
                "open_interest": int(chain.open_interest[i]),
                "trade_date": t_ms,
                "bid_date": t_ms,
                "ask_date": t_ms,
                "greeks": {
                    "mid_iv": float(chain.vendor_iv[i]),
                    "smv_vol": float(chain.vendor_iv[i]),
                },
            }
        )
    expirations = {"expirations": {"date": sorted(by_date)}}
    chains = {d: {"options": {"option": rows}} for d, rows in by_date.items()}
    return quote, expirations, chains


def schwab_payload(chain: OptionChain) -> dict[str, Any]:
    t_ms = int(AS_OF.timestamp() * MS)
    maps: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {
        "callExpDateMap": {},
        "putExpDateMap": {},
    }
    for row in _rows(chain):
        i = row["i"]
        side = "callExpDateMap" if row["call"] else "putExpDateMap"
        contract = {
            "putCall": "CALL" if row["call"] else "PUT",
            "symbol": f"SPXW  {row['occ'][4:]}",
            "optionRoot": "SPXW",
            "bid": float(chain.bid[i]),
            "ask": float(chain.ask[i]),
            "last": float(chain.last[i]),
            "totalVolume": int(chain.volume[i]),
            "openInterest": int(chain.open_interest[i]),
            "volatility": float(chain.vendor_iv[i]) * 100.0,  # Schwab quotes IV in percent
            "strikePrice": float(chain.strike[i]),
            "multiplier": 100.0,
            "quoteTimeInLong": t_ms,
            "tradeTimeInLong": t_ms,
        }
        maps[side].setdefault(f"{row['date']}:0", {}).setdefault(
            f"{chain.strike[i]:.1f}", []
        ).append(contract)
    return {
        "symbol": "$SPX",
        "status": "SUCCESS",
        "underlying": {"symbol": "$SPX", "last": chain.spot, "quoteTime": t_ms, "tradeTime": t_ms},
        "underlyingPrice": chain.spot,
        "isDelayed": False,
        **maps,
    }


def _config(tmp_path: Path, feed: str, table: dict[str, Any]) -> str:
    lines = [f"[feeds.{feed}]"] + [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(autouse=True)
def process_logging() -> Iterator[None]:
    """`analyze --feed` and `record` run in this process here and open the log file
    (`configure_logging`: root handlers, warnings captured): put logging back after each
    test, as a process that ends would, so that no later test inherits it."""
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    yield
    logging.captureWarnings(False)
    for h in list(root.handlers):
        if h not in saved[0]:
            root.removeHandler(h)
            h.close()
    for h in saved[0]:
        if h not in root.handlers:
            root.addHandler(h)
    root.setLevel(saved[1])


@pytest.fixture(autouse=True)
def market_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HTTP feeds' wall clock reads the generated chain's session (the only clock a
    real feed reads), so its expiries are live; no other code reads the clock."""
    from hedgeflow.feeds.http import HttpFeedBase

    monkeypatch.setattr(
        HttpFeedBase, "clock", lambda self: (AS_OF + timedelta(minutes=15)).astimezone(UTC)
    )


def _analyze(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["analyze", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cboe(httpserver: HTTPServer, tmp_path: Path, chain: OptionChain, capsys) -> None:
    httpserver.expect_request("/options/_SPX.json").respond_with_json(
        cboe_payload(n_contracts=len(chain))
    )
    cfg = _config(tmp_path, "cboe", {"base_url": httpserver.url_for("/").rstrip("/")})
    data = _analyze(capsys, "--feed", "cboe", "--symbol", "SPX", "--config", cfg)
    assert data["symbol"] == "SPX" and data["roots"] == ["SPXW"]
    assert data["spot"] == pytest.approx(chain.spot)


def test_tradier(
    httpserver: HTTPServer, tmp_path: Path, chain: OptionChain, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("HF_TEST_TRADIER", "secret-token-123")
    quote, expirations, chains = tradier_payloads(chain)
    httpserver.expect_request("/v1/markets/quotes").respond_with_json(quote)
    httpserver.expect_request("/v1/markets/options/expirations").respond_with_json(expirations)
    for day, payload in chains.items():
        httpserver.expect_request(
            "/v1/markets/options/chains",
            query_string={"symbol": "SPX", "expiration": day, "greeks": "true"},
        ).respond_with_json(payload)
    cfg = _config(
        tmp_path,
        "tradier",
        {
            "base_url": httpserver.url_for("/v1"),
            "token_env": "HF_TEST_TRADIER",
            "max_expirations": 2,
        },
    )
    data = _analyze(capsys, "--feed", "tradier", "--symbol", "SPX", "--config", cfg)
    assert data["spot"] == pytest.approx(chain.spot)
    assert data["expiration"].startswith(AS_OF.date().isoformat())
    for request, _ in httpserver.log:
        assert request.headers["Authorization"] == "Bearer secret-token-123"


def test_schwab(
    httpserver: HTTPServer, tmp_path: Path, chain: OptionChain, capsys, monkeypatch
) -> None:
    for var, value in (
        ("SCHWAB_APP_KEY", "k"),
        ("SCHWAB_APP_SECRET", "s"),
        ("SCHWAB_REFRESH_TOKEN", "r"),
    ):
        monkeypatch.setenv(var, value)
    httpserver.expect_request("/v1/oauth/token", method="POST").respond_with_json(
        {"access_token": "acc", "token_type": "Bearer", "expires_in": 1800, "refresh_token": "r"}
    )
    httpserver.expect_request("/marketdata/v1/chains").respond_with_json(schwab_payload(chain))
    cfg = _config(
        tmp_path,
        "schwab",
        {
            "base_url": httpserver.url_for("/marketdata/v1"),
            "token_url": httpserver.url_for("/v1/oauth/token"),
        },
    )
    data = _analyze(capsys, "--feed", "schwab", "--symbol", "SPX", "--config", cfg)
    assert data["spot"] == pytest.approx(chain.spot)
    # Schwab's percent IVs became decimals: the ATM IV is a decimal near the chain's
    assert 0.05 < data["hedge_flow"]["regime_params"]["atm_iv"] < 0.6


def test_sim(tmp_path: Path, capsys) -> None:
    cfg = _config(tmp_path, "sim", {"seed": 3, "start": "2025-06-10T11:00:00-04:00"})
    data = _analyze(capsys, "--feed", "sim", "--symbol", "SPY", "--config", cfg)
    assert data["symbol"] == "SPY"
    assert data["as_of"].startswith("2025-06-10T11:00")


def test_file(tmp_path: Path, capsys) -> None:
    real = Path(__file__).resolve().parent / "data" / "real" / "spy_quotedata_2023-09-14.csv"
    cfg = _config(tmp_path, "file", {"path": str(real)})
    data = _analyze(capsys, "--feed", "file", "--symbol", "SPY", "--config", cfg)
    assert data["symbol"] == "SPY" and data["expiration"].startswith("2023-09-15")


def test_replay(tmp_path: Path, chain: OptionChain, capsys) -> None:
    from dataclasses import replace

    from hedgeflow.feeds.recorder import Recorder

    out = tmp_path / "session.sqlite"
    with Recorder(out) as rec:
        rec.write(chain, feed="test", fetched_at=AS_OF.timestamp())
        later = replace(chain, spot=chain.spot + 5.0, as_of=AS_OF.replace(minute=5))
        rec.write(later, feed="test", fetched_at=AS_OF.timestamp() + 300)
    data = _analyze(capsys, "--feed", "replay", "--symbol", "SPX", "--path", str(out))
    assert data["spot"] == pytest.approx(chain.spot + 5.0)  # the last recorded snapshot
    assert np.isfinite(data["hedge_flow"]["impulse_curve"]["impulse_density_at_spot"])


def test_replay_with_live_positions(tmp_path: Path, capsys) -> None:
    """A recorded sim session folded into live dealer positions, and the analysis says so."""
    from hedgeflow.feeds.recorder import Recorder
    from hedgeflow.feeds.sim import SimFeed

    sim = SimFeed(seed=5, start="2025-06-10T10:00:00-04:00", speed=0.0)
    out = tmp_path / "session.sqlite"
    with Recorder(out) as rec:
        for minutes in range(0, 60, 5):
            when = AS_OF.replace(hour=10) + timedelta(minutes=minutes)
            chain = sim.chain_at("SPY", when)
            rec.write(chain, feed="sim", fetched_at=when.timestamp())
    live = _analyze(
        capsys, "--feed", "replay", "--symbol", "SPY", "--path", str(out), "--positions", "live"
    )
    sod = _analyze(capsys, "--feed", "replay", "--symbol", "SPY", "--path", str(out))
    assert live["positions"] == "live" and sod["positions"] == "start-of-day"
    assert any("live positions from 12 snapshots" in n for n in live["notes"])
    # customer flow moved the dealers' book: the exposures differ from start of day
    assert live["exposure"]["gex"] != sod["exposure"]["gex"]
    # a single file has no flow: start-of-day is used, and the note says so
    real = Path(__file__).resolve().parent / "data" / "real" / "spy_quotedata_2023-09-14.csv"
    single = _analyze(capsys, str(real), "--positions", "live")
    assert single["positions"] == "start-of-day"
    assert any("need a recorded session" in n for n in single["notes"])


def test_record_command_writes_until_ctrl_c_and_replays(tmp_path: Path, capsys) -> None:
    """`hedgeflow record` (the real command) records every poll to SQLite until Ctrl-C, exits
    0, and `analyze --feed replay` reads the recording back."""
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    out = tmp_path / "rec.sqlite"
    cfg = _config(tmp_path, "sim", {"seed": 3, "start": "2025-06-10T11:00:00-04:00", "speed": 60.0})
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hedgeflow.cli",
            "record",
            "--config",
            cfg,
            "--feed",
            "sim",
            "--symbols",
            "SPX,QQQ",
            "--interval",
            "0.2",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        rows = 0
        while time.monotonic() < deadline and rows < 6:
            time.sleep(0.3)
            if out.exists():
                with sqlite3.connect(out) as db:
                    try:
                        rows = db.execute("select count(*) from snapshots").fetchone()[0]
                    except sqlite3.OperationalError:
                        rows = 0
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    with sqlite3.connect(out) as db:
        counts = dict(
            db.execute("select symbol, count(*) from snapshots group by symbol").fetchall()
        )
    assert set(counts) == {"SPX", "QQQ"} and min(counts.values()) >= 2
    data = _analyze(capsys, "--feed", "replay", "--symbol", "QQQ", "--path", str(out))
    assert data["symbol"] == "QQQ"


@pytest.mark.parametrize("feed", ["cboe", "tradier"])
def test_an_unreachable_feed_is_one_line(feed: str, tmp_path: Path) -> None:
    """`analyze --feed cboe` with no route to the vendor printed each retry's warning
    (Python's last-resort log handler: nothing had configured logging) before the error:
    four lines on stderr where one names the problem. The retries go to the log file."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:  # a port nobody listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    table = {"base_url": f"http://127.0.0.1:{port}"}
    cfg = _config(
        tmp_path, feed, table | ({"token_env": "HF_TEST_TOKEN"} if feed == "tradier" else {})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        HF_TEST_TOKEN="secret-token-123",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "hedgeflow.cli", "analyze", "--config", cfg]
        + ["--feed", feed, "--symbol", "SPX"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach" in lines[0], proc.stderr
    assert lines[0].startswith("hedgeflow: error:") and proc.stdout == ""
    log = tmp_path / "state" / "hedgeflow" / "hedgeflow.log"
    assert "retry 1/" in log.read_text(encoding="utf-8")  # the retries were not lost
