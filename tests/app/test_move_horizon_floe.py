"""The expected move says what it is measured to, and floe's contract figures say they are
floe's (the original library's formula): in the headline, the `analyze` summary and on
the monitor's panes (the real app on the seeded sim, by Pilot)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from hedgeflow.app.config import default_settings
from hedgeflow.app.presentation import FLOE_FIGURES, headline, move_horizon
from hedgeflow.app.summary import summary_text
from hedgeflow.engine.enums import EngineModel
from hedgeflow.engine.pipeline import analyze_chain
from hedgeflow.feeds.sim import SimFeed
from hedgeflow.tui.panes import RegimePane, ZonesPane
from tests.tui.conftest import make_app, rendered, wait_for_analyses

SIM = SimFeed(seed=7, start="2026-11-24T10:30:00-05:00", speed=0.0)


def _analysis(when: str, *, expiry: object = None, model: EngineModel = EngineModel.PHYSICAL):
    chain = SIM.chain_at("SPX", datetime.fromisoformat(when))
    config = replace(default_settings().engine_config("SPX"), model=model)
    return analyze_chain(chain, config=config, expiry=expiry)


@pytest.mark.parametrize(
    ("when", "expiry", "words"),
    [
        ("2026-11-24T10:30:00-05:00", None, "to 16:00 settlement"),  # 0DTE: its settlement
        ("2026-11-24T10:30:00-05:00", "2026-11-27", "to 16:00 close"),  # later: today's close
        ("2026-11-24T18:30:00-05:00", None, "to Wed 16:00 settlement"),  # after the close
    ],
)
def test_the_expected_move_says_its_horizon(when: str, expiry: str | None, words: str) -> None:
    from datetime import date

    a = _analysis(when, expiry=date.fromisoformat(expiry) if expiry else None)
    assert move_horizon(a) == words
    assert headline(a).move_horizon == words
    line = next(x for x in summary_text(a).splitlines() if x.startswith("ATM IV"))
    assert line.endswith(f"expected move ±{a.hedge_flow.regime_params.expected_move:,.2f} {words}")


def test_floe_move_is_a_session_and_its_contracts_are_floes() -> None:
    a = _analysis("2026-11-24T10:30:00-05:00", model=EngineModel.FLOE)
    h = headline(a)
    assert h.move_horizon == "over a session (floe)"
    assert h.hedge_words.startswith("floe: dealers ") and h.hedge_words.endswith(" per +1%")
    hedge = next(x for x in summary_text(a).splitlines() if x.startswith("hedge"))
    assert hedge.endswith(f"(strike total; {FLOE_FIGURES})")
    physical = headline(_analysis("2026-11-24T10:30:00-05:00"))
    assert not physical.hedge_words.startswith("floe")


@pytest.mark.parametrize("model", [EngineModel.FLOE, EngineModel.PHYSICAL])
async def test_the_monitor_says_whose_figures_and_the_horizon(
    model: EngineModel, tmp_path: Path
) -> None:
    cfg = replace(default_settings().engine_config("SPX"), model=model)
    app = make_app(symbols=["SPX"], export_dir=tmp_path, engine_config=cfg)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for_analyses(pilot, app)
        regime = " ".join(rendered(app.screen.query_one(RegimePane)).split())
        legend = str(app.screen.query_one(ZonesPane).border_subtitle)
    if model is EngineModel.FLOE:
        assert "hedge floe: dealers " in regime.replace("│", " ").replace("  ", " ")
        assert "over a session (floe)" in regime.replace("│ ", "")
        assert FLOE_FIGURES in legend
    else:
        assert "floe" not in regime and FLOE_FIGURES not in legend
        assert "to 16:00 settlement" in regime.replace("│ ", "")


def test_a_scope_of_several_expiries_keeps_the_nearest_expirys_horizon() -> None:
    """All expiries summed on the real SPX 2023-09-14 file (as of Thursday 16:31): the
    nearest expiry is Friday's AM settlement, so its expected move (the regime pane's, the
    levels card's) runs to 09:30; the summed charm runs to Friday's close, and the words
    used to take that horizon ("to Fri 16:00 close") beside a move measured to 09:30."""
    from hedgeflow.engine.expiry_scope import parse_scope
    from hedgeflow.engine.scope import analyze_scope
    from hedgeflow.feeds.files import read_chain_file

    real = Path(__file__).resolve().parents[1] / "data" / "real" / "spx_quotedata_2023-09-14.csv"
    if not real.exists():
        pytest.skip(f"{real.name} not present")
    chain = read_chain_file(real)
    a = analyze_scope(chain, scope=parse_scope("all"))
    assert a.expiration.strftime("%a %H:%M") == "Fri 09:30"
    assert a.hedge_flow.charm_integral.horizon.astimezone(a.expiration.tzinfo) > a.expiration
    assert move_horizon(a) == "to Fri 09:30 settlement"
    assert a.levels is not None and a.levels.expected_move_to == a.expiration
