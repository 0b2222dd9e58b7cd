"""The regime across analyses (`hedgeflow.app.regime`): hysteresis with the previous
regime, a change shown and announced once it held two analyses, floe left as it is; and
the regime on a noisy simulated session, before and after."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hedgeflow.app.alerts import AlertKind, compare_analyses
from hedgeflow.app.regime import CONFIRM_ANALYSES, advance
from hedgeflow.cli import main
from hedgeflow.engine.clock import NY
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import EngineModel, ImpulseRegime
from hedgeflow.engine.impulse_regime import enter_regime, firmness
from hedgeflow.engine.pipeline import analyze_chain
from hedgeflow.engine.types import ExpiryAnalysis, RegimeInputs
from hedgeflow.feeds.recorder import Recorder
from hedgeflow.feeds.sim import SimFeed
from tests.tui.fakes import EXPIRY, make_analysis

P, E, N = ImpulseRegime.PINNED, ImpulseRegime.EXPANSION, ImpulseRegime.NEUTRAL

#: A seeded sim window where SPX sits on the peak of its negative impulse: spot moves
#: about 3 points and the memoryless regime flips between squeeze-up, expansion and
#: squeeze-down every few seconds (the report of issue 10, item 8).
NOISY = datetime(2026, 12, 4, 13, 0, tzinfo=NY)


def physical(net: float, expiration: datetime = EXPIRY) -> ExpiryAnalysis:
    """A fake physical analysis with the classifier's inputs (positive windows: the net
    axis alone decides) and its memoryless regime."""
    a = make_analysis(expiration=expiration)
    inputs = RegimeInputs(net=net, upside=1.0, downside=1.0)
    curve = a.hedge_flow.impulse_curve
    curve = replace(curve, regime=enter_regime(inputs), regime_inputs=inputs)
    return replace(a, hedge_flow=replace(a.hedge_flow, impulse_curve=curve))


def fold(analyses: list[ExpiryAnalysis]) -> tuple[list[ImpulseRegime], list[str]]:
    """The regime shown after each analysis and the regime alerts, as the monitor folds."""
    shown, alerts, prev, before = [], [], None, None
    for a in analyses:
        a, after = advance(before, a)
        shown.append(a.hedge_flow.impulse_curve.regime)
        alerts += [x.message for x in compare_analyses(prev, a, before, after)]
        prev, before = a, after
    return shown, [m for m in alerts if "impulse regime" in m]


def test_the_previous_regime_holds_in_its_dead_band_and_a_change_shows_once_it_held() -> None:
    nets = [0.30, 0.07, 0.04, 0.03, 0.08, 0.12, 0.02, 0.20]
    shown, alerts = fold([physical(f) for f in nets])
    # 0.07: pinned held by hysteresis (memoryless: neutral); 0.04 leaves pinned, but the
    # change shows only at its second analysis (0.03); 0.08 stays neutral (not entered);
    # 0.12 enters pinned for one analysis only (0.02 leaves it): never shown
    assert shown == [P, P, P, N, N, N, N, N]
    assert len(alerts) == 1 and "pinned → neutral (held 2 analyses" in alerts[0]
    assert CONFIRM_ANALYSES == 2


def test_the_firmness_is_of_the_regime_shown_and_says_leaving_while_unconfirmed() -> None:
    a0, t0 = advance(None, physical(0.30))
    f0 = a0.hedge_flow.impulse_curve.regime_firmness
    assert f0 is not None and (f0.words, f0.measure, f0.threshold) == ("firm", "net", 0.05)
    a1, t1 = advance(t0, physical(0.07))
    f1 = a1.hedge_flow.impulse_curve.regime_firmness
    assert a1.hedge_flow.impulse_curve.regime is P and f1 is not None and f1.words == "marginal"
    a2, t2 = advance(t1, physical(0.03))
    f2 = a2.hedge_flow.impulse_curve.regime_firmness
    assert t2.regime is N and t2.confirmed is P  # left, not yet confirmed
    assert a2.hedge_flow.impulse_curve.regime is P and f2 is not None
    assert f2.words == "leaving" and f2.bands < 0 and f2.distance == pytest.approx(0.02)


def test_another_expiry_starts_afresh() -> None:
    _, t0 = advance(None, physical(0.30))
    a1, t1 = advance(t0, physical(0.07, EXPIRY + timedelta(days=1)))
    assert t1.analyses == 1 and t1.confirmed is N  # memoryless: 0.07 is neutral
    assert a1.hedge_flow.impulse_curve.regime is N


def test_floe_keeps_its_own_regime_and_only_its_alerts_wait_for_confirmation() -> None:
    seq = [P, E, P, E, E, E]
    analyses = [make_analysis(regime=r) for r in seq]  # no regime inputs: floe's output
    for a in analyses:
        out, _ = advance(None, a)
        assert out is a  # floe's analysis is left exactly as it is
    shown, alerts = fold(analyses)
    assert shown == seq
    assert len(alerts) == 1 and "pinned → expansion" in alerts[0]


@pytest.fixture(scope="module")
def noisy_session() -> list[ExpiryAnalysis]:
    """SPX on the seeded sim, one analysis every 2 s of sim time over 76 s."""
    feed = SimFeed(seed=7, start=NOISY, speed=0.0)
    out = []
    for i in range(39):
        t = NOISY + timedelta(seconds=2 * i)
        out.append(analyze_chain(feed.chain_at("SPX", t), now=t, config=EngineConfig()))
    return out


def test_a_noisy_spot_path_no_longer_flaps(noisy_session: list[ExpiryAnalysis]) -> None:
    spots = [a.spot for a in noisy_session]
    assert max(spots) - min(spots) < 5.0  # spot moves a few points
    assert all(a.model is EngineModel.PHYSICAL for a in noisy_session)
    raw = [a.hedge_flow.impulse_curve.regime for a in noisy_session]
    before = sum(r0 is not r1 for r0, r1 in zip(raw, raw[1:], strict=False))
    # before: every memoryless change was an alert (the old rule compared two analyses)
    assert before >= 12, raw
    shown, alerts = fold(noisy_session)
    after = sum(r0 is not r1 for r0, r1 in zip(shown, shown[1:], strict=False))
    assert after == len(alerts)  # the screen changes exactly when an alert says so
    assert after <= 5 and after * 3 <= before, (before, after)
    # every regime shown held (with hysteresis) on the analysis that confirmed it
    assert {r for r in shown} <= {r for r in raw}
    kinds = {
        x.kind
        for a, b in zip(noisy_session, noisy_session[1:], strict=False)
        for x in compare_analyses(a, b)
    }
    assert AlertKind.REGIME not in kinds  # without the tracks, no regime alert at all


def test_analyze_of_a_recording_shows_the_regime_the_monitor_showed(
    noisy_session: list[ExpiryAnalysis], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`analyze --feed replay` folds the recorded snapshots before the last one: the regime
    and firmness in its JSON are the monitor's (a fold over every analysis), not the last
    snapshot's on its own (which differs at this cut)."""
    # the first cut where hysteresis decides: the folded regime is not the last snapshot's
    n = next(
        k
        for k in range(2, len(noisy_session) + 1)
        if noisy_session[k - 1].hedge_flow.impulse_curve.regime
        is not fold(noisy_session[:k])[0][-1]
    )
    feed = SimFeed(seed=7, start=NOISY, speed=0.0)
    path = tmp_path / "noisy.sqlite"
    with Recorder(path) as rec:
        for i in range(n):
            t = NOISY + timedelta(seconds=2 * i)
            rec.write(feed.chain_at("SPX", t), feed="sim", fetched_at=t.timestamp())
    expected, _ = fold(noisy_session[:n])
    last = noisy_session[n - 1].hedge_flow.impulse_curve
    assert last.regime is not expected[-1]  # the cut where hysteresis decides
    assert (
        main(["analyze", "--feed", "replay", "--path", str(path), "--symbol", "SPX", "--json"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    curve = data["hedge_flow"]["impulse_curve"]
    assert curve["regime"] == expected[-1].value
    firm = firmness(expected[-1], last.regime_inputs)  # type: ignore[arg-type]
    assert firm is not None and curve["regime_firmness"]["words"] == firm.words
    assert curve["regime_firmness"]["measure"] == firm.measure
    assert curve["regime_firmness"]["value"] == pytest.approx(firm.value)
    assert any(note.startswith("impulse regime held over ") for note in data["notes"])
    # the text summary says the same
    assert main(["analyze", "--feed", "replay", "--path", str(path), "--symbol", "SPX"]) == 0
    assert f"[{expected[-1].value}, {firm.words}: " in capsys.readouterr().out
