"""The command palette offers "Add symbol" only for a symbol the active feed can serve: on
the simulated market any ticker (an unknown one becomes a synthetic underlying), on a file
feed its own symbols; otherwise one line says why. Driven by key presses on the real app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.command import Command, CommandList, CommandPalette

from hedgeflow.feeds.base import open_feed
from hedgeflow.tui.app import HedgeflowApp
from tests.tui.conftest import make_app, notifications, wait_for_analyses, wait_until

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


async def palette_options(pilot: Any, query: str) -> list[str]:
    """Open the palette, type `query`, and read the options offered, top first."""
    app = pilot.app
    if not isinstance(app.screen, CommandPalette):
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), limit=5)
    await pilot.press(*query)
    # The palette searches in its own worker: wait until that search is done (the offers
    # are then final), not for a fixed time.
    palette = app.screen
    await pilot.pause()
    await wait_until(
        pilot, lambda: not any(w.node is palette and not w.is_finished for w in app.workers), 10
    )
    await pilot.pause()
    options = app.screen.query_one(CommandList)
    found = [options.get_option_at_index(i) for i in range(options.option_count)]
    # "No matches found" is a plain option, not a command
    return [str(o.hit.text) for o in found if isinstance(o, Command)]


async def close_palette(pilot: Any) -> None:
    await pilot.press("escape")
    await wait_until(pilot, lambda: not isinstance(pilot.app.screen, CommandPalette), limit=5)


async def test_sim_offers_any_ticker_and_serves_it(tmp_path: Path) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        offered = await palette_options(pilot, "add xyz")
        assert offered[0] == "Add symbol XYZ", offered
        await pilot.press("enter")
        await wait_until(pilot, lambda: "XYZ" in app.symbols)
        await wait_for_analyses(pilot, app, ["XYZ"])
        a = app.states["XYZ"].analysis
        assert a is not None and a.symbol == "XYZ" and app.states["XYZ"].error is None
        # A bare word is a ticker too, ranked below a command of that name.
        offered = await palette_options(pilot, "theme")
        assert "Add symbol THEME" in offered and offered.index("Add symbol THEME") > 0, offered


async def test_sim_refuses_a_bad_ticker_with_a_reason(tmp_path: Path) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        offered = await palette_options(pilot, "add 12ab")
        assert not any(o.startswith("Add symbol") for o in offered), offered
        assert "Cannot add 12AB" in offered
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: any("not a ticker" in n.message for n in notifications(app))
        )
        note = next(n.message for n in notifications(app) if "not a ticker" in n.message)
        assert note == "'12AB' is not a ticker (1-6 letters, optionally .CLASS: SPX, AAPL, BRK.B)"
        assert app.symbols == ["SPX"]
        # A bare word that is not a ticker offers nothing (it may be another command's name).
        offered = await palette_options(pilot, "x1")
        assert not any("symbol X1" in o or "add X1" in o for o in offered), offered


def _file_app(tmp_path: Path) -> HedgeflowApp:
    feed = open_feed(
        "file",
        {
            "path": {
                "SPX": str(REAL / "spx_quotedata_2023-09-14.csv"),
                "SPY": str(REAL / "spy_quotedata_2023-09-14.csv"),
            }
        },
    )
    return make_app(feed, ["SPX"], export_dir=tmp_path)


async def test_file_feed_offers_only_its_own_symbols(tmp_path: Path) -> None:
    app = _file_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        # Opened with nothing typed: the file's other symbol, by name.
        offered = await palette_options(pilot, "")
        assert "Add symbol SPY" in offered and "Add symbol SPX" not in offered, offered
        assert not any("TICKER" in o for o in offered), offered
        await close_palette(pilot)
        offered = await palette_options(pilot, "add qqq")
        assert not any(o.startswith("Add symbol") for o in offered), offered
        assert "Cannot add QQQ" in offered
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("has no QQQ" in n.message for n in notifications(app)))
        note = next(n.message for n in notifications(app) if "has no QQQ" in n.message)
        assert note == "feed 'file' has no QQQ (it has SPX, SPY)"
        assert app.symbols == ["SPX"]
        # "theme" is a valid ticker form, but the files do not hold it: nothing offered.
        offered = await palette_options(pilot, "theme")
        assert not any("THEME" in o for o in offered), offered
        await close_palette(pilot)
        offered = await palette_options(pilot, "add spy")
        assert offered[0] == "Add symbol SPY", offered
        await pilot.press("enter")
        await wait_until(pilot, lambda: "SPY" in app.symbols)
        await wait_for_analyses(pilot, app, ["SPY"])
