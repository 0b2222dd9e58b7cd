"""The pipeline from a normalized chain to an ExpiryAnalysis."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.chains import spx_like_chain
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import EngineModel, PositioningModel
from hedgeflow.engine.pipeline import AnalysisError, analyze_chain, charm_horizon, live_expiries
from hedgeflow.engine.types import ExpiryAnalysis
from hedgeflow.feeds.files import read_chain_file


@pytest.fixture(scope="module")
def chain():
    return spx_like_chain(n_expiries=4, seed=3)


def promised_numbers(a: ExpiryAnalysis) -> dict[str, float]:
    """Every number the screen prints as a number (never NaN when an analysis exists)."""
    hf = a.hedge_flow
    c = hf.impulse_curve
    return {
        "spot": a.spot,
        "forward": a.forward,
        "minutes": a.minutes_to_expiry,
        "atm_iv": hf.regime_params.atm_iv,
        "expected_move": hf.regime_params.expected_move,
        "impulse_at_spot": c.impulse_at_spot,
        "slope_at_spot": c.slope_at_spot,
        "charm_total": hf.charm_integral.total_charm_to_close,
        "curve": float(np.sum(np.abs(c.impulse))),
        "grid": float(np.sum(c.price)),
    }


def test_nearest_live_expiry_is_default(chain) -> None:
    a = analyze_chain(chain)
    assert a.expiration.timestamp() == live_expiries(chain)[0]
    assert a.minutes_to_expiry == pytest.approx(300.0)  # 11:00 -> 16:00
    assert all(math.isfinite(v) for v in promised_numbers(a).values())
    assert len(a.expirations) == 4


def test_strike_total_matches_curve_integral(chain) -> None:
    a = analyze_chain(chain)
    c = a.hedge_flow.impulse_curve
    assert c.impulse_total == pytest.approx(float(np.sum(c.strike_impulse)), rel=1e-12)


def test_repriced_profile_at_spot_is_the_strike_total(chain) -> None:
    a = analyze_chain(chain)
    assert a.repriced is not None
    c = a.hedge_flow.impulse_curve
    i = int(np.argmin(np.abs(a.repriced.price - a.spot)))
    assert a.repriced.price[i] == pytest.approx(a.spot, rel=1e-12)
    assert a.repriced.impulse[i] == pytest.approx(c.impulse_total, rel=1e-9)


def test_positioning_models_negate_everything(chain) -> None:
    std = analyze_chain(chain, config=EngineConfig(positioning=PositioningModel.STANDARD))
    flo = analyze_chain(chain, config=EngineConfig(positioning=PositioningModel.FLOE))
    np.testing.assert_allclose(std.exposure.gamma, -flo.exposure.gamma, rtol=1e-12)
    np.testing.assert_allclose(
        std.hedge_flow.impulse_curve.impulse,
        -flo.hedge_flow.impulse_curve.impulse,
        rtol=1e-9,
        atol=1e-6,
    )
    assert std.hedge_flow.charm_integral.total_charm_to_close == pytest.approx(
        -flo.hedge_flow.charm_integral.total_charm_to_close, rel=1e-9
    )


def test_floe_model_runs_on_a_chain(chain) -> None:
    a = analyze_chain(chain, config=EngineConfig(model=EngineModel.FLOE))
    assert a.model is EngineModel.FLOE and a.positioning is PositioningModel.FLOE
    assert a.repriced is None
    assert a.hedge_flow.charm_integral.floe_direction in ("buying", "selling", "neutral")


def test_charm_horizon_rules(chain) -> None:
    a = analyze_chain(chain)
    # same-day expiry: the horizon is the expiry itself
    assert charm_horizon(chain.as_of, a.expiration) == a.expiration
    # a later expiry: today's close
    later = a.expiration + timedelta(days=3)
    assert charm_horizon(chain.as_of, later) == a.expiration  # today's close is 16:00 too
    # after the close: the next session's close
    after = chain.as_of.replace(hour=17)
    assert charm_horizon(after, later) > after


def test_expired_and_unknown_expiries_raise_analysis_error(chain) -> None:
    expired = replace(chain, as_of=chain.as_of + timedelta(days=30))
    with pytest.raises(AnalysisError, match="no live expiry"):
        analyze_chain(expired)
    import datetime as dt

    with pytest.raises(AnalysisError, match="2031-01-02"):
        analyze_chain(chain, expiry=dt.date(2031, 1, 2))


_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=0.0, max_value=1e4),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    n_bad=st.integers(min_value=0, max_value=60),
    column=st.sampled_from(
        ["bid", "ask", "last", "open_interest", "volume", "strike", "vendor_iv", "multiplier"]
    ),
    spot=st.one_of(st.just(6000.0), st.floats(allow_nan=True, allow_infinity=True)),
)
def test_no_input_makes_the_engine_raise_or_lie(chain, data, n_bad, column, spot) -> None:
    """Corrupt any column of a realistic chain with any floats (NaN, inf, negative, huge):
    the pipeline either returns finite promised numbers or raises AnalysisError."""
    values = getattr(chain, column).copy()
    idx = data.draw(st.lists(st.integers(0, len(values) - 1), min_size=n_bad, max_size=n_bad))
    for i in idx:
        values[i] = data.draw(_floats)
    corrupted = replace(chain, spot=spot, **{column: values})
    try:
        a = analyze_chain(corrupted, all_expiries=False)
    except AnalysisError:
        return
    bad = {k: v for k, v in promised_numbers(a).items() if not math.isfinite(v)}
    assert bad == {}


# ------------------------------------------------------------------ bad positions refused

REAL_SPX = Path(__file__).resolve().parents[1] / "data" / "real" / "spx_quotedata_2023-06-09.csv"


@pytest.fixture(scope="module")
def real_chain():
    return read_chain_file(REAL_SPX)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda oi: np.where(np.arange(oi.size) == 7, 1e308, oi),
            r"implausible open interest 1e\+308 contracts on SPXW 2023-06-09 \S+ (call|put)",
        ),
        (
            lambda oi: -np.maximum(oi, 1.0),
            r"negative open interest \(-\S+\) on SPXW .* and \d+ more contracts",
        ),
        (
            lambda oi: np.where(np.arange(oi.size) == 3, np.nan, oi),
            r"non-finite open interest \(nan\) on SPXW",
        ),
        (
            lambda oi: np.where(np.arange(oi.size) == 3, np.inf, oi),
            r"non-finite open interest \(inf\)",
        ),
        (lambda oi: np.zeros_like(oi), r"no open interest: every contract's open interest is 0"),
    ],
    ids=["1e308", "all-negative", "nan", "inf", "all-zero"],
)
def test_chain_with_impossible_open_interest_is_refused(real_chain, edit, match) -> None:
    """Before: 1e308 or all-negative open interest analyzed to a confident "neutral"."""
    bad = replace(real_chain, open_interest=edit(real_chain.open_interest.copy()))
    for model in EngineModel:
        with pytest.raises(AnalysisError, match=match):
            analyze_chain(bad, config=EngineConfig(model=model))
    assert analyze_chain(real_chain).symbol == "SPX"  # the file itself analyzes


def test_cboe_file_with_absurd_open_interest_is_refused(tmp_path: Path) -> None:
    """Through the real file reader: one contract's open interest written as 1e308 (a
    finite number, so the reader keeps it) is refused by the engine, naming it."""
    lines = REAL_SPX.read_text(encoding="utf-8").splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("Expiration Date"))
    cells = lines[head + 40].split(",")
    cells[10] = "1e308"  # the call's Open Interest column
    lines[head + 40] = ",".join(cells)
    path = tmp_path / "spx.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(
        AnalysisError, match=rf"1e\+308 contracts on SPXW \S+ {float(cells[11]):g} call"
    ):
        analyze_chain(read_chain_file(path))


def test_live_positions_must_be_finite_and_plausible(chain) -> None:
    pos = np.where(np.arange(len(chain)) == 0, np.inf, 10.0)
    with pytest.raises(AnalysisError, match="implausible live position inf"):
        analyze_chain(chain, positions=pos)
    pos = np.where(np.arange(len(chain)) == 0, np.nan, 10.0)  # unknown: allowed
    assert analyze_chain(chain, positions=pos).positions == "live"
