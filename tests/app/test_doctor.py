"""`hedgeflow doctor`: what it checks, what it says to fix, and that secrets stay hidden."""

from __future__ import annotations

import io
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
    assert text.rstrip().endswith("all good")


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
