"""The pressure cloud of the physical engine: zones, regime edges, per-level scores and
the dealers' futures hedge for a +1% move.

Inputs are a physical `HedgeImpulseCurve` (density H(S') in $ per 1% per point, strike
total in $ per +1%) and its `RegimeParams`. Definitions (docs/METHOD.md "Pressure cloud"):

- reach (points) = reachability_multiple * expected_move (S * atm_iv * sqrt(tau_h)),
  floored at the kernel width lambda (the curve cannot resolve finer); when the expected
  move is unknown, reachability_multiple * S * expected_daily_spot_move.
  proximity(P) = exp(-((P - S) / reach)^2).
- zones: each basin (stability) and peak (acceleration) of the curve with
  rel = |H_e| / max_grid |H| >= zone_threshold (relative to the GLOBAL max |H|, not per
  type); strength = rel * proximity(center) in [0, 1]; bounds where the curve falls to
  half the extremum, linearly interpolated between grid points (the grid end when it
  never does), or at the saddle before a higher extremum of the same sign; side ABOVE
  when center >= S. Sorted by strength, strongest first. A weaker extremum whose
  centre lies inside a stronger zone of the same kind (a ripple: the curve between them
  never falls to half the stronger extremum) is folded into that zone.
- zone impulse: the trapezoid integral of the density over [lower, upper], $ per +1%.
- contracts: the dealers' futures trade for a +1% move is -H / (multiplier * F_fut),
  negative = dealers sell, with F_fut the live futures price when given, else
  spot * futures_ratio. Total from the strike total impulse; per zone from its integral;
  per level from the density times the level's trapezoid cell width (so levels sum to
  the curve's integral).
- regime edges: the curve's zero crossings; stable_beyond is True when price moving from
  spot outward through the edge enters H > 0: above spot a RISING crossing, below spot a
  FALLING one (an edge exactly at spot counts as above).
- level scores: stability = max(H, 0) / max|H| * proximity, acceleration =
  max(-H, 0) / max|H| * proximity, both in [0, 1].
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from hedgeflow.engine.enums import CrossingDirection, ExtremumKind, Side
from hedgeflow.engine.impulse import cumulative_integral
from hedgeflow.engine.types import (
    HedgeContractEstimates,
    HedgeImpulseCurve,
    PressureCloud,
    PressureCloudConfig,
    PressureLevel,
    PressureZone,
    RegimeEdge,
    RegimeParams,
)


def futures_price_for(
    spot: float, config: PressureCloudConfig, futures_price: float | None
) -> float:
    """The live futures price when given (finite, > 0), else spot * config.futures_ratio."""
    if futures_price is not None and math.isfinite(futures_price) and futures_price > 0:
        return float(futures_price)
    return float(spot * config.futures_ratio)


def hedge_contracts(
    impulse: float | np.ndarray, config: PressureCloudConfig, futures_price: float
) -> dict[str, float | np.ndarray]:
    """Dealers' futures trade for a +1% move per instrument: -H / (multiplier * F_fut).

    impulse : $ of dealer delta change per +1% (H > 0: dealers sell on the way up);
    futures_price : points. Negative = dealers sell. E.g. H = +$1e9 with ES (50) at 5000:
    -1e9 / (50 * 5000) = -4000 ES per +1%.
    """
    return {c.name: -impulse / (c.multiplier * futures_price) for c in config.futures}


def reach_points(
    curve: HedgeImpulseCurve, regime: RegimeParams, config: PressureCloudConfig
) -> float:
    """Reachability scale in points (see the module docstring)."""
    move = regime.expected_move
    if not (math.isfinite(move) and move > 0):
        move = curve.spot * regime.expected_daily_spot_move
    reach = config.reachability_multiple * move if math.isfinite(move) else float("nan")
    floor = curve.kernel_width if math.isfinite(curve.kernel_width) else 0.0
    if not (math.isfinite(reach) and reach > floor):
        reach = floor
    if not reach > 0:  # no scale at all: one grid step
        reach = float(np.diff(curve.price).max()) if curve.price.size > 1 else 1.0
    return float(reach)


def integral_between(
    price: NDArray[np.float64],
    values: NDArray[np.float64],
    lower: NDArray[np.float64],
    upper: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Trapezoid integrals of the curve over [lower_i, upper_i] (clipped to the grid), with
    interpolated end values; vectorized over intervals. Units: curve unit x points."""
    lower = np.asarray(lower, dtype=np.float64)
    ends = cumulative_integral(price, values, np.concatenate((lower, upper)))
    return ends[lower.size :] - ends[: lower.size]


