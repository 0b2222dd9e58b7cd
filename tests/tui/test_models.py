"""The monitor under other engine settings, built from the configuration as the CLI does:
the floe model (no repriced profile; every word still from the sign rule), per-symbol
futures mapping, palette-added symbols inheriting the model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hedgeflow.app.config import load_settings
from hedgeflow.engine import labels
from hedgeflow.engine.enums import EngineModel, PositioningModel, PositionSource
from hedgeflow.tui.app import build_app
from hedgeflow.tui.panes import CharmPane, ImpulsePane, RegimePane, ZonesPane
from tests.tui.conftest import notifications, shared_sim, wait_for_analyses, wait_until


def _settings(tmp_path: Path, extra: str = ""):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[monitor]\nexport_dir = "{tmp_path}"\n{extra}', encoding="utf-8")
    return load_settings(cfg)


def _text(widget) -> str:
    return "\n".join(s.text for s in widget.render_lines(widget.region.reset_offset))


async def test_floe_model_words_follow_the_sign_rule(tmp_path: Path) -> None:
    settings = _settings(tmp_path, '[engine]\nmodel = "floe"\n')
    configs = {s: settings.engine_config(s) for s in ("SPX", "SPY")}
    assert configs["SPX"].model is EngineModel.FLOE
    app = build_app(
        settings=settings,
        feed=shared_sim(),
        symbols=["SPX", "SPY"],
        poll_interval=60.0,
        engine_config=configs,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        a = app.states["SPX"].analysis
        assert a.model is EngineModel.FLOE and a.positioning is PositioningModel.FLOE
        assert a.repriced is None
        charm = a.hedge_flow.charm_integral
        # The charm pane says what the sign rule says, never floe's own direction word.
        assert labels.charm_trade(charm.total_charm_to_close) in _text(
            app.screen.query_one(CharmPane)
        )
        regime = _text(app.screen.query_one(RegimePane))
        assert "floe · floe" in regime
        assert (
            labels.impulse_effect(a.hedge_flow.impulse_curve.impulse_at_spot).split(":")[0]
            in regime
        )
        screen_text = "\n".join(
            _text(app.screen.query_one(p)) for p in (ImpulsePane, RegimePane, ZonesPane, CharmPane)
        )
        if charm.floe_direction:
            assert charm.floe_direction not in screen_text.replace(
                labels.charm_trade(charm.total_charm_to_close), ""
            )
        await pilot.press("g")
        await pilot.pause()
        assert any("no repriced profile" in n.message for n in notifications(app))


async def test_futures_mapping_per_symbol_and_added_symbols_inherit_the_model(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, '[engine]\npositioning = "short-all"\n')
    configs = {
        s: replace(settings.engine_config(s), positions=PositionSource.LIVE) for s in ("SPX", "QQQ")
    }
    app = build_app(
        settings=settings,
        feed=shared_sim(),
        symbols=["SPX", "QQQ"],
        poll_interval=60.0,
        engine_config=configs,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        spx = app.states["SPX"].analysis.pressure_cloud.total_contracts.contracts
        qqq = app.states["QQQ"].analysis.pressure_cloud.total_contracts.contracts
        assert set(spx) == {"ES", "MES"} and set(qqq) == {"NQ", "MNQ"}
        await pilot.press("2")
        await pilot.pause()
        assert "NQ/+1%" in " ".join(
            str(c.label) for c in app.screen.query_one(ZonesPane).columns.values()
        )
        app.add_symbol("IWM")
        await wait_for_analyses(pilot, app, ["IWM"])
        cfg = app.engine_config_for("IWM")
        assert (
            cfg.positioning is PositioningModel.SHORT_ALL and cfg.positions is PositionSource.LIVE
        )
        assert {f.name for f in cfg.cloud.futures} == {
            "RTY",
            "M2K",
        } and cfg.cloud.futures_ratio == 10.0
        assert app.states["IWM"].analysis.positioning is PositioningModel.SHORT_ALL
        await wait_until(pilot, lambda: app.states["IWM"].analysis.positions == "live")
