"""`hedgeflow record`: snapshots of a feed to a SQLite recording, with a progress line,
until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from hedgeflow.cli.startup import (
    build_feed,
    poll_interval,
    read_settings,
    sim_overrides,
    start_logging,
)
from hedgeflow.cli.symbols import symbol_list, watch_symbols


def cmd_record(args: argparse.Namespace) -> int:
    import time

    from hedgeflow.app.record_progress import RecordProgress
    from hedgeflow.feeds.recorder import Recorder, record

    settings = read_settings(args.config)
    feed_name = args.feed or settings.monitor.feed
    interval = poll_interval(args, settings)
    feed = build_feed(settings, feed_name, sim_overrides(args, feed_name))
    symbols = watch_symbols(feed, feed_name, symbol_list(args.symbols), settings)
    start_logging(settings)  # the feed's retries go to the log, the progress line says it
    out = args.out or f"hedgeflow-{feed_name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.sqlite"
    # opened before the first line: a file that cannot be written is refused in one line
    # (RecordingError), not after "recording ... to" and "stopped: 0 snapshots"
    recorder = Recorder(out)
    print(
        f"recording {', '.join(symbols)} from {feed_name} every {interval:g}s to {out} (Ctrl-C stops)",
        flush=True,
    )
    progress = RecordProgress(sys.stdout, Path(out), time.monotonic)
    interrupted = True
    try:
        asyncio.run(
            record(feed, symbols, interval=interval, out=recorder, progress=progress.update)
        )
        interrupted = False
    except KeyboardInterrupt:
        pass
    finally:  # also before a failure's one-line error: what was written, and where
        progress.finish(interrupted=interrupted)
    return 0
