"""The charts' colours and glyphs for the Textual theme on screen, and for NO_COLOR.

Every theme the palette offers must give readable charts: the canvas, axes and tick
labels take the theme's own surface and foreground (an ANSI theme's are the terminal's
defaults, "default" here: black on black otherwise); the curve and the
zero line are the foreground blended into the canvas; the `[colors]` palette is kept where
it stands out from the canvas and otherwise pulled toward the foreground until it does
(yellow on a light theme). Without colour (NO_COLOR, `colors = false`) what colour told
apart is told by glyphs: stable and unstable zones are filled with different patterns, and
the impulse curve is drawn with one glyph above zero and another below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual._context import NoActiveAppError
from textual.app import App
from textual.color import Color
from textual.theme import Theme

from hedgeflow.tui.views import Palette

#: A chart colour: an RGB triple, a 256-colour code, or a name ("default": the terminal's
#: own; `chartcanvas.rich_color` makes it a Rich colour).
PlotColor = tuple[int, int, int] | int | str

#: Contrast (WCAG ratio) a chart colour keeps against the canvas; 3:1 is the usual
#: minimum for graphics.
MIN_CONTRAST = 3.0

#: Zone fills and curve glyphs without colour (with colour both zones are half blocks).
STABLE_FILL = "hd"
UNSTABLE_FILL = "▒"
POSITIVE_CURVE = "braille"
NEGATIVE_CURVE = "·"


@dataclass(frozen=True)
class ChartColors:
    """What the plot panes draw with. canvas the plot's ground, axes and ticks its frame
    and labels;
    curve, zero and marks are neutral tones; stable/unstable/spot/repriced the palette's.
    `glyphs`: no colour on screen, so zones and the curve's sign are told by glyphs."""

    name: str
    canvas: PlotColor
    axes: PlotColor
    ticks: PlotColor
    curve: PlotColor
    zero: PlotColor
    marks: PlotColor
    stable: PlotColor
    unstable: PlotColor
    spot: PlotColor
    repriced: PlotColor
    glyphs: bool = False

    @property
    def stable_fill(self) -> str:
        return STABLE_FILL

    @property
    def unstable_fill(self) -> str:
        return UNSTABLE_FILL if self.glyphs else STABLE_FILL

    @staticmethod
    def curve_marker(positive: bool) -> str:
        """The impulse curve's glyph without colour, by the sign of the run."""
        return POSITIVE_CURVE if positive else NEGATIVE_CURVE


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(v: int) -> float:
        c = v / 255.0
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _blend(a: tuple[int, int, int], b: tuple[int, int, int], w: float) -> tuple[int, int, int]:
    """w of `a` over (1 - w) of `b`."""
    return (
        round(a[0] * w + b[0] * (1 - w)),
        round(a[1] * w + b[1] * (1 - w)),
        round(a[2] * w + b[2] * (1 - w)),
    )


def readable(
    color: tuple[int, int, int], canvas: tuple[int, int, int], ink: tuple[int, int, int]
) -> tuple[int, int, int]:
    """`color` if it stands out from `canvas` (MIN_CONTRAST), else pulled toward `ink` (the
    theme's foreground) in steps until it does."""
    out = color
    for step in range(1, 11):
        if contrast(out, canvas) >= MIN_CONTRAST:
            break
        out = _blend(ink, color, step / 10)
    return out


def _solid(value: str | None) -> Color | None:
    """A theme colour as an opaque RGB colour; None for ANSI and transparent ones (the
    terminal's own, unknown here)."""
    if not value:
        return None
    c = Color.parse(value)
    return None if c.ansi is not None or c.a < 1 else c


def chart_colors(
    theme: Theme, variables: dict[str, str], palette: Palette, *, no_color: bool
) -> ChartColors:
    """The charts' colours for `theme` (its CSS `variables`, `App.theme_variables`)."""
    surface = _solid(variables.get("surface"))
    foreground = _solid(variables.get("foreground"))
    tag = f"hedgeflow-{theme.name}{'-mono' if no_color else ''}"
    if surface is None or foreground is None:
        # An ANSI theme: the terminal's own background and text; the palette is checked
        # against the background the theme says it is (light or dark).
        canvas_rgb = (0, 0, 0) if theme.dark else (255, 255, 255)
        ink_rgb = (255, 255, 255) if theme.dark else (0, 0, 0)
        canvas: PlotColor = "default"
        ticks: PlotColor = "default"
        curve: PlotColor = "default"
        zero: PlotColor = "gray"
        marks: PlotColor = "gray"
    else:
        canvas_rgb, ink_rgb = surface.rgb, foreground.rgb
        canvas, ticks = canvas_rgb, ink_rgb
        # Weights that keep the default dark theme's greys (190, 110, 150 on 30).
        curve = _blend(ink_rgb, canvas_rgb, 0.825)
        zero = _blend(ink_rgb, canvas_rgb, 0.412)
        marks = _blend(ink_rgb, canvas_rgb, 0.619)

    def pal(name: str) -> PlotColor:
        return readable(Color.parse(getattr(palette, name)).rgb, canvas_rgb, ink_rgb)

    stable, unstable = pal("stable"), pal("unstable")
    if no_color:  # greys of red and green are dark and alike: one bright ink, two patterns
        stable = unstable = ticks if isinstance(ticks, tuple) else ink_rgb
    return ChartColors(
        name=tag,
        canvas=canvas,
        axes=canvas,
        ticks=ticks,
        curve=curve,
        zero=zero,
        marks=marks,
        stable=stable,
        unstable=unstable,
        spot=pal("spot"),
        repriced=pal("repriced"),
        glyphs=no_color,
    )


def app_chart_colors(app: App[Any], palette: Palette) -> ChartColors:
    """`chart_colors` for the theme `app` shows now (and its NO_COLOR)."""
    return chart_colors(
        app.current_theme, app.theme_variables, palette, no_color=bool(app.no_color)
    )


_THEMED: dict[tuple[str, Palette], Palette] = {}


def widget_palette(widget: Any, palette: Palette) -> Palette:
    """`themed_palette` for the app `widget` runs in; `palette` itself for a widget drawn
    outside a running app (a pane rendered on its own, as the tests do)."""
    try:
        app = widget.app
    except NoActiveAppError:
        return palette
    return themed_palette(app, palette)


def themed_palette(app: App[Any], palette: Palette) -> Palette:
    """`palette` for text on the theme `app` shows now: each colour kept where it stands out
    from the theme's surface (MIN_CONTRAST), else pulled toward the theme's foreground
    (`readable`), as the charts do; so a regime word or the spot rule in yellow stays
    readable on a light theme. ANSI themes (the terminal's own colours, unknown here) and
    NO_COLOR keep `palette` as it is."""
    if app.no_color:
        return palette
    key = (app.current_theme.name, palette)
    if key not in _THEMED:
        variables = app.theme_variables
        surface = _solid(variables.get("surface"))
        foreground = _solid(variables.get("foreground"))
        if surface is None or foreground is None:
            _THEMED[key] = palette
        else:

            def tone(name: str) -> str:
                c = Color.parse(getattr(palette, name))
                if c.ansi is not None:
                    return str(getattr(palette, name))
                r, g, b = readable(c.rgb, surface.rgb, foreground.rgb)
                return (
                    f"#{r:02x}{g:02x}{b:02x}" if (r, g, b) != c.rgb else str(getattr(palette, name))
                )

            _THEMED[key] = Palette(
                **{n: tone(n) for n in ("stable", "unstable", "spot", "repriced", "stale")}
            )
    return _THEMED[key]
