"""The regime pane shows how firmly the regime holds, and the running monitor neither
flaps nor alerts on a regime that does not hold (the real app, the seeded sim, the real
pipeline and dispatch)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from hedgeflow.engine.clock import NY
from hedgeflow.engine.impulse_regime import enter_regime
from hedgeflow.feeds.sim import SimFeed
from hedgeflow.tui.panes import RegimePane
from tests.tui.conftest import make_app, wait_for_analyses, wait_until

#: SPX on the peak of its negative impulse (tests/app/test_regime.py NOISY)
NOISY = datetime(2026, 12, 4, 13, 0, tzinfo=NY)


def _pane_lines(app) -> list[str]:
    pane = app.screen.query_one(RegimePane)
    lines = pane.render_lines(pane.content_region.reset_offset)
    return [line.text.strip("│ ") for line in lines]


def _row(lines: list[str], label: str) -> str:
    found = [ln for ln in lines if ln.startswith(label + " ")]
    assert len(found) == 1, (label, lines)
    return found[0][len(label) :].strip()


async def test_the_regime_pane_shows_the_firmness_and_alerts_wait_for_a_change_that_holds(
    tmp_path: Path, sim: SimFeed
) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path, poll_interval=0.05, frozen=False)
    sim.at(NOISY)
    sent: list[tuple[str, str]] = []
    notify = app.notify

    def record(message: str, **kw: object) -> None:  # notifications expire: keep them all
        sent.append((str(kw.get("title")), message))
        notify(message, **kw)  # type: ignore[arg-type]

    app.notify = record  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        raw, shown = [], []
        for _ in range(20):
            st = app.states["SPX"]
            a = st.analysis
            assert a is not None
            curve = a.hedge_flow.impulse_curve
            firm = curve.regime_firmness
            assert firm is not None and curve.regime_inputs is not None
            raw.append(enter_regime(curve.regime_inputs))
            shown.append(curve.regime)
            await pilot.pause()
            lines = _pane_lines(app)
            # words and numbers, as the analysis on screen says
            regime = _row(lines, "regime")
            assert regime.startswith(f"{curve.regime.value} ({firm.words}) · vol "), regime
            m = re.fullmatch(r"(\w+) (\S+), exit (\S+)", _row(lines, "holds"))
            assert m, lines
            assert m[1] == firm.measure
            assert float(m[2]) == round(firm.value, 2) and float(m[3]) == firm.threshold
            assert app.screen.query_one("SymbolBar").view.regime == curve.regime.value
            sim.advance(2.0)
            await wait_until(pilot, lambda a=a: app.states["SPX"].analysis is not a)
        alerts = [m for title, m in sent if title == "Alert · regime"]
        changes = sum(r0 is not r1 for r0, r1 in zip(shown, shown[1:], strict=False))
        raw_changes = sum(r0 is not r1 for r0, r1 in zip(raw, raw[1:], strict=False))
        assert raw_changes >= 6, raw  # the memoryless label flaps here ...
        assert changes <= 4 and 2 * changes <= raw_changes, (changes, raw)  # ... not the screen
        assert len(alerts) == changes, alerts  # and an alert is exactly a change on screen
        assert all("(held 2 analyses, " in m for m in alerts), alerts
