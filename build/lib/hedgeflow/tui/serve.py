"""`hedgeflow serve`: the monitor in a browser, through textual-serve.

textual-serve is Textual's own web front end: a small aiohttp server whose page draws a
terminal with xterm.js. For every browser session it starts one command in a shell (with
Textual's web driver selected through the environment) and relays the page's keys and
the app's output over a websocket. So each browser tab runs its own, unchanged
`hedgeflow monitor` process: its own feed, polls and recording, the same keys.

What this module adds around it: the checks that refuse a bad address before anything is
served (one line, exit 2, like every other command), the warning when the server is
reachable beyond this machine (there is no authentication: whoever reaches the port
drives the monitor), and the monitor's command line, built from parsed values and quoted
with `shlex` so that no user text is ever read by the shell as syntax.

Stopping: on Ctrl-C or SIGTERM the server ends every session at once; textual-serve then
sends each session's monitor the web driver's "quit" (Ctrl-C in the same terminal also
reaches the monitors as SIGINT, which the web driver turns into the same quit), so each
exits as after `q`: recording closed, log line written. The server waits for them (up to
`STOP_TIMEOUT`) before it returns.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import ipaddress
import logging
import os
import shlex
import socket
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

log = logging.getLogger(__name__)

DEFAULT_PORT = 8000
#: Ports a user may ask for (0 would be "any free port": the address could not be told).
PORT_RANGE = (1, 65535)
#: Seconds the server waits, when stopped, for the sessions' monitors to quit.
STOP_TIMEOUT = 10.0


class ServeError(ValueError):
    """A one-line reason why the server cannot start."""


def _addresses(host: str, port: int) -> list[tuple[int, tuple[Any, ...]]]:
    """(family, sockaddr) for each address `host` names, as the server would bind them."""
    try:
        # The look-up asyncio's create_server makes (so the check binds what aiohttp will).
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise ServeError(f"--host {host!r}: not an address of this machine ({reason})") from None
    return list(dict.fromkeys((family, addr) for family, _, _, _, addr in infos))


def is_loopback(host: str) -> bool:
    """True when every address `host` resolves to is this machine's loopback (127.0.0.0/8,
    ::1): nobody else can reach the server. A name that does not resolve is not."""
    try:
        addresses = _addresses(host, DEFAULT_PORT)
    except ServeError:
        return False
    return bool(addresses) and all(
        ipaddress.ip_address(str(addr[0]).split("%")[0]).is_loopback for _, addr in addresses
    )


def check_address(host: str, port: int) -> None:
    """Refuse, before serving, an address the server could not listen on: a port out of
    range, a host that does not resolve or is not this machine's, a port already taken.
    Binds and closes a socket on each address, with the options aiohttp uses."""
    lo, hi = PORT_RANGE
    if not lo <= port <= hi:
        raise ServeError(f"--port {port}: not a TCP port ({lo} to {hi})")
    for family, addr in _addresses(host, port):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(addr)
            except OSError as exc:
                raise ServeError(_bind_problem(host, port, exc)) from None


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"--port {port}: already in use on {host} (another server, or an earlier serve)"
    if exc.errno == errno.EACCES:
        return f"--port {port}: not allowed for this user on {host} (ports below 1024 need root)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"--host {host!r}: not an address of this machine"
    return f"cannot listen on {host}:{port} ({exc.strerror or exc})"


def public_url(host: str, port: int) -> str:
    """The address a browser opens, and the one the page's websocket connects back to:
    the host as given, in brackets for IPv6; for a wildcard address (0.0.0.0, ::) this
    machine's name, since a browser cannot connect to a wildcard."""
    name = host
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None and ip.is_unspecified:
        name = socket.getfqdn()
    elif ip is not None and ip.version == 6:
        name = f"[{host}]"
    return f"http://{name}:{port}"


def check_url(url: str) -> str:
    """`--url`: the address browsers use, http(s)://HOST[:PORT], without a trailing slash
    (the page's links and its websocket are built on it); ServeError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServeError(f"--url {url!r}: expected http://HOST:PORT (or https://)")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ServeError(f"--url {url!r}: a path is not supported, only http://HOST:PORT")
    return f"{parts.scheme}://{parts.netloc}"


def exposure_warning(host: str, port: int) -> str | None:
    """The warning for an address other people can reach, or None on loopback."""
    if is_loopback(host):
        return None
    return (
        f"serving on {host}:{port}, beyond this machine: anyone who can reach it can "
        "drive the monitor (no authentication); the default --host 127.0.0.1 keeps it local"
    )


def _arg_text(value: object) -> str:
    """A parsed option value as the monitor's parser reads it back."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)  # round-trips exactly through float()
    return str(value)


