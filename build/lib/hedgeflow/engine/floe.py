"""The `floe` profile: an exact port of floe 0.0.18's hedge-flow layer.

Reproduces the original TypeScript library number by number, quirks included
(tests/data/floe-reference/README.md lists them; the numbers in brackets below
refer to that list):

- [1] strikes reach the curve in floe's order (net exposure descending, stable),
  and the modal strike spacing is detected in that order, which usually gives a
  wrong spacing and hence a wrong kernel width;
- [2] the price grid is built by repeated addition (``np.cumsum``), so it has
  120 or 121 points and the "spot" point is off by ~1e-11;
- [3] regime parameters from IVs in percent, k = clamp(-corr*atmIV*sqrt(252), 2, 20);
- [4] H = G - (k/price)*V on the normalized kernel average sum(w x)/sum(w);
- [5] charm buckets total*sqrt(T/t)*step/390 on wall-clock minutes;
- [6] zones thresholded per extremum type, contracts impulse/(mult*spot*0.01).

Summation order: floe adds left to right. Every sum whose operands can cancel
(kernel sums, integrals, totals) is taken with ``np.cumsum`` (a sequential
accumulation, same order as the JavaScript loops) so the port agrees with floe
to the last bits where `Math.exp` and `np.exp` agree.

Units at the API are hedgeflow's: IV decimal (converted to floe's percent
inside), times timezone-aware datetimes (floe's epoch milliseconds inside).
floe's own labels (charm direction, contract signs, transition types) are kept
in the ``floe_*`` fields only; the sign-rule fields (``contracts``,
``stable_beyond``) follow docs/METHOD.md "The sign rule": the hedge trade is minus the change
of their option delta.

Where floe itself loops forever (non-positive grid or time step) this port
raises ``ValueError`` instead.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from hedgeflow.engine.enums import (
    Bias,
    CrossingDirection,
    EngineModel,
    ExtremumKind,
    ImpulseRegime,
    MarketRegime,
    PositioningModel,
    Side,
)
from hedgeflow.engine.types import (
    CharmIntegral,
    CharmIntegralConfig,
    DirectionalAsymmetry,
    ExposurePerExpiry,
    HedgeContractEstimates,
    HedgeFlowAnalysis,
    HedgeImpulseConfig,
    HedgeImpulseCurve,
    ImpulseExtremum,
    IVSurface,
    PressureCloud,
    PressureCloudConfig,
    PressureLevel,
    PressureZone,
    RegimeEdge,
    RegimeParams,
    ZeroCrossing,
)

__all__ = [
    "FLOE_FUTURES",
    "analyze_hedge_flow_floe",
    "compute_charm_integral_floe",
    "compute_hedge_impulse_curve_floe",
    "compute_pressure_cloud_floe",
    "derive_regime_params_floe",
    "derive_spot_vol_coupling_floe",
    "detect_strike_spacing_floe",
    "floe_grid",
    "floe_hedge_contracts",
    "floe_order",
    "interpolate_iv_at_strike_floe",
    "js_math_round",
]

#: floe's fixed hedge-contract set: (floe key, sign-rule name, $ per index point).
#: floe uses these whatever `product` and `contractMultiplier` say (quirk 6).
FLOE_FUTURES: tuple[tuple[str, str, float], ...] = (
    ("nq", "NQ", 20.0),
    ("mnq", "MNQ", 2.0),
    ("es", "ES", 50.0),
    ("mes", "MES", 5.0),
)

_SQRT_252 = math.sqrt(252.0)
_MS_PER_MINUTE = 60_000.0
_TRADING_DAY_MINUTES = 390.0  # floe's session length for charm buckets (quirk 5)
_EMPTY_SURFACE_IV_PCT = 20.0  # floe's IV, percent, when the surface is empty (quirk 12)
_MAX_GRID_POINTS = 1_000_000  # far beyond any sane config; guards memory, floe has no cap
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# frozen configs, shared as argument defaults (floe's defaults: 3%, 0.05%, 2 strikes, 15 min)
_DEFAULT_IMPULSE = HedgeImpulseConfig()
_DEFAULT_CHARM = CharmIntegralConfig()


# --------------------------------------------------------------------------- helpers


def _seq_sum(x: np.ndarray) -> float:
    """Left-to-right sum (floe's `reduce`/`+=` order); 0.0 for an empty array."""
    if x.size == 0:
        return 0.0
    return float(np.cumsum(x)[-1])


def _epoch_ms(t: datetime) -> float:
    """Epoch milliseconds (exact for whole milliseconds) of a timezone-aware datetime."""
    if t.tzinfo is None:
        raise ValueError("`now` and `expiration` must be timezone-aware")
    td = t - _EPOCH
    return float((td.days * 86_400 + td.seconds) * 1000) + td.microseconds / 1000.0


def js_math_round(x: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """JavaScript `Math.round`: nearest integer, halves toward +infinity.

    Not Python's `round` (halves to even) and not a naive `floor(x + 0.5)`, which
    is wrong for 0.49999999999999994 (the addition rounds up to 1). `x - floor(x)`
    is exact in floating point, so the comparison with 0.5 is exact.
    """
    x = np.asarray(x, dtype=np.float64)
    f = np.floor(x)
    with np.errstate(invalid="ignore"):  # inf - inf: the infinities stay themselves via f
        frac = x - f
    out = f + (frac >= 0.5)
    # a zero result keeps the sign of x: Math.round(-0.3) and Math.round(-0) are -0
    return np.where(out == 0, np.copysign(0.0, x), out)


def floe_hedge_contracts(impulse: np.ndarray | float, spot: float) -> dict[str, np.ndarray]:
    """floe's `computeHedgeContractEstimates`: impulse / (multiplier * spot * 0.01) for
    the fixed NQ 20, MNQ 2, ES 50, MES 5 set; non-finite results (and a non-positive
    denominator) become 0. Sign as floe (positive H gives positive contracts)."""
    h = np.asarray(impulse, dtype=np.float64)
    out: dict[str, np.ndarray] = {}
    for key, _name, mult in FLOE_FUTURES:
        denom = mult * spot * 0.01
        out[key] = _sanitized_ratio(h, denom)
    return out


def _sanitized_ratio(h: np.ndarray, denom: float) -> np.ndarray:
    """floe's `denominator > 0 ? sanitize(h / denominator) : 0`."""
    if not denom > 0:
        return np.zeros_like(h)
    with np.errstate(over="ignore", invalid="ignore"):
        r = h / denom
    return np.where(np.isfinite(r), r, 0.0)


def _contract_estimates(impulse: float, spot: float) -> HedgeContractEstimates:
    """floe's estimates in `floe_contracts`; the same magnitudes with the sign rule
    (the dealers' futures trade for a +1% move is -H) in `contracts`."""
    floe = {k: float(v) for k, v in floe_hedge_contracts(impulse, spot).items()}
    signed = {name: -floe[key] for key, name, _m in FLOE_FUTURES}
    return HedgeContractEstimates(contracts=signed, floe_contracts=floe)


# --------------------------------------------------------------------------- exposure order


def floe_order(exposure: ExposurePerExpiry) -> np.ndarray:
    """The index order floe's exposure step hands the strikes on in (quirk 1).

    net = gamma + vanna + charm per strike, sorted descending with a stable sort
    (ties keep the given order). Returns int indices into the exposure arrays.
    """
    net = (
        np.asarray(exposure.gamma, dtype=np.float64)
        + np.asarray(exposure.vanna, dtype=np.float64)
        + np.asarray(exposure.charm, dtype=np.float64)
    )
    return np.argsort(-net, kind="stable")


def _check_order(order: np.ndarray | None, exposure: ExposurePerExpiry) -> np.ndarray:
    n = len(exposure.strikes)
    if order is None:
        return floe_order(exposure)
    idx = np.asarray(order)
    if idx.shape != (n,) or not np.array_equal(np.sort(idx), np.arange(n)):
        raise ValueError(f"`order` must be a permutation of range({n})")
    return idx.astype(np.intp)


# --------------------------------------------------------------------------- regime params


def interpolate_iv_at_strike_floe(surface: IVSurface, strike: float) -> float:
    """floe's `interpolateIVAtStrike` on the smoothed IVs, in **percent** (as floe).

    Linear between the first bracketing pair, flat beyond the ends; a single strike
    gives its IV and an empty surface 20 (percent).
    """
    return _interp_iv_pct(
        np.asarray(surface.strikes, dtype=np.float64),
        np.asarray(surface.smoothed_iv, dtype=np.float64) * 100.0,
        float(strike),
    )


def _interp_iv_pct(strikes: np.ndarray, ivs: np.ndarray, x: float) -> float:
    n = strikes.size
    if n == 0 or ivs.size == 0:
        return _EMPTY_SURFACE_IV_PCT
    if n == 1:
        return float(ivs[0])
    lo, hi = _bracket(strikes, x)
    if x <= strikes[0]:
        return float(ivs[0])
    if x >= strikes[-1]:
        return float(ivs[-1])
    t = (x - strikes[lo]) / (strikes[hi] - strikes[lo])
    return float(ivs[lo] + t * (ivs[hi] - ivs[lo]))


def _bracket(strikes: np.ndarray, x: float) -> tuple[int, int]:
    """floe's scan: the first i with strikes[i] <= x <= strikes[i+1], else (0, n-1)."""
    ok = (strikes[:-1] <= x) & (strikes[1:] >= x)
    hits = np.flatnonzero(ok)
    if hits.size == 0:
        return 0, strikes.size - 1
    i = int(hits[0])
    return i, i + 1


def _skew_at_spot(strikes: np.ndarray, ivs: np.ndarray, spot: float) -> float:
    """dIV%/dK * spot on the first interval bracketing spot (the end-to-end secant
    when spot is outside the surface); 0 with fewer than 2 strikes."""
    if strikes.size < 2:
        return 0.0
    lo, hi = _bracket(strikes, spot)
    d_iv = ivs[hi] - ivs[lo]
    d_k = strikes[hi] - strikes[lo]
    return float((d_iv / d_k) * spot) if d_k > 0 else 0.0


def _curvature_at_spot(strikes: np.ndarray, ivs: np.ndarray, spot: float) -> float:
    """Second difference of IV% at the nearest strike (first on ties) times spot^2/h^2;
    0 at the ends of the surface or with fewer than 3 strikes."""
    n = strikes.size
    if n < 3:
        return 0.0
    # floe keeps the running best and replaces it only on a strictly smaller
    # distance: that is the first minimum (argmin), NaN distances never win.
    # floe starts from index 0, so a NaN distance there is never beaten.
    dist = np.abs(strikes - spot)
    c = 0 if np.isnan(dist[0]) else int(np.argmin(np.where(np.isnan(dist), np.inf, dist)))
    if c == 0 or c == n - 1:
        return 0.0
    h = (strikes[c + 1] - strikes[c - 1]) / 2
    if not h > 0:
        return 0.0
    return float(((ivs[c + 1] - 2 * ivs[c] + ivs[c - 1]) / (h * h)) * spot * spot)


def _market_regime(atm_iv: float) -> MarketRegime:
    if atm_iv < 0.15:
        return MarketRegime.CALM
    if atm_iv < 0.20:
        return MarketRegime.NORMAL
    if atm_iv < 0.35:
        return MarketRegime.STRESSED
    return MarketRegime.CRISIS


def _js_max(a: float, b: float) -> float:
    """JavaScript `Math.max` of two numbers: NaN if either is NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return max(a, b)


def _js_min(a: float, b: float) -> float:
    """JavaScript `Math.min` of two numbers: NaN if either is NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return min(a, b)


def derive_spot_vol_coupling_floe(implied_spot_vol_corr: float, atm_iv: float) -> float:
    """floe's k = clamp(-corr * atmIV * sqrt(252), 2, 20), vol points per 1% (floe's units)."""
    k = -implied_spot_vol_corr * atm_iv * _SQRT_252
    return _js_max(2.0, _js_min(20.0, k))


def derive_regime_params_floe(surface: IVSurface, spot: float) -> RegimeParams:
    """floe's `deriveRegimeParams` (quirk 3), mapped into `RegimeParams`.

    atm_iv : decimal, linear interpolation of the smoothed IV at spot
    skew : floe's dIV%/dK * spot (IV in percent)
    curvature : floe's d2IV%/dK2 * spot^2 at the nearest strike
    implied_spot_vol_corr : clamp(0.15 * skew, -0.95, 0.5)
    implied_vol_of_vol : sqrt|curvature| * 2 * atm_iv (floe's unit mix-up, 10-1500)
    expected_daily_spot_move : atm_iv / sqrt(252), decimal
    expected_move : expected_daily_spot_move * spot, points
    coupling_atm : floe's k (spotVolCoupling)
    """
    strikes = np.asarray(surface.strikes, dtype=np.float64)
    ivs = np.asarray(surface.smoothed_iv, dtype=np.float64) * 100.0
    spot = float(spot)
    atm_iv = _interp_iv_pct(strikes, ivs, spot) / 100
    skew = _skew_at_spot(strikes, ivs, spot)
    corr = _js_max(-0.95, _js_min(0.5, skew * 0.15))
    curvature = _curvature_at_spot(strikes, ivs, spot)
    vol_of_vol = math.sqrt(abs(curvature)) * 2.0 * atm_iv
    daily_move = atm_iv / _SQRT_252
    return RegimeParams(
        atm_iv=atm_iv,
        skew=skew,
        curvature=curvature,
        regime=_market_regime(atm_iv),
        regime_iv=atm_iv,
        expected_move=daily_move * spot,
        expected_daily_spot_move=daily_move,
        coupling_atm=derive_spot_vol_coupling_floe(corr, atm_iv),
        implied_spot_vol_corr=corr,
        implied_vol_of_vol=vol_of_vol,
        expected_daily_vol_move=vol_of_vol / _SQRT_252,
    )


# --------------------------------------------------------------------------- impulse curve


def detect_strike_spacing_floe(strikes_in_order: np.ndarray) -> float:
    """floe's `detectStrikeSpacing` on strikes in the order floe received them (quirk 1).

    Gaps |K_i - K_{i-1}| between consecutive entries, zero gaps dropped, rounded to
    cents with JavaScript's `Math.round` (quirk 11); the most frequent rounded gap
    wins, the first seen on ties. Fewer than 2 strikes (or no non-zero gap) gives 1.
    Points.
    """
    k = np.asarray(strikes_in_order, dtype=np.float64)
    if k.size < 2:
        return 1.0
    gaps = np.abs(np.diff(k))
    gaps = gaps[gaps > 0]  # also drops NaN gaps, as floe's `gap > 0`
    if gaps.size == 0:
        return 1.0
    rounded = js_math_round(gaps * 100) / 100
    values, first, counts = np.unique(rounded, return_index=True, return_counts=True)
    # a Map iterated in insertion order with a strict `count > maxCount`: the highest
    # count wins, the earliest first appearance on ties
    best = np.lexsort((first, -counts))[0]
    return float(values[best])


def floe_grid(spot: float, range_percent: float, step_percent: float) -> np.ndarray:
    """floe's price grid, bit for bit (quirk 2): `for (p = min; p <= max; p += step)`.

    min = spot*(1 - range/100), max = spot*(1 + range/100), step = spot*(step/100);
    the repeated addition is a sequential `np.cumsum`. Points, ascending; 120 or 121
    points for the defaults depending on rounding. Raises ValueError where floe would
    loop forever (step not positive or too small to advance).
    """
    grid_min = spot * (1 - range_percent / 100)
    grid_max = spot * (1 + range_percent / 100)
    step = spot * (step_percent / 100)
    if not (math.isfinite(grid_min) and math.isfinite(grid_max)):
        raise ValueError("`spot` and `range_percent` must give a finite grid")
    if grid_min > grid_max:
        return np.empty(0)  # floe's loop body never runs
    if not (math.isfinite(step) and step > 0):
        raise ValueError("`spot * step_percent` must be positive (floe would loop forever)")
    n_steps = math.floor((grid_max - grid_min) / step) + 2
    if n_steps > _MAX_GRID_POINTS:
        raise ValueError(f"grid of {n_steps} points: `step_percent` too small")
    parts = np.full(n_steps + 1, step)
    parts[0] = grid_min
    prices = np.cumsum(parts)
    if not np.all(np.diff(prices) > 0):
        raise ValueError("`step_percent` too small to advance the grid (floe would loop forever)")
    return prices[prices <= grid_max]


def _kernel_average(
    strikes: np.ndarray, values: np.ndarray, prices: np.ndarray, lam: float
) -> np.ndarray:
    """floe's `kernelSmooth` at every grid price: sum(w x)/sum(w), w = exp(-((K-P)/lam)^2),
    0 where the weight sum is not positive (all weights underflow). `values` is
    (m, n_strikes); returns (m, n_prices). Sums run over strikes in floe's order."""
    m = values.shape[0]
    if strikes.size == 0:
        return np.zeros((m, prices.size))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dist = (strikes[None, :] - prices[:, None]) / lam
        w = np.exp(-(dist * dist))
        w_sum = np.cumsum(w, axis=1)[:, -1]
        out = np.empty((m, prices.size))
        for j in range(m):  # m = 2 (gamma, vanna), not a loop over strikes
            x_sum = np.cumsum(values[j][None, :] * w, axis=1)[:, -1]
            out[j] = np.where(w_sum > 0, x_sum / w_sum, 0.0)
    return out


def _interp_on_grid(prices: np.ndarray, h: np.ndarray, x: float) -> float:
    """floe's `interpolateImpulseAtPrice`: flat beyond the ends; inside, linear on the
    first interval with p_i <= x <= p_{i+1} (so a grid price is reached from the left)."""
    n = prices.size
    if n == 0:
        return 0.0
    if x <= prices[0]:
        return float(h[0])
    if x >= prices[-1]:
        return float(h[-1])
    if not (prices[0] < x < prices[-1]):
        return 0.0  # NaN x: floe's scan finds nothing
    i = int(np.searchsorted(prices, x, side="left")) - 1
    t = (x - prices[i]) / (prices[i + 1] - prices[i])
    return float(h[i] + t * (h[i + 1] - h[i]))


def _slope(prices: np.ndarray, h: np.ndarray, x: float) -> float:
    if prices.size < 3:
        return 0.0
    step = prices[1] - prices[0]
    above = _interp_on_grid(prices, h, x + step)
    below = _interp_on_grid(prices, h, x - step)
    return float((above - below) / (2 * step))


def _zero_crossings(prices: np.ndarray, h: np.ndarray) -> tuple[ZeroCrossing, ...]:
    """Sign changes with a*b < 0 (exact zeros skipped), linearly interpolated."""
    if prices.size < 2:
        return ()
    a, b = h[:-1], h[1:]
    with np.errstate(over="ignore", invalid="ignore"):
        idx = np.flatnonzero(a * b < 0)
    if idx.size == 0:
        return ()
    aa, bb = np.abs(a[idx]), np.abs(b[idx])
    t = aa / (aa + bb)
    cross = prices[idx] + t * (prices[idx + 1] - prices[idx])
    rising = b[idx] > a[idx]
    return tuple(
        ZeroCrossing(float(p), CrossingDirection.RISING if r else CrossingDirection.FALLING)
        for p, r in zip(cross, rising, strict=True)
    )


def _extrema(prices: np.ndarray, h: np.ndarray) -> tuple[ImpulseExtremum, ...]:
    """Interior strict local maxima with H > 0 (basins) and minima with H < 0 (peaks),
    in grid order."""
    if prices.size < 3:
        return ()
    prev, curr, nxt = h[:-2], h[1:-1], h[2:]
    basin = (curr > prev) & (curr > nxt) & (curr > 0)
    peak = (curr < prev) & (curr < nxt) & (curr < 0)
    idx = np.flatnonzero(basin | peak) + 1
    return tuple(
        ImpulseExtremum(
            float(prices[i]),
            float(h[i]),
            ExtremumKind.BASIN if basin[i - 1] else ExtremumKind.PEAK,
        )
        for i in idx
    )


def _asymmetry(
    prices: np.ndarray, h: np.ndarray, spot: float, range_percent: float
) -> DirectionalAsymmetry:
    """Rectangle integrals sum(H*step) over (S, S + r] and [S - r, S) with strict
    comparisons at spot (quirk 2), step = p_1 - p_0; bias by a 10% threshold."""
    range_price = spot * (range_percent / 100)
    step = prices[1] - prices[0] if prices.size > 1 else 1.0
    up_mask = (prices > spot) & (prices <= spot + range_price)
    down_mask = (prices < spot) & (prices >= spot - range_price)
    upside = _seq_sum(h[up_mask] * step)
    downside = _seq_sum(h[down_mask] * step)
    threshold = _js_max(abs(upside), abs(downside)) * 0.1
    bias = Bias.NEUTRAL
    if upside < downside - threshold:
        bias = Bias.UP  # floe: upside has more negative impulse, price pulled up
    elif downside < upside - threshold:
        bias = Bias.DOWN
    denominator = abs(downside)
    if denominator == 0 or math.isnan(denominator):  # JS `|| 1e-10`
        denominator = 1e-10
    return DirectionalAsymmetry(
        upside=upside,
        downside=downside,
        integration_range_percent=float(range_percent),
        bias=bias,
        asymmetry_ratio=abs(upside) / denominator,
    )


def _classify(h: np.ndarray, impulse_at_spot: float, asym: DirectionalAsymmetry) -> ImpulseRegime:
    """floe's `classifyRegime` (quirks 4 and 10)."""
    # an empty curve gives 0/0 = NaN in floe: every comparison below is then false
    mean_abs = _seq_sum(np.abs(h)) / h.size if h.size else math.nan
    if mean_abs == 0:
        return ImpulseRegime.NEUTRAL
    normalized = impulse_at_spot / mean_abs if math.isfinite(mean_abs) else math.nan
    if normalized > 0.5:
        return ImpulseRegime.PINNED
    if normalized < -0.3:
        if asym.bias is Bias.UP:
            return ImpulseRegime.SQUEEZE_UP
        if asym.bias is Bias.DOWN:
            return ImpulseRegime.SQUEEZE_DOWN
        return ImpulseRegime.EXPANSION
    if asym.bias is Bias.UP and asym.asymmetry_ratio > 1.5:
        return ImpulseRegime.SQUEEZE_UP
    if asym.bias is Bias.DOWN and asym.asymmetry_ratio > 1.5:
        return ImpulseRegime.SQUEEZE_DOWN
    return ImpulseRegime.NEUTRAL


def compute_hedge_impulse_curve_floe(
    exposure: ExposurePerExpiry,
    regime: RegimeParams,
    *,
    now: datetime,
    config: HedgeImpulseConfig = _DEFAULT_IMPULSE,
    order: np.ndarray | None = None,
) -> HedgeImpulseCurve:
    """floe's `computeHedgeImpulseCurve` (quirks 1, 2, 4, 11).

    regime : from `derive_regime_params_floe` (its coupling_atm is floe's k)
    order : the order floe receives the strikes in (None: `floe_order`)

    The curve's gamma/vanna are the kernel averages of GEX ($ per +1%) and VEX
    ($ per vol point); impulse H = gamma - (k/price) * vanna, floe's $ per 1%.
    """
    idx = _check_order(order, exposure)
    strikes = np.asarray(exposure.strikes, dtype=np.float64)[idx]
    gex = np.asarray(exposure.gamma, dtype=np.float64)[idx]
    vex = np.asarray(exposure.vanna, dtype=np.float64)[idx]
    spot = float(exposure.spot)
    k = float(regime.coupling_atm)

    spacing = detect_strike_spacing_floe(strikes)
    lam = config.kernel_width_strikes * spacing
    prices = floe_grid(spot, config.range_percent, config.step_percent)
    gamma, vanna = _kernel_average(strikes, np.vstack([gex, vex]), prices, lam)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        impulse = gamma - (k / prices) * vanna

    at_spot = _interp_on_grid(prices, impulse, spot)
    slope = _slope(prices, impulse, spot)
    crossings = _zero_crossings(prices, impulse)
    extrema = _extrema(prices, impulse)
    asym = _asymmetry(prices, impulse, spot, config.asymmetry_percent)
    basins = [e.price for e in extrema if e.kind is ExtremumKind.BASIN]
    above = [p for p in basins if p > spot]
    below = [p for p in basins if p < spot]
    return HedgeImpulseCurve(
        spot=spot,
        expiration=exposure.expiration,
        computed_at=now,
        spot_vol_coupling=k,
        kernel_width=float(lam),
        strike_spacing=spacing,
        price=prices,
        gamma=gamma,
        vanna=vanna,
        impulse=impulse,
        impulse_at_spot=at_spot,
        slope_at_spot=slope,
        zero_crossings=crossings,
        extrema=extrema,
        asymmetry=asym,
        regime=_classify(impulse, at_spot, asym),
        nearest_attractor_above=min(above) if above else None,
        nearest_attractor_below=max(below) if below else None,
    )


# --------------------------------------------------------------------------- charm


def compute_charm_integral_floe(
    exposure: ExposurePerExpiry,
    *,
    now: datetime,
    config: CharmIntegralConfig = _DEFAULT_CHARM,
    order: np.ndarray | None = None,
) -> CharmIntegral:
    """floe's `computeCharmIntegral` (quirk 5).

    minutes_remaining : wall-clock minutes from `now` to the expiry (>= 0)
    buckets at t = T, T - step, ... while t >= max(1, step) (repeated subtraction):
      instantaneous_cex = total CEX * sqrt(T/t) ($ per day), cumulative_cex adds
      instantaneous_cex * step/390 ($). No bucket with less than one step left.
    total_charm_to_close : last cumulative value (0 without buckets)
    contribution_strikes / strike_contribution / fraction_of_total : floe's
      strikeContributions (charm != 0, sorted by |charm| descending, stable)
    floe_direction : "buying" when the total is positive (floe's label; the dealers'
      trade is then selling by the sign rule)
    bucket_time : epoch seconds at which each bucket's t is reached
    """
    step = float(config.time_step_minutes)
    if not (math.isfinite(step) and step > 0):
        raise ValueError("`time_step_minutes` must be positive (floe would loop forever)")
    idx = _check_order(order, exposure)
    strikes = np.asarray(exposure.strikes, dtype=np.float64)[idx]
    charm = np.asarray(exposure.charm, dtype=np.float64)[idx]
    now_ms = _epoch_ms(now)
    minutes = max(0.0, (_epoch_ms(exposure.expiration) - now_ms) / _MS_PER_MINUTE)

    abs_charm = np.abs(charm)
    total_abs = _seq_sum(abs_charm)
    keep = charm != 0
    k_strikes, k_charm, k_abs = strikes[keep], charm[keep], abs_charm[keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = k_abs / total_abs if total_abs > 0 else np.zeros_like(k_abs)
    srt = np.argsort(-k_abs, kind="stable")
    total_cex = _seq_sum(charm)  # ExposurePerExpiry.totalCharmExposure, a plain sum

    empty = np.empty(0)
    t = empty
    inst = empty
    cumulative = empty
    if minutes > 0:
        threshold = max(1.0, step)
        n = math.floor(minutes / step) + 2
        parts = np.full(n + 1, -step)
        parts[0] = minutes
        t = np.cumsum(parts)  # floe's `t -= step`
        t = t[t >= threshold]
        inst = total_cex * np.sqrt(minutes / t)
        cumulative = np.cumsum(inst * (step / _TRADING_DAY_MINUTES))
    total = float(cumulative[-1]) if cumulative.size else 0.0
    direction = "buying" if total > 0 else "selling" if total < 0 else "neutral"
    return CharmIntegral(
        spot=float(exposure.spot),
        expiration=exposure.expiration,
        computed_at=now,
        horizon=exposure.expiration,
        minutes_remaining=minutes,
        total_charm_to_close=total,
        settlement_step=0.0,
        bucket_minutes_remaining=t,
        bucket_time=now_ms / 1000.0 + (minutes - t) * 60.0,
        instantaneous_cex=inst,
        cumulative_cex=cumulative,
        contribution_strikes=k_strikes[srt],
        strike_contribution=k_charm[srt],
        fraction_of_total=fraction[srt],
        floe_direction=direction,
    )


# --------------------------------------------------------------------------- analysis


def analyze_hedge_flow_floe(
    exposure: ExposurePerExpiry,
    surface: IVSurface,
    *,
    now: datetime,
    impulse_config: HedgeImpulseConfig = _DEFAULT_IMPULSE,
    charm_config: CharmIntegralConfig = _DEFAULT_CHARM,
    order: np.ndarray | None = None,
) -> HedgeFlowAnalysis:
    """floe's `analyzeHedgeFlow`: regime params, impulse curve and charm integral.

    exposure : per-strike GEX ($ per +1%), VEX ($ per vol point), CEX ($ per day)
        with floe positioning (dealers short calls, long puts)
    surface : the expiry's smile, IV decimal (floe's percent is derived inside)
    now : evaluation time (floe's `Date.now()`), timezone-aware
    order : the order in which floe receives the strikes; None applies `floe_order`,
        what floe does on a chain. The strike spacing, and everything downstream of
        the kernel width, depends on it (quirk 1).
    """
    _epoch_ms(now)  # timezone check up front
    idx = _check_order(order, exposure)
    regime = derive_regime_params_floe(surface, exposure.spot)
    curve = compute_hedge_impulse_curve_floe(
        exposure, regime, now=now, config=impulse_config, order=idx
    )
    charm = compute_charm_integral_floe(exposure, now=now, config=charm_config, order=idx)
    return HedgeFlowAnalysis(
        model=EngineModel.FLOE,
        positioning=PositioningModel.FLOE,
        regime_params=regime,
        impulse_curve=curve,
        charm_integral=charm,
    )


# --------------------------------------------------------------------------- pressure cloud


def _zone_bounds(
    prices: np.ndarray, h: np.ndarray, center: float, threshold: float
) -> tuple[float, float]:
    """floe's `findZoneBounds`: from the grid index nearest the centre (first on ties),
    walk out to the first point beyond the threshold (H < thr for a positive
    threshold, H > thr otherwise), or to the end of the curve."""
    dist = np.abs(prices - center)
    c = int(np.argmin(np.where(np.isnan(dist), np.inf, dist)))
    beyond = h < threshold if threshold > 0 else h > threshold
    left = np.flatnonzero(beyond[:c])
    right = np.flatnonzero(beyond[c + 1 :])
    lower = int(left[-1]) if left.size else 0
    upper = c + 1 + int(right[0]) if right.size else prices.size - 1
    return float(prices[lower]), float(prices[upper])


def _zones(
    extrema: tuple[ImpulseExtremum, ...],
    kind: ExtremumKind,
    prices: np.ndarray,
    h: np.ndarray,
    spot: float,
    reach: float,
    zone_threshold: float,
) -> tuple[PressureZone, ...]:
    """floe's `extractStabilityZones` / `extractAccelerationZones` (quirks 6, 9):
    threshold relative to the largest |H| among extrema of this kind only."""
    sel = [e for e in extrema if e.kind is kind]
    if not sel:
        return ()
    imp = np.array([e.impulse for e in sel])
    ctr = np.array([e.price for e in sel])
    max_imp = float(np.max(np.abs(imp)))
    max_imp = _js_max(max_imp, 1e-10)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        rel = np.abs(imp) / max_imp
        keep = rel >= zone_threshold
        proximity = np.exp(-((np.abs(ctr - spot) / reach) ** 2))
        strength = np.minimum(1.0, rel * proximity)
    basin = kind is ExtremumKind.BASIN
    zones = []
    for i in np.flatnonzero(keep):  # one iteration per extremum, not per grid point
        lower, upper = _zone_bounds(prices, h, ctr[i], imp[i] * 0.5)
        above = ctr[i] >= spot
        # floe: basins below spot are "long" (bounce), above "short"; acceleration the reverse
        long_trade = (not above) if basin else above
        zones.append(
            PressureZone(
                center=float(ctr[i]),
                lower=lower,
                upper=upper,
                strength=float(strength[i]),
                side=Side.ABOVE if above else Side.BELOW,
                kind=kind,
                impulse=float(imp[i]),
                contracts=_contract_estimates(float(imp[i]), spot),
                floe_trade_type="long" if long_trade else "short",
                floe_hedge_type="passive" if basin else "aggressive",
            )
        )
    srt = np.argsort(-np.array([z.strength for z in zones]), kind="stable")
    return tuple(zones[j] for j in srt)


def _edges(crossings: tuple[ZeroCrossing, ...], spot: float) -> tuple[RegimeEdge, ...]:
    """Zero crossings as regime edges. stable_beyond follows the sign rule: moving from
    spot outward through the edge, H becomes positive. floe's transitionType describes
    the move from the edge toward spot (quirk 8) and is kept as is."""
    edges = []
    for c in crossings:
        below = c.price < spot
        falling = c.direction is CrossingDirection.FALLING
        if falling:
            floe_type = "stable-to-unstable" if below else "unstable-to-stable"
        else:
            floe_type = "unstable-to-stable" if below else "stable-to-unstable"
        # below spot "beyond" is lower prices, where a falling crossing has H > 0
        stable_beyond = falling if below else not falling
        edges.append(RegimeEdge(float(c.price), stable_beyond, floe_type))
    return tuple(edges)


def compute_pressure_cloud_floe(
    curve: HedgeImpulseCurve,
    regime: RegimeParams,
    config: PressureCloudConfig,
    *,
    now: datetime,
) -> PressureCloud:
    """floe's `computePressureCloud` (quirks 6, 8, 9).

    reach = expected_daily_spot_move * spot * reachability_multiple (points),
    proximity = exp(-(|P - S|/reach)^2). Per level: stability/acceleration scores
    (H+ or |H-| times proximity, $ per 1%), expected_hedge_contracts =
    H/(contract_multiplier*spot*0.01) (floe's sign, non-finite -> 0) and floe's fixed
    nq/mnq/es/mes figures. Zones carry floe's figures in `floe_contracts` and the
    sign-rule trade (-H, same magnitude) in `contracts`. `product` is ignored, as in floe.
    """
    _epoch_ms(now)
    spot = float(curve.spot)
    prices = np.asarray(curve.price, dtype=np.float64)
    h = np.asarray(curve.impulse, dtype=np.float64)
    reach = regime.expected_daily_spot_move * spot * config.reachability_multiple

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        proximity = np.exp(-((np.abs(prices - spot) / reach) ** 2))
        stability = np.where(h > 0, h * proximity, 0.0)
        acceleration = np.where(h < 0, np.abs(h) * proximity, 0.0)
    levels = PressureLevel(
        price=prices,
        stability_score=stability,
        acceleration_score=acceleration,
        expected_hedge_contracts=_sanitized_ratio(h, config.contract_multiplier * spot * 0.01),
        hedge_contracts=floe_hedge_contracts(h, spot),
        floe_hedge_type=tuple(np.where(h >= 0, "passive", "aggressive").tolist()),
    )
    args = (prices, h, spot, reach, config.zone_threshold)
    return PressureCloud(
        spot=spot,
        expiration=curve.expiration,
        computed_at=now,
        stability_zones=_zones(curve.extrema, ExtremumKind.BASIN, *args),
        acceleration_zones=_zones(curve.extrema, ExtremumKind.PEAK, *args),
        regime_edges=_edges(curve.zero_crossings, spot),
        levels=levels,
        total_contracts=_contract_estimates(curve.impulse_at_spot, spot),
    )
