"""What every surface headlines for one analysis: one rule, written once.

The CLI summary, the regime and impulse panes, the exports and the alerts all show
the same few numbers: the dealers' impulse at spot, the flip levels and which of them
is "the" flip, the zero-gamma line nearest spot, and the words for each. They take them
from `headline(analysis)`, never from the analysis directly, so they cannot disagree
(docs/METHOD.md "Headline numbers").

The rule:

- impulse at spot: the strike total sum_K H_K (physical), else the curve's value at spot
  (floe, which has no strike total); $ of dealer delta change per +1% spot move;
- flip levels: the zero crossings of the repriced profile when there is one (physical),
  else those of the impulse curve (floe); "the" flip is the one nearest spot;
- zero gamma: the fixed-IV, all-expiry gamma-only zero nearest spot (physical only);
- both searched beyond the plotted window (`search_range`: ±3 expected moves of the expiry,
  at least ±10 %; `hedgeflow.engine.reprice.level_search_range`);
- words: from `hedgeflow.engine.labels` (the sign rule), never from floe's label fields;
- regime: the curve's, with its firmness (the regime held with hysteresis once the app
  layer has folded the analysis into its track, `hedgeflow.app.regime`);
- status notes (`status_notes`): open interest the reader left out first, then a spot that
  is not a live print, then the analysis' other notes.

Non-finite values stay NaN (or None for an absent level): each surface prints its own
missing mark ("–" on screen, null in JSON, an empty CSV cell).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from hedgeflow.engine import labels
from hedgeflow.engine.clock import NY
from hedgeflow.engine.enums import (
    EngineModel,
    ImpulseRegime,
    MarketRegime,
    PositioningModel,
    PositionSource,
)
from hedgeflow.engine.pipeline import DROPPED_OI, charm_horizon
from hedgeflow.engine.types import ExpiryAnalysis, PressureZone, RegimeEdge, RegimeFirmness


class FlipSource(StrEnum):
    """Which profile's zero crossings are the flip levels."""

    REPRICED = "repriced profile"  # physical: the dealers' total impulse if spot were at S
    CURVE = "impulse curve"  # floe (or no repriced profile): H(S') of the analyzed expiry


#: The headline impulse's unit (both models): $ of dealer delta change per +1% spot move.
IMPULSE_UNIT = "$/+1%"

#: The slope's unit by model: the physical curve is a density ($ per 1% per point), so its
#: slope is per point squared; floe's curve is a kernel average ($ per 1%).
SLOPE_UNIT = {EngineModel.PHYSICAL: "$/1%/pt²", EngineModel.FLOE: "$/1%/pt"}


@dataclass(frozen=True)
class Headline:
    """The headline numbers and words of one `ExpiryAnalysis` (see the module docstring).

    spot : points; impulse : $ per +1% at spot (sign: positive = dealers' delta rises with
        spot, they sell rallies: dampening); slope : dH/dS' at spot in `slope_unit`;
    flip_levels : prices (points), ascending, finite; nearest_flip : the one nearest spot
        (None without any); flip_distance : (nearest_flip - spot) / spot, decimal (NaN
        without a flip);
    zero_gamma : the all-expiry zero-gamma level nearest spot, points (None: not computed or
        none in range); zero_gamma_levels : all of them, ascending;
    search_range : (low, high) prices, points, over which flip and zero-gamma levels were
        searched (wider than the plotted window; None: the window only);
    regime_firmness : how firmly the regime holds, its nearest exit (None for floe or
        without an impulse); firmness_words : that in words and numbers ("" without);
    hedge : the first hedge instrument's contracts per +1% (negative = dealers sell), with
        its name; None without a contract estimate; under floe the words say the figure is
        floe's (the original library's contract formula, kept on purpose: `FLOE_FIGURES`);
    move_horizon : what the expected move is measured to, in words ("to 16:00
        settlement", "to Fri 16:00 close", "over a session (floe)");
    charm_total : $ of dealer delta change to the charm horizon (positive: dealers sell).
    """

    symbol: str
    expiration: datetime
    as_of: datetime
    spot: float
    forward: float
    model: EngineModel
    positioning: PositioningModel
    positions: PositionSource
    impulse: float
    impulse_words: str
    slope: float
    slope_unit: str
    regime: ImpulseRegime
    regime_words: str
    regime_firmness: RegimeFirmness | None
    firmness_words: str
    vol_regime: MarketRegime
    atm_iv: float
    expected_move: float
    flip_source: FlipSource
    flip_levels: tuple[float, ...]
    nearest_flip: float | None
    flip_distance: float
    zero_gamma: float | None
    zero_gamma_levels: tuple[float, ...]
    search_range: tuple[float, float] | None
    attractor_above: float | None
    attractor_below: float | None
    hedge_name: str | None
    hedge_contracts: float
    hedge_words: str
    charm_total: float
    charm_words: str
    impulse_unit: str = IMPULSE_UNIT
    move_horizon: str = ""


