"""`hedgeflow doctor`: check the installation, the terminal, the clock and time zone data,
the configuration and each configured feed, and say what to fix.

Each check prints one line: `ok`, `warn` (works, but worse than it could) or `FAIL` (the
monitor will not work as configured), with the fix after an arrow; the last line counts
the problems and warnings ("all good" only when there are neither). The exit code is 1
when any check failed, else 0. Secrets are never printed: only whether the environment
variable named in the config is set. What the feeds log while they are probed (retries,
vendor answers) goes to the log file the monitor uses, whose path the report shows, never
between the report's lines.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import logging
import logging.handlers
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from hedgeflow.app.config import Settings

#: (import name, distribution name) of every runtime dependency.
DEPENDENCIES = (
    ("numpy", "numpy"),
    ("scipy", "scipy"),
    ("httpx", "httpx"),
    ("textual", "textual"),
    ("exchange_calendars", "exchange_calendars"),
    ("platformdirs", "platformdirs"),
    ("tzdata", "tzdata"),
)

#: Config keys of each feed that name environment variables holding credentials.
CREDENTIAL_KEYS = {
    "tradier": ("token_env",),
    "schwab": ("app_key_env", "app_secret_env", "refresh_token_env"),
}
PATH_FEEDS = ("file", "replay")


@dataclass(frozen=True)
class Check:
    status: str  # "ok" | "warn" | "FAIL"
    name: str
    detail: str
    fix: str = ""


def check_installation() -> list[Check]:
    out: list[Check] = []
    # The package requires >= 3.11 to install at all; show which interpreter runs it.
    out.append(Check("ok", "python", f"{sys.version.split()[0]} ({sys.executable})"))
    for module, dist in DEPENDENCIES:
        try:
            importlib.import_module(module)
            version = importlib.metadata.version(dist)
            out.append(Check("ok", module, version))
        except Exception as exc:  # a broken install shows as an import error of any kind
            out.append(
                Check(
                    "FAIL", module, f"cannot import: {exc}", "run `make run` or `pip install -e .`"
                )
            )
    try:
        version = importlib.metadata.version("hedgeflow")
        out.append(Check("ok", "hedgeflow", version))
    except importlib.metadata.PackageNotFoundError:
        out.append(Check("warn", "hedgeflow", "not installed as a package", "pip install -e ."))
    return out


def check_terminal(env: Mapping[str, str], stream: TextIO) -> list[Check]:
    out: list[Check] = []
    term = env.get("TERM", "")
    if not term or term == "dumb":
        out.append(Check("warn", "TERM", repr(term), "run in a terminal with TERM=xterm-256color"))
    else:
        out.append(Check("ok", "TERM", term))
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    size = shutil.get_terminal_size((0, 0))
    if not is_tty:
        out.append(
            Check(
                "warn", "tty", "output is not a terminal", "run `hedgeflow monitor` in a terminal"
            )
        )
    if size.columns and size.lines:
        if size.columns < 80 or size.lines < 24:
            out.append(
                Check(
                    "warn",
                    "size",
                    f"{size.columns}x{size.lines}",
                    "make the terminal at least 80x24",
                )
            )
        else:
            out.append(Check("ok", "size", f"{size.columns}x{size.lines}"))
    if "NO_COLOR" in env:
        out.append(Check("ok", "colors", "off (NO_COLOR is set)"))
    elif env.get("COLORTERM", "") in ("truecolor", "24bit"):
        out.append(Check("ok", "colors", "truecolor"))
    elif "256color" in term:
        out.append(Check("ok", "colors", "256 colors"))
    else:
        out.append(
            Check(
                "warn",
                "colors",
                "8 colors or unknown",
                "use TERM=xterm-256color or COLORTERM=truecolor",
            )
        )
    locale = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or ""
    encoding = (getattr(stream, "encoding", "") or "").lower()
    if "utf-8" in locale.lower() or "utf8" in locale.lower() or encoding.replace("-", "") == "utf8":
        out.append(Check("ok", "encoding", locale or encoding))
    else:
        out.append(
            Check(
                "warn",
                "encoding",
                locale or "unset",
                "set LANG=C.UTF-8: the plots use braille and box characters",
            )
        )
    return out


def check_clock(now: datetime | None = None) -> list[Check]:
    out: list[Check] = []
    now = now or datetime.now(UTC)
    try:
        from zoneinfo import ZoneInfo

        ny = now.astimezone(ZoneInfo("America/New_York"))
        out.append(
            Check("ok", "time zone", f"America/New_York {ny:%Y-%m-%d %H:%M %Z} (UTC {now:%H:%M})")
        )
    except Exception as exc:
        out.append(Check("FAIL", "time zone", f"America/New_York: {exc}", "pip install tzdata"))
        return out
    try:
        from hedgeflow.engine.clock import next_session_close

        close = next_session_close(now)
        out.append(Check("ok", "exchange calendar", f"next close {close:%a %Y-%m-%d %H:%M %Z}"))
    except Exception as exc:
        out.append(
            Check("FAIL", "exchange calendar", str(exc), "pip install -U exchange_calendars")
        )
    return out


def check_config(path: str | None) -> tuple[list[Check], Settings | None]:
    from hedgeflow.app.config import ConfigError, load_settings, user_config_path

    try:
        settings = load_settings(path)
    except ConfigError as exc:
        return [Check("FAIL", "config", str(exc), "fix the key named above")], None
    hint = "" if path else f" (user file: {user_config_path()})"
    mon = settings.monitor
    return [
        Check("ok", "config", f"{settings.source}{hint}"),
        Check(
            "ok",
            "monitor",
            f"feed {mon.feed}, symbols {', '.join(mon.symbols)}, every {mon.poll_interval:g}s",
        ),
    ], settings


@contextmanager
def _feed_logs_to(path: Path | None) -> Iterator[None]:
    """While the feeds are probed, every `hedgeflow` log record goes to `path` (the
    monitor's log file) and none reaches the terminal (Python's last-resort handler would
    print a feed's retry warnings before the report); None: they are dropped. The
    process's own logging setup is restored after."""
    from hedgeflow.app.runtime import LOG_BACKUPS, LOG_MAX_BYTES

    logger = logging.getLogger("hedgeflow")
    handler: logging.Handler
    if path is None:
        handler = logging.NullHandler()
    else:
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    saved = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate, logger.level = saved
        handler.close()


def check_log_file(settings: Settings) -> tuple[Check, Path | None]:
    """Where the monitor (and this report's feed probes) log: the path, or a FAIL when the
    file cannot be opened for appending."""
    from hedgeflow.app.runtime import log_file_path

    path = log_file_path(settings.monitor.log_file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        fix = "set monitor.log_file to a writable file"
        return Check("FAIL", "log file", f"cannot write {path} ({exc.strerror or exc})", fix), None
    return Check("ok", "log file", str(path)), path


def _configured_feeds(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """The selected feed, plus every other feed the user has set up (credentials present or
    a path given)."""
    selected = settings.monitor.feed
    names = [selected]
    for name, keys in CREDENTIAL_KEYS.items():
        section = settings.feed_section(name)
        if name != selected and any(env.get(str(section.get(k, ""))) for k in keys):
            names.append(name)
    for name in PATH_FEEDS:
        if name != selected and settings.feed_section(name).get("path"):
            names.append(name)
    return names


def check_feed(
    name: str, settings: Settings, env: Mapping[str, str], *, network: bool, timeout: float
) -> list[Check]:
    from hedgeflow.feeds.base import open_feed

    out: list[Check] = []
    section = settings.feed_section(name)
    missing = [
        str(section.get(k))
        for k in CREDENTIAL_KEYS.get(name, ())
        if not env.get(str(section.get(k, "")))
    ]
    if missing:
        return [
            Check(
                "FAIL",
                f"feed {name}",
                f"credentials missing: {', '.join(missing)} not set",
                f"export {missing[0]}=... (never put secrets in config.toml)",
            )
        ]
    if name in CREDENTIAL_KEYS:
        out.append(Check("ok", f"feed {name}", "credentials present in the environment"))
    if name in PATH_FEEDS and not section.get("path"):
        return [
            Check("FAIL", f"feed {name}", "no file given", f"set feeds.{name}.path or pass --path")
        ]
    try:
        feed = open_feed(name, section)
    except (ValueError, TypeError, OSError) as exc:
        return [*out, Check("FAIL", f"feed {name}", str(exc), f"fix [feeds.{name}] in the config")]
    if not network and name not in ("sim", *PATH_FEEDS):
        return [*out, Check("ok", f"feed {name}", "configured (test request skipped)")]
    # A file or recording is probed with a symbol it holds (what the monitor would watch).
    held = getattr(feed, "symbols", None)
    try:
        held = held() if callable(held) else held
    except (ValueError, OSError) as exc:
        return [*out, Check("FAIL", f"feed {name}", str(exc), f"fix feeds.{name}.path")]
    symbol = held[0] if name in PATH_FEEDS and held else settings.monitor.symbols[0]

    async def probe() -> Any:
        async with feed:
            return await asyncio.wait_for(feed.snapshot(symbol), timeout)

    try:
        chain = asyncio.run(probe())
    except TimeoutError:
        out.append(
            Check(
                "FAIL",
                f"feed {name}",
                f"no answer for {symbol} within {timeout:g} s",
                "check the network / proxy, or use --feed sim",
            )
        )
    except Exception as exc:  # FeedError and anything else: show it, never crash
        env_var = getattr(exc, "env_var", None)
        fix = f"set {env_var}" if env_var else "see the message; `--feed sim` works offline"
        out.append(Check("FAIL", f"feed {name}", f"{type(exc).__name__}: {exc}", fix))
    else:
        delay = f", delayed {chain.delay_seconds / 60:g} min" if chain.delay_seconds else ""
        out.append(
            Check(
                "ok",
                f"feed {name}",
                f"{symbol}: {len(chain)} contracts, spot {chain.spot:,.2f}{delay}",
            )
        )
    return out


def run_doctor(
    config: str | None = None,
    *,
    out: TextIO | None = None,
    env: Mapping[str, str] | None = None,
    network: bool = True,
    timeout: float = 5.0,
) -> int:
    """Run every check, print one line each, return 1 if any FAILed, else 0.

    config : the `--config` path (None: the user config file, else the defaults)
    network : make a test request to network feeds (the sim and file feeds always run)
    timeout : seconds allowed for each feed's test request
    """
    stream = out or sys.stdout
    environ = os.environ if env is None else env
    checks: list[tuple[str, list[Check]]] = [
        ("installation", check_installation()),
        ("terminal", check_terminal(environ, stream)),
        ("clock", check_clock()),
    ]
    config_checks, settings = check_config(config)
    checks.append(("configuration", config_checks))
    if settings is not None:
        log_check, log_path = check_log_file(settings)
        config_checks.append(log_check)
        feed_checks: list[Check] = []
        with _feed_logs_to(log_path):
            for name in _configured_feeds(settings, environ):
                feed_checks += check_feed(name, settings, environ, network=network, timeout=timeout)
        checks.append(("feeds", feed_checks))
    failed = warned = 0
    for title, items in checks:
        print(f"{title}:", file=stream)
        for c in items:
            line = f"  {c.status:<4} {c.name}: {c.detail}"
            if c.fix and c.status != "ok":
                line += f"  → {c.fix}"
            print(line, file=stream)
            failed += c.status == "FAIL"
            warned += c.status == "warn"
    print(verdict(failed, warned), file=stream)
    return 1 if failed else 0


def verdict(failed: int, warned: int) -> str:
    """The report's last line: "all good" only with no failure and no warning."""
    parts = []
    if failed:
        parts.append(f"{failed} problem{'s' if failed != 1 else ''} to fix")
    if warned:
        parts.append(f"{warned} warning{'s' if warned != 1 else ''}")
    return ", ".join(parts) if parts else "all good"
