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
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
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
from hedgeflow.app.scheduler import EngineScheduler
from hedgeflow.engine.chain import OptionChain
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import PositionSource
from hedgeflow.engine.types import ExpiryAnalysis
from hedgeflow.feeds.base import Feed
from hedgeflow.feeds.errors import FeedAuthError, FeedError, FeedUnavailable
from hedgeflow.feeds.session import SymbolSession
from hedgeflow.tui.commands import SymbolCommands
from hedgeflow.tui.messages import SnapshotArrived
from hedgeflow.tui.panes import CharmPane, ImpulsePane, RegimePane, StatusLine, SymbolBar, ZonesPane
from hedgeflow.tui.recording import Recording
from hedgeflow.tui.screens import HelpScreen
from hedgeflow.tui.views import ImpulseView, Palette, PaneView, StatusView, SymbolBarView, SymbolTab

log = logging.getLogger("hedgeflow.tui")

ZOOM_LEVELS = (0.25, 0.5, 1.0, 2.0, 4.0)
#: Seconds: the longest wait the app's own exponential backoff reaches.
MAX_BACKOFF = 60.0
#: Seconds: a server's Retry-After is honoured up to a day (beyond that it is nonsense,
#: and a timer that far out is never reached in a session anyway).
MAX_RETRY_AFTER = 86_400.0
#: Seconds the shutdown waits for the recorder to commit what is queued and close.
RECORDING_CLOSE_TIMEOUT = 10.0
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
    # Snapshot numbers (1, 2, ... per changed snapshot) tell whether what is on screen is
    # the analysis of the latest snapshot.
    snapshot_seq: int = 0
    snapshot_mono: float = 0.0  # monotonic arrival of snapshot `snapshot_seq`
    analyzed_snapshot: int = 0  # the snapshot the analysis on screen was computed from
    analyzed_mono: float = 0.0  # monotonic arrival of that snapshot
    failed_snapshot: int = 0  # the newest snapshot the engine failed on
    session: SymbolSession = field(init=False)

    def __post_init__(self) -> None:
        self.session = SymbolSession(self.symbol)


@dataclass(frozen=True, eq=False)
class EngineJob:
    """One engine run: the inputs, fixed when the snapshot (or expiry, or zoom) changed.

    state : the symbol's state when submitted (a symbol removed and added again gets a
        new one, so a run of the old one is not applied to the new one)
    snapshot : `state.snapshot_seq` of `chain`; arrived : its monotonic arrival time
    now : feed clock when submitted (the engine never reads the clock)"""

    state: SymbolState
    snapshot: int
    arrived: float
    chain: OptionChain
    now: datetime
    config: EngineConfig
    expiry: float | None
    positions: Any


class Outcome:
    """An engine run's result, handed over once. A finished thread worker can outlive its
    run (an executor thread's context keeps the last worker it ran), so the analysis is
    taken out of it rather than left on the worker."""

    def __init__(self, analysis: ExpiryAnalysis) -> None:
        self._analysis: ExpiryAnalysis | None = analysis

    def take(self) -> ExpiryAnalysis:
        analysis, self._analysis = self._analysis, None
        assert analysis is not None, "an outcome is taken once"
        return analysis


