"""The `hedgeflow` command line: monitor (default), analyze, record, replay, serve, doctor.

The outermost layer: it reads files and the clock, builds feeds from the
configuration and hands explicit values to the engine and the app. Every
expected failure (bad config, unreadable file, unknown expiry, feed error)
ends in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from hedgeflow.engine.enums import EngineModel, PositioningModel, PositionSource
from hedgeflow.feeds.base import FEED_NAMES

if TYPE_CHECKING:
    from hedgeflow.app.config import Settings

EXIT_USAGE = 2
#: Commands that run for hours: they get the process-wide allocator tuning (see `main`).
LONG_RUNNING = ("monitor", "replay", "record")


class CliError(Exception):
    """A one-line, user-facing failure."""


# ------------------------------------------------------------------ parsing helpers


def _parse_time(text: str) -> datetime:
    """ISO-8601 time; without an offset it is New York time."""
    from hedgeflow.engine.clock import NY

    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"--as-of: not an ISO-8601 time: {text!r} (e.g. 2023-09-14T15:30-04:00)"
        ) from None
    return t.replace(tzinfo=NY) if t.tzinfo is None else t


def _parse_expiry(text: str | None) -> Any:
    if text is None or text in ("next", "0dte", "all"):
        return text
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"--expiry: expected YYYY-MM-DD, 0dte, next or all, got {text!r}") from None


def _interval(text: str) -> float:
    """`--interval`: seconds between polls, within the range the configuration allows."""
    from hedgeflow.app.config import MAX_INTERVAL, MIN_INTERVAL

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not MIN_INTERVAL <= value <= MAX_INTERVAL:  # also refuses nan
        raise argparse.ArgumentTypeError(
            f"must be between {MIN_INTERVAL:g} and {MAX_INTERVAL:g} seconds, got {text}"
        )
    return value


def _sim_start(text: str) -> datetime:
    """`--sim-start`: a date/time in New York (`2025-06-10T11:00`, `2025-06-10 11:00`, or a
    date alone for 10:30 that day); an explicit offset is honoured. Refused outside the
    exchange calendar, where the simulated market has no sessions."""
    from hedgeflow.engine.clock import CALENDAR_END, CALENDAR_START, NY

    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date/time in New York: {text!r} (e.g. 2025-06-10T11:00)"
        ) from None
    if len(text.strip()) == 10:  # a date alone: mid-morning of that day
        when = when.replace(hour=10, minute=30)
    when = when.replace(tzinfo=NY) if when.tzinfo is None else when
    if not CALENDAR_START <= when.astimezone(NY).date() <= CALENDAR_END:
        raise argparse.ArgumentTypeError(
            f"{text!r} is outside the exchange calendar {CALENDAR_START}..{CALENDAR_END}"
        )
    return when


def _sim_speed(text: str) -> float:
    """`--sim-speed`: simulated seconds per wall second, a positive finite factor."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (e.g. 60)") from None
    if not 0 < value < float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a positive factor, got {text}")
    return value


def _warn(message: str) -> None:
    """One warning line on stderr: the command goes on."""
    print(f"hedgeflow: warning: {message}", file=sys.stderr)


def _sim_overrides(args: argparse.Namespace, feed_name: str) -> dict[str, Any]:
    """`--sim-start` / `--sim-speed` as `[feeds.sim]` overrides; for another feed they do
    not apply: a warning names them, and they are ignored."""
    given = {
        key: value
        for key, value in (
            ("start", getattr(args, "sim_start", None)),
            ("speed", getattr(args, "sim_speed", None)),
        )
        if value is not None
    }
    if given and feed_name != "sim":
        flags = " and ".join(f"--sim-{k}" for k in given)
        _warn(f"{flags}: the feed is {feed_name}, not sim: ignored")
        return {}
    return given


def _settings(path: str | None) -> Settings:
    from hedgeflow.app.config import load_settings

    return load_settings(path)


def _engine_config(settings: Settings, symbol: str, args: argparse.Namespace) -> Any:
    config = settings.engine_config(symbol)
    if getattr(args, "model", None):
        config = replace(config, model=EngineModel(args.model))
    if getattr(args, "positioning", None):
        config = replace(config, positioning=PositioningModel(args.positioning))
    if getattr(args, "positions", None):
        config = replace(config, positions=PositionSource(args.positions))
    return config


