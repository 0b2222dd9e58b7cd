"""Running the monitor: the App as configured (`build_app`) and the run with logging to a
file and an exit code that says whether it ended well (`run_monitor`). The process-wide
helpers (log file and its rotation, heap trim, allocator) live in `hedgeflow.app.runtime`
and are re-exported here for the App and the tests."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from hedgeflow.app.config import MonitorSettings, Settings
from hedgeflow.app.engine_pool import EnginePool
from hedgeflow.app.runtime import configure_logging, default_log_file, log_file_path, trim_heap
from hedgeflow.engine.config import EngineConfig
from hedgeflow.feeds.base import Feed
from hedgeflow.tui.views import Palette

if TYPE_CHECKING:
    from hedgeflow.tui.app import EngineConfigs, HedgeflowApp

__all__ = [
    "build_app",
    "configure_logging",
    "default_log_file",
    "run_monitor",
    "trim_heap",
]

log = logging.getLogger("hedgeflow.tui")


def build_app(
    *,
    settings: Settings,
    feed: Feed,
    symbols: list[str],
    poll_interval: float,
    engine_config: EngineConfigs,
    feed_name: str | None = None,
    engine_pool: EnginePool | None = None,
) -> HedgeflowApp:
    """The monitor as configured by `settings` (`hedgeflow.app.config.Settings`): the `[monitor]`,
    `[colors]` and `[keymap]` tables supply bell, stale_after_polls, export_dir, colors and
    keys. A symbol added from the palette gets `settings.engine_config(symbol)` with the
    same model, positioning and positions as the first symbol's config."""
    mon: MonitorSettings = settings.monitor
    configs: EngineConfigs = engine_config
    if isinstance(engine_config, Mapping):
        table = dict(engine_config)
        first = next(iter(table.values()))

        def config_for(symbol: str) -> EngineConfig:
            if symbol in table:
                return table[symbol]
            cfg: EngineConfig = settings.engine_config(symbol)
            return replace(
                cfg, model=first.model, positioning=first.positioning, positions=first.positions
            )

        configs = config_for
    palette = Palette(**asdict(settings.colors))
    from hedgeflow.tui.app import HedgeflowApp

    return HedgeflowApp(
        feed,
        symbols,
        poll_interval=poll_interval,
        engine_config=configs,
        feed_name=feed_name,
        stale_after_polls=mon.stale_after_polls,
        bell=mon.bell,
        palette=palette,
        export_dir=Path(mon.export_dir).expanduser() if mon.export_dir else None,
        keymap=dict(settings.keymap) or None,
        scope=mon.expiry_scope(),
        engine_pool=engine_pool,
        alerts=settings.alerts,
    )


def _engine_pool() -> EnginePool | None:
    """The monitor's engine worker processes (docs/SCALING.md), not yet started; None
    (engine threads) where processes cannot be started here."""
    try:
        pool = EnginePool()
    except (OSError, RuntimeError, ValueError) as exc:
        log.warning("engine worker processes unavailable (%s): engine threads instead", exc)
        return None
    return pool


def freeze_startup_objects() -> None:
    """Move every object alive now (the imported modules, classes and functions, the
    configured app: about 110,000) out of sight of Python's cyclic garbage collector. They
    live as long as the process, yet each full collection walked them all: a 50-110 ms
    pause every few seconds at 50 symbols, the tail of the key-to-screen latency
    (`python -m bench.scale`, docs/SCALING.md). Frozen objects are still freed by reference
    counting; only a reference cycle among them, none of which is ever dropped, would
    stay."""
    gc.collect()
    gc.freeze()


def run_monitor(
    *,
    settings: Settings,
    feed: Feed,
    symbols: list[str],
    poll_interval: float,
    engine_config: EngineConfigs,
    feed_name: str | None = None,
) -> int:
    """Run the monitor until the user quits; returns the exit code. Logs go to
    `[monitor] log_file` (default: hedgeflow.log in the user state directory), never to
    the terminal. Arguments as `build_app`."""
    log_file = log_file_path(settings.monitor.log_file)
    configure_logging(log_file)
    pool = _engine_pool()
    app = build_app(
        settings=settings,
        feed=feed,
        symbols=symbols,
        poll_interval=poll_interval,
        engine_config=engine_config,
        feed_name=feed_name,
        engine_pool=pool,
    )
    if pool is not None:
        # Only now that the app took its settings (a bad one is refused before any worker
        # starts: a worker still starting when the process exits prints a traceback); the
        # workers' imports overlap the screen's start-up.
        try:
            pool.warm()
        except (OSError, RuntimeError) as exc:
            log.warning("engine worker processes unavailable (%s)", exc)
    log.info("monitor start: feed=%s symbols=%s interval=%s", app.feed_name, symbols, poll_interval)
    freeze_startup_objects()
    try:
        result = app.run()
    except Exception as exc:  # the terminal is restored by now; say so in one line
        log.exception("monitor crashed")
        print(f"hedgeflow: monitor crashed: {exc} (details in {log_file})", file=sys.stderr)
        return 1
    finally:
        if pool is not None:
            pool.close()
    # Textual sets return_code 1 when the app died of an unhandled exception.
    code = app.return_code or int(result or 0)
    log.info("monitor exit: %s", code)
    return code
