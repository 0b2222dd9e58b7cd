"""The replay transport in the monitor: the keys' actions (`Transport`), the bar that shows
the tape (`TransportBar`) and the jump dialog (`JumpScreen`). Only a replay has one
(`Transport.attach`); elsewhere the transport keys say so and do nothing.

After every seek or step the visible symbol is read at the new position at once (the
recording is local: no poll interval to wait for) and `TapeMoved` is posted before that
snapshot, so whatever keeps history can cut it at the tape's position; the other symbols
are re-polled right away by their pollers. After a jump or a step back the analyses of the
old position are taken down until those of the new one arrive (no alert compares two
moments the tape jumped between); a backward move also starts each symbol's session
afresh (its live flow and regime hysteresis cannot run backward in time).

A paused tape is a frozen recorded moment: polls keep serving the snapshot at the tape
clock, and data ages and STALE are judged against the tape clock, which stands still, so
they read what they read at that moment of the recording; wall time spent paused ages
nothing. The bar says PAUSED and shows recorded time only.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Static

from hedgeflow.app.fmt import NY
from hedgeflow.app.session import SymbolSession
from hedgeflow.app.transport import JumpError, TapeView, next_speed, parse_jump
from hedgeflow.feeds.errors import FeedError
from hedgeflow.feeds.replay import ReplayFeed
from hedgeflow.tui.messages import SnapshotArrived, TapeMoved

if TYPE_CHECKING:
    from hedgeflow.tui.app import HedgeflowApp


class Transport:
    """The transport keys' actions on `app`'s replay `feed`."""

    def __init__(self, app: HedgeflowApp, feed: ReplayFeed) -> None:
        self.app = app
        self.feed = feed

    @classmethod
    def attach(cls, app: HedgeflowApp) -> Transport | None:
        """A transport when `app` replays a recording, else None."""
        return cls(app, app.feed) if isinstance(app.feed, ReplayFeed) else None

    def view(self) -> TapeView | None:
        """What the bar shows; None while the tape cannot be read (the error is shown by
        the polls)."""
        try:
            start, end = self.feed.bounds()
            clock = self.feed.clock()
        except FeedError:
            return None
        return TapeView(
            clock, start, end, self.feed.speed, self.feed.paused, reels=len(self.feed.paths)
        )

    def act(self, verb: str, amount: float = 0.0) -> None:
        """One key: "pause" (toggle), "step" (`amount` snapshots of the visible symbol),
        "seek" (`amount` seconds), "speed" (`amount` rungs of the ladder), "jump" (dialog)."""
        feed = self.feed
        try:
            before = feed.clock()
            if verb == "pause" and feed.paused:
                feed.resume()
            elif verb == "pause":
                feed.pause()
            elif verb == "speed":
                feed.set_speed(next_speed(feed.speed, int(amount)))
            elif verb == "step":
                feed.step(self.app.current, int(amount))
            elif verb == "seek":
                feed.seek(amount)
            elif verb == "jump":
                view = self.view()
                if view is not None:
                    self.app.push_screen(JumpScreen(view), self._jumped)
                return
            else:
                raise ValueError(f"unknown transport action {verb!r}")
        except FeedError as exc:
            self.app.notify(str(exc), severity="error", timeout=6)
            return
        if verb in ("step", "seek"):
            self.moved(before, jumped=verb == "seek")
        self.app.refresh_views()

    def _jumped(self, when: datetime | None) -> None:
        if when is None:
            return
        before = self.feed.clock()
        self.feed.seek_to(when)
        self.moved(before, jumped=True)
        self.app.refresh_views()

    def moved(self, before: datetime, *, jumped: bool) -> None:
        """The tape was seeked (`jumped`) or stepped from `before`: tell the history, show
        the new position now.

        A step forward is what playing does, one snapshot on. After a jump or a step back the
        analyses on screen are of another moment: they are taken down ("analyzing …" until
        the new position's arrive), so that no alert compares two moments the tape jumped
        between and no number of the old position stays up under the new clock; going back
        also restarts each symbol's session (its live flow cannot run backward)."""
        app, feed = self.app, self.feed
        clock = feed.clock()
        backward = clock < before
        for st in app.states.values():
            if backward:
                st.session = SymbolSession(st.symbol)
            if backward or jumped:
                st.analysis = None
                st.regime = None
        app.post_message(TapeMoved(clock, backward))
        symbol = app.current
        try:
            chain = feed.snapshot_now(symbol)
        except FeedError as exc:
            app.notify(f"{symbol}: {exc}", severity="error", timeout=6)
        else:
            app.post_message(SnapshotArrived(symbol, chain, app.data_clock()))
        for st in list(app.states.values()):
            if st.symbol != symbol and not st.polling and st.chain is not None:
                app.poller.start(st.symbol)  # polls now; its timer re-arms when it ends


def transport_action(app: HedgeflowApp, verb: str, amount: float = 0.0) -> None:
    """A transport key pressed: acted on in a replay, else a short notice."""
    tape = getattr(app, "tape", None)
    if tape is None:
        app.notify("transport keys work in a replay (hedgeflow replay FILE)", timeout=3)
        return
    tape.act(verb, amount)


# ---------------------------------------------------------------------------- the bar


def _hm(t: datetime, seconds: bool = False) -> str:
    return t.astimezone(NY).strftime("%H:%M:%S" if seconds else "%H:%M")


def bar_text(v: TapeView, width: int) -> Text:
    """One line: REPLAY, play state and speed, the recorded clock (New York), a progress
    bar, the tape's start and end, position %. Never reads like a live clock: the time is
    labelled recorded and the badge leads."""
    clock = v.clock.astimezone(NY)
    if v.paused:
        state = "⏸ PAUSED"
    elif v.at_end:
        state = "■ END"
    else:
        state = "▶ PLAY"
    speed = "step" if v.speed == 0 else f"×{v.speed:g}"
    day_fmt = "%Y-%m-%d" if width >= 100 else "%m-%d"
    when = f"recorded {clock.strftime(day_fmt)} {_hm(clock, True)} ET"
    if v.multi_day:
        ends = (
            f"{v.start.astimezone(NY):%m-%d} {_hm(v.start)}–{v.end.astimezone(NY):%m-%d} "
            f"{_hm(v.end)}"
        )
    else:
        ends = f"{_hm(v.start)}–{_hm(v.end)}"
    left = [(" REPLAY ", "bold reverse"), (f" {state} {speed} ", "bold"), (when, "")]
    right = f" {ends} {v.position * 100:3.0f}% "
    if v.reels > 1:
        right = f" {v.reels} files{right}"
    used = sum(len(s) for s, _ in left) + len(right) + 2
    room = width - used
    if room < 6 and v.reels > 1:
        right = f" {ends} {v.position * 100:3.0f}% "
        room = width - (sum(len(s) for s, _ in left) + len(right) + 2)
    text = Text(no_wrap=True, overflow="ellipsis")
    for s, style in left:
        text.append(s, style=style)
    text.append(" ")
    if room >= 3:
        filled = round(v.position * (room - 1))
        text.append("━" * filled, style="bold")
        text.append("●", style="bold")
        text.append("─" * (room - 1 - filled), style="dim")
    text.append(right)
    return text


class TransportBar(Widget):
    """The replay's transport bar (one line; hidden unless replaying)."""

    DEFAULT_CSS = """
    TransportBar { height: 1; background: $panel; display: none; }
    TransportBar.-on { display: block; }
    """

    view: reactive[TapeView | None] = reactive(None, layout=False)

    def watch_view(self) -> None:
        self.set_class(self.view is not None, "-on")

    def render(self) -> Text:
        v = self.view
        return Text("") if v is None else bar_text(v, self.size.width)


# ---------------------------------------------------------------------------- jump dialog


class JumpScreen(ModalScreen[datetime | None]):
    """Asks for a time on the tape: HH:MM[:SS] New York on the tape's date, or ISO.
    Enter jumps (dismisses with the time); a time that is not one, or is off the tape,
    is one line in the dialog; escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="jump-cancel")
    ]

    DEFAULT_CSS = """
    JumpScreen { align: center middle; }
    JumpScreen > Vertical {
        width: 64; max-width: 100%; height: auto;
        border: round $primary; background: $surface; padding: 0 1;
    }
    JumpScreen #jump-error { color: $error; height: auto; }
    """

    def __init__(self, view: TapeView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        v = self.view
        with Vertical() as box:
            box.border_title = "Jump to a recorded time"
            box.border_subtitle = "enter jumps · esc cancels"
            yield Static(
                f"HH:MM[:SS] New York time on {v.tape_day} (or ISO); the tape runs "
                f"{v.start.astimezone(NY):%m-%d %H:%M:%S} to {v.end.astimezone(NY):%m-%d %H:%M:%S} ET",
                id="jump-help",
            )
            yield Input(placeholder="10:30", id="jump-input")
            yield Static("", id="jump-error", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        v = self.view
        try:
            when = parse_jump(event.value, v.tape_day)
        except JumpError as exc:
            self._say(str(exc))
            return
        if not v.start <= when <= v.end:
            side = "before the tape starts" if when < v.start else "after the tape ends"
            self._say(f"{when.astimezone(NY):%Y-%m-%d %H:%M:%S} ET is {side}")
            return
        self.dismiss(when)

    def _say(self, line: str) -> None:
        self.query_one("#jump-error", Static).update(line)

    def action_cancel(self) -> None:
        self.dismiss(None)
