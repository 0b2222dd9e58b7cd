"""The base of the time panes (history, heatmap): a `TimeView`, lines painted once per
state and kept.

A pane built on `PaintedPane` implements `_build(width, height) -> list[Strip]`; the
lines are rebuilt only when the pane's key moves (size, theme, colour mode, the history
and its version, the scope, what the view waits on, and the pane's own `_extra_key`), so
a repaint without a new analysis draws the kept lines (docs/ARCHITECTURE.md "Level history
and the time panes").
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from hedgeflow.app.fmt import NY
from hedgeflow.tui.panes import _TitledMixin
from hedgeflow.tui.views import Palette, TimeView


def clock_label(t: float) -> str:
    """Epoch seconds as New York HH:MM."""
    return datetime.fromtimestamp(float(t), UTC).astimezone(NY).strftime("%H:%M")


class PaintedPane(_TitledMixin, Widget):
    """A pane of a symbol's history (see the module docstring)."""

    view: reactive[TimeView | None] = reactive(None)
    """The symbol's history, its version, the scope on screen (and the heatmap's lens)."""

    def __init__(self, palette: Palette, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.palette = palette
        self._key: tuple[object, ...] | None = None
        self._lines: list[Strip] = []

    def on_show(self) -> None:
        self.watch_view()

    def watch_view(self) -> None:
        """Set the title and frame, then refresh (subclasses; drawn when shown)."""

    def _extra_key(self) -> tuple[object, ...]:
        """What else, beside the common key, makes the painted lines stale."""
        return ()

    def _build(self, width: int, height: int) -> list[Strip]:
        raise NotImplementedError

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        view = self.view
        key = (
            width,
            height,
            self.app.theme,
            bool(self.app.no_color),
            id(view.history) if view and view.history else 0,
            view.version if view else -1,
            view.scope if view else "",
            view.waiting if view else "",
            *self._extra_key(),
        )
        if key != self._key:
            # The pane's own style under every segment: Textual's colour filters (NO_COLOR)
            # read each segment's style.
            base = self.rich_style
            self._lines = [line.apply_style(base) for line in self._build(width, height)]
            self._key = key
        return self._lines[y] if 0 <= y < len(self._lines) else Strip.blank(width)

    def _text(self, text: Text, width: int) -> Strip:
        return Strip(list(text.render(self.app.console))).crop_extend(0, width, None)
