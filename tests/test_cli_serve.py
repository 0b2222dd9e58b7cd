"""`hedgeflow serve`: what it refuses before serving (one line, exit 2), the warning when it
listens beyond this machine, how it stops, and the monitor command line it hands to each
browser session (every monitor option, quoted for the shell). The page itself is tested in
a real browser: tests/tui/test_serve_browser.py."""

from __future__ import annotations

import argparse
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from hedgeflow.cli import build_parser
from hedgeflow.engine.clock import NY
from hedgeflow.tui.serve import (
    MONITOR_OPTIONS,
    allowed_origins,
    check_url,
    is_loopback,
    monitor_argv,
    public_url,
)

HEDGEFLOW = Path(sys.executable).with_name("hedgeflow")


def _subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _option_dests(parser: argparse.ArgumentParser) -> set[str]:
    return {a.dest for a in parser._actions if a.option_strings and a.dest not in ("help",)}


def test_serve_takes_and_hands_on_every_monitor_option() -> None:
    """A monitor option added later and not listed here would be silently dropped by serve."""
    monitor = _option_dests(_subparser("monitor"))
    assert monitor - {"config"} == {dest for dest, _ in MONITOR_OPTIONS}
    assert monitor <= _option_dests(_subparser("serve"))


def test_the_sessions_command_line_reads_back_as_given(tmp_path: Path) -> None:
    """Parsed values are written back so that the monitor's parser reads the same values,
    and the quoting survives the shell: a path with spaces, quotes and `$(...)`."""
    odd = tmp_path / "a b 'c' $(touch x); rm -rf y"
    argv = [
        "--config",
        str(odd / "config.toml"),
        "serve",
        "--feed",
        "file",
        "--path",
        str(odd / "chain.csv"),
        "--symbols",
        "SPX,SPY",
        "--interval",
        "0.3",
        "--sim-start",
        "2025-06-10",
        "--sim-speed",
        "60",
        "--model",
        "floe",
        "--positioning",
        "short-all",
        "--positions",
        "live",
        "--host",
        "127.0.0.1",
        "--port",
        "8123",
    ]
    served = build_parser().parse_args(argv)
    child = monitor_argv(served)
    assert child[:4] == [sys.executable, "-m", "hedgeflow.cli", "monitor"]
    assert shlex.split(shlex.join(child)) == child
    assert "--host" not in child and "--port" not in child
    monitor = build_parser().parse_args(child[3:])
    assert monitor.command == "monitor"
    for dest in ("config", *(d for d, _ in MONITOR_OPTIONS)):
        assert getattr(monitor, dest) == getattr(served, dest), dest
    assert monitor.sim_start == datetime(2025, 6, 10, 10, 30, tzinfo=NY)
    # Relative files are made absolute: a session's monitor may run elsewhere.
    relative = build_parser().parse_args(["serve", "--config", "c.toml", "--path", "r.sqlite"])
    child = monitor_argv(relative)
    assert child[child.index("--config") + 1] == str(Path.cwd() / "c.toml")
    assert child[child.index("--path") + 1] == str(Path.cwd() / "r.sqlite")
    # Options not given are left to the monitor's own defaults.
    assert monitor_argv(build_parser().parse_args(["serve"]))[4:] == []


def test_the_browsers_address_given() -> None:
    assert check_url("http://desk.example:9000/") == "http://desk.example:9000"
    assert check_url("https://[::1]:8443") == "https://[::1]:8443"
    assert allowed_origins("http://Desk.example:9000", 8000) == {
        "http://desk.example:9000",
        "http://127.0.0.1:8000",
        "http://localhost:8000",
        "http://[::1]:8000",
    }


def test_loopback_and_the_browsers_address() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    assert public_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert public_url("::1", 8001) == "http://[::1]:8001"
    assert public_url("0.0.0.0", 8002) == f"http://{socket.getfqdn()}:8002"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[monitor]
symbols = ["SPX", "SPY"]
log_file = "{tmp_path / "hedgeflow.log"}"

