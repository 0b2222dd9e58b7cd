"""The private details of Textual that the monitor relies on.

pyproject.toml pins textual below its next minor release. Before widening a pin, run this file on the new version: each test names
the detail, the file that uses it, and the installed versions, so an upgrade that moves one
fails here by name instead of as a frozen pane, a slow leak or a blank plot.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from typing import Any

import pytest
from textual.app import App
from textual.cache import LRUCache
from textual.widgets import DataTable

from hedgeflow.tui.panes import ZonesPane
from hedgeflow.tui.views import Palette
from tests.tui.conftest import notifications

#: The private DataTable render caches ZonesPane replaces with small ones (memory over a
#: session; hedgeflow/tui/panes.py, ZonesPane.__init__), with Textual's default sizes.
DATATABLE_CACHES = ("_cell_render_cache", "_row_render_cache", "_line_cache")


def _upgrade(detail: str, user: str) -> str:
    return (
        f"{detail} is gone or changed in textual {version('textual')}; {user} relies on it. "
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
