"""Panes whose lines are painted once per state and kept: the charts (impulse curve,
charm integral) and the time panes (history, heatmap).

A pane built on `Painted` implements `_build(width, height) -> list[Strip]` and
`_paint_key()`, what its lines depend on beside the size, the theme and the colour mode;
the lines are rebuilt only when that key moves, so a repaint without a new analysis (a
scroll, another pane's update, the once-a-second status line) draws the kept lines
(docs/ARCHITECTURE.md "Painted panes").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from rich.text import Text
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from hedgeflow.app.fmt import NY
from hedgeflow.tui.titled import _TitledMixin
from hedgeflow.tui.views import Palette, TimeView


def clock_label(t: float, *, seconds: bool = False) -> str:
    """Epoch seconds as New York HH:MM (HH:MM:SS with `seconds`)."""
    fmt = "%H:%M:%S" if seconds else "%H:%M"
    return datetime.fromtimestamp(float(t), UTC).astimezone(NY).strftime(fmt)


def time_axis(n: int, every: int, time_at: Callable[[int], float], newest: float) -> str:
    """A row of `n` cells of New York clock labels: one at every `every`-th cell from 0
    (`time_at(cell)`, epoch seconds) and the newest time right-aligned, none overlapping.
    HH:MM, or HH:MM:SS where labels `every` cells apart are under a minute apart (a session
    minutes old would otherwise read the same minute under every label); a label that
    would repeat the one before it is left out."""
    if n <= 0:
        return ""
    row = [" "] * n
    seconds = abs(time_at(min(every, n - 1)) - time_at(0)) < 60.0
    w = 8 if seconds else 5
    last = max(n - w, 0)
    newest_label = clock_label(newest, seconds=seconds)
    prev = ""
    for c in range(0, last, every):
        label = clock_label(time_at(c), seconds=seconds)
        if c + w < last - 1 and label not in (prev, newest_label):
            row[c : c + w] = label
            prev = label
    row[last : last + w] = newest_label
    return "".join(row)[:n]


class Painted(_TitledMixin, Widget):
    """A pane painted once per key (see the module docstring). Subclasses declare their
    `view` reactive; `watch_view` sets the frame and refreshes, the lines are built when
    drawn (and only while shown)."""

    def __init__(self, palette: Palette, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.palette = palette
        self._key: tuple[object, ...] | None = None
        self._lines: list[Strip] = []

    def on_mount(self) -> None:
        # A new theme repaints with its colours (the key holds the theme; this asks for the
        # paint even where no style of the pane itself changed).
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def on_show(self) -> None:
        self.watch_view()

    def watch_view(self) -> None:
        """Set the title and frame, then refresh (subclasses; drawn when shown)."""

    def _paint_key(self) -> tuple[object, ...]:
        """What, beside size, theme and colour mode, makes the painted lines stale."""
        raise NotImplementedError

    def _build(self, width: int, height: int) -> list[Strip]:
        raise NotImplementedError

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        key = (width, height, self.app.theme, bool(self.app.no_color), *self._paint_key())
        if key != self._key:
            # The pane's own style under every segment: Textual's colour filters (NO_COLOR)
            # read each segment's style.
            base = self.rich_style
            self._lines = [line.apply_style(base) for line in self._build(width, height)]
            self._key = key
        if 0 <= y < len(self._lines):
            return self._lines[y]
        # a row the build left empty: blank in the pane's own style (NO_COLOR's filter
        # reads every segment's style)
        return Strip.blank(width, self.rich_style)

    def _text(self, text: Text, width: int) -> Strip:
        return Strip(list(text.render(self.app.console))).crop_extend(0, width, None)


class PaintedPane(Painted):
    """A pane of a symbol's history: painted once per history version, scope and what the
    view waits on (and the pane's own `_extra_key`)."""

    view: reactive[TimeView | None] = reactive(None)
    """The symbol's history, its version, the scope on screen (and the heatmap's lens)."""

    def _extra_key(self) -> tuple[object, ...]:
        """What else, beside the common key, makes the painted lines stale."""
        return ()

    def _paint_key(self) -> tuple[object, ...]:
        view = self.view
        return (
            id(view.history) if view and view.history else 0,
            view.version if view else -1,
            view.scope if view else "",
            view.waiting if view else "",
            *self._extra_key(),
        )
