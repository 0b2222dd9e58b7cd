"""`hedgeflow analyze`: one analysis of a chain file, a feed's snapshot or a recording's
last snapshot, printed as text or as the published JSON (docs/JSON_SCHEMA.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgeflow.cli.errors import CliError, warn
from hedgeflow.cli.startup import (
    build_feed,
    engine_config,
    read_settings,
    sim_overrides,
    start_logging,
)
from hedgeflow.cli.symbols import DATA_FEEDS, watch_symbols
from hedgeflow.engine.enums import EngineModel, PositionSource

if TYPE_CHECKING:
    from hedgeflow.app.config import Settings


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
        recording = build_feed(settings, "replay", {"path": path})
        watch_symbols(recording, "replay", [symbol], settings, "--symbol")
        try:
            session = SymbolSession.from_snapshots(symbol, iter_snapshots(path, symbol))
        except (sqlite3.Error, ValueError, OSError) as exc:
            raise CliError(f"{path}: not a readable recording ({exc})") from None
        if session.current is None:
            raise CliError(f"{path}: no recorded snapshot of {symbol}")
        return session.current, session
    overrides = {"path": args.path} if args.path else {}
    feed = build_feed(settings, args.feed, overrides | sim_overrides(args, args.feed))
    symbol = watch_symbols(feed, args.feed, [symbol], settings, "--symbol")[0]
    # the feed's retry warnings go to the log file: with no handler, Python's last-resort
    # one printed each on stderr before the one line that names the problem
    start_logging(settings)

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
    file. The sim's own options on another feed are `sim_overrides`' warning."""
    if args.file:
        given = [flag for dest, flag in FEED_ONLY_OPTIONS if getattr(args, dest, None) is not None]
        if given:
            warn(f"{', '.join(given)}: not used with a FILE ({args.file} is analyzed): ignored")
    elif args.feed and args.path and args.feed not in DATA_FEEDS:
        warn(f"--path: the {args.feed} feed reads no file: ignored")
        args.path = None


def cmd_analyze(args: argparse.Namespace) -> int:
    from hedgeflow.app.jsondoc import analysis_document
    from hedgeflow.app.summary import summary_text
    from hedgeflow.engine.pipeline import AnalysisError, analyze_chain

    settings = read_settings(args.config)
    _warn_inapplicable(args)
    chain, session = _load_chain(args, settings)
    if args.as_of:
        chain = replace(chain, as_of=_parse_time(args.as_of))
    config = engine_config(settings, chain.symbol or "SPX", args)
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
    simulated = chain.source == "sim"  # (a replay of a sim recording too)
    if simulated:  # the first note, and the header's badge: never mistaken for a market's
        from hedgeflow.app.export import mark_simulated

        results = [mark_simulated(r) for r in results]
    if args.json:
        payload = [analysis_document(r) for r in results]
        json.dump(payload if len(payload) > 1 else payload[0], sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        badge = "SIMULATED" if simulated else ""
        print("\n\n".join(summary_text(r, badge=badge) for r in results))
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