def _run_job(analyze: Analyzer, job: EngineJob) -> Outcome:
    """Run in an engine thread: `analyze` on the job's inputs."""
    kw = {"now": job.now, "config": job.config, "positions": job.positions}
    try:
        return Outcome(analyze(job.chain, expiry=job.expiry, **kw))
    except ValueError:
        if job.expiry is None:
            raise
        # The chosen expiry is gone (settled): fall back to the nearest live one.
        return Outcome(analyze(job.chain, expiry=None, **kw))


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
        keymap: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        if not symbols:
            raise ValueError("`symbols` must name at least one underlying")
        if not poll_interval > 0:
            raise ValueError("`poll_interval` must be > 0 seconds")
        self.feed = feed
        self.feed_name = feed_name or getattr(feed, "name", "feed")
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
        self.recording: Recording | None = None
        self._signals: list[signal.Signals] = []
        self._feed_entered = False
        self.started_mono = monotonic()
        self._rest_timer: Timer | None = None
        self._last_trim = time.monotonic()
        self.first_analysis_mono: float | None = None
        self.scheduler: EngineScheduler[EngineJob] = EngineScheduler()
        self._engine_jobs: dict[Worker[Any], EngineJob] = {}
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
        self._install_signal_handlers()
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
            st = self.states[sym]
            if st.chain is None and not isinstance(st.error, FeedAuthError):
                self._start_poll(sym)

    async def on_unmount(self) -> None:
        await self._close_resources()

    async def _close_resources(self) -> None:
        self._remove_signal_handlers()
        for st in self.states.values():
            if st.timer is not None:
                st.timer.stop()
        rec = self._stop_recording()
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
            partial(self._fetch, symbol),  # a coroutine only once it runs
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

    @on(SnapshotArrived)
    def _snapshot_arrived(self, message: SnapshotArrived) -> None:
        st = self.states.get(message.symbol)
        if st is None:
            return
        st.fetched_at = message.fetched_at
        st.fetched_mono = arrived = self._mono()
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
            self._run_engine(message.symbol)
        else:
            self._refresh_views()

    def _run_engine(self, symbol: str) -> None:
        """Submit an analysis of `symbol`'s current chain, expiry and zoom to the scheduler
        (replacing any job of the symbol still waiting to start)."""
        st = self.states.get(symbol)
        if st is None or st.chain is None:
            return
        config = self._engine_config_for(symbol)
        chain = st.chain
        positions = None
        if config.positions is PositionSource.LIVE:
            positions = st.session.positions(config, chain=chain)
        job = EngineJob(
            state=st,
            snapshot=st.snapshot_seq,
            arrived=st.snapshot_mono,
            chain=chain,
            now=self._data_clock(),
            config=config,
            expiry=st.expiry,
            positions=positions,
        )
        self._start_engine_runs(self.scheduler.submit(symbol, job))
        st.busy = True

    def _start_engine_runs(self, starts: list[tuple[str, EngineJob]]) -> None:
        analyze = self._analyze or _default_analyzer()
        for symbol, job in starts:
            worker = self.run_worker(
                partial(_run_job, analyze, job),
                name=f"analyze {symbol}",
                group=f"engine:{symbol}",
                description=f"engine on {symbol}",
                exit_on_error=False,
                thread=True,
            )
            self._engine_jobs[worker] = job

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one path for every worker that ends: polls, engine runs, export and the
        recorder, by success, failure or cancellation."""
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        worker = event.worker
        kind, _, symbol = (worker.group or "").partition(":")
        if kind == "poll":
            self._poll_done(symbol, worker, event.state)
        elif kind == "engine":
            self._engine_done(worker, event.state)
        elif kind == "export":
            self._export_done(worker, event.state)
        elif kind == "record":
            self._recorder_done(worker, event.state)
        else:
            return
        self._refresh_views()

    def _poll_done(self, symbol: str, worker: Worker[Any], state: WorkerState) -> None:
        st = self.states.get(symbol)
        if st is None:
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
            return
        error = worker.error or RuntimeError("unknown poll failure")
        first = st.error is None or str(st.error) != str(error)
        st.failures += 1
        st.error = error
        log.warning("poll %s failed (%d): %r", symbol, st.failures, error)
        what = str(error) if isinstance(error, FeedError) else f"{type(error).__name__}: {error}"
        if isinstance(error, FeedAuthError):
            # Retrying cannot help: polling of this symbol stops until the user acts.
            st.backoff = 0.0
            st.next_poll_mono = None
            if first:
                self.notify(
                    f"{symbol}: {what}\n{auth_advice(error)}; last analysis kept",
                    title=type(error).__name__,
                    severity="error",
                    timeout=15,
                )
            return
        retry_after = getattr(error, "retry_after", None)
        st.backoff = poll_backoff(st.failures, self.poll_interval, retry_after)
        if first:
            self.notify(
                f"{symbol}: {what}\nretrying in {fmt_age(st.backoff)}; last analysis kept",
                title=type(error).__name__,
                severity="error",
                timeout=8,
            )
        self._arm(symbol, st.backoff)

    def _engine_done(self, worker: Worker[Any], state: WorkerState) -> None:
        job = self._engine_jobs.pop(worker, None)
        if job is None:
            return
        symbol = job.state.symbol
        self._start_engine_runs(self.scheduler.finished(symbol))
        st = self.states.get(symbol)
        if st is not job.state:
            return  # removed while its run was in flight
        st.busy = self.scheduler.busy(symbol)
        if state == WorkerState.SUCCESS:
            outcome = worker.result
            assert isinstance(outcome, Outcome)
            self._analysis_ready(st, job, outcome.take())
        elif state == WorkerState.ERROR:
            err = worker.error
            message = f"engine: {err}"
            log.warning("engine failed on %s: %r", symbol, err)
            if message != st.engine_error:  # once per distinct failure, not every poll
                self.notify(
                    f"{symbol}: analysis failed: {err}", title="Engine", severity="error", timeout=8
                )
            st.engine_error = message
            st.failed_snapshot = max(st.failed_snapshot, job.snapshot)

    def _analysis_ready(self, st: SymbolState, job: EngineJob, analysis: ExpiryAnalysis) -> None:
        """A run ended with `analysis`: always shown (runs of a symbol end in the order they
        were submitted, so it is the newest analysis there is)."""
        st.engine_error = ""
        prev = st.analysis
        st.analysis = analysis
        st.analyzed_snapshot, st.analyzed_mono = job.snapshot, job.arrived
        if self.first_analysis_mono is None:
            self.first_analysis_mono = time.monotonic()
        if self._rest_timer is not None:
            self.call_after_refresh(self._start_remaining_polls)
        for alert in compare_analyses(prev, analysis):
            log.info("alert: %s", alert.message)
            self.notify(
                alert.message, title=f"Alert · {alert.kind.value}", severity="warning", timeout=8
            )
            if self.bell_enabled:
                self.bell()

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
        """What is on screen for `st` is not current: no successful poll for
        `stale_after_polls` intervals; the analysis shown is not of the latest snapshot and
        the engine failed on newer data (or that snapshot is older than the limit); or the
        vendor's own as-of time lags the feed clock by the limit beyond its delay."""
        if st.chain is None:
            return False
        limit = self.stale_after_polls * self.poll_interval
        if st.fetched_mono is not None and self._mono() - st.fetched_mono > limit:
            return True
        if st.analysis is not None and st.analyzed_snapshot < st.snapshot_seq:
            # On screen is the analysis of an older snapshot: stale at once when the engine
            # failed on newer data, else once that snapshot is older than the limit.
            if st.failed_snapshot > st.analyzed_snapshot:
                return True
            if self._mono() - st.analyzed_mono > limit:
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
            screen = self.screen
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
        elif isinstance(st.error, FeedAuthError):
            next_poll = "stopped"
        elif st.next_poll_mono is not None:
            next_poll = f"in {fmt_age(max(0.0, st.next_poll_mono - self._mono()))}"
        else:
            next_poll = "–"
        error = ""
        if isinstance(st.error, FeedAuthError):
            error = f"{type(st.error).__name__}: {st.error} · {auth_advice(st.error)}"
        elif st.error is not None:
            kind = type(st.error).__name__
            error = f"{kind}: {st.error} · retry in {fmt_age(st.backoff)} (#{st.failures})"
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
        self._start_engine_runs(self.scheduler.show(self.current))
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
        rows.append(("ctrl+c", "quit, as q does (so do SIGTERM and SIGHUP)", "ctrl-c-quit"))
        rows.append(("ctrl+p", "command palette: add TICKER / remove a symbol", "palette"))
        rows.append(("↑ ↓ pgup pgdn", "move in the zones table", ""))
        return rows

    def _help_about(self) -> str:
        return (
            "Impulse H > 0: dealers sell rallies and buy dips (stability); H < 0: they chase "
            "the move (acceleration). Who the counterparty is is a model assumption "
            "(positioning model on the regime panel). STALE marks data older than "
            f"{self.stale_after_polls} poll intervals, and an analysis of an older snapshot "
            "when the engine failed on newer data."
        )

    def action_export(self) -> None:
        st = self.states.get(self.current)
        if st is None or st.analysis is None:
            self.notify("nothing to export yet", severity="warning", timeout=3)
            return
        analysis, directory = st.analysis, self.export_dir

        def work() -> list[Path]:
            return export_analysis(analysis, directory, stamp=analysis.as_of)

        self.run_worker(work, thread=True, group="export", name="export", exit_on_error=False)

    def _export_done(self, worker: Worker[Any], state: WorkerState) -> None:
        if state == WorkerState.SUCCESS:
            paths = worker.result or []
            self.notify("\n".join(str(p) for p in paths), title="Exported", timeout=10)
        elif state == WorkerState.ERROR:
            self.notify(f"export failed: {worker.error}", severity="error", timeout=8)

    def action_screenshot(self) -> None:
        self.export_dir.mkdir(parents=True, exist_ok=True)
        stamp = self._data_clock().astimezone(NY).strftime("%Y%m%d-%H%M%S")
        path = self.save_screenshot(
            filename=f"hedgeflow-{self.current}-{stamp}.svg", path=str(self.export_dir)
        )
        self.notify(str(path), title="Screenshot saved", timeout=8)

    # ------------------------------------------------------------------ recording

    def action_record(self) -> None:
        if self.recording_path is not None:
            path = self.recording_path
            self._stop_recording()
            self.notify(str(path), title="Recording stopped", timeout=6)
        else:
            self._start_recording()
        self._refresh_views()

    @property
    def recording_path(self) -> Path | None:
        """The file being recorded to, None when not recording."""
        return self.recording.path if self.recording is not None else None

    def _start_recording(self) -> None:
        self.export_dir.mkdir(parents=True, exist_ok=True)
        stamp = self._data_clock().astimezone(NY).strftime("%Y%m%d-%H%M%S")
        path = self.export_dir / f"hedgeflow-{self.feed_name}-{stamp}.sqlite"
        rec = self.recording = Recording(path, self.feed_name)
        self.run_worker(
            rec.write, thread=True, group="record", name="recorder", exit_on_error=False
        )
        # Record the latest snapshot of every symbol right away.
        for st in self.states.values():
            if st.chain is not None and st.fetched_at is not None:
                rec.put(st.chain, st.fetched_at)
        self.notify(str(path), title="Recording", timeout=6)

    def _stop_recording(self) -> Recording | None:
        rec, self.recording = self.recording, None
        if rec is not None:
            rec.stop()
        return rec

    def _recorder_done(self, worker: Worker[Any], state: WorkerState) -> None:
        if state == WorkerState.ERROR:
            log.error("recording failed: %r", worker.error)
            self.recording = None
            self.notify(f"recording failed: {worker.error}", severity="error", timeout=8)

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
        # A run in flight finishes on its thread (it keeps its slot until then); its
        # result is dropped. A job waiting to start is dropped now.
        self.scheduler.remove(symbol)
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


def auth_advice(error: FeedAuthError) -> str:
    """What the user has to do after an auth error (which is never retried)."""
    what = f"set {error.env_var}" if error.env_var else "fix the credentials"
    return f"not retried: polling stopped; {what}, then press space twice to retry"


def poll_backoff(failures: int, interval: float, retry_after: float | None) -> float:
    """Seconds before the next poll after `failures` (>= 1) consecutive failed polls.

    Exponential from the poll interval (interval, 2x, 4x, ...) up to `MAX_BACKOFF` (or the
    interval, if longer). A server's Retry-After (`retry_after`, seconds) is honoured and
    never shortened: the wait is the longer of the two. An auth error is not retried at
    all; that is the caller's decision, not a delay."""
    exponent = min(max(failures - 1, 0), 32)  # 2**32 intervals is past any cap
    delay = min(interval * 2.0**exponent, max(MAX_BACKOFF, interval))
    if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
        delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
    return float(delay)


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
            cfg = settings.engine_config(symbol)
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