def _build_feed(settings: Settings, name: str, overrides: dict[str, Any] | None = None) -> Any:
    from hedgeflow.feeds.base import open_feed

    section = settings.feed_section(name)
    section.update(overrides or {})
    try:
        return open_feed(name, section)
    except (ValueError, TypeError, OSError) as exc:
        raise CliError(f"feed {name!r}: {exc}") from None


# ------------------------------------------------------------------ analyze


def _load_chain(args: argparse.Namespace, settings: Settings) -> tuple[Any, Any]:
    """The snapshot to analyze and, for a recording, the session folded over every recorded
    snapshot of the symbol (its live flow); None where there is only one snapshot."""
    if args.file:
        from hedgeflow.feeds.files import ChainFileError, read_chain_file

        try:
            return read_chain_file(args.file, symbol=args.symbol), None
        except ChainFileError as exc:
            raise CliError(str(exc)) from None
        except OSError as exc:
            raise CliError(f"{args.file}: cannot read ({exc.strerror or exc})") from None
    if not args.feed:
        raise CliError("give a FILE or --feed NAME --symbol SYMBOL")
    if not args.symbol:
        raise CliError("--feed needs --symbol")
    symbol = args.symbol.upper()
    if args.feed == "replay":
        import sqlite3

        from hedgeflow.app.session import SymbolSession
        from hedgeflow.feeds.replay import iter_snapshots

        path = args.path or settings.feed_section("replay").get("path")
        if not path:
            raise CliError("--feed replay needs --path FILE (or feeds.replay.path in the config)")
        if isinstance(path, list | tuple):  # a tape of several recordings, for `replay`
            raise CliError(
                f"analyze --feed replay reads one recording: give --path FILE "
                f"(feeds.replay.path lists {len(path)} files)"
            )
        if not Path(path).is_file():
            raise CliError(f"{path}: no such recording")
        # The feed checks the recording (and lists its symbols) before it is read here.
        recording = _build_feed(settings, "replay", {"path": path})
        _watch_symbols(recording, "replay", [symbol], settings, "--symbol")
        try:
            session = SymbolSession.from_snapshots(symbol, iter_snapshots(path, symbol))
        except (sqlite3.Error, ValueError, OSError) as exc:
            raise CliError(f"{path}: not a readable recording ({exc})") from None
        if session.current is None:
            raise CliError(f"{path}: no recorded snapshot of {symbol}")
        return session.current, session
    overrides = {"path": args.path} if args.path else {}
    feed = _build_feed(settings, args.feed, overrides | _sim_overrides(args, args.feed))
    symbol = _watch_symbols(feed, args.feed, [symbol], settings, "--symbol")[0]

    async def fetch() -> Any:
        async with feed:
            return await feed.snapshot(symbol)

    from hedgeflow.feeds.errors import FeedError

    try:
        return asyncio.run(fetch()), None
    except FeedError as exc:
        raise CliError(str(exc)) from None


#: `analyze` options that choose or tune a feed: with a FILE they do not apply.
FEED_ONLY_OPTIONS = (
    ("feed", "--feed"),
    ("path", "--path"),
    ("sim_start", "--sim-start"),
    ("sim_speed", "--sim-speed"),
)


def _warn_inapplicable(args: argparse.Namespace) -> None:
    """One warning line for options `analyze` was given that its input ignores (the
    command still runs): feed options beside a FILE, `--path` for a feed that reads no
    file. The sim's own options on another feed are `_sim_overrides`' warning."""
    if args.file:
        given = [flag for dest, flag in FEED_ONLY_OPTIONS if getattr(args, dest, None) is not None]
        if given:
            _warn(f"{', '.join(given)}: not used with a FILE ({args.file} is analyzed): ignored")
    elif args.feed and args.path and args.feed not in DATA_FEEDS:
        _warn(f"--path: the {args.feed} feed reads no file: ignored")
        args.path = None


