"""A screen that never hides a number (issue 11, item 5), on the real app and sim:

- no number a pane shows is cut without an ellipsis, at 80x24, 120x40 and 200x60: every
  number-like token on screen is compared with the full figures of the pane's own model
  (the zones table's cells, the by-strike model, the regime grid rendered unbounded, the
  border titles before they are fitted); a token that is not one of them must end in "…",
  or sit at the right edge of a table that scrolls sideways (its scrollbar shows);
- the by-strike pane's keys (b, n, c), the wide layout, the too-small message, the footer
  and the legend.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Footer, Static

from hedgeflow.app.legend import legend_labels
from hedgeflow.app.strikes import Greek, Split, headline_levels, strike_bars
from hedgeflow.tui.panes import CharmPane, ImpulsePane, RegimePane, ZonesPane
from hedgeflow.tui.strikes import StrikesPane
from tests.tui.conftest import make_app, rendered, wait_for_analyses

NUMBER = re.compile(r"[+\-−]?\$?\d[\d,]*(?:\.\d+)?[KMBT%]?")
SIZES = [(80, 24), (120, 40), (200, 60)]


def tokens(text: str) -> set[str]:
    return set(NUMBER.findall(text))


def full_text(renderable: Any) -> str:
    console = Console(width=400, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()


def cut_numbers(widget: Any, full: set[str], *, scrolls: bool = False) -> list[str]:
    """Tokens on `widget`'s screen lines that are not full figures and do not end in an
    ellipsis (nor, for a table that scrolls sideways, touch its right edge)."""
    bad = []
    for line in rendered(widget).split("\n"):
        for m in NUMBER.finditer(line):
            if m.group() in full or line[m.end() : m.end() + 1] == "…":
                continue
            if scrolls and m.end() >= len(line.rstrip("│▐▌ ")) and m.end() >= len(line) - 3:
                continue
            bad.append(f"{m.group()!r} in {line.strip()!r}")
    return bad


def frame_tokens(widget: Any) -> set[str]:
    return tokens(f"{widget.border_title or ''} {widget.border_subtitle or ''}")


@pytest.mark.parametrize(("width", "height"), SIZES)
@pytest.mark.parametrize("strikes", [False, True])
async def test_no_number_is_cut_without_an_ellipsis(
    tmp_path: Path, width: int, height: int, strikes: bool
) -> None:
    app = make_app(symbols=["SPX", "SPY"], export_dir=tmp_path)
    async with app.run_test(size=(width, height)) as pilot:
        await wait_for_analyses(pilot, app)
        if strikes:
            await pilot.press("b", "c")
            await pilot.pause()
        screen = app.screen
        a = app.states["SPX"].analysis
        assert a is not None
        # zones: every cell of every row, header and frame
        zones = screen.query_one(ZonesPane)
        full = frame_tokens(zones) | tokens(" ".join(str(c.label) for c in zones.columns.values()))
        for i in range(zones.row_count):
            full |= tokens(" ".join(str(c) for c in zones.get_row_at(i)))
        scrolls = zones.max_scroll_x > 0
        assert not cut_numbers(zones, full, scrolls=scrolls)
        # the first columns (level, type, contracts) always show whole
        first = rendered(zones).split("\n")[2]  # the top border, the header, the first row
        row0 = [str(c) for c in zones.get_row_at(0)]
        assert row0[0] in first and all(c in first for c in row0[2:4]), first
        # regime: the grid rendered unbounded
        regime = screen.query_one(RegimePane)
        compact = regime.size.width < 40 or regime.size.height < 13
        full = frame_tokens(regime) | tokens(full_text(regime._render_regime(a, compact=compact)))
        assert not cut_numbers(regime, full)
        # by strike: the pane's own model at its height
        pane = screen.query_one(StrikesPane)
        if pane.display:
            view = pane.view
            assert view is not None
            m = strike_bars(
                a.exposure,
                Greek(view.greek),
                Split(view.split),
                max_rows=pane.content_size.height,
                levels=headline_levels(a),
            )
            full = frame_tokens(pane)
            for r in m.rows:
                full |= tokens(f"{r.label} {r.net_text} {r.call_text} {r.put_text}")
            full |= tokens(" ".join(mk.text for mk in m.markers))
            assert m.rows
            assert not cut_numbers(pane, full)
        # every pane's title and subtitle: fitted with an ellipsis, never cut bare
        for cls in (ImpulsePane, CharmPane):
            w = screen.query_one(cls)
            if w.display:
                top = rendered(w).split("\n")
                # the compact layout draws only a top rule (with the title)
                framed = [top[0]] if screen.has_class("-compact") else [top[0], top[-1]]
                for line in framed:
                    bad = [
                        t
                        for t in NUMBER.finditer(line)
                        if t.group() not in frame_tokens(w) and line[t.end() : t.end() + 1] != "…"
                    ]
                    assert not bad, line


async def test_strike_pane_keys(tmp_path: Path) -> None:
    """b swaps the impulse curve for the bars; n cycles GEX, VEX, CEX, DEX; c splits."""
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        impulse, bars = app.screen.query_one(ImpulsePane), app.screen.query_one(StrikesPane)
        assert impulse.display and not bars.display
        await pilot.press("b")
        await pilot.pause()
        assert bars.display and not impulse.display
        assert str(bars.border_title).startswith("nearest · GEX by strike $/+1% · net")
        for name, unit in (("VEX", "$/vol pt"), ("CEX", "$/day"), ("DEX", "$ of underlying")):
            await pilot.press("n")
            await pilot.pause()
            assert str(bars.border_title).startswith(f"nearest · {name} by strike {unit} · net")
        # DEX by hand: the figure beside the top strike is the engine's DEX there
        a = app.states["SPX"].analysis
        assert a is not None and a.exposure.delta is not None
        top = rendered(bars).split("\n")[1].strip("│ ").split()
        k = float(top[0].replace(",", ""))
        i = list(a.exposure.strikes).index(k)
        from hedgeflow.app.fmt import fmt_dollars

        assert top[1] == fmt_dollars(float(a.exposure.delta[i]), signed=True)
        await pilot.press("c")
        await pilot.pause()
        assert "· calls/puts ·" in str(bars.border_title)
        line = rendered(bars).split("\n")[1].strip("│ ")
        assert line.split()[0] == top[0]
        assert line.split()[1] == fmt_dollars(float(a.exposure.calls.delta[i]), signed=True)
        assert line.split()[2] == fmt_dollars(float(a.exposure.puts.delta[i]), signed=True)
        await pilot.press("n", "b")
        await pilot.pause()
        assert impulse.display and not bars.display
        assert app.strike_greek is Greek.GEX and app.strike_split is Split.SIDES
        # spot is ruled between the strikes it falls between
        await pilot.press("b")
        await pilot.pause()
        text = rendered(bars)
        assert "spot " in text


async def test_wide_layout_shows_both_and_grows_the_right_column(tmp_path: Path) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_for_analyses(pilot, app)
        screen = app.screen
        assert screen.has_class("-wide")
        assert screen.query_one(ImpulsePane).display and screen.query_one(StrikesPane).display
        assert screen.query_one(RegimePane).size.width >= 55  # was fixed at 46
        zones = screen.query_one(ZonesPane)
        header = rendered(zones).split("\n")[1]
        assert "Dealers" in header and "Edges" in header  # on screen, not off it
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert not screen.has_class("-wide") and not screen.query_one(StrikesPane).display
        # narrower: the words column is fitted to what is left, its header whole and its
        # words ending in an ellipsis; Edges wait beyond it, reached by scrolling
        lines = rendered(zones).split("\n")
        assert "Dealers" in lines[1] and "Edges" not in lines[1]
        assert "…" in lines[2]


async def test_too_small_says_so_and_comes_back(tmp_path: Path) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(79, 30)) as pilot:
        await wait_for_analyses(pilot, app)
        note = app.screen.query_one("#too-small", Static)
        assert note.display and app.screen.query_one(ZonesPane).display is not False
        assert "terminal too small: 79x30 (need 80x24)" in rendered(note)
        assert not app.screen.query_one("#panes").display
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not note.display and app.screen.query_one("#panes").display
        await pilot.resize_terminal(100, 23)
        await pilot.pause()
        assert "100x23" in rendered(note)


async def test_footer_fits_80_columns_and_ends_in_a_word(tmp_path: Path) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_analyses(pilot, app)
        footer = app.screen.query_one(Footer)
        assert footer.region.y == 23
        console = Console(width=80, height=24, file=io.StringIO(), record=True)
        console.print(app.screen._compositor.render_update(full=True))
        text = console.export_text().split("\n")[23].rstrip()
        assert text.startswith("? Help") or text.split()[:2] == ["?", "Help"]
        assert text.split()[-1] == "Errors", text


async def test_help_has_a_legend_for_every_regime_label(tmp_path: Path) -> None:
    """Every label the regime pane prints (at full size) and every zones column is
    explained in the legend, and the help screen shows the legend (? and F1)."""
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        a = app.states["SPX"].analysis
        regime = app.screen.query_one(RegimePane)
        table = regime._render_regime(a, compact=False)
        shown = [str(c) for c in table.columns[0]._cells if str(c)]
        legend = " ".join(legend_labels())
        missing = [label for label in shown if label not in legend]
        assert not missing
        assert a.hedge_flow.impulse_curve.regime.value in legend
        zones = app.screen.query_one(ZonesPane)
        for col in zones.columns.values():
            name = str(col.label)
            assert name in legend or name in ("Level", "Type", "Dealers"), name
        await pilot.press("f1")
        await pilot.pause()
        text = rendered(app.screen.query_one("#help-legend", Static))
        assert "k … ATM, … K vp/1%" in text and "bias … ratio" in text and "R skew" in text
