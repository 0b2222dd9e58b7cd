"""The monitor: a Textual application that polls a feed and draws live hedge-flow panes.

Architecture (STYLE.md "TUI"):

- The App owns all state (`SymbolState` per watched symbol); panes are thin widgets
  with one typed reactive (`view`) that the App sets.
- Each symbol is polled by an async worker in group `poll:<SYM>`; the worker posts
  `SnapshotArrived` (coalesced per symbol) and never touches a widget. After a poll ends
  (success or failure) a one-shot timer is re-armed, so polls of a symbol never overlap.
- A changed snapshot runs the engine in a thread worker (group `engine:<SYM>`,
  exclusive: a newer snapshot supersedes a running analysis), never on the event loop.
- One failure path: `Worker.StateChanged` with ERROR maps a `FeedError` to the status
  line, a notification and a backoff; the last good analysis stays on screen, and is
  marked STALE once it is older than `stale_after_polls` poll intervals.
- Times shown are measured with injected clocks (`clock` for data times, `monotonic`
  for poll scheduling), so tests and snapshots are deterministic.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.css.query import NoMatches
from textual.filter import Monochrome
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from hedgeflow.app.alerts import compare_analyses
from hedgeflow.app.export import export_analysis
from hedgeflow.app.fmt import NY, fmt_age, fmt_expiry, fmt_time_ny
from hedgeflow.engine.chain import OptionChain
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import PositionSource
from hedgeflow.engine.types import ExpiryAnalysis
from hedgeflow.feeds.base import Feed
from hedgeflow.feeds.errors import FeedAuthError, FeedError, FeedUnavailable
from hedgeflow.feeds.session import SymbolSession
from hedgeflow.tui.commands import SymbolCommands
from hedgeflow.tui.messages import AnalysisReady, SnapshotArrived
from hedgeflow.tui.panes import CharmPane, ImpulsePane, RegimePane, StatusLine, SymbolBar, ZonesPane
from hedgeflow.tui.screens import HelpScreen
from hedgeflow.tui.views import ImpulseView, Palette, PaneView, StatusView, SymbolBarView, SymbolTab

log = logging.getLogger("hedgeflow.tui")

ZOOM_LEVELS = (0.25, 0.5, 1.0, 2.0, 4.0)
MAX_BACKOFF = 60.0
#: Seconds between heap trims (see `trim_heap`).
TRIM_EVERY = 60.0
#: Below this many rows or columns the compact layout is used.
COMPACT_HEIGHT = 32
COMPACT_WIDTH = 110

Analyzer = Callable[..., ExpiryAnalysis]
EngineConfigs = EngineConfig | Mapping[str, EngineConfig] | Callable[[str], EngineConfig]


@dataclass
class SymbolState:
    """Everything the App knows about one watched symbol."""

    symbol: str
    chain: OptionChain | None = None
    fetched_at: datetime | None = None  # feed clock at the last successful fetch
    fetched_mono: float | None = None  # monotonic time of the last successful fetch
    analysis: ExpiryAnalysis | None = None
    expiry: float | None = None  # chosen settlement epoch; None = the nearest live one
    error: BaseException | None = None
    failures: int = 0
    engine_error: str = ""
    busy: bool = False
    polling: bool = False
    timer: Timer | None = None
    next_poll_mono: float | None = None
    backoff: float = 0.0
    generation: int = 0
    session: SymbolSession = field(init=False)

    def __post_init__(self) -> None:
        self.session = SymbolSession(self.symbol)

    last_alert_analysis: ExpiryAnalysis | None = field(default=None, repr=False)


class MonitorScreen(Screen[None]):
    """The main screen: symbol bar, the four panes in a grid, status line, footer.

    Key bindings live here (not on the App) so that they do not fire while the
    command palette or the help screen is open."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(str(i), f"app.pick({i - 1})", f"Symbol {i}", show=False, id=f"symbol-{i}")
            for i in range(1, 10)
        ),
        Binding(
            "tab",
            "app.cycle(1)",
            "Next symbol",
            show=False,
            id="next-symbol",
            tooltip="Cycle to the next watched symbol",
        ),
        Binding(
            "shift+tab",
            "app.cycle(-1)",
            "Previous symbol",
            show=False,
            id="previous-symbol",
            tooltip="Cycle to the previous watched symbol",
        ),
        Binding(
            "e",
            "app.expiry(1)",
            "Expiry",
            id="next-expiry",
            tooltip="Analyze the next expiry of this symbol",
        ),
        Binding(
            "E",
            "app.expiry(-1)",
            "Prev expiry",
            show=False,
            id="previous-expiry",
            tooltip="Analyze the previous expiry of this symbol",
        ),
        Binding("space", "app.pause", "Pause", id="pause", tooltip="Stop / resume polling"),
        Binding(
            "r",
            "app.record",
            "Record",
            id="record",
            tooltip="Start / stop recording snapshots to SQLite",
        ),
        Binding(
            "g",
            "app.repriced",
            "Repriced",
            id="repriced",
            tooltip="Toggle the repriced profile in the impulse pane",
        ),
        Binding(
            "plus,equals_sign",
            "app.zoom(-1)",
            "Zoom in",
            show=False,
            id="zoom-in",
            key_display="+",
            tooltip="Narrow the price range",
        ),
        Binding(
            "minus",
            "app.zoom(1)",
            "Zoom out",
            show=False,
            id="zoom-out",
            tooltip="Widen the price range",
        ),
        Binding(
            "x",
            "app.export",
            "Export",
            id="export",
            tooltip="Write JSON, CSV and a Pine script of the analysis",
        ),
        Binding(
            "s", "app.screenshot", "Screenshot", id="screenshot", tooltip="Save an SVG screenshot"
        ),
        Binding("question_mark", "app.help", "Help", id="help", key_display="?"),
        Binding("q", "app.quit", "Quit", id="quit"),
    ]

    def compose(self) -> ComposeResult:
        app = self.app
        assert isinstance(app, HedgeflowApp)
        yield SymbolBar(id="symbols")
        with Grid(id="panes"):
            yield ImpulsePane(app.palette, id="impulse")
            yield RegimePane(app.palette, id="regime")
            yield ZonesPane(app.palette, id="zones")
            yield CharmPane(app.palette, id="charm")
        yield StatusLine(app.palette, id="status")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.call_after_refresh(self.app._refresh_views)  # type: ignore[attr-defined]

    def on_resize(self) -> None:
        compact = self.size.height < COMPACT_HEIGHT or self.size.width < COMPACT_WIDTH
        self.set_class(compact, "-compact")


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
    analyze : the engine entry point (default `hedgeflow.engine.pipeline.analyze_chain`).
    keymap : binding id -> keys, e.g. {"next-expiry": "n"} (`[keymap]` config).
    """

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "hedgeflow"
    COMMANDS = App.COMMANDS | {SymbolCommands}
    ENABLE_COMMAND_PALETTE = True

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
        keymap: Mapping[str, str] | None = None,
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
        self._engine_config = engine_config if engine_config is not None else builtin_engine_config
        self.bell_enabled = bell
        self.palette = palette or Palette()
        self.export_dir = Path(export_dir) if export_dir else _default_export_dir()
        self._data_clock = clock or feed.clock
        self._mono = monotonic
        self._analyze = analyze
        self.keymap = dict(keymap or {})
        self.states: dict[str, SymbolState] = {s: SymbolState(s) for s in self.symbols}
        self.paused = False
        self.show_repriced = False
        self.zoom_index = ZOOM_LEVELS.index(1.0)
        self.recording_path: Path | None = None
        self._record_queue: queue.Queue[Any] | None = None
        self._feed_entered = False
        self.started_mono = monotonic()
        self._rest_timer: Timer | None = None
        self._last_trim = time.monotonic()
        self.first_analysis_mono: float | None = None
        if not colors:
            self.no_color = True
            self._filters.append(Monochrome())
        if self.keymap:
            known = {b.id for b in MonitorScreen.BINDINGS if isinstance(b, Binding) and b.id}
            unknown = sorted(set(self.keymap) - known)
            if unknown:
                from hedgeflow.app.config import ConfigError

                raise ConfigError(
                    f"unknown key binding `keymap.{unknown[0]}` (known: {', '.join(sorted(known))})"
                )
            self.set_keymap(self.keymap)

    # ------------------------------------------------------------------ lifecycle

    def get_default_screen(self) -> Screen[Any]:
        return MonitorScreen()

    async def on_mount(self) -> None:
        self.current = self.symbols[0]
        self._refresh_views()
        try:
            await self.feed.__aenter__()
            self._feed_entered = True
        except Exception as exc:  # a feed that cannot start is shown, never a crash
            log.exception("feed failed to start")
            self.notify(f"{self.feed_name}: cannot start: {exc}", severity="error", timeout=10)
            for st in self.states.values():
                st.error = exc
            self._refresh_views()
            return
        # The symbol on screen first: its first analysis is not slowed by the others (the
        # engine and the sim share one interpreter); the rest follow once it is shown, or
        # after a second at the latest.
        self._start_poll(self.current)
        self._rest_timer = self.set_timer(1.0, self._start_remaining_polls)
        self.set_interval(1.0, self._every_second)

    def _start_remaining_polls(self) -> None:
        if self._rest_timer is not None:
            self._rest_timer.stop()
            self._rest_timer = None
        if self.paused:
            return
        for sym in self.symbols:
            if self.states[sym].chain is None:
                self._start_poll(sym)

    async def on_unmount(self) -> None:
        await self._close_resources()

    async def _close_resources(self) -> None:
        for st in self.states.values():
            if st.timer is not None:
                st.timer.stop()
        self._stop_recording()
        if self._feed_entered:
            self._feed_entered = False
            try:
                await self.feed.__aexit__(None, None, None)
            except Exception:
                log.exception("feed failed to close")

    async def action_quit(self) -> None:
        self.exit(0)

    # ------------------------------------------------------------------ polling

    def _engine_config_for(self, symbol: str) -> EngineConfig:
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

    def _start_poll(self, symbol: str) -> None:
        st = self.states.get(symbol)
        if st is None or st.polling:
            return
        if st.timer is not None:
            st.timer.stop()
            st.timer = None
        st.polling = True
        st.next_poll_mono = None
        self.run_worker(
            self._fetch(symbol),
            name=f"poll {symbol}",
            group=f"poll:{symbol}",
            description=f"poll {symbol} from {self.feed_name}",
            exclusive=True,
            exit_on_error=False,
        )

    async def _fetch(self, symbol: str) -> None:
        # A feed has its own timeouts; this is the backstop so a hung request can never
        # stop the re-arming of the poll timer.
        limit = max(30.0, 3 * self.poll_interval)
        try:
            async with asyncio.timeout(limit):
                chain = await self.feed.snapshot(symbol)
        except TimeoutError:
            raise FeedUnavailable(
                f"no answer within {limit:.0f} s", vendor=self.feed_name
            ) from None
        # The chain travels in the message, not as the worker's result: a finished worker
        # can outlive its run (an executor thread's context keeps the last one it ran).
        self.post_message(SnapshotArrived(symbol, chain, self._data_clock()))

    def _arm(self, symbol: str, delay: float) -> None:
        st = self.states.get(symbol)
        if st is None or self.paused:
            return
        if st.timer is not None:
            st.timer.stop()
        st.next_poll_mono = self._mono() + delay
        st.timer = self.set_timer(
            delay, lambda: self._start_poll(symbol), name=f"next poll {symbol}"
        )

    def _backoff(self, st: SymbolState, error: BaseException) -> float:
        """Seconds before the next poll after `st.failures` consecutive failures."""
        suggested = getattr(error, "retry_after", None)
        if isinstance(error, FeedAuthError):
            return MAX_BACKOFF  # the user has to act; keep checking, slowly
        exp = min(self.poll_interval * 2 ** max(st.failures - 1, 0), MAX_BACKOFF)
        if suggested is not None and math.isfinite(suggested):
            return float(min(max(suggested, self.poll_interval), 10 * MAX_BACKOFF))
        return float(max(exp, self.poll_interval))

    @on(SnapshotArrived)
    def _snapshot_arrived(self, message: SnapshotArrived) -> None:
        st = self.states.get(message.symbol)
        if st is None:
            return
        st.fetched_at = message.fetched_at
        st.fetched_mono = self._mono()
        if self._record_queue is not None:
            self._record_queue.put((message.chain, message.fetched_at))
        try:
            changed = st.session.update(message.chain)
        except Exception:  # a session bookkeeping bug must not stop the monitor
            log.exception("session update failed for %s", st.symbol)
            changed = True
        # The session ignores an older snapshot (a vendor's stale cache): keep its current.
        st.chain = st.session.current or message.chain
        if changed or st.analysis is None:
            self._run_engine(message.symbol)
        else:
            self._refresh_views()

    def _run_engine(self, symbol: str) -> None:
        st = self.states.get(symbol)
        if st is None or st.chain is None:
            return
        st.generation += 1
        st.busy = True
        chain, expiry, generation = st.chain, st.expiry, st.generation
        config = self._engine_config_for(symbol)
        now = self._data_clock()
        positions = None
        if config.positions is PositionSource.LIVE:
            positions = st.session.positions(config, chain=chain)
        analyze = self._analyze or _default_analyzer()

        def work() -> None:
            try:
                analysis = analyze(
                    chain, now=now, config=config, expiry=expiry, positions=positions
                )
            except ValueError:
                if expiry is None:
                    raise
                # The chosen expiry is gone (settled): fall back to the nearest live one.
                analysis = analyze(chain, now=now, config=config, expiry=None, positions=positions)
            # post_message is thread-safe; the result is not kept on the worker (see _fetch).
            self.post_message(AnalysisReady(symbol, generation, analysis))

        self.run_worker(
            work,
            name=f"analyze {symbol}",
            group=f"engine:{symbol}",
            description=f"engine on {symbol}",
            exclusive=True,
            exit_on_error=False,
            thread=True,
        )

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        kind, _, symbol = (worker.group or "").partition(":")
        st = self.states.get(symbol)
        if st is None or kind not in ("poll", "engine"):
            return
        state = event.state
        if kind == "poll":
            if state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
                return
            st.polling = False
            if state == WorkerState.CANCELLED:
                return
            if state == WorkerState.SUCCESS:
                if st.error is not None:
                    self.notify(f"{symbol}: {self.feed_name} recovered", title="Feed", timeout=4)
                st.error = None
                st.failures = 0
                st.backoff = 0.0
                self._arm(symbol, self.poll_interval)
            else:
                error = worker.error or RuntimeError("unknown poll failure")
                first = st.error is None or str(st.error) != str(error)
                st.failures += 1
                st.error = error
                st.backoff = self._backoff(st, error)
                log.warning("poll %s failed (%d): %r", symbol, st.failures, error)
                if first:
                    what = (
                        str(error)
                        if isinstance(error, FeedError)
                        else f"{type(error).__name__}: {error}"
                    )
                    self.notify(
                        f"{symbol}: {what}\nretrying in {st.backoff:.0f} s; last analysis kept",
                        title=type(error).__name__,
                        severity="error",
                        timeout=8,
                    )
                self._arm(symbol, st.backoff)
        else:
            if state != WorkerState.ERROR:
                return  # success arrives as AnalysisReady
            st.busy = False
            err = worker.error
            message = f"engine: {err}"
            log.warning("engine failed on %s: %r", symbol, err)
            if message != st.engine_error:  # once per distinct failure, not every poll
                self.notify(
                    f"{symbol}: analysis failed: {err}", title="Engine", severity="error", timeout=8
                )
            st.engine_error = message
        self._refresh_views()

    @on(AnalysisReady)
    def _analysis_ready(self, message: AnalysisReady) -> None:
        st = self.states.get(message.symbol)
        if st is None or message.generation != st.generation:
            return  # superseded by a newer snapshot or expiry choice, or symbol removed
        st.busy = False
        st.engine_error = ""
        prev = st.analysis
        st.analysis = message.analysis
        if self.first_analysis_mono is None:
            self.first_analysis_mono = time.monotonic()
        if self._rest_timer is not None:
            self.call_after_refresh(self._start_remaining_polls)
        for alert in compare_analyses(prev, message.analysis):
            log.info("alert: %s", alert.message)
            self.notify(
                alert.message, title=f"Alert · {alert.kind.value}", severity="warning", timeout=8
            )
            if self.bell_enabled:
                self.bell()
        self._refresh_views()

    def _every_second(self) -> None:
        """Once a second: ages, countdowns and the stale marker move on; once a minute the
        freed heap goes back to the system."""
        self._refresh_views()
        now = time.monotonic()
        if now - self._last_trim >= TRIM_EVERY:
            self._last_trim = now
            trim_heap()

    # ------------------------------------------------------------------ views

    def is_stale(self, st: SymbolState) -> bool:
        """Older than `stale_after_polls` intervals: no successful poll for that long, or
        the vendor's own as-of time lags the feed clock by that much beyond its delay."""
        if st.chain is None:
            return False
        limit = self.stale_after_polls * self.poll_interval
        if st.fetched_mono is not None and self._mono() - st.fetched_mono > limit:
            return True
        speed = float(getattr(self.feed, "speed", 1.0) or 1.0)
        lag = (self._data_clock() - st.chain.as_of).total_seconds() - st.chain.delay_seconds
        return lag > limit * max(speed, 1.0)

    def _waiting_text(self, st: SymbolState) -> str:
        if st.error is not None and st.analysis is None:
            return f"{st.symbol}: {st.error}"
        if st.engine_error and st.analysis is None:
            return f"{st.symbol}: {st.engine_error}"
        if st.chain is not None:
            return f"analyzing {st.symbol} …"
        return f"waiting for {st.symbol} from {self.feed_name} …"

    def _refresh_views(self) -> None:
        try:
            screen: Screen[Any] | None = self.screen
        except Exception:
            return
        if not isinstance(screen, MonitorScreen):
            screen = next((s for s in self.screen_stack if isinstance(s, MonitorScreen)), None)
            if screen is None:
                return
        st = self.states.get(self.current)
        if st is None or not screen.is_mounted:
            return
        try:
            self._fill_views(screen, st)
        except NoMatches:
            return  # the screen is still composing; its on_mount refreshes again

    def _fill_views(self, screen: Screen[Any], st: SymbolState) -> None:
        stale = self.is_stale(st)
        waiting = self._waiting_text(st)
        pane = PaneView(st.symbol, st.analysis, stale, waiting)
        cfg = self._engine_config_for(st.symbol)
        base_range = cfg.impulse.range_percent / max(ZOOM_LEVELS[self.zoom_index], 1.0)
        screen.query_one(ImpulsePane).view = ImpulseView(
            st.symbol,
            st.analysis,
            stale,
            waiting,
            zoom=ZOOM_LEVELS[self.zoom_index],
            repriced=self.show_repriced,
            range_percent=base_range,
        )
        screen.query_one(RegimePane).view = pane
        screen.query_one(ZonesPane).view = pane
        screen.query_one(CharmPane).view = pane
        screen.query_one(StatusLine).view = self.status_view(st, stale)
        screen.query_one(SymbolBar).view = self.symbol_bar_view()

    def symbol_bar_view(self) -> SymbolBarView:
        tabs = []
        for sym in self.symbols:
            s = self.states[sym]
            if s.error is not None:
                state = "error"
            elif s.analysis is None:
                state = "waiting"
            elif self.is_stale(s):
                state = "stale"
            else:
                state = "ok"
            tabs.append(SymbolTab(sym, state))
        cur = self.states.get(self.current)
        regime = cur.analysis.hedge_flow.impulse_curve.regime.value if cur and cur.analysis else ""
        return SymbolBarView(
            tuple(tabs), self.current, self.paused, self.recording_path is not None, regime
        )

    def status_view(self, st: SymbolState, stale: bool) -> StatusView:
        a = st.analysis
        chain = st.chain
        now = self._data_clock()
        expiry = as_of = age = delay = positions = ""
        if chain is not None:
            as_of = fmt_time_ny(chain.as_of)
            age = fmt_age((now - chain.as_of).total_seconds())
            delay = (
                f"delayed {fmt_age(chain.delay_seconds)}"
                if chain.delay_seconds > 0
                else "real-time"
            )
            oi_date = chain.as_of.astimezone(NY).strftime("%m-%d")
            flow = st.session.flow
            if a is not None and a.positions == "live" and flow is not None:
                seen = flow.buy_volume + flow.sell_volume + flow.unsigned_volume
                unsigned = f", {flow.unsigned_volume / seen:.0%} unsigned" if seen > 0 else ""
                positions = f"positions live: OI {oi_date} − signed flow{unsigned} (model)"
            else:
                positions = f"OI {oi_date} start-of-day"
        if a is not None:
            expiry = fmt_expiry(a.expiration, a.as_of)
        if self.paused:
            next_poll = ""
        elif st.polling:
            next_poll = "now"
        elif st.next_poll_mono is not None:
            next_poll = f"in {fmt_age(max(0.0, st.next_poll_mono - self._mono()))}"
        else:
            next_poll = "–"
        error = ""
        if st.error is not None:
            kind = type(st.error).__name__
            error = f"{kind}: {st.error} · retry in {st.backoff:.0f}s (#{st.failures})"
        elif st.engine_error:
            error = st.engine_error
        notes: tuple[str, ...] = ()
        if st.busy:
            notes = ("computing …",)
        elif chain is not None and chain.spot_note:
            notes = (f"spot {chain.spot_note}",)  # e.g. "stale: market closed"
        elif a is not None and a.notes:
            notes = a.notes[:1]
        return StatusView(
            feed=self.feed_name,
            symbol=st.symbol,
            expiry=expiry,
            as_of=as_of,
            age=age,
            delay=delay,
            positions=positions,
            next_poll=next_poll,
            recording=self.recording_path is not None,
            paused=self.paused,
            stale=stale,
            error=error,
            notes=notes,
        )

    def watch_current(self) -> None:
        self._refresh_views()

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
        self._run_engine(st.symbol)
        self._refresh_views()

    def action_pause(self) -> None:
        self.paused = not self.paused
        if self.paused:
            for st in self.states.values():
                if st.timer is not None:
                    st.timer.stop()
                    st.timer = None
                st.next_poll_mono = None
        else:
            for sym in self.symbols:
                self._start_poll(sym)
        self._refresh_views()

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
        self._refresh_views()

    def action_zoom(self, step: int) -> None:
        new = min(max(self.zoom_index + step, 0), len(ZOOM_LEVELS) - 1)
        if new == self.zoom_index:
            return
        old_grid = max(ZOOM_LEVELS[self.zoom_index], 1.0)
        self.zoom_index = new
        if max(ZOOM_LEVELS[new], 1.0) != old_grid:
            for sym in self.symbols:
                self._run_engine(sym)
        self._refresh_views()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_rows(), about=self._help_about()))

    def help_rows(self) -> list[tuple[str, str, str]]:
        """(keys, description, binding id) for every binding, digits folded into one row."""
        rows: list[tuple[str, str, str]] = [
            ("1-9", "pick an underlying (" + ", ".join(self.symbols[:9]) + ")", "symbol-1..9")
        ]
        for b in MonitorScreen.BINDINGS:
            assert isinstance(b, Binding)
            if b.id and b.id.startswith("symbol-"):
                continue
            keys = self.keymap.get(b.id or "", b.key)
            shown = (
                b.key_display
                if b.key_display and b.id not in self.keymap
                else ", ".join(
                    self.get_key_display(Binding(k.strip(), "")) for k in keys.split(",")
                )
            )
            rows.append((shown, b.tooltip or b.description, b.id or ""))
        rows.append(("ctrl+p", "command palette: add TICKER / remove a symbol", "palette"))
        rows.append(("↑ ↓ pgup pgdn", "move in the zones table", ""))
        return rows

    def _help_about(self) -> str:
        return (
            "Impulse H > 0: dealers sell rallies and buy dips (stability); H < 0: they chase "
            "the move (acceleration). Who the counterparty is is a model assumption "
            "(positioning model on the regime panel). STALE marks data older than "
            f"{self.stale_after_polls} poll intervals."
        )

    def action_export(self) -> None:
        st = self.states.get(self.current)
        if st is None or st.analysis is None:
            self.notify("nothing to export yet", severity="warning", timeout=3)
            return
        analysis, directory = st.analysis, self.export_dir

        def work() -> list[Path]:
            return export_analysis(analysis, directory, stamp=analysis.as_of)

        worker = self.run_worker(
            work, thread=True, group="export", name="export", exit_on_error=False
        )
        self._export_worker = worker

    @on(Worker.StateChanged)
    def _export_done(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "export":
            return
        if event.state == WorkerState.SUCCESS:
            paths = event.worker.result or []
            self.notify("\n".join(str(p) for p in paths), title="Exported", timeout=10)
        elif event.state == WorkerState.ERROR:
            self.notify(f"export failed: {event.worker.error}", severity="error", timeout=8)

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        # Textual's parameters (an action string may pass them) override the stamped name
        # and the export folder.
        self.export_dir.mkdir(parents=True, exist_ok=True)
        stamp = self._data_clock().astimezone(NY).strftime("%Y%m%d-%H%M%S")
        saved = self.save_screenshot(
            filename=filename or f"hedgeflow-{self.current}-{stamp}.svg",
            path=path or str(self.export_dir),
        )
        self.notify(str(saved), title="Screenshot saved", timeout=8)

    # ------------------------------------------------------------------ recording

    def action_record(self) -> None:
        if self.recording_path is not None:
            path = self.recording_path
            self._stop_recording()
            self.notify(str(path), title="Recording stopped", timeout=6)
        else:
            self._start_recording()
        self._refresh_views()

    def _start_recording(self) -> None:
        self.export_dir.mkdir(parents=True, exist_ok=True)
        stamp = self._data_clock().astimezone(NY).strftime("%Y%m%d-%H%M%S")
        path = self.export_dir / f"hedgeflow-{self.feed_name}-{stamp}.sqlite"
        q: queue.Queue[Any] = queue.Queue()
        self._record_queue = q
        self.recording_path = path
        feed_name = self.feed_name

        def writer() -> int:
            # One thread owns the SQLite connection for the whole recording.
            from hedgeflow.feeds.recorder import Recorder

            rec = Recorder(path)
            n = 0
            try:
                while True:
                    item = q.get()
                    if item is None:
                        return n
                    chain, fetched_at = item
                    rec.write(chain, feed=feed_name, fetched_at=fetched_at)
                    n += 1
            finally:
                close = getattr(rec, "close", None)
                if close is not None:
                    close()

        self.run_worker(writer, thread=True, group="record", name="recorder", exit_on_error=False)
        # Record the latest snapshot of every symbol right away.
        for st in self.states.values():
            if st.chain is not None and st.fetched_at is not None:
                q.put((st.chain, st.fetched_at))
        self.notify(str(path), title="Recording", timeout=6)

    def _stop_recording(self) -> None:
        if self._record_queue is not None:
            self._record_queue.put(None)
        self._record_queue = None
        self.recording_path = None

    @on(Worker.StateChanged)
    def _recorder_done(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "record" and event.state == WorkerState.ERROR:
            self._record_queue = None
            self.recording_path = None
            self.notify(f"recording failed: {event.worker.error}", severity="error", timeout=8)
            self._refresh_views()

    # ------------------------------------------------------------------ symbols

    def add_symbol(self, symbol: str) -> None:
        symbol = symbol.upper()
        if symbol in self.states:
            self.current = symbol
            return
        self.symbols.append(symbol)
        self.states[symbol] = SymbolState(symbol)
        self.current = symbol
        if self._feed_entered and not self.paused:
            self._start_poll(symbol)
        self.notify(f"watching {symbol}", timeout=3)
        self._refresh_views()

    def remove_symbol(self, symbol: str) -> None:
        if symbol not in self.states:
            return
        if len(self.symbols) == 1:
            self.notify("the last symbol cannot be removed", severity="warning", timeout=3)
            return
        st = self.states.pop(symbol)
        if st.timer is not None:
            st.timer.stop()
        self.workers.cancel_group(self, f"poll:{symbol}")
        self.workers.cancel_group(self, f"engine:{symbol}")
        i = self.symbols.index(symbol)
        self.symbols.remove(symbol)
        if self.current == symbol:
            self.current = self.symbols[min(i, len(self.symbols) - 1)]
        self.notify(f"stopped watching {symbol}", timeout=3)
        self._refresh_views()


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


def builtin_engine_config(symbol: str) -> EngineConfig:
    """The built-in defaults (`config.toml`) for `symbol`, with its futures mapping."""
    import copy

    from hedgeflow.app.config import DEFAULTS, Settings

    return Settings(copy.deepcopy(DEFAULTS), "built-in defaults").engine_config(symbol)


def _default_analyzer() -> Analyzer:
    from hedgeflow.engine.pipeline import analyze_chain

    return analyze_chain


def _default_export_dir() -> Path:
    from platformdirs import user_documents_path

    return user_documents_path() / "hedgeflow"


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
    result = app.run()
    log.info("monitor exit: %s", result)
    return int(result or 0)
