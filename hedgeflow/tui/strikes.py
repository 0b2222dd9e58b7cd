"""The exposures-by-strike pane: signed horizontal bars per strike, drawn from one
`app.strikes.StrikeBars` model. Thin: the model picks the rows, sums and formats; this
widget only lays the bars out in its width (negative to the left of the axis, positive
to the right) and draws the spot and level rules between strikes."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from hedgeflow.app.fmt import fmt_dollars, fmt_expiry
from hedgeflow.app.strikes import Greek, Split, StrikeBars, StrikeRow, strike_bars
from hedgeflow.tui.chart_theme import widget_palette
from hedgeflow.tui.titled import _TitledMixin
from hedgeflow.tui.views import Palette, StrikesView

#: Calls and puts apart: the glyph tells them apart without colour (NO_COLOR).
CALL_GLYPH, PUT_GLYPH = "█", "▒"
CALL_COLOR, PUT_COLOR = "#5fafff", "#ff8700"
LABEL_W, FIG_W = 8, 7


def _cells(fraction: float, width: int) -> int:
    """Whole cells for |fraction| of `width`; a non-zero value shows at least one."""
    n = round(abs(fraction) * width)
    return max(n, 1) if fraction != 0.0 and width > 0 else n


def _stack(
    segments: list[tuple[int, str, str]], half: int
) -> tuple[list[tuple[int, str, str]], int]:
    """Segments laid end to end from the axis, clipped to `half` cells; (segments, used)."""
    out, used = [], 0
    for n, glyph, color in segments:
        n = min(n, half - used)
        out.append((n, glyph, color))
        used += n
    return out, used


class StrikesPane(_TitledMixin, Static):
    """GEX, VEX, CEX or DEX per strike, net or calls and puts apart (keys in the title)."""

    view: reactive[StrikesView | None] = reactive(None)
    """The analysis, which exposure and split, and the levels to mark."""

    DEFAULT_CSS = "StrikesPane { padding: 0 1; }"

    def __init__(self, palette: Palette, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.palette = palette

    def watch_view(self) -> None:
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def on_show(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        if not self.display:
            return  # hidden (the impulse curve is shown): drawn when shown (`on_show`)
        view = self.view
        a = view.analysis if view else None
        greek = Greek(view.greek) if view else Greek.GEX
        if view is None or a is None:
            self._set_frame(f"{greek.value} by strike", view)
            self.update(view.waiting if view else "waiting for data", layout=False)
            return
        split = Split(view.split)
        exposure = view.exposure if view.exposure is not None else a.exposure
        height = max(self.content_size.height, 1)
        model = strike_bars(exposure, greek, split, max_rows=height, levels=view.levels)
        title = (
            f"{greek.value} by strike {greek.unit} · {split.value} · "
            f"{a.symbol} {view.scope or fmt_expiry(a.expiration, a.as_of)}"
        )
        more = []
        if model.hidden_above:
            more.append(f"↑{model.hidden_above}")
        if model.hidden_below:
            more.append(f"↓{model.hidden_below}")
        sub = f"Σ {model.total_text} · bar {fmt_dollars(model.scale)}"
        if more:
            sub += " · " + " ".join(more) + " more"
        self._set_frame(title, view, sub)
        if not model.available:
            self.update(
                f"{greek.value} {split.value} is not available for this exposure "
                "(computed without it)",
                layout=False,
            )
            return
        self.update(self._render_model(model, max(self.content_size.width, 20)), layout=False)

    def _render_model(self, m: StrikeBars, width: int) -> Text:
        figs = FIG_W if m.split is Split.NET else 2 * FIG_W + 1
        half = max((width - LABEL_W - 1 - 1 - 1 - figs) // 2, 1)
        markers = list(m.markers)
        lines: list[Text] = []
        for i, row in enumerate([*m.rows, None]):
            while markers and markers[0].after == i:
                mk = markers.pop(0)
                color = widget_palette(self, self.palette).hex(
                    "spot" if mk.name == "spot" else "repriced"
                )
                rule = f"── {mk.text} "
                lines.append(Text(rule.ljust(width, "─")[:width], style=color))
            if row is not None:
                lines.append(self._bar_line(m, row, half))
        return Text("\n", no_wrap=True, overflow="ellipsis").join(lines)

    def _bar_line(self, m: StrikeBars, row: StrikeRow, half: int) -> Text:
        line = Text(f"{row.label:>{LABEL_W}}", style="bold")
        # the figures before the bars: a column that lines up whatever the bar lengths
        if m.split is Split.NET:
            line.append(f" {row.net_text:>{FIG_W}} ")
        else:
            line.append(f" {row.call_text:>{FIG_W}}", style=CALL_COLOR)
            line.append(f" {row.put_text:>{FIG_W}} ", style=PUT_COLOR)
        if m.split is Split.NET:
            good = m.greek is Greek.GEX
            pal = widget_palette(self, self.palette)
            pos = pal.hex("stable") if good else CALL_COLOR
            neg = pal.hex("unstable") if good else PUT_COLOR
            segs = [(row.net, "█", pos if row.net > 0 else neg)]
        else:
            segs = [(row.call, CALL_GLYPH, CALL_COLOR), (row.put, PUT_GLYPH, PUT_COLOR)]
        # nearest the axis first: calls, then puts, each clipped to what is left of the half
        left, used_l = _stack(
            [(_cells(m.fraction(v), half), g, c) for v, g, c in segs if v < 0], half
        )
        right, used_r = _stack(
            [(_cells(m.fraction(v), half), g, c) for v, g, c in segs if v > 0], half
        )
        line.append(" " * (half - used_l))
        for n, glyph, color in reversed(left):
            line.append(glyph * n, style=color)
        line.append("│", style="dim")
        for n, glyph, color in right:
            line.append(glyph * n, style=color)
        line.append(" " * (half - used_r))
        return line
