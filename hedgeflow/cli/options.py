"""The options several commands share and the checks on their values: each value type
refuses a bad value in argparse's one line (exit 2) before any command runs."""

from __future__ import annotations

import argparse
from datetime import datetime

from hedgeflow.engine.enums import EngineModel, PositioningModel, PositionSource
from hedgeflow.feeds.base import FEED_NAMES


def interval(text: str) -> float:
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


def sim_start(text: str) -> datetime:
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


def sim_speed(text: str) -> float:
    """`--sim-speed`: simulated seconds per wall second, a positive finite factor."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (e.g. 60)") from None
    if not 0 < value < float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a positive factor, got {text}")
    return value


def port(text: str) -> int:
    """`--port`: a TCP port number."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"must be 1 to 65535, got {number}")
    return number


def hidden_config(sp: argparse.ArgumentParser) -> None:
    """`--config` also after the subcommand, without a second line in its help."""
    sp.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def sim_clock_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--sim-start",
        dest="sim_start",
        type=sim_start,
        help="the simulated feed's start, New York time (e.g. 2025-06-10T11:00)",
    )
    sp.add_argument(
        "--sim-speed",
        dest="sim_speed",
        type=sim_speed,
        help="simulated seconds per wall second (60 = a minute a second)",
    )


def engine_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--model", choices=[m.value for m in EngineModel])
    sp.add_argument("--positioning", choices=[p.value for p in PositioningModel])
    sp.add_argument("--positions", choices=[p.value for p in PositionSource])
    hidden_config(sp)


def interval_option(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--interval", type=interval, help="seconds between polls (0.05 to 86400)")


def monitor_options(sp: argparse.ArgumentParser) -> None:
    """The monitor's options, which `serve` passes on to every browser session's monitor."""
    sp.add_argument("--feed", choices=FEED_NAMES)
    sp.add_argument(
        "--symbols",
        help="comma-separated, e.g. SPX,SPY, or @FILE: a text file of tickers (default: "
        "the file's or recording's own, else monitor.symbols)",
    )
    interval_option(sp)
    sp.add_argument("--path", help="file or recording for the file/replay feeds")
    sim_clock_options(sp)
    engine_options(sp)


def serve_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--host", help="address to listen on (default: serve.host, 127.0.0.1)")
    sp.add_argument("--port", type=port, help="port to listen on (default: serve.port, 8000)")
    sp.add_argument(
        "--url",
        help="the address browsers use, when it is not http://HOST:PORT (a tunnel, a proxy)",
    )
