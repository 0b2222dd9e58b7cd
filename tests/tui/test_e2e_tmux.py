"""End to end: the real `hedgeflow monitor` console script in a tmux pane (120x40), read
with capture-pane: first analysis on screen, a symbol switch by key, q quits with exit
code 0, and the terminal is restored (alternate screen left); SIGTERM and SIGHUP do the
same and leave a complete recording."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

HEDGEFLOW = Path(sys.executable).with_name("hedgeflow")


#: A private tmux server (its own socket), so the test never touches a user's sessions.
#: One per test: a server killed at the end of one test may still be exiting when the next
#: starts, and a new session on its socket then fails ("server exited unexpectedly").
SOCKET = ""


@pytest.fixture(autouse=True)
def _private_tmux_server() -> Iterator[None]:
    global SOCKET
    SOCKET = f"hedgeflow-test-{os.getpid()}-{time.monotonic_ns()}"
    try:
        yield
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)


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
        # Both panes: a capture can fall between two panes' repaints.
        second = _wait_for(
            session,
            lambda s: "Regime · SPY" in s and "Pressure zones · SPY" in s,
            "SPY after pressing 2",
        )
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


def _child_pid(session: str) -> int:
    """The monitor's pid: the one child of the pane's shell (this test started both)."""
    shell = _tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", shell], capture_output=True, text=True
        ).stdout.split()
        if len(out) == 1:
            return int(out[0])
        time.sleep(0.1)
    raise AssertionError(f"no single child of the pane shell {shell}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_signal_restores_the_terminal_and_closes_the_recording(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """The real monitor recording in tmux gets SIGTERM or SIGHUP: it exits promptly (code
    0, as after q), the pane leaves the alternate screen with mouse tracking off and echo
    on, and the recording passes integrity_check and holds the last snapshot written."""
    if not HEDGEFLOW.exists():
        pytest.skip(f"console script not installed at {HEDGEFLOW}")
    exports = tmp_path / "exports"
    log_file = tmp_path / "hedgeflow.log"
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[monitor]
symbols = ["SPX", "SPY"]
poll_interval = 0.3
log_file = "{log_file}"
export_dir = "{exports}"

[feeds.sim]
seed = 7
start = "2026-11-24T10:30:00-05:00"
speed = 60.0
""",
        encoding="utf-8",
    )
    exit_file = tmp_path / "exit.txt"
    stty_file = tmp_path / "stty.txt"
    session = f"hf-sig-{time.monotonic_ns()}"
    command = (
        f"'{HEDGEFLOW}' --config '{config}' monitor; echo EXIT=$? > '{exit_file}'; "
        f"stty -a > '{stty_file}'; sleep 30"
    )
    _tmux(
        "new-session", "-d", "-s", session, "-x", "120", "-y", "40", "bash", "--norc", "--noprofile"
    )
    try:
        _tmux("send-keys", "-t", session, f"export TERM=xterm-256color; {command}", "Enter")
        _wait_for(session, lambda s: "Regime · SPX" in s, "SPX analysis")
        _tmux("send-keys", "-t", session, "r")
        _wait_for(session, lambda s: "REC ●" in s, "the recording indicator")
        time.sleep(1.5)  # a few polls of both symbols recorded
        assert _tmux("display-message", "-p", "-t", session, "#{alternate_on}").strip() == "1"
        pid = _child_pid(session)
        sent = time.monotonic()
        os.kill(pid, sig)
        while not exit_file.exists() and time.monotonic() < sent + 20:
            time.sleep(0.1)
        assert exit_file.exists(), f"no exit 20 s after {sig.name}"
        assert exit_file.read_text().strip() == "EXIT=0"
        flags = "#{alternate_on} #{mouse_any_flag} #{mouse_button_flag} #{mouse_sgr_flag}"
        assert _tmux("display-message", "-p", "-t", session, flags).split() == ["0"] * 4
        assert "Regime · SPX" not in _screen(session)
        deadline = time.monotonic() + 10
        # the shell creates the file before stty has written to it: wait for its words
        while not (stty_file.exists() and stty_file.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.1)
        words = stty_file.read_text().replace(";", " ").split()
        assert "echo" in words and "icanon" in words, words
        log = log_file.read_text()
        assert f"{sig.name} received: quitting" in log and "monitor exit: 0" in log
        closed = re.search(r"recording closed: (\S+), (\d+) snapshots, last (\w+) as of (\S+)", log)
        assert closed, log
        path, count, symbol, as_of = closed.groups()
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            rows = db.execute("select count(*) from snapshots").fetchone()[0]
            last = db.execute(
                "select symbol, as_of from snapshots order by id desc limit 1"
            ).fetchone()
        assert rows == int(count) >= 4
        assert last[0] == symbol
        assert last[1] == datetime.fromisoformat(as_of).timestamp()
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
