"""`hedgeflow doctor`: what it checks, what it says to fix, and that secrets stay hidden."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from hedgeflow.app.doctor import run_doctor

ENV = {"TERM": "xterm-256color", "LANG": "C.UTF-8", "COLORTERM": "truecolor"}


def _run(tmp_path: Path, config_text: str | None, env: dict[str, str], **kw) -> tuple[int, str]:
    path = None
    if config_text is not None:
        cfg = tmp_path / "config.toml"
        cfg.write_text(config_text, encoding="utf-8")
        path = str(cfg)
    out = io.StringIO()
    code = run_doctor(path, out=out, env=env, **kw)
    return code, out.getvalue()


def test_sim_defaults_are_all_good(tmp_path: Path) -> None:
    code, text = _run(tmp_path, "[feeds.sim]\nstart = '2026-11-24T10:30:00-05:00'\n", ENV)
    assert code == 0, text
    for section in ("installation:", "terminal:", "clock:", "configuration:", "feeds:"):
        assert section in text
    assert "ok   textual:" in text and "ok   exchange calendar: next close" in text
    assert "ok   feed sim: SPX:" in text
    # A StringIO is not a terminal: one warning, and the last line says so.
    assert "warn tty:" in text
    assert text.rstrip().splitlines()[-1] == "1 warning"


def test_all_good_only_without_warnings(tmp_path: Path, monkeypatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    import shutil

    monkeypatch.setattr(
        shutil, "get_terminal_size", lambda fallback=(0, 0): os.terminal_size((120, 40))
    )
    cfg = tmp_path / "config.toml"
    cfg.write_text("[feeds.sim]\nstart = '2026-11-24T10:30:00-05:00'\n", encoding="utf-8")
    out = Tty()
    assert run_doctor(str(cfg), out=out, env=ENV) == 0
    assert out.getvalue().rstrip().splitlines()[-1] == "all good", out.getvalue()


def test_the_last_line_counts_warnings_and_problems() -> None:
    from hedgeflow.app.doctor import verdict

    assert verdict(0, 0) == "all good"
    assert verdict(0, 2) == "2 warnings"
    assert verdict(1, 1) == "1 problem to fix, 1 warning"


def test_the_report_shows_the_log_file(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "hf.log"
    config = (
        f"[monitor]\nlog_file = {str(log)!r}\n[feeds.sim]\nstart = '2026-11-24T10:30:00-05:00'\n"
    )
    code, text = _run(tmp_path, config, ENV)
    assert code == 0, text
    assert f"ok   log file: {log}" in text
    assert log.exists()


def test_an_unwritable_log_file_fails(tmp_path: Path) -> None:
    config = f"[monitor]\nlog_file = {str(tmp_path)!r}\n"  # a directory
    code, text = _run(tmp_path, config, ENV)
    assert code == 1
    assert f"FAIL log file: cannot write {tmp_path}" in text


def test_feed_retries_go_to_the_log_not_before_the_report(httpserver, tmp_path: Path) -> None:
    """A failing vendor's retry warnings land in the log file; the command's output is the
    report alone (a real `hedgeflow doctor` subprocess, a real local HTTP server)."""
    httpserver.expect_request("/options/_SPX.json").respond_with_data("busy", status=503)
    log = tmp_path / "hf.log"
    cfg = tmp_path / "config.toml"
    base = httpserver.url_for("/").rstrip("/")
    cfg.write_text(
        f"[monitor]\nfeed = 'cboe'\nsymbols = ['SPX']\nlog_file = {str(log)!r}\n"
        f"[feeds.cboe]\nbase_url = {base!r}\nmax_attempts = 3\nbackoff_base = 0.01\n"
        "backoff_max = 0.02\n",
        encoding="utf-8",
    )
    env = {**os.environ, **ENV}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("hedgeflow")), "doctor", "--config", str(cfg)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "retry" not in done.stderr and "retry" not in done.stdout, done.stderr
    assert done.stdout.startswith("installation:")
    assert "FAIL feed cboe" in done.stdout
    assert "retry 1/2" in log.read_text(encoding="utf-8")


def test_bad_config_fails_naming_the_key(tmp_path: Path) -> None:
    code, text = _run(tmp_path, "[monitor]\npoll_intervall = 5\n", ENV)
    assert code == 1
    assert "FAIL config" in text and "monitor.poll_intervall" in text
    assert "1 problem to fix" in text


def test_missing_credentials_name_the_variable_and_secrets_stay_hidden(tmp_path: Path) -> None:
    config = "[monitor]\nfeed = 'tradier'\n"
    code, text = _run(tmp_path, config, ENV, network=False)
    assert code == 1
    assert "FAIL feed tradier: credentials missing: TRADIER_TOKEN not set" in text
    assert "export TRADIER_TOKEN=" in text
    code, text = _run(tmp_path, config, {**ENV, "TRADIER_TOKEN": "sekret-123"}, network=False)
    assert code == 0, text
    assert "credentials present" in text and "sekret-123" not in text


def test_terminal_problems_are_warnings_with_fixes(tmp_path: Path) -> None:
    code, text = _run(
        tmp_path,
        "[feeds.sim]\nstart = '2026-11-24T10:30:00-05:00'\n",
        {"TERM": "dumb", "LANG": "C"},
    )
    assert code == 0  # the monitor may still run: warnings, not failures
    assert "warn TERM: 'dumb'" in text and "LANG=C.UTF-8" in text


def test_a_file_feed_is_probed_with_the_symbol_it_holds(tmp_path: Path) -> None:
    spy = Path(__file__).resolve().parents[1] / "data" / "real" / "spy_quotedata_2023-09-14.csv"
    config = f"[monitor]\nfeed = 'file'\n[feeds.file]\npath = {str(spy)!r}\n"
    code, text = _run(tmp_path, config, ENV, network=False)
    assert code == 0, text
    assert "ok   feed file: SPY:" in text


def test_an_unknown_key_in_an_unused_feed_section_fails(tmp_path: Path) -> None:
    code, text = _run(tmp_path, "[feeds.schwab]\nrefresh_tokn_env = 'X'\n", ENV, network=False)
    assert code == 1
    assert "FAIL config" in text and "feeds.schwab.refresh_tokn_env" in text
