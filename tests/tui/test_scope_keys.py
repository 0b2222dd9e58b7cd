"""The expiry scope in the monitor, driven by key presses on the real app (sim feed, real
engine): `o` cycles the scope (kept per symbol), `p` picks one expiry, `v` shows the
levels card; every pane's title names the scope."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import OptionList

from hedgeflow.app.fmt import fmt_price
from hedgeflow.engine.expiry_scope import ExpiryScope, ScopeKind
from hedgeflow.engine.scope import analyze_scope
from hedgeflow.tui.panes import CharmPane, ImpulsePane, RegimePane, ZonesPane
from hedgeflow.tui.scope import ExpiryPicker, LevelsPane
from tests.tui.conftest import (
    make_app,
    notifications,
    rendered,
    wait_for_analyses,
    wait_until,
)

TITLED = (ImpulsePane, RegimePane, ZonesPane, CharmPane)


def _titles(app) -> list[str]:
    return [str(app.screen.query_one(cls).border_title) for cls in TITLED]


async def test_the_scope_key_cycles_sums_and_titles(tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        st = app.states["SPX"]
        assert st.analysis is not None and st.analysis.scope == "nearest"
        assert all(t.startswith("nearest · ") for t in _titles(app))
        # nearest -> 0DTE -> next session -> within 7 days -> all
        for _ in range(4):
            await pilot.press("o")
        assert st.scope.kind is ScopeKind.ALL
        await wait_until(pilot, lambda: st.analysis is not None and st.analysis.scope == "all")
        await wait_for_analyses(pilot, app)
        a = st.analysis
        assert a is not None
        n = sum(r.in_scope for r in a.expiry_rows)
        assert n == len(a.expiry_rows) > 1
        assert all(t.startswith(f"all ({n}) · ") for t in _titles(app))
        # a fresh regime track for the new scope, and no alert raised by the switch
        assert st.regime is not None and st.regime.analyses == 1
        assert not [m for m in notifications(app) if (m.title or "").startswith("Alert")]
        # the numbers on screen are the scope's sum (the engine's, on the same chain)
        assert st.chain is not None
        again = analyze_scope(
            st.chain, config=app.engine_config_for("SPX"), scope=ExpiryScope(ScopeKind.ALL)
        )
        total = a.hedge_flow.impulse_curve.impulse_total
        assert total == pytest.approx(again.hedge_flow.impulse_curve.impulse_total, rel=1e-12)
        assert total == pytest.approx(sum(r.impulse for r in a.expiry_rows), rel=1e-9)
        # the scope is kept per symbol: SPY is still on the nearest expiry, SPX on all
        await pilot.press("2")
        await wait_until(pilot, lambda: app.current == "SPY")
        await pilot.pause()
        assert app.states["SPY"].scope.kind is ScopeKind.NEAREST
        assert all(t.startswith("nearest · ") for t in _titles(app))
        await pilot.press("1")
        await wait_until(pilot, lambda: app.current == "SPX")
        await pilot.pause()
        assert all(t.startswith(f"all ({n}) · ") for t in _titles(app))
        # and one more press goes back to the nearest expiry
        await pilot.press("o")
        await wait_until(pilot, lambda: st.analysis is not None and st.analysis.scope == "nearest")


async def test_the_picker_chooses_one_expiry(tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        st = app.states["SPX"]
        assert st.analysis is not None
        rows = st.analysis.expiry_rows
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, ExpiryPicker))
        text = rendered(app.screen.query_one("#expiry-options"))
        assert f"{rows[0].expiration:%Y-%m-%d}" in text and "|GEX|" in text
        await pilot.press("down", "down", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, ExpiryPicker))
        assert st.expiry == rows[2].expiration.timestamp()
        want = f"{rows[2].expiration:%Y-%m-%d}"
        await wait_until(pilot, lambda: st.analysis is not None and st.analysis.scope == want)
        await wait_for_analyses(pilot, app)
        assert st.analysis is not None
        assert st.analysis.expiration.timestamp() == rows[2].expiration.timestamp()
        assert all(t.startswith(f"{want} · ") for t in _titles(app))
        # the picker opens on the expiry on screen: one down is the next one
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, ExpiryPicker))
        assert app.screen.query_one("#expiry-options", OptionList).highlighted == 2
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, ExpiryPicker))
        assert st.expiry == rows[3].expiration.timestamp()


async def test_the_levels_card_replaces_the_zones_table(tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        card = app.screen.query_one(LevelsPane)
        zones = app.screen.query_one(ZonesPane)
        assert not card.display and zones.display
        await pilot.press("v")
        await pilot.pause()
        assert card.display and not zones.display
        st = app.states["SPX"]
        assert st.analysis is not None and st.analysis.levels is not None
        lv = st.analysis.levels
        text = rendered(card)
        first = lv.entries[0]
        assert first.name in text and fmt_price(first.price) in text
        assert lv.futures is not None
        assert f"{lv.futures.product} {fmt_price(lv.futures.price)}" in str(card.border_subtitle)
        assert str(card.border_title).startswith("nearest · ")
        await pilot.press("v")
        await pilot.pause()
        assert not card.display and zones.display


def test_a_scope_without_expiries_shows_the_nearest_with_a_note() -> None:
    from hedgeflow.engine.config import EngineConfig
    from hedgeflow.tui.dispatch import EngineJob, run_job
    from hedgeflow.tui.state import SymbolState
    from tests.engine.smile_chains import synthetic_chain

    chain, _ = synthetic_chain(minutes=1440.0 + 240.0, extra_expiries=(3 * 1440.0 + 240.0,))
    job = EngineJob(
        state=SymbolState("SPX"),
        snapshot=1,
        arrived=0.0,
        chain=chain,
        now=chain.as_of,
        config=EngineConfig(),
        expiry=None,
        positions=None,
        scope=ExpiryScope(ScopeKind.ZERO_DTE),
    )
    a = run_job(analyze_scope, job).take()
    assert a.scope == "nearest"
    assert a.notes[-1] == "no live expiry in the scope 0DTE: the nearest expiry shown"
    both = run_job(analyze_scope, replace(job, scope=ExpiryScope(ScopeKind.ALL))).take()
    assert both.scope == "all" and sum(r.in_scope for r in both.expiry_rows) == 2


async def test_the_configured_scope_is_where_the_monitor_starts(tmp_path: Path) -> None:
    from hedgeflow.app.config import load_settings
    from hedgeflow.tui.run import build_app
    from tests.tui.conftest import shared_sim

    path = tmp_path / "c.toml"
    path.write_text('[monitor]\nscope = "days"\nscope_days = 3\n', encoding="utf-8")
    settings = load_settings(path)
    app = build_app(
        settings=settings,
        feed=shared_sim(),
        symbols=["SPX"],
        poll_interval=60.0,
        engine_config=settings.engine_config,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        st = app.states["SPX"]
        assert st.scope == ExpiryScope(ScopeKind.WITHIN_DAYS, 3.0)
        assert st.analysis is not None and st.analysis.scope == "≤3d"
        rows = [r for r in st.analysis.expiry_rows if r.in_scope]
        assert rows and all(r.days_left <= 3.0 for r in rows)
        assert all(t.startswith(f"≤3d ({len(rows)}) · ") or len(rows) == 1 for t in _titles(app))