[feeds.sim]
seed = 7
start = "2026-11-24T10:30:00-05:00"
speed = 0.0
""",
        encoding="utf-8",
    )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HEDGEFLOW), "--config", str(config), "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 2, one line on stderr naming the problem, nothing served."""
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hedgeflow: error: "), lines
    assert all(w in lines[0] for w in words), lines
    assert "Traceback" not in result.stderr and "serving" not in result.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "0"], ["--port", "1 to 65535"]),
        (["--port", "70000"], ["--port", "1 to 65535"]),
        (["--port", "http"], ["--port", "not a port number"]),
        (["--host", "no-such-host.invalid"], ["--host", "no-such-host.invalid"]),
        # A documentation address (RFC 5737): resolves, but is no address of this machine.
        (["--host", "192.0.2.1"], ["--host", "192.0.2.1", "not an address of this machine"]),
        (["--symbols", ","], ["--symbols"]),
        (["--feed", "file"], ["file"]),
        (["--url", "ftp://desk:8000"], ["--url", "http://HOST:PORT"]),
        (["--url", "http://desk:8000/hedgeflow"], ["--url", "a path is not supported"]),
    ],
    ids=[
        "port-0",
        "port-70000",
        "port-word",
        "host-unknown",
        "host-elsewhere",
        "symbols",
        "feed",
        "url-scheme",
        "url-path",
    ],
)
def test_bad_input_is_one_line_before_serving(
    config: Path, args: list[str], words: list[str]
) -> None:
    port = [] if "--port" in args else ["--port", str(_free_port())]
    _assert_refused(_serve(config, *args, *port), *words)


def test_the_address_from_the_config(config: Path, tmp_path: Path) -> None:
    """`[serve]` sets the default address; a bad value is refused in one line naming it."""
    port = _free_port()
    with config.open("a", encoding="utf-8") as f:
        f.write(f'\n[serve]\nhost = "0.0.0.0"\nport = {port}\n')
    server = _start(config, tmp_path, port)  # no --host, no --port
    try:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0
    assert f"serving on 0.0.0.0:{port}" in (tmp_path / "stderr.txt").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text("[serve]\nport = 70000\n", encoding="utf-8")
    _assert_refused(_serve(bad), "serve.port", "70000")


def test_a_port_in_use_is_one_line(config: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _assert_refused(_serve(config, "--port", str(port)), f"--port {port}", "already in use")


def _start(config: Path, tmp_path: Path, port: int, *args: str) -> subprocess.Popen[str]:
    """`serve ARGS` (which make it listen on `port`), once it answers on 127.0.0.1."""
    server = subprocess.Popen(
        [str(HEDGEFLOW), "--config", str(config), "serve", *args],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.txt").open("w"),
        text=True,
    )
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, (tmp_path / "stderr.txt").read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                assert b"xterm" in page.read()
                return server
        except OSError:
            assert time.monotonic() < deadline, "no answer in 60 s"
            time.sleep(0.1)


@pytest.mark.parametrize(
    ("host", "warned", "sig"),
    [("127.0.0.1", False, signal.SIGINT), ("0.0.0.0", True, signal.SIGTERM)],
    ids=["localhost-ctrl-c", "everywhere-sigterm"],
)
def test_warned_when_reachable_from_elsewhere_and_stops_on_a_signal(
    config: Path, tmp_path: Path, host: str, warned: bool, sig: signal.Signals
) -> None:
    port = _free_port()
    server = _start(config, tmp_path, port, "--host", host, "--port", str(port))
    try:
        server.send_signal(sig)
        out, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0
    err = (tmp_path / "stderr.txt").read_text().splitlines()
    if warned:
        assert err == [
            f"hedgeflow: warning: serving on 0.0.0.0:{port}, beyond this machine: anyone who "
            "can reach it can drive the monitor (no authentication); the default --host "
            "127.0.0.1 keeps it local"
        ]
    else:
        assert err == []
    shown = public_url(host, port)
    assert f"hedgeflow: serving the monitor on {shown} (Ctrl-C stops)" in out


async def test_sessions_start_only_from_the_servers_own_pages(config: Path, tmp_path: Path) -> None:
    """A page of another site must not drive the monitor through the user's browser (a
    websocket is not bound by the same-origin policy): its handshake is refused (403) and
    no monitor starts; the server's own page (and localhost) gets a session."""
    import aiohttp

    port = _free_port()
    server = _start(config, tmp_path, port, "--port", str(port))
    ws_url = f"http://127.0.0.1:{port}/ws?width=120&height=40"
    try:
        async with aiohttp.ClientSession() as http:
            for origin in ("http://evil.example", f"http://127.0.0.1:{port + 1}"):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await http.ws_connect(ws_url, origin=origin)
                assert refused.value.status == 403, origin
            async with http.ws_connect(ws_url, origin=f"http://localhost:{port}") as ws:
                first = await ws.receive(timeout=60)  # the monitor's first screen bytes
                assert first.type == aiohttp.WSMsgType.BINARY and len(first.data) > 0
        log = (tmp_path / "hedgeflow.log").read_text(encoding="utf-8")
        assert log.count("refused a session from a page of") == 2
        assert log.count("monitor start") == 1
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert server.returncode == 0
