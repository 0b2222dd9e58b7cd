"""End to end in a real browser: the real `hedgeflow serve` command on a free port with the
simulated market (fixed seed, frozen clock), opened by headless Chromium (the Debian
package, driven by Playwright over the DevTools protocol; no browser is downloaded). The
page's terminal shows the SPX analysis, the same numbers as `hedgeflow analyze` on the same
snapshot; the key 2 switches to SPY; SIGTERM stops the server with exit code 0 and the
session's monitor quits cleanly.

The terminal in the page is xterm.js drawing on a canvas, so its text is not in the DOM.
textual-serve's page keeps the xterm.js `Terminal` in a local object; an init script
catches that object when the page assigns its `fitAddon` (the page's own property), and
the test reads the screen's lines from xterm.js's public buffer API: exactly the
characters the terminal draws.

Chromium comes from `apt-get install chromium` (`.ci/chromium`, run by `make test` and
CI); the test is skipped, saying so, only where there is none.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HEDGEFLOW = Path(sys.executable).with_name("hedgeflow")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Without these, headless Chromium on a machine with no network stalls on its background
#: services (updates, sync, QUIC probes) or on the missing GPU.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"no Chromium at {CHROMIUM}: `apt-get install chromium` (or `bash .ci/chromium`) "
        "runs the browser test",
    ),
]

#: Catches textual-serve's terminal object (see the module docstring).
CATCH_TERMINAL = """
(() => {
  window.__hedgeflowTerminals = [];
  Object.defineProperty(Object.prototype, "fitAddon", {
    configurable: true,
    set(value) {
      Object.defineProperty(this, "fitAddon", {
        value, writable: true, configurable: true, enumerable: true,
      });
      if (this.terminal && this.terminal.buffer) window.__hedgeflowTerminals.push(this.terminal);
    },
  });
})();
"""

#: The terminal's screen as text, one line per row; null before the terminal exists.
SCREEN_TEXT = """() => {
  const term = window.__hedgeflowTerminals[0];
  if (!term) return null;
  const buffer = term.buffer.active;
  const lines = [];
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    lines.push(line ? line.translateToString(true) : "");
  }
  return lines.join("\\n");
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _analysis(config: Path, symbol: str) -> tuple[float, str]:
    """(spot, impulse regime) from the headless `analyze` of the same simulated snapshot."""
    out = subprocess.run(
        [str(HEDGEFLOW), "--config", str(config), "analyze", "--feed", "sim", "--symbol", symbol],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    spot = re.search(rf"^{symbol}\s+spot ([\d,.]+)", out, re.M)
    regime = re.search(r"^impulse .*\[(\w+),", out, re.M)
    assert spot and regime, out
    return float(spot.group(1).replace(",", "")), regime.group(1)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path, Path]]:
    """(url, server process, config, log file): `hedgeflow serve` on a free port. The
    config's folder has a space, quotes and `$(...)` in its name: the per-session monitor
    starts only if its command line is quoted right."""
    folder = tmp_path / "cfg dir 'q' $(touch pwned)"
    folder.mkdir()
    log_file = tmp_path / "hedgeflow.log"
    config = folder / "config.toml"
    config.write_text(
        f"""
[monitor]
symbols = ["SPX", "SPY"]
poll_interval = 2.0
log_file = "{log_file}"
export_dir = "{tmp_path / "exports"}"

[feeds.sim]
seed = 7
start = "2026-11-24T10:30:00-05:00"
speed = 0.0
""",
        encoding="utf-8",
    )
    port = _free_port()
    out = (tmp_path / "serve.out").open("wb")
    err = (tmp_path / "serve.err").open("wb")
    server = subprocess.Popen(
        [str(HEDGEFLOW), "--config", str(config), "serve", "--port", str(port)],
        stdout=out,
        stderr=err,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "serve.err").read_text()
            try:
                with urllib.request.urlopen(url, timeout=5) as page:
                    assert page.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer in 60 s"
                time.sleep(0.2)
        yield url, server, config, log_file
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        out.close()
        err.close()
    assert not (tmp_path / "pwned").exists() and not (folder / "pwned").exists()


def _wait_for(read: Callable[[], str | None], predicate: Callable[[str], bool], what: str) -> str:
    deadline = time.monotonic() + 90
    text = ""
    while time.monotonic() < deadline:
        text = read() or ""
        if predicate(text):
            return text
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; the page's terminal showed:\n{text}")


def _recorded(folder: Path) -> int:
    """Snapshots in the recording the `r` key writes to `folder`; 0 before there is one."""
    for path in folder.glob("*.sqlite"):
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                return int(db.execute("select count(*) from snapshots").fetchone()[0])
        except sqlite3.Error:
            return 0
    return 0


def _shown(text: str, symbol: str) -> tuple[float, str]:
    """(spot, regime word) from the Regime pane's title and first row."""
    spot = re.search(rf"Regime · {symbol} ([\d,.]+)", text)
    regime = re.search(r"│ regime\s+(\w+)", text)
    assert spot and regime, text
    return float(spot.group(1).replace(",", "")), regime.group(1)


def test_the_monitor_in_a_browser(
    served: tuple[str, subprocess.Popen[bytes], Path, Path], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url, server, config, log_file = served
    spx_spot, spx_regime = _analysis(config, "SPX")
    spy_spot, spy_regime = _analysis(config, "SPY")
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            page = browser.new_page()
            page.add_init_script(CATCH_TERMINAL)
            page.goto(url)

            def screen() -> str | None:
                return page.evaluate(SCREEN_TEXT)

            first = _wait_for(
                screen,
                lambda s: "Regime · SPX" in s and "│ regime" in s and "Pressure zones · SPX" in s,
                "the SPX analysis",
            )
            page.screenshot(path=str(tmp_path / "spx.png"))
            spot, regime = _shown(first, "SPX")
            assert abs(spot - spx_spot) <= 0.05 + 1e-9, (spot, spx_spot)
            assert regime == spx_regime
            assert "SIMULATED" in first and "sim clock frozen" in first

            page.focus(".xterm-helper-textarea")  # the terminal's keyboard input
            page.keyboard.press("2")
            second = _wait_for(
                screen,
                lambda s: "Regime · SPY" in s and "Pressure zones · SPY" in s,
                "SPY after pressing 2",
            )
            spot, regime = _shown(second, "SPY")
            assert abs(spot - spy_spot) <= 0.005 + 1e-9, (spot, spy_spot)
            assert regime == spy_regime
            assert "Regime · SPX" not in second

            # Recording, then the server is stopped with the page open: the session's
            # monitor quits as after q (the recording closed complete) and the page says
            # the session ended.
            page.keyboard.press("r")
            _wait_for(screen, lambda s: "REC ●" in s, "the recording indicator")
            _wait_for(
                lambda: str(_recorded(tmp_path / "exports")),
                lambda n: int(n) >= 1,
                "a snapshot in the recording",
            )
            server.send_signal(signal.SIGTERM)
            assert server.wait(30) == 0
            page.wait_for_selector("body.-closed", timeout=10_000)
        finally:
            browser.close()
    log = log_file.read_text(encoding="utf-8")
    assert "monitor start: feed=sim symbols=['SPX', 'SPY']" in log
    assert "SIGTERM" not in log  # the server's quit, not a signal, ended the monitor
    assert "monitor exit: 0" in log
    closed = re.search(r"recording closed: (\S+), (\d+) snapshots", log)
    assert closed, log
    with sqlite3.connect(closed.group(1)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute("select count(*) from snapshots").fetchone()[0]
    assert rows == int(closed.group(2)) >= 1
