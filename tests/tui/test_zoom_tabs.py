"""Zoom labels that read the right way round and a zoom that never shows more than was
computed; symbol tabs that answer the mouse. The real app on the real sim, by Pilot."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from hedgeflow.engine.pipeline import analyze_chain
from hedgeflow.tui.chart_parts import impulse_window, zoom_label
from hedgeflow.tui.panes import ImpulsePane
from tests.tui.conftest import make_app, rendered, wait_for_analyses, wait_until


def test_zoom_label_words() -> None:
    assert zoom_label(1.0, 3.0) == "±3 %"
    assert zoom_label(0.25, 0.75) == "±0.75 % zoom 4×"
    assert zoom_label(4.0, 12.0) == "±12 % zoom out 4×"


def test_window_is_clamped_to_the_computed_grid() -> None:
    x = np.linspace(97.0, 103.0, 61)  # a ±3 % grid around 100
    assert impulse_window(100.0, 3.0, 1.0, x) == (97.0, 103.0)
    assert impulse_window(100.0, 3.0, 0.25, x) == (99.25, 100.75)
    assert impulse_window(100.0, 3.0, 4.0, x) == (97.0, 103.0)  # not 88..112


def _x_labels(pane: Any) -> list[float]:
    """The x-axis tick labels the pane shows (its last line inside the border)."""
    axis = rendered(pane).splitlines()[-2]
    return [float(v.replace(",", "")) for v in re.findall(r"\d[\d,]*\.?\d*", axis)]


async def test_plus_reads_as_zooming_in(tmp_path: Path) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        pane = app.screen.query_one(ImpulsePane)
        assert str(pane.border_subtitle).startswith("±3 % ·")
        await pilot.press("plus", "plus", "plus")
        await pilot.pause()
        sub = str(pane.border_subtitle)
        assert sub.startswith("±0.75 % zoom 4× ·"), sub
        assert "×0.25" not in sub
        spot = app.states["SPX"].analysis.spot
        labels = _x_labels(pane)
        assert labels and max(abs(v - spot) for v in labels) <= 0.0075 * spot


async def test_minus_never_shows_more_than_was_computed(tmp_path: Path) -> None:
    """While the wider grid is computing (held here), zooming out shows the computed grid
    only; once it is in, the wider range; and `-` stops at the widest level."""
    release = threading.Event()
    release.set()

    def analyze(*args: Any, **kw: Any) -> Any:
        release.wait(30)
        return analyze_chain(*args, **kw)

    app = make_app(symbols=["SPX"], export_dir=tmp_path, analyze=analyze)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        pane = app.screen.query_one(ImpulsePane)
        curve = app.states["SPX"].analysis.hedge_flow.impulse_curve.price
        release.clear()
        await pilot.press("minus")
        await wait_until(pilot, lambda: app.states["SPX"].busy)  # the ±6 % grid, computing
        await pilot.pause()
        sub = str(pane.border_subtitle)
        assert sub.startswith("±3 % zoom out 2×"), sub
        labels = _x_labels(pane)
        assert min(labels) >= curve.min() and max(labels) <= curve.max()
        release.set()
        await wait_for_analyses(pilot, app)
        assert str(pane.border_subtitle).startswith("±6 % zoom out 2×")
        await pilot.press("minus", "minus", "minus")
        await wait_for_analyses(pilot, app)
        assert str(pane.border_subtitle).startswith("±12 % zoom out 4×")


async def test_a_click_on_a_symbol_tab_shows_that_symbol(tmp_path: Path) -> None:
    from hedgeflow.tui.panes import SymbolBar

    app = make_app(symbols=["SPX", "SPY", "QQQ"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        bar = app.screen.query_one(SymbolBar)
        line = rendered(bar).splitlines()[0]
        assert app.current == "SPX"
        for symbol in ("QQQ", "SPY", "SPX"):
            x = line.index(f" {symbol} ")
            assert await pilot.click(SymbolBar, offset=(x + 2, 0))
            await wait_until(pilot, lambda s=symbol: app.current == s, limit=5)
        # a click beside the tabs changes nothing
        assert await pilot.click(SymbolBar, offset=(1, 0))
        await pilot.pause()
        assert app.current == "SPX"


def _svg_text(svg: str) -> str:
    """The characters a Rich SVG shows, tags dropped (a line's text is split by style)."""
    import html

    body = svg.split("</style>", 1)[-1]
    return html.unescape(re.sub(r"<[^>]+>", "", body)).replace("\xa0", " ")


async def test_a_screenshot_leaves_the_notices_out(tmp_path: Path) -> None:
    """`s` right after an export: the export's toast is on screen, not in the picture; the
    notices come back after, with the screenshot's own."""
    from tests.tui.conftest import notifications

    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for_analyses(pilot, app)
        app.notify("TOAST-ON-SCREEN-42", title="Exported", timeout=60)
        await wait_until(pilot, lambda: "TOAST-ON-SCREEN-42" in _svg_text(app.export_screenshot()))
        await pilot.press("s")
        await wait_until(pilot, lambda: len(list(tmp_path.glob("*.svg"))) == 1)
        # the screenshot's own notice, once the file is written
        await wait_until(pilot, lambda: any(n.message.endswith(".svg") for n in notifications(app)))
        text = _svg_text(next(tmp_path.glob("*.svg")).read_text(encoding="utf-8"))  # noqa: ASYNC240
        assert "TOAST-ON-SCREEN-42" not in text and "Exported" not in text
        assert "Impulse H(S)" in text  # the monitor itself is in the picture
        messages = [n.message for n in notifications(app)]
        assert "TOAST-ON-SCREEN-42" in messages and any(m.endswith(".svg") for m in messages)
        racks = list(app.screen.query("ToastRack"))
        assert racks and all(r.display for r in racks)
