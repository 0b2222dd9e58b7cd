"""The `hedgeflow` command line: monitor (default), analyze, record, replay, doctor.

The outermost layer: it reads files and the clock, builds feeds from the
configuration and hands explicit values to the engine and the app. Every
expected failure (bad config, unreadable file, unknown expiry, feed error)
ends in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

EXIT_USAGE = 2


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


def _settings(path: str | None) -> Any:
    from hedgeflow.app.config import load_settings

    return load_settings(path)


def _engine_config(settings: Any, symbol: str, args: argparse.Namespace) -> Any:
    from hedgeflow.engine.enums import EngineModel, PositioningModel, PositionSource

    config = settings.engine_config(symbol)
    if getattr(args, "model", None):
        config = replace(config, model=EngineModel(args.model))
    if getattr(args, "positioning", None):
        config = replace(config, positioning=PositioningModel(args.positioning))
    if getattr(args, "positions", None):
        config = replace(config, positions=PositionSource(args.positions))
    return config


def _build_feed(settings: Any, name: str, overrides: dict[str, Any] | None = None) -> Any:
    from hedgeflow.feeds.base import open_feed

    section = settings.feed_section(name)
    section.update(overrides or {})
    try:
        return open_feed(name, section)
    except (ValueError, TypeError) as exc:
        raise CliError(f"feed {name!r}: {exc}") from None


# ------------------------------------------------------------------ analyze


def _load_chain(args: argparse.Namespace, settings: Any) -> tuple[Any, Any]:
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
        from hedgeflow.feeds.replay import iter_snapshots
        from hedgeflow.feeds.session import SymbolSession

        path = args.path or settings.feed_section("replay").get("path")
        if not path:
            raise CliError("--feed replay needs --path FILE (or feeds.replay.path in the config)")
        if not Path(path).is_file():
            raise CliError(f"{path}: no such recording")
        session = SymbolSession.from_snapshots(symbol, iter_snapshots(path, symbol))
        if session.current is None:
            raise CliError(f"{path}: no recorded snapshot of {symbol}")
        return session.current, session
    feed = _build_feed(settings, args.feed, {"path": args.path} if args.path else None)

    async def fetch() -> Any:
        async with feed:
            return await feed.snapshot(symbol)

    from hedgeflow.feeds.errors import FeedError

    try:
        return asyncio.run(fetch()), None
    except FeedError as exc:
        raise CliError(str(exc)) from None


def cmd_analyze(args: argparse.Namespace) -> int:
    from hedgeflow.app.summary import summary_text
    from hedgeflow.engine.jsonable import to_jsonable
    from hedgeflow.engine.pipeline import AnalysisError, analyze_chain

    settings = _settings(args.config)
    chain, session = _load_chain(args, settings)
    if args.as_of:
        chain = replace(chain, as_of=_parse_time(args.as_of))
    config = _engine_config(settings, chain.symbol or "SPX", args)
    expiry = _parse_expiry(args.expiry)
    positions = None
    position_note = ""
    if config.positions.value == "live":
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
    try:
        if expiry == "all":
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
            results = [analyze_chain(chain, config=config, expiry=expiry, positions=positions)]
    except AnalysisError as exc:
        source = args.file or f"{args.feed} {chain.symbol}"
        raise CliError(f"{source}: {exc}") from None
    if position_note:
        results = [replace(r, notes=(*r.notes, position_note)) for r in results]
    if args.json:
        payload = [to_jsonable(r) for r in results]
        json.dump(payload if expiry == "all" else payload[0], sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print("\n\n".join(summary_text(r) for r in results))
    return 0


# ------------------------------------------------------------------ monitor, replay, record


def _monitor(args: argparse.Namespace, feed_name: str, overrides: dict[str, Any] | None) -> int:
    settings = _settings(args.config)
    mon = settings.monitor
    symbols = (
        [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
        if getattr(args, "symbols", None)
        else list(mon["symbols"])
    )
    if not symbols:
        raise CliError("--symbols: no symbol given")
    feed = _build_feed(settings, feed_name, overrides)
    interval = (
        float(args.interval) if getattr(args, "interval", None) else float(mon["poll_interval"])
    )
    if interval <= 0:
        raise CliError("--interval must be > 0 seconds")
    from hedgeflow.tui.app import run_monitor

    return run_monitor(
        settings=settings,
        feed=feed,
        feed_name=feed_name,
        symbols=symbols,
        poll_interval=interval,
        engine_config={s: _engine_config(settings, s, args) for s in symbols},
    )


def cmd_monitor(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    feed_name = args.feed or settings.monitor["feed"]
    overrides = {"path": args.path} if getattr(args, "path", None) else None
    return _monitor(args, feed_name, overrides)


def cmd_replay(args: argparse.Namespace) -> int:
    if not Path(args.file).is_file():
        raise CliError(f"{args.file}: no such recording")
    overrides: dict[str, Any] = {"path": args.file}
    if args.speed is not None:
        overrides["speed"] = args.speed
    return _monitor(args, "replay", overrides)


def cmd_record(args: argparse.Namespace) -> int:
    from hedgeflow.feeds.recorder import record

    settings = _settings(args.config)
    feed_name = args.feed or settings.monitor["feed"]
    feed = _build_feed(settings, feed_name)
    symbols = [s.strip().upper() for s in (args.symbols or "").split(",") if s.strip()]
    symbols = symbols or list(settings.monitor["symbols"])
    out = args.out or f"hedgeflow-{feed_name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.sqlite"
    interval = args.interval if args.interval is not None else settings.monitor["poll_interval"]
    print(
        f"recording {', '.join(symbols)} from {feed_name} every {interval:g}s to {out} (Ctrl-C stops)"
    )
    try:
        asyncio.run(record(feed, symbols, interval=float(interval), out=out))
    except KeyboardInterrupt:
        pass
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from hedgeflow.app.doctor import run_doctor

    return run_doctor(args.config)


# ------------------------------------------------------------------ entry


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hedgeflow",
        description="Where dealer hedging dampens or amplifies price moves, live in the terminal.",
    )
    p.add_argument(
        "--config", help="config file (default: user config dir, else built-in defaults)"
    )
    sub = p.add_subparsers(dest="command")

    def common_engine(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--model", choices=["physical", "floe"])
        sp.add_argument("--positioning", choices=["standard", "floe", "short-all"])
        sp.add_argument("--positions", choices=["start-of-day", "live"])
        sp.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    m = sub.add_parser("monitor", help="the live monitor (default)")
    m.add_argument("--feed", choices=["sim", "cboe", "tradier", "schwab", "file", "replay"])
    m.add_argument("--symbols", help="comma-separated, e.g. SPX,SPY")
    m.add_argument("--interval", type=float, help="seconds between polls")
    m.add_argument("--path", help="file or recording for the file/replay feeds")
    common_engine(m)
    m.set_defaults(func=cmd_monitor)

    a = sub.add_parser("analyze", help="one-shot analysis of a chain file or a feed")
    a.add_argument("file", nargs="?", help="CBOE quotedata CSV, CBOE JSON or normalized chain JSON")
    a.add_argument("--feed", choices=["sim", "cboe", "tradier", "schwab", "file", "replay"])
    a.add_argument("--symbol", help="underlying (with --feed)")
    a.add_argument("--path", help="file or recording for the file/replay feeds")
    a.add_argument("--expiry", help="YYYY-MM-DD, 0dte, next (default) or all")
    a.add_argument(
        "--as-of", dest="as_of", help="override the snapshot time (ISO-8601; NY if no offset)"
    )
    a.add_argument("--json", action="store_true", help="the full result as JSON")
    common_engine(a)
    a.set_defaults(func=cmd_analyze)

    r = sub.add_parser("record", help="record snapshots to a SQLite file")
    r.add_argument("--feed", choices=["sim", "cboe", "tradier", "schwab", "file"])
    r.add_argument("--symbols", help="comma-separated, e.g. SPX,SPY")
    r.add_argument("--interval", type=float, help="seconds between polls")
    r.add_argument("--out", help="SQLite file to write")
    r.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    r.set_defaults(func=cmd_record)

    rp = sub.add_parser("replay", help="the monitor on a recording")
    rp.add_argument("file")
    rp.add_argument("--speed", type=float, help="1 = as recorded, 60 = sixty times faster")
    rp.add_argument("--symbols", help="comma-separated subset")
    rp.add_argument("--interval", type=float, help="seconds between polls")
    common_engine(rp)
    rp.set_defaults(func=cmd_replay)

    d = sub.add_parser("doctor", help="check the installation, terminal, clock, config and feeds")
    d.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    d.set_defaults(func=cmd_doctor)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from hedgeflow.app.allocator import tune_allocator

    tune_allocator()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*(argv or sys.argv[1:]), "monitor"])
    from hedgeflow.app.calendar_cache import install_cached_calendar

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
