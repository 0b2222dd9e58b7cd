"""Readable charts in every theme the palette offers, and without colour: the chart
colours against each theme's canvas, and what the real app draws (Pilot)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hedgeflow.tui.chart_parts import sign_runs
from hedgeflow.tui.chart_theme import (
    MIN_CONTRAST,
    UNSTABLE_FILL,
    app_chart_colors,
    contrast,
    readable,
)
from hedgeflow.tui.panes import ImpulsePane
from hedgeflow.tui.views import Palette
from tests.tui.conftest import make_app, rendered, wait_for_analyses


def test_readable_pulls_a_faint_colour_toward_the_ink() -> None:
    light, ink = (216, 216, 216), (31, 31, 31)
    yellow = (255, 255, 0)
    assert contrast(yellow, light) < MIN_CONTRAST
    fixed = readable(yellow, light, ink)
    assert contrast(fixed, light) >= MIN_CONTRAST
    green = (0, 128, 0)  # already readable: untouched
    assert readable(green, light, ink) == green


def test_sign_runs_cut_where_the_sign_changes() -> None:
    runs = sign_runs([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, -1.0, -2.0, 3.0])
    assert [(r[0], r[2]) for r in runs] == [
        ([1.0, 2.0], True),
        ([2.0, 3.0, 4.0], False),
        ([4.0, 5.0], True),
    ]


async def test_every_theme_draws_readable_charts(tmp_path: Path) -> None:
    """For each theme: tick labels stand out from the canvas (or both are the terminal's
    defaults), and so does every palette colour the charts use."""
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        themes = sorted(app.available_themes)
        assert "textual-light" in themes and "ansi-light" in themes
        for name in themes:
            app.theme = name
            await pilot.pause()
            c = app_chart_colors(app, Palette())
            if c.canvas == "default":
                assert c.ticks == "default" and c.curve == "default", name
                canvas = (255, 255, 255) if not app.current_theme.dark else (0, 0, 0)
            else:
                assert isinstance(c.canvas, tuple) and isinstance(c.ticks, tuple)
                assert contrast(c.ticks, c.canvas) >= MIN_CONTRAST, name  # the theme's own text
                canvas = c.canvas
            for part in (c.stable, c.unstable, c.spot, c.repriced):
                assert isinstance(part, tuple)
                assert contrast(part, canvas) >= MIN_CONTRAST, (name, part)


@pytest.mark.parametrize("colors", [True, False])
async def test_without_colour_zones_and_signs_differ_by_glyph(tmp_path: Path, colors: bool) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path, colors=colors)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        # The plot inside the border (its title and legend use "·" as a separator).
        text = "\n".join(rendered(app.screen.query_one(ImpulsePane)).splitlines()[1:-1])
        cloud = app.states["SPX"].analysis.pressure_cloud
    assert cloud.stability_zones and cloud.acceleration_zones  # both kinds are on screen
    if colors:
        assert UNSTABLE_FILL not in text and "·" not in text
    else:
        assert UNSTABLE_FILL in text  # unstable zones shaded
        assert "█" in text or "▄" in text or "▀" in text  # stable ones solid
        assert "·" in text  # the curve below zero dotted


def test_zone_rows_without_colour_use_the_default_ink() -> None:
    """Under NO_COLOR the zones table's type words, bars and edge arrows carry no palette
    colour (its red and green become two dark greys, the unstable one barely readable);
    with colour they carry the palette's stable/unstable colours."""
    from hedgeflow.engine.pipeline import analyze_chain
    from hedgeflow.feeds.sim import SimFeed
    from hedgeflow.tui.zonerows import zone_rows
    from tests.tui.conftest import START

    a = analyze_chain(SimFeed(seed=7, start=START, speed=0.0).chain_at("SPX", START))
    palette = Palette()
    _, coloured, _ = zone_rows(a, palette)
    _, plain, _ = zone_rows(a, palette, no_color=True)
    assert coloured and len(plain) == len(coloured)
    tones = {palette.hex("stable"), palette.hex("unstable")}
    assert any(str(r[1].style) in tones for r in coloured)
    for row in plain:
        assert str(row[1].style) == ""  # the type word
        for cell in row:
            if hasattr(cell, "spans"):
                assert not any(str(s.style) in tones for s in cell.spans)
                assert str(cell.style) not in tones


async def test_text_colours_stand_out_in_every_theme(tmp_path: Path) -> None:
    """The panes' coloured words (the regime, the spot rule, stale) in every theme with its
    own colours stand out from the theme's surface as the charts do: yellow regime words on
    the light theme's grey were unreadable; the default dark theme keeps the palette."""
    from textual.color import Color

    from hedgeflow.tui.chart_theme import themed_palette
    from hedgeflow.tui.panes import RegimePane

    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_analyses(pilot, app)
        palette = app.palette
        assert themed_palette(app, palette) == palette  # the default dark theme
        for name in sorted(app.available_themes):
            app.theme = name
            await pilot.pause()
            surface = Color.parse(app.theme_variables["surface"])
            if surface.ansi is not None or surface.a < 1:
                continue  # the terminal's own colours: unknown here
            themed = themed_palette(app, palette)
            for part in ("stable", "unstable", "spot", "repriced", "stale"):
                rgb = Color.parse(getattr(themed, part)).rgb
                assert contrast(rgb, surface.rgb) >= MIN_CONTRAST, (name, part)
        app.theme = "textual-light"
        await pilot.pause()
        style = app.screen.query_one(RegimePane)._regime_style("squeeze-down")
        assert style == themed_palette(app, palette).hex("spot") != palette.hex("spot")


async def test_a_new_theme_repaints_the_charts_in_its_colours(tmp_path: Path) -> None:
    """The painted charts keep their lines per theme: a theme switch repaints them with
    the new theme's tick colour."""
    from hedgeflow.tui.chartcanvas import rich_color
    from hedgeflow.tui.panes import CharmPane

    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        await pilot.pause()
        for name in ("textual-light", "nord"):
            app.theme = name
            await pilot.pause()
            await pilot.pause()
            ticks = rich_color(app_chart_colors(app, Palette()).ticks)
            for cls in (ImpulsePane, CharmPane):
                pane = app.screen.query_one(cls)
                assert pane._key is not None and name in pane._key, (cls, name)
                colours = {
                    str(seg.style.color.triplet.hex)
                    if seg.style and seg.style.color and seg.style.color.triplet
                    else ""
                    for line in pane._lines
                    for seg in line
                }
                assert ticks in colours, (cls, name, ticks)
