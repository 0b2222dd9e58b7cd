"""The argument parser: every subcommand, its options and help, and the function it runs
(`args.func`)."""

from __future__ import annotations

import argparse

from hedgeflow.cli.analyze import cmd_analyze
from hedgeflow.cli.errors import OneLineParser
from hedgeflow.cli.history import cmd_history_export
from hedgeflow.cli.monitor import cmd_monitor, cmd_replay, cmd_serve
from hedgeflow.cli.options import (
    engine_options,
    hidden_config,
    interval_option,
    monitor_options,
    serve_options,
    sim_clock_options,
)
from hedgeflow.cli.record import cmd_record
from hedgeflow.feeds.base import FEED_NAMES


def cmd_doctor(args: argparse.Namespace) -> int:
    from hedgeflow.app.doctor import run_doctor

    return run_doctor(args.config)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="hedgeflow",
        description="Where dealer hedging dampens or amplifies price moves, live in the terminal.",
    )
    p.add_argument(
        "--config", help="config file (default: user config dir, else built-in defaults)"
    )
    sub = p.add_subparsers(dest="command")

    m = sub.add_parser("monitor", help="the live monitor (default)")
    monitor_options(m)
    m.set_defaults(func=cmd_monitor)

    s = sub.add_parser("serve", help="the monitor in a browser (textual-serve, localhost)")
    monitor_options(s)
    serve_options(s)
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
    sim_clock_options(a)
    engine_options(a)
    a.set_defaults(func=cmd_analyze)

    r = sub.add_parser("record", help="record snapshots to a SQLite file")
    r.add_argument("--feed", choices=[n for n in FEED_NAMES if n != "replay"])
    r.add_argument("--symbols", help="comma-separated, e.g. SPX,SPY")
    interval_option(r)
    r.add_argument("--out", help="SQLite file to write")
    sim_clock_options(r)
    hidden_config(r)
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
    interval_option(rp)
    engine_options(rp)
    rp.set_defaults(func=cmd_replay)

    h = sub.add_parser("history", help="the level history of recordings").add_subparsers(
        dest="history_command", required=True
    )
    he = h.add_parser("export", help="as Parquet datasets (docs/HISTORY.md)")
    he.add_argument("files", nargs="+", metavar="FILE.db", help="recordings")
    he.add_argument("--parquet", required=True, metavar="OUT", help="directory to write")
    he.add_argument("--strikes", action="store_true", help="also per-strike GEX and charm")
    he.add_argument("--symbols", help="comma-separated subset (default: every recorded symbol)")
    hidden_config(he)
    he.set_defaults(func=cmd_history_export)

    d = sub.add_parser("doctor", help="check the installation, terminal, clock, config and feeds")
    hidden_config(d)
    d.set_defaults(func=cmd_doctor)
    return p
