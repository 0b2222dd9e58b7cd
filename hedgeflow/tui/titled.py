"""The frame every pane shares: its border title (the scope first), its subtitle, and the
STALE marker and class when the data on it is stale."""

from __future__ import annotations

from hedgeflow.app.summary import scope_tag
from hedgeflow.tui.chart_theme import widget_palette
from hedgeflow.tui.views import PaneView

STALE = "STALE"


class _TitledMixin:
    """Border title/subtitle and the stale class, shared by every pane."""

    def _set_frame(self, title: str, view: PaneView | None, extra: str = "") -> None:
        widget = self
        # The scope leads every title: a long title is cut at its end, and which expiries a
        # figure sums is the one thing that must never be cut.
        if view is not None and view.analysis is not None:
            title = f"{scope_tag(view.analysis)} · {title}"
        widget.border_title = title  # type: ignore[attr-defined]
        parts = [extra] if extra else []
        stale = bool(view and view.stale and view.analysis is not None)
        if stale:
            palette = getattr(self, "palette", None)
            color = widget_palette(self, palette).hex("stale") if palette is not None else ""
            parts.insert(0, f"[b {color} reverse] {STALE} [/]")
        widget.border_subtitle = " · ".join(parts)  # type: ignore[attr-defined]
        widget.set_class(stale, "-stale")  # type: ignore[attr-defined]
