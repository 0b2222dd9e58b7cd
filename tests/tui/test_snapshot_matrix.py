"""Snapshots across the issue-11 matrix: every expiry scope, every pane the main screen
can show in the impulse cell or the zones cell (impulse curve, by-strike bars, levels
card), at the three sizes (80x24 compact, 120x40, 200x60 wide), in the default theme, a
light theme and without colour. The nearest scope's screens in the default theme are in
`test_snapshots.py`; this file adds the other scopes and themes.

Look at the report before updating (`make snapshot-update`): a changed figure here is a
changed number on a trader's screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hedgeflow.engine.expiry_scope import parse_scope
from tests.tui.conftest import make_app, wait_for_analyses, wait_until

#: The keys that put each pane on screen: `b` swaps the impulse curve for the by-strike
#: bars, `v` puts the levels card in the zones table's cell.
PANE_KEYS = {"impulse": (), "strikes": ("b",), "levels": ("v",)}
SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x60": (200, 60)}


def _run(app: Any, scope: str, keys: tuple[str, ...], theme: str | None):
    async def run_before(pilot: Any) -> None:
        await wait_for_analyses(pilot, app)
        await wait_until(pilot, lambda: app.states["SPX"].analysis.scope == scope)
        if keys:
            await pilot.press(*keys)
        if theme is not None:
            app.theme = theme
        await pilot.pause()

    return run_before


@pytest.mark.parametrize(
    ("spec", "scope"),
    [("0dte", "0DTE"), ("next", "next session"), ("7d", "≤7d")],
    ids=["0dte", "next", "7d"],
)
def test_other_scopes_120x40(snap_compare: Any, tmp_path: Path, spec: str, scope: str) -> None:
    """0DTE, the next session and within 7 days: the sums and the scope in every title."""
    app = make_app(export_dir=tmp_path, scope=parse_scope(spec))
    assert snap_compare(app, terminal_size=(120, 40), run_before=_run(app, scope, (), None))


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("pane", list(PANE_KEYS))
def test_all_scope_panes(snap_compare: Any, tmp_path: Path, pane: str, size: str) -> None:
    """Every expiry summed, each pane at each size."""
    app = make_app(export_dir=tmp_path, scope=parse_scope("all"))
    run = _run(app, "all", PANE_KEYS[pane], None)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("theme", ["textual-light", "no-color"])
@pytest.mark.parametrize("pane", list(PANE_KEYS))
def test_all_scope_panes_themes(
    snap_compare: Any, tmp_path: Path, pane: str, theme: str, size: str
) -> None:
    """A light theme and NO_COLOR at each size: zones and signs told apart by glyphs, not
    colour only; coloured words readable on the light canvas."""
    no_color = theme == "no-color"
    kw: dict[str, Any] = {"colors": False} if no_color else {}
    app = make_app(export_dir=tmp_path, scope=parse_scope("all"), **kw)
    run = _run(app, "all", PANE_KEYS[pane], None if no_color else theme)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run)


@pytest.mark.parametrize("theme", ["textual-light", "no-color"])
@pytest.mark.parametrize("pane", ["h", "m"])
def test_time_panes_themes_120x40(snap_compare: Any, tmp_path: Path, pane: str, theme: str) -> None:
    """The history pane (h) and the heatmap (m) over an hour of the session, in a light
    theme (cells blended into the light canvas) and without colour (shading glyphs)."""
    from hedgeflow.tui.screenshot import prefill_history
    from tests.tui.conftest import SEED, START

    no_color = theme == "no-color"
    kw: dict[str, Any] = {"colors": False} if no_color else {}
    app = make_app(export_dir=tmp_path, **kw)
    prefill_history(app, seed=SEED, start=START.isoformat(), minutes=60, symbols=["SPX"])
    run = _run(app, "nearest", (pane,), None if no_color else theme)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run)
