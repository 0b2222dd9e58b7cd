"""The private details of Textual and textual-plotext that the monitor relies on.

pyproject.toml pins textual below its next minor release and textual-plotext/plotext below
their next major. Before widening a pin, run this file on the new version: each test names
the detail, the file that uses it, and the installed versions, so an upgrade that moves one
fails here by name instead of as a frozen pane, a slow leak or a blank plot.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from hedgeflow.tui.panes import ZonesPane
from hedgeflow.tui.views import Palette
from tests.tui.conftest import notifications

#: The private DataTable render caches ZonesPane replaces with small ones (memory over a
#: session; hedgeflow/tui/panes.py, ZonesPane.__init__), with Textual's default sizes.
DATATABLE_CACHES = ("_cell_render_cache", "_row_render_cache", "_line_cache")


def _upgrade(detail: str, user: str) -> str:
    return (
        f"{detail} is gone or changed in textual {version('textual')} / textual-plotext "
        f"{version('textual-plotext')} / plotext {version('plotext')}; {user} relies on it. "
        "Adapt that code before widening the pin in pyproject.toml."
    )


@pytest.mark.parametrize("name", DATATABLE_CACHES)
def test_datatable_keeps_its_render_caches_in_the_attributes_zonespane_replaces(
    name: str,
) -> None:
    cache = getattr(DataTable(), name, None)
    assert isinstance(cache, LRUCache), _upgrade(f"DataTable.{name} (an LRUCache)", "ZonesPane")
    # the render path must read the attribute, or replacing it changes nothing
    source = inspect.getsource(DataTable)
    assert f"self.{name}[" in source or f"in self.{name}" in source, _upgrade(
        f"DataTable's render path reading self.{name}", "ZonesPane"
    )


def test_zonespane_small_caches_survive_a_clear() -> None:
    """Textual's clear() must empty the caches, not build new default-sized ones."""
    pane = ZonesPane(Palette())
    pane.clear(columns=True)
    sizes = {name: getattr(pane, name).maxsize for name in DATATABLE_CACHES}
    assert sizes == {"_cell_render_cache": 512, "_row_render_cache": 128, "_line_cache": 128}, (
        _upgrade("DataTable.clear() keeping its cache objects", "ZonesPane")
    )


@pytest.mark.parametrize(("width", "height"), [(40, 10), (97, 23)])
def test_plot_set_size_makes_the_build_exactly_the_pane_size(width: int, height: int) -> None:
    """_StripPlot._build_strips calls plot._set_size(width, height) as PlotextPlot.render
    does, then cuts the built text into `height` strips of `width` cells."""
    set_size = getattr(Plot, "_set_size", None)
    assert callable(set_size), _upgrade("Plot._set_size", "_StripPlot._build_strips")
    params = list(inspect.signature(set_size).parameters)
    assert params[:3] == ["self", "width", "height"], _upgrade(
        f"Plot._set_size(width, height) (now {params})", "_StripPlot._build_strips"
    )
    plot = Plot()
    plot.plotsize(width, height)
    plot._set_size(width, height)
    plot.plot([1.0, 2.0, 3.0], [1.0, 4.0, 9.0])
    lines = Text.from_ansi(plot.build()).split("\n", allow_blank=True)
    drawn = [line.cell_len for line in lines if line.cell_len]
    assert drawn == [width] * height, _upgrade(
        "a plot built after _set_size(w, h) being h lines of w cells", "_StripPlot._build_strips"
    )


async def test_plotext_theme_name_is_the_one_the_widget_registers() -> None:
    """_StripPlot._build_strips sets plot.theme(self._get_plotext_theme_name(app.theme));
    the name must be one PlotextPlot registered with plotext on mount."""
    from plotext._dict import themes  # the table PlotextPlot registers its themes in

    method = getattr(PlotextPlot, "_get_plotext_theme_name", None)
    assert callable(method), _upgrade("PlotextPlot._get_plotext_theme_name", "_StripPlot")

    class PlotApp(App[None]):
        def compose(self) -> ComposeResult:
            yield PlotextPlot()

    app = PlotApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        plot = app.query_one(PlotextPlot)
        name = plot._get_plotext_theme_name(app.theme)
        assert isinstance(name, str) and name in themes, _upgrade(
            f"PlotextPlot._get_plotext_theme_name({app.theme!r}) naming a registered theme "
            f"(got {name!r})",
            "_StripPlot._build_strips",
        )


async def test_app_notifications_lists_what_notify_showed() -> None:
    """tests/tui/conftest.py `notifications` reads App._notifications (no public view)."""
    app: App[Any] = App()
    async with app.run_test() as pilot:
        app.notify("first", title="One")
        app.notify("second", title="Two", severity="warning")
        await pilot.pause()
        try:
            seen = [(str(n.title), n.message) for n in notifications(app)]
        except (AttributeError, TypeError) as exc:
            pytest.fail(_upgrade(f"App._notifications ({exc})", "tests/tui/conftest.py"))
        assert seen == [("One", "first"), ("Two", "second")], _upgrade(
            f"App._notifications iterating the shown notifications (got {seen})",
            "tests/tui/conftest.py",
        )