def zone_bounds(
    price: np.ndarray, values: np.ndarray, index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where the curve falls to half of each extremum values[index], on each side,
    interpolated linearly; the grid end where it never does. Where the curve climbs above
    the extremum (a higher extremum of the same sign) before falling to half, the bound is
    the saddle between them (the grid point where the curve is lowest on the way), so a
    minor extremum's zone never runs over a major one. Vectorized over extrema."""
    g = price.size
    ext = values[index]
    sgn = np.sign(ext)
    sv = values[None, :] * sgn[:, None]  # sign-adjusted: extremum positive
    peak = np.abs(ext)
    h = 0.5 * peak
    col = np.arange(g)
    idx = index[:, None]
    before, after = col < idx, col > idx
    below = sv <= h[:, None]
    left, right = below & before, below & after
    # last "below" point left of the extremum, first one right of it (rows of sv are
    # values times the row's sign: sv[i, j] = values[j] * sgn[i], gathered in 1-d)
    jl = g - 1 - np.argmax(left[:, ::-1], axis=1)
    jr = np.argmax(right, axis=1)
    jl1 = np.minimum(jl + 1, g - 1)
    jr0 = np.maximum(jr - 1, 0)
    has_l, has_r = left.any(axis=1), right.any(axis=1)
    sv_jl, sv_jl1 = values[jl] * sgn, values[jl1] * sgn
    sv_jr, sv_jr0 = values[jr] * sgn, values[jr0] * sgn
    # where a side has a crossing, sv[jl] <= h < sv[jl + 1] and sv[jr - 1] > h >= sv[jr], so
    # the denominators are positive; elsewhere (masks has_l / has_r) use 1 and ignore t
    tl = np.where(has_l, (h - sv_jl) / np.where(has_l, sv_jl1 - sv_jl, 1.0), 0.0)
    tr = np.where(has_r, (sv_jr0 - h) / np.where(has_r, sv_jr0 - sv_jr, 1.0), 0.0)
    lower = np.where(has_l, price[jl] + tl * (price[jl1] - price[jl]), price[0])
    upper = np.where(has_r, price[jr0] + tr * (price[jr] - price[jr0]), price[-1])
    # higher ground met before the half level: stop at the saddle on the way to it
    higher = sv > peak[:, None]
    hl, hr = higher & before, higher & after
    kl = g - 1 - np.argmax(hl[:, ::-1], axis=1)  # nearest higher point on the left
    kr = np.argmax(hr, axis=1)  # and on the right
    saddle_l = hl.any(axis=1) & (~has_l | (kl > jl))
    saddle_r = hr.any(axis=1) & (~has_r | (kr < jr))
    if saddle_l.any():
        win_l = (col > kl[:, None]) & before
        sl = np.where(win_l.any(axis=1), np.argmin(np.where(win_l, sv, np.inf), axis=1), index)
        lower = np.where(saddle_l, price[sl], lower)
    if saddle_r.any():
        win_r = after & (col < kr[:, None])
        sr = np.where(win_r.any(axis=1), np.argmin(np.where(win_r, sv, np.inf), axis=1), index)
        upper = np.where(saddle_r, price[sr], upper)
    return lower, upper


def _check(config: PressureCloudConfig) -> None:
    if not (math.isfinite(config.reachability_multiple) and config.reachability_multiple > 0):
        raise ValueError("`config.reachability_multiple` must be finite and positive")
    if not (math.isfinite(config.zone_threshold) and 0 <= config.zone_threshold <= 1):
        raise ValueError("`config.zone_threshold` must be in [0, 1]")
    if not (math.isfinite(config.futures_ratio) and config.futures_ratio > 0):
        raise ValueError("`config.futures_ratio` must be finite and positive")
    if not (math.isfinite(config.contract_multiplier) and config.contract_multiplier > 0):
        raise ValueError("`config.contract_multiplier` must be finite and positive")
    for c in config.futures:
        if not (math.isfinite(c.multiplier) and c.multiplier > 0):
            raise ValueError(f"`config.futures` {c.name}: multiplier must be positive")


def _zones(
    curve: HedgeImpulseCurve,
    price: np.ndarray,
    values: np.ndarray,
    max_abs: float,
    reach: float,
    config: PressureCloudConfig,
    fut: float,
) -> tuple[tuple[PressureZone, ...], tuple[PressureZone, ...]]:
    """Stability and acceleration zones, strongest first (see the module docstring).

    A weaker extremum whose centre lies inside a stronger zone of the same kind is a ripple
    of that zone (the curve between them never falls to half of the stronger one), so it is
    folded into it rather than listed as a second, overlapping zone.
    """
    if not curve.extrema or max_abs <= 0:
        return (), ()
    centers = np.array([e.price for e in curve.extrema])
    index = np.abs(price[None, :] - centers[:, None]).argmin(axis=1)
    peak = values[index]
    rel = np.abs(peak) / max_abs
    keep = (rel >= config.zone_threshold) & (peak != 0)
    index, centers, peak, rel = index[keep], price[index[keep]], peak[keep], rel[keep]
    if index.size == 0:
        return (), ()
    lower, upper = zone_bounds(price, values, index)
    spot = float(curve.spot)
    strength = np.minimum(1.0, rel * np.exp(-(((centers - spot) / reach) ** 2)))
    order = np.argsort(-strength, kind="stable")
    index, centers, peak, strength = index[order], centers[order], peak[order], strength[order]
    lower, upper = lower[order], upper[order]
    # nested[i, j]: zone j is stronger (earlier), same kind, and contains centre i
    earlier = np.arange(index.size)[None, :] < np.arange(index.size)[:, None]
    same = (peak[:, None] > 0) == (peak[None, :] > 0)
    inside = (lower[None, :] <= centers[:, None]) & (centers[:, None] <= upper[None, :])
    first = ~(earlier & same & inside).any(axis=1)
    centers, peak, strength = centers[first], peak[first], strength[first]
    lower, upper = lower[first], upper[first]
    integral = integral_between(price, values, lower, upper)
    contracts = {
        k: np.asarray(v).tolist() for k, v in hedge_contracts(integral, config, fut).items()
    }
    stability: list[PressureZone] = []
    acceleration: list[PressureZone] = []
    for i, (c, lo, hi, st, pk, imp) in enumerate(
        zip(
            centers.tolist(),
            lower.tolist(),
            upper.tolist(),
            strength.tolist(),
            peak.tolist(),
            integral.tolist(),
            strict=True,
        )
    ):
        zone = PressureZone(
            center=c,
            lower=lo,
            upper=hi,
            strength=st,
            side=Side.ABOVE if c >= spot else Side.BELOW,
            kind=ExtremumKind.BASIN if pk > 0 else ExtremumKind.PEAK,
            impulse=imp,
            contracts=HedgeContractEstimates(contracts={n: v[i] for n, v in contracts.items()}),
            peak_density=pk,
        )
        (stability if pk > 0 else acceleration).append(zone)
    return tuple(stability), tuple(acceleration)


def compute_pressure_cloud(
    curve: HedgeImpulseCurve,
    regime: RegimeParams,
    config: PressureCloudConfig,
    *,
    now: datetime,
    futures_price: float | None = None,
    impulse_total: float | None = None,
) -> PressureCloud:
    """The physical pressure cloud of one expiry (definitions in the module docstring).

    Parameters
    ----------
    curve : physical impulse curve (density, $ per 1% per point, on an ascending grid).
    regime : its regime parameters (expected_move, points; expected_daily_spot_move).
    config : reachability_multiple, zone_threshold, futures (name, $ per point),
        futures_ratio (futures points per underlying point), contract_multiplier (the
        product used for the per-level `expected_hedge_contracts`).
    now : aware datetime stored as computed_at.
    futures_price : live futures price, points (None: spot * futures_ratio).
    impulse_total : $ per +1% behind total_contracts (strike-summed or repriced); None:
        curve.impulse_total, else the curve's integral.

    Returns
    -------
    PressureCloud; all contract figures are the dealers' trade per +1% (negative = sell).
    """
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    _check(config)
    price = np.asarray(curve.price, dtype=np.float64)
    values = np.asarray(curve.impulse, dtype=np.float64)
    if price.size == 0 or price.shape != values.shape:
        raise ValueError("`curve` must have one impulse value per grid price")
    spot = float(curve.spot)
    fut = futures_price_for(spot, config, futures_price)
    reach = reach_points(curve, regime, config)
    finite = np.isfinite(values)
    if not finite.all():  # a physical curve is finite; guard against a foreign one
        values = np.where(finite, values, 0.0)
    max_abs = float(np.abs(values).max())
    proximity = np.exp(-(((price - spot) / reach) ** 2))

    # --- zones from the curve's extrema
    stability, acceleration = _zones(curve, price, values, max_abs, reach, config, fut)

    # --- regime edges
    edges = tuple(
        RegimeEdge(
            price=c.price,
            stable_beyond=(c.direction is CrossingDirection.RISING)
            if c.price >= spot
            else (c.direction is CrossingDirection.FALLING),
        )
        for c in curve.zero_crossings
    )

    # --- per-level scores and contracts (density x trapezoid cell width = $ per +1%)
    if max_abs > 0:
        stab = np.maximum(values, 0.0) / max_abs * proximity
        accel = np.maximum(-values, 0.0) / max_abs * proximity
    else:
        stab = accel = np.zeros_like(values)
    cell = np.zeros_like(price)
    if price.size > 1:
        dp = np.diff(price)
        cell[:-1] += 0.5 * dp
        cell[1:] += 0.5 * dp
    cell_impulse = values * cell
    levels = PressureLevel(
        price=price,
        stability_score=stab,
        acceleration_score=accel,
        expected_hedge_contracts=-cell_impulse / (config.contract_multiplier * fut),
        hedge_contracts={
            k: np.asarray(v) for k, v in hedge_contracts(cell_impulse, config, fut).items()
        },
    )

    # --- totals
    total = impulse_total if impulse_total is not None else curve.impulse_total
    if not math.isfinite(total):
        total = float(
            integral_between(price, values, np.array([price[0]]), np.array([price[-1]]))[0]
        )
    total_contracts = HedgeContractEstimates(
        contracts={k: float(v) for k, v in hedge_contracts(float(total), config, fut).items()}
    )
    return PressureCloud(
        spot=spot,
        expiration=curve.expiration,
        computed_at=now,
        stability_zones=stability,
        acceleration_zones=acceleration,
        regime_edges=edges,
        levels=levels,
        total_contracts=total_contracts,
        futures_price=fut,
        reach=reach,
    )


__all__ = [
    "compute_pressure_cloud",
    "futures_price_for",
    "hedge_contracts",
    "integral_between",
    "reach_points",
    "zone_bounds",
]
