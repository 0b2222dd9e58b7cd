"""The monitor: a Textual application that polls a feed and draws live hedge-flow panes.

Architecture (STYLE.md "TUI"):

- The App owns all state (`hedgeflow.tui.state.SymbolState` per watched symbol); panes
  are thin widgets with one typed reactive (`view`) that the App sets from
  `hedgeflow.tui.present`.
- Polling (`hedgeflow.tui.polling.Poller`): an async worker per poll, group `poll:<SYM>`,
  posting `SnapshotArrived` (coalesced per symbol); a one-shot timer re-arms it when it
  ends, so polls of a symbol never overlap; failures back off, auth errors stop.
- Engine runs (`hedgeflow.tui.dispatch.EngineDispatch`): a changed snapshot submits a job
  to `hedgeflow.app.scheduler.EngineScheduler` (one run per symbol, newest pending
  replaces older, a CPU bound across symbols, the visible symbol first); runs are thread
  workers, never on the event loop, and every result is applied.
- One failure path: every worker that ends (poll, engine, export, recorder) reaches
  `_worker_state_changed`, which dispatches by worker group. The last good analysis stays
  on screen, marked STALE when it is not current (`hedgeflow.tui.state.is_stale`).
- Every way out (q, ctrl+c, SIGTERM, SIGHUP) closes the recording
  (`hedgeflow.tui.recording`) and the feed, and restores the terminal.
- Times shown are measured with injected clocks (`clock` for data times, `monotonic`
  for poll scheduling), so tests and snapshots are deterministic.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.filter import Monochrome
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from hedgeflow.app.config import AlertSettings, default_settings
from hedgeflow.app.engine_pool import EnginePool
from hedgeflow.app.errorlog import ErrorLog
from hedgeflow.app.export import default_export_dir
from hedgeflow.app.scheduler import EngineScheduler
from hedgeflow.app.strikes import Greek, Split
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.expiry_scope import ExpiryScope
from hedgeflow.feeds.base import Feed
from hedgeflow.tui import saving, timepanes
from hedgeflow.tui import scope as scope_actions
from hedgeflow.tui.alertlog import AlertDelivered, AlertLogScreen, alert_center, delivered
from hedgeflow.tui.commands import SymbolCommands
from hedgeflow.tui.dispatch import Analyzer, EngineDispatch, EngineJob
from hedgeflow.tui.errorlog import ErrorLogScreen
from hedgeflow.tui.fill import fill_views
from hedgeflow.tui.history_load import HistoryLoader
from hedgeflow.tui.messages import SnapshotArrived, TapeMoved
from hedgeflow.tui.polling import MAX_BACKOFF, MAX_RETRY_AFTER, Poller, poll_backoff
from hedgeflow.tui.recording import Recording
from hedgeflow.tui.run import (
    build_app,
    configure_logging,
    default_log_file,
    run_monitor,
    trim_heap,
)
from hedgeflow.tui.screens import (
    HelpScreen,
    MonitorScreen,
    binding_ids,
    help_about,
    help_rows,
    keymap_conflict,
)
from hedgeflow.tui.state import SymbolState, is_stale
from hedgeflow.tui.transport import Transport, transport_action
from hedgeflow.tui.views import ZOOM_LEVELS, Palette
from hedgeflow.tui.watchlist import WatchlistScreen

__all__ = [
    "MAX_BACKOFF",
    "MAX_RETRY_AFTER",
    "ZOOM_LEVELS",
    "EngineConfigs",
    "HedgeflowApp",
    "build_app",
    "configure_logging",
    "default_log_file",
    "poll_backoff",
    "run_monitor",
    "trim_heap",
]

log = logging.getLogger("hedgeflow.tui")

#: Seconds between heap trims (see `trim_heap`).
TRIM_EVERY = 60.0
#: Background events of a symbol not on screen (its snapshot, its analysis landing) refresh
#: the views at most once in this many seconds: at 50 symbols they arrive about 20 a
#: second, each refresh building every view and the stale marks of every symbol, and a key
#: press that lands behind a run of them waits for all of them. The visible symbol's
#: events and a key's own refresh are shown at once.
REFRESH_COALESCE = 0.05
#: Seconds the shutdown waits for the recorder to commit what is queued and close.
RECORDING_CLOSE_TIMEOUT = 10.0

EngineConfigs = EngineConfig | Mapping[str, EngineConfig] | Callable[[str], EngineConfig]


class HedgeflowApp(App[int]):
    """The hedgeflow monitor.

    Parameters
    ----------
    feed : a `hedgeflow.feeds.base.Feed` (not yet entered; the App enters it on mount and exits it
        on quit).
    symbols : underlyings to watch, in key order (1-9).
    poll_interval : seconds between the end of one poll of a symbol and the start of the
        next (polls never overlap).
    engine_config : one `EngineConfig`, or per symbol a mapping or a callable (futures
        mapping differs per underlying). A symbol added from the palette uses the callable,
        else the first symbol's config. Default: the built-in `config.toml` defaults.
    feed_name : shown in the status line (default `feed.name`).
    stale_after_polls : data older than this many intervals is marked STALE.
    bell : ring the terminal bell with alerts.
    palette : colors (`[colors]` config); `colors=False` turns all color off as NO_COLOR does.
    export_dir : where `x` (exports), `s` (screenshots) and `r` (recordings) write.
    clock : the time data ages are measured against (default: `feed.clock`).
    monotonic : scheduling clock for "next poll" and staleness (default `time.monotonic`).
    analyze : the engine entry point (default `hedgeflow.engine.scope.analyze_scope`).
    engine_pool : worker processes for the engine (`hedgeflow.app.engine_pool.EnginePool`,
        what `hedgeflow monitor` uses); None runs it in threads of this process. The App
        closes it on quit.
    keymap : binding id -> keys, e.g. {"next-expiry": "n"} (`[keymap]` config).
    scope : the expiry scope every symbol starts in (default: the nearest expiry).
    alerts : `[alerts]`: rules, cooldown, hook and webhook (default: built-in defaults).
    """

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "hedgeflow"
    COMMANDS = App.COMMANDS | {SymbolCommands}
    ENABLE_COMMAND_PALETTE = True
    # ctrl+c quits, as in other terminal tools (Textual's default only says how to quit).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="ctrl-c-quit")
    ]

    current: reactive[str] = reactive("", init=False)
    """The symbol on screen."""

    def __init__(
        self,
        feed: Feed,
        symbols: list[str],
        *,
        poll_interval: float = 5.0,
        engine_config: EngineConfigs | None = None,
        feed_name: str | None = None,
        stale_after_polls: int = 3,
        bell: bool = False,
        palette: Palette | None = None,
        colors: bool = True,
        export_dir: Path | str | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        analyze: Analyzer | None = None,
        engine_pool: EnginePool | None = None,
        keymap: Mapping[str, str] | None = None,
        scope: ExpiryScope | None = None,
        alerts: AlertSettings | None = None,
    ) -> None:
        super().__init__()
        if not symbols:
            raise ValueError("`symbols` must name at least one underlying")
        if not poll_interval > 0:
            raise ValueError("`poll_interval` must be > 0 seconds")
        self.feed = feed
        self.feed_name: str = feed_name or getattr(feed, "name", None) or "feed"
        self.symbols: list[str] = [s.upper() for s in dict.fromkeys(symbols)]
        self.poll_interval = float(poll_interval)
        self.stale_after_polls = int(stale_after_polls)
        self._engine_config = (
            engine_config if engine_config is not None else default_settings().engine_config
        )
        self.bell_enabled = bell
        self.palette = palette or Palette()
        self.export_dir = Path(export_dir) if export_dir else default_export_dir()
        self.data_clock: Callable[[], datetime] = clock or feed.clock
        self.monotonic = monotonic
        self.keymap = dict(keymap or {})
        #: the expiry scope every symbol starts in (`[monitor] scope`)
        self.start_scope = scope or ExpiryScope()
        self.states: dict[str, SymbolState] = {
            s: SymbolState(s, scope=self.start_scope) for s in self.symbols
        }
        self.paused = False
        self.tape = Transport.attach(self)  # the replay's transport; None for other feeds
        self.show_repriced = False
        self.show_levels = False  # the levels card in place of the zones table
        #: The by-strike pane: shown instead of the impulse pane (below the wide layout),
        #: which exposure, and net or calls/puts apart.
        self.show_strikes = False
        self.strike_greek = Greek.GEX
        self.strike_split = Split.NET
        #: The history pane or the heatmap in the impulse cell (`h`, `m`), the lens (`k`).
        self.time_panes = timepanes.TimePanes()
        self.zoom_index = ZOOM_LEVELS.index(1.0)
        self.recording: Recording | None = None
        self.poller = Poller(self)
        self.engine = EngineDispatch(self, analyze, engine_pool)
        #: A replay's level history, filled from its recording (`reload_history`).
        self.history_loader = HistoryLoader(self)
        #: Every poll and engine failure; it decides which ones become a notice.
        self.errors = ErrorLog()
        #: alert rules, log and delivery (`[alerts]`); the `a` key shows the log
        self.alerts = alert_center(self, alerts or AlertSettings())
        self._signals: list[signal.Signals] = []
        self._feed_entered = False
        self._last_trim = time.monotonic()
        self._refresh_pending = False
        if not colors:
            self.no_color = True
            self._filters.append(Monochrome())
        if self.keymap:
            from hedgeflow.app.config import ConfigError

            known = binding_ids()
            unknown = sorted(set(self.keymap) - known)
            if unknown:
                raise ConfigError(
                    f"unknown key binding `keymap.{unknown[0]}` (known: {', '.join(sorted(known))})"
                )
            conflict = keymap_conflict(self.keymap)
            if conflict:
                raise ConfigError(conflict)
            self.set_keymap(self.keymap)

    @property
    def scheduler(self) -> EngineScheduler[EngineJob]:
        """The engine-run policy (replaceable before the app runs, e.g. another bound)."""
        return self.engine.scheduler

    @scheduler.setter
    def scheduler(self, scheduler: EngineScheduler[EngineJob]) -> None:
        self.engine.scheduler = scheduler

    @property
    def feed_speed(self) -> float:
        """Data seconds per wall second of the feed's clock (a replay at 60x: 60; a frozen
        simulated clock: 0); 1 for live feeds."""
        return float(getattr(self.feed, "speed", 1.0))

    @property
    def recording_path(self) -> Path | None:
        """The file being recorded to, None when not recording."""
        return self.recording.path if self.recording is not None else None

    # ------------------------------------------------------------------ lifecycle

    def get_default_screen(self) -> Screen[Any]:
        return MonitorScreen()

    async def on_mount(self) -> None:
        self._install_signal_handlers()
        self.current = self.symbols[0]
        self.refresh_views()
        try:
            await self.feed.__aenter__()
            self._feed_entered = True
        except Exception as exc:  # a feed that cannot start is shown, never a crash
            log.exception("feed failed to start")
            self.notify(f"{self.feed_name}: cannot start: {exc}", severity="error", timeout=10)
            for st in self.states.values():
                st.error = exc
            self.refresh_views()
            return
        self.poller.start_visible_first()
        self.set_interval(1.0, self._every_second)
        self.reload_history(self.data_clock())

    async def on_unmount(self) -> None:
        self._remove_signal_handlers()
        self.engine.close()
        self.history_loader.cancel()
        await asyncio.to_thread(self.alerts.close)  # joins the delivery threads
        self.poller.stop_all()
        rec = saving.stop_recording(self)
        if rec is not None:
            try:
                async with asyncio.timeout(RECORDING_CLOSE_TIMEOUT):
                    await rec.wait_closed()
            except TimeoutError:
                log.error(
                    "recording %s not closed within %.0f s", rec.path, RECORDING_CLOSE_TIMEOUT
                )
        if self._feed_entered:
            self._feed_entered = False
            try:
                await self.feed.__aexit__(None, None, None)
            except Exception:
                log.exception("feed failed to close")

    async def action_quit(self) -> None:
        self.exit(0)

    def _install_signal_handlers(self) -> None:
        """SIGTERM and SIGHUP quit like `q` (the recording is closed, the terminal restored)
        instead of killing the process inside the alternate screen with echo off."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError, AttributeError):
                continue  # not the main thread, or a platform without these signals
            self._signals.append(sig)

    def _remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        while self._signals:
            loop.remove_signal_handler(self._signals.pop())

    def _on_signal(self, sig: signal.Signals) -> None:
        log.warning("%s received: quitting", sig.name)
        self.exit(0)

    def _every_second(self) -> None:
        """Once a second: ages, countdowns and the stale marker move on, an open error log
        shows what failed since; once a minute the freed heap goes back to the system."""
        self.refresh_views()
        if isinstance(self.screen, ErrorLogScreen | AlertLogScreen):
            self.screen.follow()
        elif isinstance(self.screen, WatchlistScreen):
            self.screen.refresh_rows()
        now = time.monotonic()
        if now - self._last_trim >= TRIM_EVERY:
            self._last_trim = now
            trim_heap()

    # ------------------------------------------------------------------ data flow

    def engine_config_for(self, symbol: str) -> EngineConfig:
        """The engine config `symbol` is analyzed with: its own (a mapping or callable
        `engine_config`) or the shared one, on the wider grid a zoom-out asks for."""
        cfg = self._engine_config
        if isinstance(cfg, EngineConfig):
            base = cfg
        elif isinstance(cfg, Mapping):
            base = cfg.get(symbol) or next(iter(cfg.values()), EngineConfig())
        else:
            base = cfg(symbol)
        zoom = ZOOM_LEVELS[self.zoom_index]
        if zoom > 1.0:
            # Zooming out past the configured range recomputes on a wider grid.
            base = replace(
                base, impulse=replace(base.impulse, range_percent=base.impulse.range_percent * zoom)
            )
        return base

    def _analyze(self, symbol: str) -> None:
        """Submit an analysis of `symbol`'s current chain, expiry and zoom."""
        st = self.states.get(symbol)
        if st is not None:
            self.engine.submit(st, self.engine_config_for(symbol), self.data_clock())

    @on(TapeMoved)
    def _tape_moved(self, message: TapeMoved) -> None:
        """The replay tape was seeked or stepped: the histories follow it (cut back to the
        tape's clock, the recording's rows up to it loaded) before the new analysis lands."""
        self.reload_history(message.clock)

    @on(SnapshotArrived)
    def _snapshot_arrived(self, message: SnapshotArrived) -> None:
        st = self.states.get(message.symbol)
        if st is None:
            return
        st.fetched_at = message.fetched_at
        st.fetched_mono = arrived = self.monotonic()
        if self.recording is not None:
            self.recording.put(message.chain, message.fetched_at)
        try:
            changed = st.session.update(message.chain)
        except Exception:  # a session bookkeeping bug must not stop the monitor
            log.exception("session update failed for %s", st.symbol)
            changed = True
        # The session ignores an older snapshot (a vendor's stale cache): keep its current.
        st.chain = st.session.current or message.chain
        if changed:
            st.snapshot_seq += 1
            st.snapshot_mono = arrived
        if changed or st.analysis is None:
            self._analyze(message.symbol)
        else:
            self._views_changed(message.symbol)

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one path for every worker that ends: polls, engine runs, export and the
        recorder, by success, failure or cancellation."""
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        worker = event.worker
        kind, _, symbol = (worker.group or "").partition(":")
        if kind == "poll":
            self.poller.done(symbol, worker, event.state)
        elif kind == "engine":
            if self.engine.done(worker, event.state):
                self.poller.first_analysis_shown()
        elif kind == "export":
            saving.export_done(self, worker, event.state)
        elif kind == "record":
            saving.recorder_done(self, worker, event.state)
        elif kind == "history":
            self.history_loader.done(worker, event.state)
        else:
            return
        self._views_changed(symbol)

    def _views_changed(self, symbol: str) -> None:
        """A background event of `symbol` ("" for none) changed what the views show: at once
        for the symbol on screen, else one refresh for every such event within
        REFRESH_COALESCE (another symbol shows only in its tab and the status line's
        conditions)."""
        if not symbol or symbol == self.current:
            self.refresh_views()
        elif not self._refresh_pending:
            self._refresh_pending = True
            self.set_timer(REFRESH_COALESCE, self._coalesced_refresh)

    def _coalesced_refresh(self) -> None:
        self._refresh_pending = False
        self.refresh_views()

    def reload_history(self, until: datetime) -> None:
        """A replay's tape is at `until` (aware): every symbol's history becomes the
        recording's up to it, loaded in a background worker (`tui.history_load`). Called
        when a replay starts and when its tape moves; nothing for other feeds."""
        self.history_loader.reload(until)

    # ------------------------------------------------------------------ views

    def is_stale(self, st: SymbolState) -> bool:
        """See `hedgeflow.tui.state.is_stale`; the limit is `stale_after_polls` intervals."""
        recorded = self.tape.feed.interval(st.symbol) if self.tape is not None else 0.0
        return is_stale(
            st,
            limit=self.stale_after_polls * self.poll_interval,
            mono=self.monotonic(),
            data_now=self.data_clock(),
            speed=self.feed_speed or 1.0,
            recorded_limit=self.stale_after_polls * recorded,
        )

    def refresh_views(self) -> None:
        try:
            top = self.screen
        except Exception:
            return
        # The monitor screen on top, or under the help screen or the palette.
        screens = [top, *reversed(self.screen_stack)]
        screen = next((s for s in screens if isinstance(s, MonitorScreen)), None)
        st = self.states.get(self.current)
        if screen is None or st is None or not screen.is_mounted:
            return
        try:
            self._fill_views(screen, st)
        except NoMatches:
            return  # the screen is still composing; its on_mount refreshes again

    def _fill_views(self, screen: Screen[Any], st: SymbolState) -> None:
        fill_views(self, screen, st)

    def watch_current(self) -> None:
        self.engine.show(self.current)
        self.refresh_views()

    # ------------------------------------------------------------------ actions

    def action_pick(self, index: int) -> None:
        if 0 <= index < len(self.symbols):
            self.current = self.symbols[index]

    def action_cycle(self, step: int) -> None:
        i = self.symbols.index(self.current) if self.current in self.symbols else 0
        self.current = self.symbols[(i + step) % len(self.symbols)]

    def action_expiry(self, step: int) -> None:
        st = self.states.get(self.current)
        if st is None or st.analysis is None:
            self.notify("no analysis yet", timeout=2)
            return
        choices = sorted({e.timestamp() for e in st.analysis.expirations})
        if not choices:
            return
        cur = st.analysis.expiration.timestamp()
        later = [e for e in choices if e > cur]
        earlier = [e for e in choices if e < cur]
        target = (
            (later[0] if later else choices[0])
            if step > 0
            else (earlier[-1] if earlier else choices[-1])
        )
        st.expiry = target
        self._analyze(st.symbol)
        self.refresh_views()

    def action_scope(self) -> None:
        """Cycle the expiry scope of the symbol on screen (`hedgeflow.tui.scope`)."""
        scope_actions.cycle(self)

    def action_pick_expiry(self) -> None:
        """Choose one expiry of the symbol on screen from a list."""
        scope_actions.pick(self)

    def action_levels(self) -> None:
        """Show the levels card in place of the zones table, or back."""
        scope_actions.toggle_levels(self)

    def action_tape(self, verb: str, amount: float = 0.0) -> None:
        """A replay transport key (`hedgeflow.tui.transport`)."""
        transport_action(self, verb, amount)

    def action_pause(self) -> None:
        if self.tape is not None:  # a replay pauses its tape, not its polls
            self.tape.act("pause")
            return
        self.paused = not self.paused
        if self.paused:
            self.poller.pause()
        else:
            self.poller.resume()
        self.refresh_views()

    def action_repriced(self) -> None:
        self.show_repriced = not self.show_repriced
        st = self.states.get(self.current)
        if (
            self.show_repriced
            and st is not None
            and st.analysis is not None
            and st.analysis.repriced is None
        ):
            self.notify("this model has no repriced profile (floe)", timeout=3)
        self.refresh_views()

    def action_strikes(self) -> None:
        """Swap the impulse pane and the by-strike pane (both show in the wide layout)."""
        self.show_strikes = not self.show_strikes
        self.refresh_views()

    def action_history(self) -> None:
        timepanes.toggle(self, "history")

    def action_heatmap(self) -> None:
        timepanes.toggle(self, "heatmap")

    def action_lens(self) -> None:
        timepanes.next_lens(self)

    def action_greek(self) -> None:
        """Next exposure in the by-strike pane: GEX, VEX, CEX, DEX."""
        self.strike_greek = self.strike_greek.next()
        self.refresh_views()

    def action_split(self) -> None:
        """By-strike pane: net, or calls and puts apart."""
        self.strike_split = Split.SIDES if self.strike_split is Split.NET else Split.NET
        self.refresh_views()

    def action_zoom(self, step: int) -> None:
        new = min(max(self.zoom_index + step, 0), len(ZOOM_LEVELS) - 1)
        if new == self.zoom_index:
            return
        old_grid = max(ZOOM_LEVELS[self.zoom_index], 1.0)
        self.zoom_index = new
        if max(ZOOM_LEVELS[new], 1.0) != old_grid:
            for sym in self.symbols:
                self._analyze(sym)
        self.refresh_views()

    def on_alert_delivered(self, msg: AlertDelivered) -> None:
        delivered(self, msg)

    def action_alerts(self) -> None:
        self.push_screen(AlertLogScreen(self.alerts))

    def action_errors(self) -> None:
        self.push_screen(ErrorLogScreen(self.errors))

    def action_watchlist(self) -> None:
        if not isinstance(self.screen, WatchlistScreen):
            self.push_screen(WatchlistScreen())

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_rows(), about=help_about(self.stale_after_polls)))

    def help_rows(self) -> list[tuple[str, str, str]]:
        """(keys, description, binding id) for every binding, digits folded into one row."""
        return help_rows(self.symbols, self.keymap, self.get_key_display)

    def action_export(self) -> None:
        saving.export(self)

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        # Textual's parameters (an action string may pass them) override the stamped name
        # and the export folder.
        saving.screenshot(self, filename, path)

    def action_record(self) -> None:
        saving.toggle_recording(self)

    # ------------------------------------------------------------------ symbols

    def add_symbol(self, symbol: str) -> None:
        symbol = symbol.upper()
        if symbol in self.states:
            self.current = symbol
            return
        self.symbols.append(symbol)
        self.states[symbol] = SymbolState(symbol, scope=self.start_scope)
        self.current = symbol
        if self._feed_entered and not self.paused:
            self.poller.start(symbol)
        self.notify(f"watching {symbol}", timeout=3)
        self.refresh_views()

    def remove_symbol(self, symbol: str) -> None:
        if symbol not in self.states:
            return
        if len(self.symbols) == 1:
            self.notify("the last symbol cannot be removed", severity="warning", timeout=3)
            return
        self.poller.forget(symbol)
        self.engine.remove(symbol)
        self.errors.forget(symbol)
        del self.states[symbol]
        i = self.symbols.index(symbol)
        self.symbols.remove(symbol)
        if self.current == symbol:
            self.current = self.symbols[min(i, len(self.symbols) - 1)]
        self.notify(f"stopped watching {symbol}", timeout=3)
        self.refresh_views()
