"""What a command builds from the configuration and its options before it runs: the
settings, the feed, the engine configuration, the poll interval and the log file. Each
refusal is a `CliError` (one line, exit 2), made before any screen is drawn."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from hedgeflow.cli.errors import CliError, warn
from hedgeflow.engine.enums import EngineModel, PositioningModel, PositionSource

if TYPE_CHECKING:
    from hedgeflow.app.config import Settings


def read_settings(path: str | None) -> Settings:
    """The settings: `--config`, else the user's file, else the built-in defaults."""
    from hedgeflow.app.config import load_settings

    return load_settings(path)


def engine_config(settings: Settings, symbol: str, args: argparse.Namespace) -> Any:
    """The symbol's engine configuration with `--model`, `--positioning` and `--positions`
    applied over the settings'."""
    config = settings.engine_config(symbol)
    if getattr(args, "model", None):
        config = replace(config, model=EngineModel(args.model))
    if getattr(args, "positioning", None):
        config = replace(config, positioning=PositioningModel(args.positioning))
    if getattr(args, "positions", None):
        config = replace(config, positions=PositionSource(args.positions))
    return config


def build_feed(settings: Settings, name: str, overrides: dict[str, Any] | None = None) -> Any:
    """The feed `name` with its credentials present, or a refusal (a missing credential is
    the feed's own FeedAuthError line: no recording, screen or server is started without)."""
    from hedgeflow.feeds.base import open_feed

    section = settings.feed_section(name)
    section.update(overrides or {})
    try:
        feed = open_feed(name, section)
    except (ValueError, TypeError, OSError) as exc:
        raise CliError(f"feed {name!r}: {exc}") from None
    # vendor feeds (`HttpFeedBase.check_credentials`); sim, file and replay need none, and
    # importing the HTTP base for an isinstance would load httpx for them
    check = getattr(feed, "check_credentials", None)
    if check is not None:
        check()
    return feed


def sim_overrides(args: argparse.Namespace, feed_name: str) -> dict[str, Any]:
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
        warn(f"{flags}: the feed is {feed_name}, not sim: ignored")
        return {}
    return given


def poll_interval(args: argparse.Namespace, settings: Settings) -> float:
    """Seconds between polls: `--interval`, else `monitor.poll_interval`."""
    interval = getattr(args, "interval", None)
    return float(interval) if interval is not None else settings.monitor.poll_interval


def start_logging(settings: Settings) -> None:
    """The log file, opened before the screen so that a bad `log_file` is a one-line error."""
    from hedgeflow.app.runtime import configure_logging, log_file_path

    path = log_file_path(settings.monitor.log_file)
    try:
        configure_logging(path)
    except OSError as exc:
        raise CliError(
            f"monitor.log_file: cannot write the log to {path} ({exc.strerror or exc})"
        ) from None
