"""The commands that run the monitor: `monitor` (a feed, live), `replay` (recordings, with
a transport) and `serve` (the monitor in a browser). Everything that can be refused is
refused here, in one line, before Textual is imported and the screen is switched."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgeflow.cli.errors import CliError, warn
from hedgeflow.cli.startup import (
    build_feed,
    engine_config,
    poll_interval,
    read_settings,
    sim_overrides,
    start_logging,
)
from hedgeflow.cli.symbols import symbol_list, watch_symbols

if TYPE_CHECKING:
    from hedgeflow.app.config import Settings


def _monitor(
    args: argparse.Namespace, settings: Settings, feed_name: str, overrides: dict[str, Any] | None
) -> int:
    """The monitor on `feed_name` (its section updated by `overrides`), or a refusal."""
    # Everything that can be refused is checked here, before Textual is imported: the
    # terminal is never switched to the monitor's screen for a problem known at start.
    interval = poll_interval(args, settings)
    feed = build_feed(settings, feed_name, overrides)
    symbols = watch_symbols(feed, feed_name, symbol_list(getattr(args, "symbols", None)), settings)
    configs = {s: engine_config(settings, s, args) for s in symbols}
    from hedgeflow.app.alert_center import check_environment

    check_environment(settings.alerts)
    start_logging(settings)
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
    settings = read_settings(args.config)
    feed_name = args.feed or settings.monitor.feed
    overrides = {"path": args.path} if getattr(args, "path", None) else {}
    return _monitor(args, settings, feed_name, overrides | sim_overrides(args, feed_name))


def cmd_replay(args: argparse.Namespace) -> int:
    settings = read_settings(args.config)
    for name in args.files:  # command-line order: the first missing file is the one named
        if not Path(name).is_file():
            raise CliError(f"{name}: no such recording")
    # Several recordings are one tape in time order (`feeds.replay`): a bad or overlapping
    # file is refused in one line naming it, before the screen opens.
    overrides: dict[str, Any] = {"path": list(args.files)}
    if args.speed is not None:
        overrides["speed"] = args.speed
    return _monitor(args, settings, "replay", overrides)


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

    settings = read_settings(args.config)
    feed_name = args.feed or settings.monitor.feed
    overrides = {"path": args.path} if args.path else {}
    feed = build_feed(settings, feed_name, overrides | sim_overrides(args, feed_name))
    for symbol in watch_symbols(feed, feed_name, symbol_list(args.symbols), settings):
        engine_config(settings, symbol, args)
    start_logging(settings)
    host = args.host or settings.serve.host
    port = args.port or settings.serve.port
    try:
        url = check_url(args.url) if args.url else None
        check_address(host, port)
        warning = exposure_warning(host, port)
        if warning:
            warn(warning)
        return serve(monitor_argv(args), host=host, port=port, url=url)
    except ServeError as exc:
        raise CliError(str(exc)) from None
