"""End to end: the real `hedgeflow monitor` console script in a tmux pane (120x40), read
with capture-pane: first analysis on screen, a symbol switch by key, q quits with exit
code 0, and the terminal is restored (alternate screen left)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

HEDGEFLOW = Path(sys.executable).with_name("hedgeflow")


#: A private tmux server (its own socket), so the test never touches a user's sessions.
SOCKET = f"hedgeflow-test-{time.monotonic_ns()}"


def _tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", "-L", SOCKET, *args], check=True, capture_output=True, text=True
    ).stdout


def _screen(session: str) -> str:
    return _tmux("capture-pane", "-p", "-t", session)


def _wait_for(session: str, predicate, what: str, limit: float = 60.0) -> str:
    deadline = time.monotonic() + limit
    text = ""
    while time.monotonic() < deadline:
        text = _screen(session)
        if predicate(text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; screen was:\n{text}")


def test_monitor_in_tmux(tmp_path: Path) -> None:
    if not HEDGEFLOW.exists():
        pytest.skip(f"console script not installed at {HEDGEFLOW}")
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[monitor]
symbols = ["SPX", "SPY"]
poll_interval = 2.0
log_file = "{tmp_path / "hedgeflow.log"}"
export_dir = "{tmp_path / "exports"}"

[feeds.sim]
seed = 7
start = "2026-11-24T10:30:00-05:00"
speed = 0.0
""",
        encoding="utf-8",
    )
    exit_file = tmp_path / "exit.txt"
    session = f"hf-e2e-{time.monotonic_ns()}"
    command = f"'{HEDGEFLOW}' --config '{config}' monitor; echo EXIT=$? > '{exit_file}'; sleep 30"
    _tmux(
        "new-session", "-d", "-s", session, "-x", "120", "-y", "40", "bash", "--norc", "--noprofile"
    )
    try:
        _tmux("send-keys", "-t", session, f"export TERM=xterm-256color; {command}", "Enter")
        first = _wait_for(
            session, lambda s: "Regime · SPX" in s and "ES per +1%" in s, "SPX analysis"
        )
        assert "Impulse H(S)" in first and "Pressure zones" in first and "Charm to" in first
        assert _tmux("display-message", "-p", "-t", session, "#{alternate_on}").strip() == "1"
        _tmux("send-keys", "-t", session, "2")
        second = _wait_for(session, lambda s: "Regime · SPY" in s, "SPY after pressing 2")
        assert "Pressure zones · SPY" in second
        _tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 20
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert exit_file.read_text().strip() == "EXIT=0"
        # The terminal is restored: alternate screen left, the app's screen is gone.
        assert _tmux("display-message", "-p", "-t", session, "#{alternate_on}").strip() == "0"
        after = _screen(session)
        assert "Regime · SPY" not in after
        log = (tmp_path / "hedgeflow.log").read_text()
        assert "monitor start" in log and "monitor exit" in log
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