def _finite_sorted(values: Iterable[float]) -> tuple[float, ...]:
    return tuple(sorted(float(v) for v in values if math.isfinite(v)))


def _nearest(levels: tuple[float, ...], spot: float) -> float | None:
    if not levels:
        return None
    if not math.isfinite(spot):
        return None  # "nearest" to an unknown spot is not a level to headline
    return min(levels, key=lambda p: abs(p - spot))


def finite_or_none(x: float | None) -> float | None:
    """A level or figure as a plain float (JSON-ready, not a numpy scalar), None for none
    or non-finite: a headline's optional levels, the alert JSON."""
    return float(x) if x is not None and math.isfinite(x) else None


#: The one NaN `finite_or_nan` gives (rows built twice from one analysis compare equal).
NAN = float("nan")


def finite_or_nan(x: float | None) -> float:
    """A level or figure as a float, NaN for none or non-finite (arrays and rows hold no
    None: the level history, the watchlist)."""
    return float(x) if x is not None and math.isfinite(x) else NAN


def firmness_words(f: RegimeFirmness | None) -> str:
    """'firm: bias +0.51, exit +0.05': the words, the input nearest its exit (in its own
    unit) and that exit; '' without a firmness."""
    if f is None:
        return ""
    return f"{f.words}: {f.measure} {f.value:+.2f}, exit {f.threshold:+.2f}"


#: What floe's contract figures are, where they are shown: its own formula, kept as the
#: original library computes it (e.g. NQ contracts for SPX), not a hedge sized to the index.
FLOE_FIGURES = "floe's figures, by the original library's contract formula"


def move_horizon(a: ExpiryAnalysis) -> str:
    """The expected move's horizon in words. The physical model measures it to the charm
    horizon (the expiry's settlement when it comes before the next close, else that
    close: `engine.pipeline.charm_horizon`); floe's is one session's move (IV/sqrt 252)."""
    if a.model is EngineModel.FLOE:
        return "over a session (floe)"
    # the analyzed expiry's own horizon, as the regime fit took it (with a scope of several
    # expiries the summed charm runs to a later horizon: an AM-settled nearest expiry's move
    # is to its 09:30 settlement, not to the close)
    horizon = charm_horizon(a.computed_at, a.expiration)
    if horizon <= a.as_of:  # the engine measured it to the expiry then
        horizon = a.expiration
    local, today = horizon.astimezone(NY), a.as_of.astimezone(NY).date()
    day = "" if local.date() == today else f"{local:%a} "
    what = "settlement" if horizon == a.expiration else "close"
    return f"to {day}{local:%H:%M} {what}"


