"""The `hedgeflow` command line: monitor (default), analyze, record, replay, serve, doctor,
history export. `main` is the console script's entry point (`python -m hedgeflow.cli`
runs it too).

The outermost layer: it reads files and the clock, builds feeds from the
configuration and hands explicit values to the engine and the app. Every
expected failure (bad config, unreadable file, unknown expiry, feed error)
ends in one line on stderr and exit code 2, never a traceback.

`parser` builds the arguments and names each subcommand's function: `analyze`,
`monitor` (monitor, replay, serve), `record`, `history` (history export); they share
`options` (the shared options and their value checks), `startup` (settings, feed, engine
configuration, log file), `symbols` (which symbols to watch) and `errors` (the one-line
refusals and warnings).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from hedgeflow.cli.errors import EXIT_USAGE, CliError
from hedgeflow.cli.parser import build_parser

__all__ = ["EXIT_USAGE", "CliError", "build_parser", "main"]

#: Commands that run for hours: they get the process-wide allocator tuning (see `main`).
LONG_RUNNING = ("monitor", "replay", "record")


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