def cmd_analyze(args: argparse.Namespace) -> int:
    from hedgeflow.app.jsondoc import analysis_document
    from hedgeflow.app.summary import summary_text
    from hedgeflow.engine.pipeline import AnalysisError, analyze_chain

    settings = _settings(args.config)
    _warn_inapplicable(args)
    chain, session = _load_chain(args, settings)
    if args.as_of:
        chain = replace(chain, as_of=_parse_time(args.as_of))
    config = _engine_config(settings, chain.symbol or "SPX", args)
    expiry = _parse_expiry(args.expiry)
    positions = None
    position_note = ""
    if config.positions is PositionSource.LIVE:
        if session is not None and session.flow is not None and not args.as_of:
            positions = session.positions(config)
            position_note = (
                f"live positions from {session.flow.snapshots} snapshots: customer side "
                f"assumed from quotes, {session.flow.unsigned_share:.0%} of volume unsigned"
            )
        else:
            position_note = (
                "live positions need a recorded session (--feed replay): "
                "start-of-day positions used"
            )
    scope = _analyze_scope(args, settings, expiry, config)
    try:
        if scope is not None:
            from hedgeflow.engine.scope import analyze_scope

            results = [analyze_scope(chain, config=config, scope=scope, positions=positions)]
        elif expiry == "all":  # the floe model: one analysis per expiry, as the original
            from hedgeflow.engine.pipeline import live_expiries

            results = []
            for epoch in live_expiries(chain):
                try:
                    results.append(
                        analyze_chain(
                            chain, config=config, expiry=float(epoch), positions=positions
                        )
                    )
                except AnalysisError as exc:
                    print(
                        f"skipped {datetime.fromtimestamp(float(epoch), UTC):%Y-%m-%d}: {exc}",
                        file=sys.stderr,
                    )
            if not results:
                raise CliError("no expiry of the chain could be analyzed")
        else:
            from hedgeflow.engine.scope import analyze_scope

            results = [analyze_scope(chain, config=config, expiry=expiry, positions=positions)]
    except AnalysisError as exc:
        source = args.file or f"{args.feed} {chain.symbol}"
        raise CliError(f"{source}: {exc}") from None
    if session is not None and expiry != "all" and scope is None and not args.as_of:
        results = [_regime_over_recording(args, settings, results[0], config)]
    if position_note:
        results = [replace(r, notes=(*r.notes, position_note)) for r in results]
    if args.json:
        payload = [analysis_document(r) for r in results]
        json.dump(payload if len(payload) > 1 else payload[0], sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print("\n\n".join(summary_text(r) for r in results))
    return 0


def _analyze_scope(args: argparse.Namespace, settings: Settings, expiry: Any, config: Any) -> Any:
    """The expiry scope `analyze` sums (`--scope`, or `--expiry all`), None for one expiry
    (and for `--expiry all` with the floe model, which analyzes each expiry apart)."""
    from hedgeflow.engine.expiry_scope import ScopeKind, parse_scope

    text = getattr(args, "scope", None)
    if text is None and expiry != "all":
        return None
    if text is not None and expiry is not None and expiry != "all":
        raise CliError("--scope sums expiries and --expiry chooses one: give one of them")
    try:
        scope = parse_scope(text or "all", settings.monitor.scope_days)
    except ValueError as exc:
        raise CliError(f"--scope: {exc}") from None
    if config.model is not EngineModel.PHYSICAL:
        if text is None:
            return None  # `--expiry all` with floe: every expiry apart
        if scope.kind is not ScopeKind.NEAREST:
            raise CliError(f"--scope {text}: summing expiries needs --model physical")
    return scope


def _regime_over_recording(
    args: argparse.Namespace, settings: Settings, latest: Any, config: Any
) -> Any:
    """`latest` (the recording's last snapshot analyzed) with the impulse regime the
    monitor would have shown after the recorded snapshots before it (hysteresis and the
    two-analysis confirmation, docs/METHOD.md "Regimes that do not flap"), and a note."""
    from hedgeflow.app.regime import earlier_analyses, regime_over_session
    from hedgeflow.feeds.replay import iter_snapshots

    path = str(args.path or settings.feed_section("replay").get("path"))  # checked on load
    symbol = args.symbol.upper()
    older = earlier_analyses(
        symbol, iter_snapshots(path, symbol), config, latest.expiration.timestamp()
    )
    held, n = regime_over_session(older, latest)
    note = f"impulse regime held over {n} recorded analys{'is' if n == 1 else 'es'}"
    return replace(held, notes=(*held.notes, note))


# ------------------------------------------------------------------ monitor, replay, record

#: Feeds whose symbols are their data (the files, the recording): watched by default.
#: Other feeds serve what the configuration's `monitor.symbols` asks for.
DATA_FEEDS = ("file", "replay")


def _symbol_list(text: str | None) -> list[str]:
    """`--symbols`: upper case, in order, each once; [] when not given. `@FILE` reads a
    plain text file of tickers (`hedgeflow.app.watchlist.read_ticker_file`)."""
    if text is None:
        return []
    if text.startswith("@"):
        from hedgeflow.app.watchlist import TickerFileError, read_ticker_file

        try:
            return read_ticker_file(Path(text[1:]).expanduser())
        except TickerFileError as exc:
            raise CliError(f"--symbols: {exc}") from None
    symbols = list(dict.fromkeys(s.strip().upper() for s in text.split(",") if s.strip()))
    if not symbols:
        raise CliError(f"--symbols: no symbol in {text!r} (e.g. SPX,SPY)")
    return symbols


def _served_symbols(feed: Any) -> tuple[str, ...] | None:
    """The symbols `feed` can serve (`feed.symbols`: the files, the recording, a sim restricted
    by `feeds.sim.symbols`), or None for a feed that takes any ticker (the vendors, the sim)."""
    held = getattr(feed, "symbols", None)
    if callable(held):  # a feed that lists them on request (reads its files)
        try:
            held = held()
        except (ValueError, OSError) as exc:
            raise CliError(str(exc)) from None
    return None if held is None else tuple(str(s).upper() for s in held)


def _watch_symbols(
    feed: Any, feed_name: str, requested: list[str], settings: Settings, option: str = "--symbols"
) -> list[str]:
    """The symbols to poll: `requested` (the command line's `option`) if any, else the feed's
    own for a data feed, else `monitor.symbols`; each one the feed can serve, or a one-line
    error naming it."""
    served = _served_symbols(feed)
    if served == ():
        raise CliError(f"feed {feed_name!r}: holds no symbol")
    if requested:
        symbols, where = requested, option
    elif served is not None and feed_name in DATA_FEEDS:
        return list(served)
    else:
        symbols, where = list(settings.monitor.symbols), "monitor.symbols"
    from hedgeflow.feeds.tickers import parse_ticker, refusal

    for s in symbols:
        why = refusal(s, served, feed_name)
        if why:
            raise CliError(f"{where}: {why}")
    # A feed that takes any ticker gets it in its one spelling (`$spx` -> SPX).
    return symbols if served is not None else [parse_ticker(s) or s for s in symbols]


def _poll_interval(args: argparse.Namespace, settings: Settings) -> float:
    interval = getattr(args, "interval", None)
    return float(interval) if interval is not None else settings.monitor.poll_interval


def _start_logging(settings: Settings) -> None:
    """The log file, opened before the screen so that a bad `log_file` is a one-line error."""
    from hedgeflow.app.runtime import configure_logging, log_file_path

    path = log_file_path(settings.monitor.log_file)
    try:
        configure_logging(path)
    except OSError as exc:
        raise CliError(
            f"monitor.log_file: cannot write the log to {path} ({exc.strerror or exc})"
        ) from None


def _monitor(
    args: argparse.Namespace, settings: Settings, feed_name: str, overrides: dict[str, Any] | None
) -> int:
    # Everything that can be refused is checked here, before Textual is imported: the
    # terminal is never switched to the monitor's screen for a problem known at start.
    interval = _poll_interval(args, settings)
    feed = _build_feed(settings, feed_name, overrides)
    symbols = _watch_symbols(
        feed, feed_name, _symbol_list(getattr(args, "symbols", None)), settings
    )
    configs = {s: _engine_config(settings, s, args) for s in symbols}
    from hedgeflow.app.alert_center import check_environment

    check_environment(settings.alerts)
    _start_logging(settings)
    from hedgeflow.tui.app import run_monitor

    return run_monitor(
        settings=settings,
        feed=feed,
        feed_name=feed_name,
        symbols=symbols,
        poll_interval=interval,
        engine_config=configs,
    )


def cmd_monitor(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    feed_name = args.feed or settings.monitor.feed
    overrides = {"path": args.path} if getattr(args, "path", None) else {}
    return _monitor(args, settings, feed_name, overrides | _sim_overrides(args, feed_name))


def cmd_replay(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    for name in args.files:  # command-line order: the first missing file is the one named
        if not Path(name).is_file():
            raise CliError(f"{name}: no such recording")
    # Several recordings are one tape in time order (`feeds.replay`): a bad or overlapping
    # file is refused in one line naming it, before the screen opens.
    overrides: dict[str, Any] = {"path": list(args.files)}
    if args.speed is not None:
        overrides["speed"] = args.speed
    return _monitor(args, settings, "replay", overrides)


def cmd_record(args: argparse.Namespace) -> int:
    import time

    from hedgeflow.app.record_progress import RecordProgress
    from hedgeflow.feeds.recorder import record

    settings = _settings(args.config)
    feed_name = args.feed or settings.monitor.feed
    interval = _poll_interval(args, settings)
    feed = _build_feed(settings, feed_name, _sim_overrides(args, feed_name))
    symbols = _watch_symbols(feed, feed_name, _symbol_list(args.symbols), settings)
    _start_logging(settings)  # the feed's retries go to the log, the progress line says it
    out = args.out or f"hedgeflow-{feed_name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.sqlite"
    print(
        f"recording {', '.join(symbols)} from {feed_name} every {interval:g}s to {out} (Ctrl-C stops)",
        flush=True,
    )
    progress = RecordProgress(sys.stdout, Path(out), time.monotonic)
    interrupted = True
    try:
        asyncio.run(record(feed, symbols, interval=interval, out=out, progress=progress.update))
        interrupted = False
    except KeyboardInterrupt:
        pass
    finally:  # also before a failure's one-line error: what was written, and where
        progress.finish(interrupted=interrupted)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from hedgeflow.app.doctor import run_doctor

    return run_doctor(args.config)


# ------------------------------------------------------------------ serve


def _port(text: str) -> int:
    """`--port`: a TCP port number."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be 1 to 65535, got {port}")
    return port


def _serve_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--host", help="address to listen on (default: serve.host, 127.0.0.1)")
    sp.add_argument("--port", type=_port, help="port to listen on (default: serve.port, 8000)")
    sp.add_argument(
        "--url",
        help="the address browsers use, when it is not http://HOST:PORT (a tunnel, a proxy)",
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """Every refusal the monitor would make is made here, once, before serving: a browser
    session then starts a monitor that is known to start."""
    from hedgeflow.tui.serve import (
        ServeError,
        check_address,
        check_url,
        exposure_warning,
        monitor_argv,
        serve,
    )

    settings = _settings(args.config)
    feed_name = args.feed or settings.monitor.feed
    overrides = {"path": args.path} if args.path else {}
    feed = _build_feed(settings, feed_name, overrides | _sim_overrides(args, feed_name))
    for symbol in _watch_symbols(feed, feed_name, _symbol_list(args.symbols), settings):
        _engine_config(settings, symbol, args)
    _start_logging(settings)
    host = args.host or settings.serve.host
    port = args.port or settings.serve.port
    try:
        url = check_url(args.url) if args.url else None
        check_address(host, port)
        warning = exposure_warning(host, port)
        if warning:
            _warn(warning)
        return serve(monitor_argv(args), host=host, port=port, url=url)
    except ServeError as exc:
        raise CliError(str(exc)) from None


# ------------------------------------------------------------------ entry


def cmd_history_export(args: argparse.Namespace) -> int:
    from hedgeflow.app.history_export import ExportError, export_command

    symbols = _symbol_list(args.symbols) if args.symbols else None
    try:
        return export_command(
            args.files, args.parquet, _settings(args.config), symbols, args.strikes
        )
    except ExportError as exc:
        raise CliError(str(exc)) from None


class _Parser(argparse.ArgumentParser):
    """argparse with its refusals on one line, like every other error of the command."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"hedgeflow: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="hedgeflow",
        description="Where dealer hedging dampens or amplifies price moves, live in the terminal.",
    )
    p.add_argument(
        "--config", help="config file (default: user config dir, else built-in defaults)"
    )
    sub = p.add_subparsers(dest="command")

    def sim_clock(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--sim-start",
            dest="sim_start",
            type=_sim_start,
            help="the simulated feed's start, New York time (e.g. 2025-06-10T11:00)",
        )
        sp.add_argument(
            "--sim-speed",
            dest="sim_speed",
            type=_sim_speed,
            help="simulated seconds per wall second (60 = a minute a second)",
        )

    def common_engine(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--model", choices=[m.value for m in EngineModel])
        sp.add_argument("--positioning", choices=[p.value for p in PositioningModel])
        sp.add_argument("--positions", choices=[p.value for p in PositionSource])
        sp.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def monitor_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--feed", choices=FEED_NAMES)
        sp.add_argument(
            "--symbols",
            help="comma-separated, e.g. SPX,SPY, or @FILE: a text file of tickers (default: "
            "the file's or recording's own, else monitor.symbols)",
        )
        sp.add_argument("--interval", type=_interval, help="seconds between polls (0.05 to 86400)")
        sp.add_argument("--path", help="file or recording for the file/replay feeds")
        sim_clock(sp)
        common_engine(sp)

    m = sub.add_parser("monitor", help="the live monitor (default)")
    monitor_options(m)
    m.set_defaults(func=cmd_monitor)

    s = sub.add_parser("serve", help="the monitor in a browser (textual-serve, localhost)")
    monitor_options(s)
    _serve_options(s)
    s.set_defaults(func=cmd_serve)

    a = sub.add_parser("analyze", help="one-shot analysis of a chain file or a feed")
    a.add_argument("file", nargs="?", help="CBOE quotedata CSV, CBOE JSON or normalized chain JSON")
    a.add_argument("--feed", choices=FEED_NAMES)
    a.add_argument("--symbol", help="underlying (with --feed)")
    a.add_argument("--path", help="file or recording for the file/replay feeds")
    a.add_argument(
        "--expiry", help="YYYY-MM-DD, 0dte, next (default), or all (the same as --scope all)"
    )
    a.add_argument(
        "--scope",
        help="sum expiries: nearest (default), 0dte, next (next session), days "
        "(monitor.scope_days), Nd (e.g. 30d) or all",
    )
    a.add_argument(
        "--as-of", dest="as_of", help="override the snapshot time (ISO-8601; NY if no offset)"
    )
    a.add_argument("--json", action="store_true", help="the full result as JSON")
    sim_clock(a)
    common_engine(a)
    a.set_defaults(func=cmd_analyze)

    r = sub.add_parser("record", help="record snapshots to a SQLite file")
    r.add_argument("--feed", choices=[n for n in FEED_NAMES if n != "replay"])
    r.add_argument("--symbols", help="comma-separated, e.g. SPX,SPY")
    r.add_argument("--interval", type=_interval, help="seconds between polls (0.05 to 86400)")
    r.add_argument("--out", help="SQLite file to write")
    sim_clock(r)
    r.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    r.set_defaults(func=cmd_record)

    rp = sub.add_parser(
        "replay", help="the monitor on recordings, with a transport (pause, step, seek, speed)"
    )
    rp.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="recordings; several are read as one tape in time order and must not overlap",
    )
    rp.add_argument("--speed", type=float, help="1 = as recorded, 60 = sixty times faster")
    rp.add_argument("--symbols", help="comma-separated subset (default: every recorded symbol)")
    rp.add_argument("--interval", type=_interval, help="seconds between polls (0.05 to 86400)")
    common_engine(rp)
    rp.set_defaults(func=cmd_replay)

    h = sub.add_parser("history", help="the level history of recordings").add_subparsers(
        dest="history_command", required=True
    )
    he = h.add_parser("export", help="as Parquet datasets (docs/HISTORY.md)")
    he.add_argument("files", nargs="+", metavar="FILE.db", help="recordings")
    he.add_argument("--parquet", required=True, metavar="OUT", help="directory to write")
    he.add_argument("--strikes", action="store_true", help="also per-strike GEX and charm")
    he.add_argument("--symbols", help="comma-separated subset (default: every recorded symbol)")
    he.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    he.set_defaults(func=cmd_history_export)

    d = sub.add_parser("doctor", help="check the installation, terminal, clock, config and feeds")
    d.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    d.set_defaults(func=cmd_doctor)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _run(argv)
        sys.stdout.flush()  # a reader that went away shows here, not at interpreter exit
    except BrokenPipeError:
        # `hedgeflow analyze ... | head`: the reader has what it wanted; stop quietly. Python
        # flushes stdout once more at exit, so point it at /dev/null to keep that quiet too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
    return code


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*(argv or sys.argv[1:]), "monitor"])
    if args.command in LONG_RUNNING:
        # Bigger malloc thresholds and one arena keep the engine's temporaries on a reused
        # heap (runtime.py has the figures): it pays over hours of repeated analyses, and
        # the monitor pairs it with a heap trim once a minute that bounds what it retains.
        # A one-shot command (analyze, doctor) is done after one or a few analyses: it would
        # save milliseconds, hold freed memory with no trim to return it, and change malloc
        # for whatever embeds it, so it keeps glibc's defaults. Set before any thread exists.
        from hedgeflow.app.runtime import tune_allocator

        tune_allocator()
    from hedgeflow.app.runtime import install_cached_calendar

    install_cached_calendar()  # the session table from the user cache: no pandas at start
    from hedgeflow.app.config import ConfigError
    from hedgeflow.feeds.errors import FeedError

    try:
        return int(args.func(args) or 0)
    except (CliError, ConfigError, FeedError) as exc:
        print(f"hedgeflow: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
