"""`h`, `m` and `k` on the real app with the sim running several analyses: the history
pane and the heatmap take the impulse curve's cell, show the symbol's own history of the
scope on screen, and the lens key changes what the cells hold."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.text import Text

from hedgeflow.app.heatmap import Lens, build_grid
from hedgeflow.app.history_view import latest_in_bins
from hedgeflow.feeds.sim import SimFeed
from hedgeflow.tui.heatmap import NEG_GLYPHS, POS_GLYPHS, SPOT_GLYPH, HeatmapPane
from hedgeflow.tui.history import HistoryPane
from hedgeflow.tui.panes import ImpulsePane
from hedgeflow.tui.strikes import StrikesPane
from tests.tui.conftest import SEED, START, make_app, rendered, wait_until


def _running_app(tmp_path: Path, **kw: Any) -> Any:
    feed = SimFeed(seed=SEED, start=START.isoformat(), speed=300.0)
    return make_app(
        feed, ["SPX", "SPY"], export_dir=tmp_path, poll_interval=0.1, frozen=False, **kw
    )


async def settled(pilot: Any, app: Any) -> None:
    """Polling paused: wait until no poll and no engine run is in flight (the last ones
    land first), then one refresh, so that the panes read below hold still."""
    await wait_until(pilot, lambda: not any(st.polling or st.busy for st in app.states.values()))
    await pilot.pause()


def _shown(app: Any) -> set[str]:
    return {
        type(w).__name__
        for w in app.screen.query("ImpulsePane, StrikesPane, HistoryPane, HeatmapPane")
        if w.display
    }


async def test_h_m_k_show_the_history_the_heatmap_and_its_lenses(tmp_path: Path) -> None:
    app = _running_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.states["SPX"].history) >= 5, 90.0)
        await pilot.press("space")  # hold the data still while the panes are read
        await settled(pilot, app)
        st = app.states["SPX"]
        assert _shown(app) == {"ImpulsePane"}

        await pilot.press("h")
        await pilot.pause()
        assert _shown(app) == {"HistoryPane"}
        pane = app.screen.query_one(HistoryPane)
        rows = st.history.rows(st.analysis.scope)
        title = str(pane.border_title)
        assert title.startswith(f"{st.analysis.scope} · Levels vs spot · SPX · since ")
        assert "(sim clock" in title  # simulated time is never shown as live
        text = rendered(pane)
        assert " sim ET " in text  # the time axis names the data clock
        # the session is minutes old: its labels are to the second, each one later
        axis = next(line for line in text.splitlines() if " sim ET " in line)
        labels = re.findall(r"\d\d:\d\d(?::\d\d)?", axis)
        assert len(labels) >= 2 and labels == sorted(set(labels))
        flips_line = next(line.strip("│ ") for line in text.splitlines() if "flips" in line)
        # the newest row's flip count is the last digit of the flips row
        assert flips_line.rstrip()[-1] == str(rows[-1].flip_count)
        # at 120 columns the legend is whole and the frame holds it; the flips and charm
        # now are in the rows under the chart
        sub = Text.from_markup(str(pane.border_subtitle)).plain
        assert sub.endswith("━attract") and len(sub) <= pane.size.width - 4

        await pilot.press("m")
        await pilot.pause()
        assert _shown(app) == {"HeatmapPane"}
        heat = app.screen.query_one(HeatmapPane)
        rendered(heat)
        g = heat.grid
        assert g is not None and g.lens is Lens.IMPULSE
        samples = st.history.samples(st.analysis.scope)
        assert g.samples == len(samples) >= 5
        # the grid on screen is the model's grid of these samples at the pane's size
        cols, lines = heat.size.width - 7, heat.size.height - 2
        again = build_grid(samples, Lens.IMPULSE, cols, 2 * lines)
        np.testing.assert_array_equal(g.values, again.values)
        idx, _ = latest_in_bins(np.array([s.time for s in samples]), cols)
        assert g.sample[-1] == idx[-1] == len(samples) - 1  # the newest analysis is drawn
        title = str(heat.border_title)
        assert "H(S) heatmap · SPX since " in title and "(sim clock" in title
        assert title.endswith("$/+1%/pt")
        assert "p98|cell|" in rendered(heat) and "│sim ET " in rendered(heat)

        for want, words in ((Lens.CHARM, "Charm by strike"), (Lens.GEX, "GEX by strike")):
            await pilot.press("k")
            await pilot.pause()
            rendered(heat)
            assert heat.grid is not None and heat.grid.lens is want
            assert words in str(heat.border_title)
        await pilot.press("k")
        await pilot.pause()
        rendered(heat)
        assert heat.grid is not None and heat.grid.lens is Lens.IMPULSE

        # b takes the cell for the by-strike bars; m again goes back to the impulse curve
        await pilot.press("b")
        await pilot.pause()
        assert _shown(app) == {"StrikesPane"}
        await pilot.press("b", "m")
        await pilot.pause()
        assert _shown(app) == {"HeatmapPane"}
        await pilot.press("m")
        await pilot.pause()
        assert _shown(app) == {"ImpulsePane"}
        assert app.screen.query_one(ImpulsePane).display
        assert not app.screen.query_one(StrikesPane).display


async def test_a_repaint_without_new_data_reuses_the_painted_lines(tmp_path: Path) -> None:
    app = _running_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.states["SPX"].history) >= 3, 90.0)
        await pilot.press("space", "m")
        await settled(pilot, app)
        heat = app.screen.query_one(HeatmapPane)
        rendered(heat)
        lines, grid = heat._lines, heat.grid
        app.refresh_views()
        heat.refresh()
        await pilot.pause()
        rendered(heat)
        assert heat._lines is lines and heat.grid is grid
        # new data: a new grid
        st = app.states["SPX"]
        last = st.history.rows()[-1]
        st.history.add(replace(last, time=last.time + 5.0), st.history.samples()[-1])
        app.refresh_views()
        await pilot.pause()
        rendered(heat)
        assert heat.grid is not grid


async def test_no_color_heatmap_uses_shading_glyphs(tmp_path: Path) -> None:
    app = _running_app(tmp_path, colors=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.states["SPX"].history) >= 3, 90.0)
        await pilot.press("space", "m")
        await settled(pilot, app)
        heat = app.screen.query_one(HeatmapPane)
        # the pane's content lines (no border), above the time axis and the legend
        body = [heat.render_line(y).text for y in range(heat.size.height)][:-2]
        cells = "".join(line[7:] for line in body)
        assert set(cells) <= set(POS_GLYPHS + NEG_GLYPHS + SPOT_GLYPH + " ")
        assert SPOT_GLYPH in cells and set(cells) & set(POS_GLYPHS + NEG_GLYPHS)
        assert heat.grid is not None
        # one price row a line without colour; the glyph's sign is the cell's sign
        g = heat.grid
        top = body[0][7:]
        row = g.shape[0] - 1
        for c, ch in enumerate(top[: g.shape[1]]):
            v = g.values[row, c]
            if ch in POS_GLYPHS:
                assert v > 0
            elif ch in NEG_GLYPHS:
                assert v < 0


async def test_a_wide_history_pane_says_the_flips_and_charm_now_beside_its_legend(
    tmp_path: Path,
) -> None:
    app = _running_app(tmp_path)
    async with app.run_test(size=(170, 45)) as pilot:  # (at 180+ the cell is split in two)
        await wait_until(pilot, lambda: len(app.states["SPX"].history) >= 2, 90.0)
        await pilot.press("space")
        await settled(pilot, app)
        await pilot.press("h")
        await pilot.pause()
        pane = app.screen.query_one(HistoryPane)
        last = app.states["SPX"].history.last(app.states["SPX"].analysis.scope)
        sub = Text.from_markup(str(pane.border_subtitle)).plain
        assert sub.startswith(f"now {last.flip_count} flip") and sub.endswith("━attract")
        assert len(sub) <= pane.size.width - 4