def headline(a: ExpiryAnalysis) -> Headline:
    """The headline of `a` (pure; see the module docstring for the rule)."""
    hf = a.hedge_flow
    curve = hf.impulse_curve
    rp = hf.regime_params
    impulse = curve.impulse_total if math.isfinite(curve.impulse_total) else curve.impulse_at_spot
    if a.repriced is not None:
        source = FlipSource.REPRICED
        flips = _finite_sorted(c.price for c in a.repriced.flip_levels)
        zero_gamma_levels = _finite_sorted(a.repriced.zero_gamma_levels)
    else:
        source = FlipSource.CURVE
        flips = _finite_sorted(c.price for c in curve.zero_crossings)
        zero_gamma_levels = ()
    nearest = _nearest(flips, a.spot)
    distance = (nearest - a.spot) / a.spot if nearest is not None and a.spot else math.nan
    total = a.pressure_cloud.total_contracts.contracts
    hedge_name, hedge_n = next(iter(total.items())) if total else (None, math.nan)
    charm = hf.charm_integral.total_charm_to_close
    return Headline(
        symbol=a.symbol,
        expiration=a.expiration,
        as_of=a.as_of,
        spot=a.spot,
        forward=a.forward,
        model=a.model,
        positioning=a.positioning,
        positions=a.positions,
        impulse=impulse,
        impulse_words=labels.impulse_effect(impulse),
        slope=curve.slope_at_spot,
        slope_unit=SLOPE_UNIT[a.model],
        regime=curve.regime,
        regime_words=labels.impulse_regime_description(curve.regime),
        regime_firmness=curve.regime_firmness,
        firmness_words=firmness_words(curve.regime_firmness),
        vol_regime=rp.regime,
        atm_iv=rp.atm_iv,
        expected_move=rp.expected_move,
        flip_source=source,
        flip_levels=flips,
        nearest_flip=nearest,
        flip_distance=distance,
        zero_gamma=_nearest(zero_gamma_levels, a.spot),
        zero_gamma_levels=zero_gamma_levels,
        search_range=a.repriced.search_range if a.repriced is not None else None,
        attractor_above=finite_or_none(curve.nearest_attractor_above),
        attractor_below=finite_or_none(curve.nearest_attractor_below),
        hedge_name=hedge_name,
        hedge_contracts=hedge_n,
        hedge_words=_hedge_words(a.model, hedge_n, hedge_name),
        charm_total=charm,
        charm_words=labels.charm_trade(charm),
        move_horizon=move_horizon(a),
    )


def _hedge_words(model: EngineModel, contracts: float, name: str | None) -> str:
    if not name:
        return labels.UNKNOWN
    words = labels.contracts_trade(contracts, name)
    return f"floe: {words}" if model is EngineModel.FLOE else words


def status_notes(
    a: ExpiryAnalysis | None, spot_note: str = "", source_notes: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """The notes a one-line status shows, most important first.

    0. what the source said about its own data (`source_notes`, the chain's notes: a vendor
       that truncated the chain), shown even before the first analysis;
    1. open interest the reader dropped with listed contracts (the analysis' first note when
       its diagnostics carry `DROPPED_OI`): every exposure on screen is missing it;
    2. a spot that is not a live print (`spot_note`, e.g. "stale (market closed)");
    3. the analysis' other notes (vendor IV fallbacks, an untrusted spot, skipped expiries).
    Each note once (the analysis repeats the chain's notes).
    """
    notes = list(a.notes) if a is not None else []
    lost = (
        [notes.pop(0)] if a is not None and notes and a.diagnostics.get(DROPPED_OI, 0) > 0 else []
    )
    spot = [f"spot {spot_note}"] if spot_note else []
    rest = (n for n in (*lost, *spot, *notes) if n not in source_notes)
    return (*source_notes, *rest)


def zone_edges(
    zones: Sequence[PressureZone], edges: Sequence[RegimeEdge]
) -> list[tuple[RegimeEdge, ...]]:
    """The regime edges that belong to each zone (same order as `zones`): each edge goes
    to the zone nearest it (distance from the edge to the zone's [lower, upper], points;
    ties to the first), its edges nearest its centre first. No zone: every list empty."""
    out: list[list[RegimeEdge]] = [[] for _ in zones]
    if not zones:
        return []
    for e in edges:
        dist = [max(z.lower - e.price, e.price - z.upper, 0.0) for z in zones]
        out[dist.index(min(dist))].append(e)
    result: list[tuple[RegimeEdge, ...]] = []
    for es, z in zip(out, zones, strict=True):
        centre = z.center
        result.append(tuple(sorted(es, key=lambda e: abs(e.price - centre))))
    return result
