"""Running the monitor: the App as configured (`build_app`), the run with logging to a
file and an exit code that says whether it ended well (`run_monitor`), and the
process-wide helpers the run needs (log file, heap trim)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgeflow.engine.config import EngineConfig
from hedgeflow.feeds.base import Feed
from hedgeflow.tui.views import Palette

if TYPE_CHECKING:
    from hedgeflow.tui.app import EngineConfigs, HedgeflowApp

log = logging.getLogger("hedgeflow.tui")

_LIBC: Any = None


def trim_heap() -> bool:
    """Return freed heap pages to the system (glibc `malloc_trim`); False elsewhere.

    The process keeps freed memory for reuse (`hedgeflow.app.allocator` raises glibc's trim threshold
    so engine temporaries do not page-fault); over a session of polls that retained heap
    shows as growing RSS. Trimming once a minute bounds it for the cost of one analysis
    re-faulting its pages. Takes well under a millisecond on this heap size."""
    global _LIBC
    if not sys.platform.startswith("linux"):
        return False
    try:
        if _LIBC is None:
            import ctypes
            import ctypes.util

            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(_LIBC.malloc_trim(0))
    except (OSError, AttributeError):
        return False


def configure_logging(log_file: Path) -> None:
    """Send every log record and Python warning to `log_file`, never to the terminal."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)


def default_log_file() -> Path:
    from platformdirs import user_state_path

    return user_state_path("hedgeflow") / "hedgeflow.log"


def build_app(
    *,
    settings: Any,
    feed: Feed,
    symbols: list[str],
    poll_interval: float,
    engine_config: EngineConfigs,
    feed_name: str | None = None,
) -> HedgeflowApp:
    """The monitor as configured by `settings` (`hedgeflow.app.config.Settings`): the `[monitor]`,
    `[colors]` and `[keymap]` tables supply bell, stale_after_polls, export_dir, colors and
    keys. A symbol added from the palette gets `settings.engine_config(symbol)` with the
    same model, positioning and positions as the first symbol's config."""
    mon = settings.monitor
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
    colors = settings.data.get("colors", {})
    palette = Palette(**{k: v for k, v in colors.items() if k in Palette.__dataclass_fields__})
    from hedgeflow.tui.app import HedgeflowApp

    return HedgeflowApp(
        feed,
        symbols,
        poll_interval=poll_interval,
        engine_config=configs,
        feed_name=feed_name,
        stale_after_polls=int(mon.get("stale_after_polls", 3)),
        bell=bool(mon.get("bell", False)),
        palette=palette,
        export_dir=Path(mon["export_dir"]).expanduser() if mon.get("export_dir") else None,
        keymap=settings.data.get("keymap") or None,
    )


def run_monitor(
    *,
    settings: Any,
    feed: Feed,
    symbols: list[str],
    poll_interval: float,
    engine_config: EngineConfigs,
    feed_name: str | None = None,
) -> int:
    """Run the monitor until the user quits; returns the exit code. Logs go to
    `[monitor] log_file` (default: hedgeflow.log in the user state directory), never to
    the terminal. Arguments as `build_app`."""
    log_file = Path(settings.monitor.get("log_file") or default_log_file()).expanduser()
    configure_logging(log_file)
    app = build_app(
        settings=settings,
        feed=feed,
        symbols=symbols,
        poll_interval=poll_interval,
        engine_config=engine_config,
        feed_name=feed_name,
    )
    log.info("monitor start: feed=%s symbols=%s interval=%s", app.feed_name, symbols, poll_interval)
    try:
        result = app.run()
    except Exception as exc:  # the terminal is restored by now; say so in one line
        log.exception("monitor crashed")
        print(f"hedgeflow: monitor crashed: {exc} (details in {log_file})", file=sys.stderr)
        return 1
    # Textual sets return_code 1 when the app died of an unhandled exception.
    code = app.return_code or int(result or 0)
    log.info("monitor exit: %s", code)
    return code
