"""Snapshot tests (pytest-textual-snapshot) of the monitor on the seeded sim with a frozen
clock: the main screen at 80x24 (compact layout) and 120x40, the help screen, and the
stale/error state. Update baselines with `make snapshot-update` after looking at the
report (`snapshot_report.html`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hedgeflow.tui.screenshot import prefill_history
from tests.tui.conftest import SEED, START, make_app, wait_for_analyses, wait_until


def _ready(app: Any):
    async def run_before(pilot: Any) -> None:
        await wait_for_analyses(pilot, app)

    return run_before


def test_main_screen_80x24(snap_compare: Any, tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_ready(app))


def test_main_screen_120x40(snap_compare: Any, tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_ready(app))


def test_help_screen(snap_compare: Any, tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path)

    async def run_before(pilot: Any) -> None:
        await wait_for_analyses(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 34), run_before=run_before)


def test_second_symbol_repriced_view_120x40(snap_compare: Any, tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path)

    async def run_before(pilot: Any) -> None:
        await wait_for_analyses(pilot, app)
        await pilot.press("2", "g")
        await wait_until(pilot, lambda: app.current == "SPY")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_light_theme_120x40(snap_compare: Any, tmp_path: Path) -> None:
    """The palette's light theme: axes, labels and series in the theme's own colours (the
    spot line and the charm fill darkened until they stand out from the light canvas)."""
    app = make_app(export_dir=tmp_path)

    async def run_before(pilot: Any) -> None:
        await wait_for_analyses(pilot, app)
        app.theme = "textual-light"
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_ansi_light_theme_120x40(snap_compare: Any, tmp_path: Path) -> None:
    """An ANSI theme: the charts in the terminal's default colours (they were black on
    black: the theme's surface and text are the terminal's, which plotext read as black)."""
    app = make_app(export_dir=tmp_path)

    async def run_before(pilot: Any) -> None:
        await wait_for_analyses(pilot, app)
        app.theme = "ansi-light"
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_no_color_120x40(snap_compare: Any, tmp_path: Path) -> None:
    """Without colour (NO_COLOR, `colors = false`): unstable zones shaded, stable ones
    solid; the impulse curve braille above zero and dotted below."""
    app = make_app(export_dir=tmp_path, colors=False)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_ready(app))


def test_main_screen_200x60(snap_compare: Any, tmp_path: Path) -> None:
    """The wide layout: impulse curve and by-strike bars side by side, right column 30%."""
    app = make_app(export_dir=tmp_path)
    assert snap_compare(app, terminal_size=(200, 60), run_before=_ready(app))


def _keys(app: Any, *keys: str):
    async def run_before(pilot: Any) -> None:
        await wait_for_analyses(pilot, app)
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


def test_strikes_pane_80x24(snap_compare: Any, tmp_path: Path) -> None:
    """b: the GEX bars in place of the impulse curve, compact layout."""
    app = make_app(export_dir=tmp_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_keys(app, "b"))


def test_strikes_pane_calls_puts_120x40(snap_compare: Any, tmp_path: Path) -> None:
    """b c: calls (█) and puts (▒) apart."""
    app = make_app(export_dir=tmp_path)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_keys(app, "b", "c"))


def test_strikes_pane_dex_200x60(snap_compare: Any, tmp_path: Path) -> None:
    """n n n: DEX by strike, beside the impulse curve in the wide layout."""
    app = make_app(export_dir=tmp_path)
    assert snap_compare(app, terminal_size=(200, 60), run_before=_keys(app, "n", "n", "n"))


def test_terminal_too_small(snap_compare: Any, tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path)
    assert snap_compare(app, terminal_size=(70, 20), run_before=_ready(app))


def test_all_expiry_scope_120x40(snap_compare: Any, tmp_path: Path) -> None:
    """`o` four times: every expiry summed; every title says "all (N)"."""
    app = make_app(export_dir=tmp_path)

    async def run_before(pilot: Any) -> None:
        await wait_for_analyses(pilot, app)
        await pilot.press("o", "o", "o", "o")
        await wait_until(pilot, lambda: app.states["SPX"].analysis.scope == "all")
        await wait_for_analyses(pilot, app)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_levels_card_80x24(snap_compare: Any, tmp_path: Path) -> None:
    """`v`: the levels card in the zones table's cell, nearest spot first, with ES."""
    app = make_app(export_dir=tmp_path)

    async def run_before(pilot: Any) -> None:
        await wait_for_analyses(pilot, app)
        await pilot.press("v")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_levels_card_all_scope_120x40(snap_compare: Any, tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path)

    async def run_before(pilot: Any) -> None:
        await wait_for_analyses(pilot, app)
        await pilot.press("o", "o", "o", "o", "v")
        await wait_until(pilot, lambda: app.states["SPX"].analysis.scope == "all")
        await wait_for_analyses(pilot, app)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def _session(app: Any, *keys: str):
    """The hour before START analyzed every 5 minutes (real analyses of the same seeded
    sim) in SPX's history, then `keys`: the history pane and heatmap show a session."""
    prefill_history(app, seed=SEED, start=START.isoformat(), minutes=60, symbols=["SPX"])
    return _keys(app, *keys)


def test_history_pane_80x24(snap_compare: Any, tmp_path: Path) -> None:
    """h: levels vs spot since 09:35 ET (sim clock), flip count digits, charm bars."""
    app = make_app(export_dir=tmp_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_session(app, "h"))


def test_history_pane_120x40(snap_compare: Any, tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_session(app, "h"))


def test_heatmap_pane_80x24(snap_compare: Any, tmp_path: Path) -> None:
    """m: impulse density by price and time, spot across, the legend's range."""
    app = make_app(export_dir=tmp_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_session(app, "m"))


def test_heatmap_pane_120x40(snap_compare: Any, tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_session(app, "m"))


def test_heatmap_charm_lens_120x40(snap_compare: Any, tmp_path: Path) -> None:
    """m k: charm by strike, $ per price bin."""
    app = make_app(export_dir=tmp_path)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_session(app, "m", "k"))