#: The monitor's options (argparse dest, flag) that `serve` takes and hands on to each
#: browser session's monitor (tests/test_cli_serve.py checks it lists every one).
MONITOR_OPTIONS = (
    ("feed", "--feed"),
    ("symbols", "--symbols"),
    ("interval", "--interval"),
    ("path", "--path"),
    ("sim_start", "--sim-start"),
    ("sim_speed", "--sim-speed"),
    ("model", "--model"),
    ("positioning", "--positioning"),
    ("positions", "--positions"),
)
#: Options naming a file: made absolute (a session's monitor need not share our directory).
FILE_OPTIONS = ("config", "path")


def monitor_argv(args: argparse.Namespace) -> list[str]:
    """`hedgeflow monitor` with the monitor options in `args` (parsed by `hedgeflow serve`),
    for this interpreter: the same installation as the server. Each value is written back
    as the monitor's parser reads it; an option not given is left out."""
    argv = [sys.executable, "-m", "hedgeflow.cli", "monitor"]
    for dest, flag in (("config", "--config"), *MONITOR_OPTIONS):
        value = getattr(args, dest, None)
        if value is not None:
            text = _arg_text(value)
            argv += [flag, os.path.abspath(text) if dest in FILE_OPTIONS else text]
    return argv


def allowed_origins(url: str, port: int) -> frozenset[str]:
    """The page origins whose websocket may start a session: the browsers' address `url`,
    and this machine's loopback names on `port` (a page opened as localhost or 127.0.0.1).
    A browser sends its page's origin with every websocket; without this check any web
    site the user visits could open ws://127.0.0.1:PORT/ws from its own page and drive
    the monitor (cross-site websocket hijacking), defeating the localhost default."""
    parts = urlsplit(url)
    own = f"{parts.scheme}://{parts.netloc}".lower()
    local = {f"http://{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}
    return frozenset({own, *local})


class MonitorServer(Server):
    """textual-serve's server with two changes: a session starts only for a page of this
    server (`allowed_origins`), and on shutdown every browser session is ended at once
    (its monitor told to quit, and awaited), where the stock server would wait for each
    websocket to time out and leave its monitor running meanwhile."""

    def __init__(self, command: str, *, host: str, port: int, url: str) -> None:
        super().__init__(command, host=host, port=port, title="hedgeflow", public_url=url)
        self._sessions: set[asyncio.Task[Any]] = set()
        self._origins = allowed_origins(url, port)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        origin = request.headers.get("Origin")
        # No Origin: not a browser page (a local program can connect anyway).
        if origin is not None and origin.lower() not in self._origins:
            log.warning("refused a session from a page of %s", origin)
            raise web.HTTPForbidden(text=f"hedgeflow: sessions only from {self.public_url}\n")
        task = asyncio.current_task()
        assert task is not None  # a request handler always runs in a task
        self._sessions.add(task)
        try:
            return await super().handle_websocket(request)
        finally:
            self._sessions.discard(task)

    async def on_startup(self, app: web.Application) -> None:
        print(f"hedgeflow: serving the monitor on {self.public_url} (Ctrl-C stops)", flush=True)

    async def on_shutdown(self, app: web.Application) -> None:
        # A cancelled session sends its monitor the web driver's "quit" and waits for the
        # process to end (textual-serve's own clean-up): the recording is closed as after q.
        sessions = list(self._sessions)
        for task in sessions:
            task.cancel()
        if sessions:
            await asyncio.wait(sessions, timeout=STOP_TIMEOUT)


def serve(argv: Sequence[str], *, host: str, port: int, url: str | None = None) -> int:
    """Serve `argv` (one process per browser session) on host:port until Ctrl-C or SIGTERM;
    0 once stopped. The caller has run `check_address`; ServeError if the port was taken
    since."""
    server = MonitorServer(
        shlex.join(argv), host=host, port=port, url=url or public_url(host, port)
    )
    # textual-serve takes the thread's event loop: give it one (Python 3.12+ no longer
    # makes one on demand). Not closed after: the finished sessions' pipes close with it
    # at exit, and a closed loop would make them complain.
    asyncio.set_event_loop(asyncio.new_event_loop())
    try:
        server.serve()
    except OSError as exc:  # lost the port between the check and the bind
        raise ServeError(_bind_problem(host, port, exc)) from None
    return 0
