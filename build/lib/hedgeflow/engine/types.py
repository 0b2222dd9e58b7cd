"""Public inputs, configurations and results of the hedge-flow layer.

Shared by both engine models (`physical`, `floe`) so that the screen renders
either. Arrays are float64 numpy arrays; results are frozen. Units:

- prices, strikes, grid: underlying points
- implied vol: decimal (0.18)
- GEX ($ of dealer delta change per +1% spot move), VEX ($ per +1 vol point),
  CEX ($ per calendar day): see docs/METHOD.md "Units"
- impulse H: $ of dealer delta change per +1% spot move (strike totals), or its
  density in price ($ per 1% per point) on the physical curve; the floe curve
  is the kernel *average* ($ per 1%), as the original computes it.

Sign: an exposure is the change of the dealers' option delta; the dealers' hedge
trade is its negative. Label words come from `hedgeflow.engine.labels`, never from
the floe-compatibility fields (`floe_*`) kept here for number-by-number checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from hedgeflow.engine.enums import (
    Bias,
    CrossingDirection,
    EngineModel,
    ExtremumKind,
    ImpulseRegime,
    MarketRegime,
    PositioningModel,
    PositionSource,
    Side,
)

# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, eq=False)
class RightExposure:
    """One right's share (the calls', or the puts') of the per-strike exposures, on the
    strikes of the `ExposurePerExpiry` that holds it, in its units and sign; the calls' and
    the puts' arrays add up to the totals."""

    gamma: np.ndarray
    vanna: np.ndarray
    charm: np.ndarray
    delta: np.ndarray


@dataclass(frozen=True, eq=False)
class ExposurePerExpiry:
    """Per-strike dealer exposures for one expiry, strikes ascending and unique.

    gamma : GEX_K, $ of dealer delta change per +1% spot move
    vanna : VEX_K, $ per +1 vol point
    charm : CEX_K, $ per calendar day
    delta : DEX_K, the dealers' option delta itself in $ of underlying (pos * delta * m * S):
        > 0 the dealers are long the underlying through these options (their hedge is short
        that much); None where it was not computed (an exposure built by hand)
    calls, puts : the same four arrays for the calls and for the puts alone (None where not
        computed); calls + puts = the totals
    """

    spot: float
    expiration: datetime
    strikes: np.ndarray
    gamma: np.ndarray
    vanna: np.ndarray
    charm: np.ndarray
    delta: np.ndarray | None = None
    calls: RightExposure | None = None
    puts: RightExposure | None = None

    def __post_init__(self) -> None:
        if self.expiration.tzinfo is None:
            raise ValueError("`expiration` must be timezone-aware")
        n = len(self.strikes)
        for name in ("gamma", "vanna", "charm", "delta"):
            arr = getattr(self, name)
            if arr is not None and len(arr) != n:
                raise ValueError(f"`{name}` must have one value per strike ({n})")
        for side in (self.calls, self.puts):
            if side is not None and any(
                len(getattr(side, f)) != n for f in ("gamma", "vanna", "charm", "delta")
            ):
                raise ValueError(f"a right's exposures must have one value per strike ({n})")


@dataclass(frozen=True, eq=False)
class IVSurface:
    """The smile of one expiry: strikes ascending, IVs decimal.

    raw_iv : IV solved from quotes (NaN where none could be solved)
    smoothed_iv : arbitrage-free smoothed IV at every strike
    forward : parity-implied forward F, points (NaN when unknown)
    tau : year fraction (365-day) from the snapshot's as-of time to settlement
    """

    expiration: datetime
    strikes: np.ndarray
    raw_iv: np.ndarray
    smoothed_iv: np.ndarray
    forward: float = float("nan")
    tau: float = float("nan")

    def __post_init__(self) -> None:
        n = len(self.strikes)
        if len(self.raw_iv) != n or len(self.smoothed_iv) != n:
            raise ValueError("`raw_iv` and `smoothed_iv` must have one value per strike")


# --------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class FuturesContract:
    """A hedge instrument: name and $ multiplier per index point."""

    name: str
    multiplier: float


@dataclass(frozen=True)
class HedgeImpulseConfig:
    """range_percent: half-width of the price grid, % of spot; step_percent: grid step, % of spot;
    kernel_width_strikes: Gaussian width in strike spacings; skew_stickiness: R in [0, 3];
    eps: relative threshold below which extrema and crossings are ignored (physical)."""

    range_percent: float = 3.0
    step_percent: float = 0.05
    kernel_width_strikes: float = 2.0
    skew_stickiness: float = 1.5
    eps: float = 1e-3
    asymmetry_percent: float = 0.5


@dataclass(frozen=True)
class CharmIntegralConfig:
    """time_step_minutes: bucket width (raised so that at most ~100 buckets reach the horizon)."""

    time_step_minutes: float = 15.0


@dataclass(frozen=True)
class PressureCloudConfig:
    """contract_multiplier and product: floe's single-contract estimate; futures: hedge
    instruments for this underlying; futures_ratio: futures points per underlying point
    (10 for SPY -> ES) when no live futures price is known."""

    contract_multiplier: float = 50.0
    product: str = "ES"
    reachability_multiple: float = 2.0
    zone_threshold: float = 0.15
    futures: tuple[FuturesContract, ...] = (
        FuturesContract("ES", 50.0),
        FuturesContract("MES", 5.0),
    )
    futures_ratio: float = 1.0


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RegimeParams:
    """atm_iv : decimal, ATM IV of the expiry (the fit's a, or floe's interpolation)
    skew : d sigma / d ln K at the money (physical); floe: dIV%/dK * spot
    curvature : d2 sigma / d (ln K)^2 at the money (physical)
    regime_iv : decimal IV the regime was classified on (trading time or >= 7 day expiry)
    expected_move : points, S * atm_iv * sqrt(tau_h) to the horizon
    expected_daily_spot_move : decimal fraction of spot per day (floe: atm_iv / sqrt(252))
    coupling_atm : k_ATM = -R * F * dsigma/dK at the money, vol points per 1%
    coupling_fixed_strike : fixed-strike coupling at the money, vol points per 1%
    implied_spot_vol_corr, implied_vol_of_vol, expected_daily_vol_move : floe's fields
    """

    atm_iv: float
    skew: float
    curvature: float
    regime: MarketRegime
    regime_iv: float
    expected_move: float
    expected_daily_spot_move: float
    coupling_atm: float = float("nan")
    coupling_fixed_strike: float = float("nan")
    skew_stickiness: float = float("nan")
    implied_spot_vol_corr: float = float("nan")
    implied_vol_of_vol: float = float("nan")
    expected_daily_vol_move: float = float("nan")
    # physical: counts of masked smile points and fit size ("masked_iv", "fit_strikes", ...)
    diagnostics: dict[str, int] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class ZeroCrossing:
    price: float
    direction: CrossingDirection


@dataclass(frozen=True)
class ImpulseExtremum:
    price: float
    impulse: float
    kind: ExtremumKind


@dataclass(frozen=True)
class DirectionalAsymmetry:
    """upside/downside: integrals of H over [S, S(1+a)] and [S(1-a), S]; ratio: the more
    negative side over the other (NaN when undefined)."""

    upside: float
    downside: float
    integration_range_percent: float
    bias: Bias
    asymmetry_ratio: float


@dataclass(frozen=True)
class RegimeInputs:
    """The impulse-regime classifier's continuous inputs (physical model).

    net : f = sum H_K / sum |H_K|, in [-1, 1] (NaN when there is no impulse: gross 0 or
        not finite); > 0 the dealers net dampen
    upside / downside : the asymmetry windows, integrals of H over [S, S(1+a)] and
        [S(1-a), S], $ per +1% (the same numbers as `DirectionalAsymmetry`)
    The bias b and the window ratio r are derived from the windows
    (`hedgeflow.engine.impulse_regime`).
    """

    net: float
    upside: float
    downside: float


@dataclass(frozen=True)
class RegimeFirmness:
    """How firmly an impulse regime holds: its nearest exit (docs/METHOD.md "Regimes that
    do not flap").

    measure : the input that would end the regime first: "net" (f), "bias" (b) or
        "ratio" (r), each in its own unit
    value : that input now
    threshold : the value at which the regime ends (its exit threshold, or for a regime
        ended by another's entry, that one's enter threshold)
    distance : |value - threshold|, in the measure's unit
    bands : the margin in dead-band widths of that measure (enter minus exit threshold),
        >= 0 while the regime holds, >= 1 at or past the regime's own enter threshold, < 0
        past its exit
    words : "firm" (bands >= 2), "holding" (1 <= bands < 2), "marginal" (0 <= bands < 1:
        inside the dead band, held only by hysteresis) or "leaving" (the inputs have left
        the regime; it is still shown while the change awaits confirmation)
    """

    measure: str
    value: float
    threshold: float
    distance: float
    bands: float
    words: str


@dataclass(frozen=True, eq=False)
class HedgeImpulseCurve:
    """The impulse curve over the grid and its analysis.

    price : grid, points; gamma/vanna : smoothed GEX/VEX on the grid; impulse : H on the grid
    impulse_at_spot, slope_at_spot : H at spot and dH/dS' (per point)
    impulse_total : strike total sum_K H_K, $ per +1% (physical headline; NaN for floe)
    strikes, strike_impulse, strike_coupling : per-strike H_K and k_K (physical)
    regime : the impulse regime; from the engine, classified on this analysis alone; the
        app layer (`hedgeflow.app.regime`) replaces it and `regime_firmness` by the regime
        held with hysteresis given the previous one
    """

    spot: float
    expiration: datetime
    computed_at: datetime
    spot_vol_coupling: float
    kernel_width: float
    strike_spacing: float
    price: np.ndarray
    gamma: np.ndarray
    vanna: np.ndarray
    impulse: np.ndarray
    impulse_at_spot: float
    slope_at_spot: float
    zero_crossings: tuple[ZeroCrossing, ...]
    extrema: tuple[ImpulseExtremum, ...]
    asymmetry: DirectionalAsymmetry
    regime: ImpulseRegime
    nearest_attractor_above: float | None
    nearest_attractor_below: float | None
    impulse_total: float = float("nan")
    strikes: np.ndarray = field(default_factory=lambda: np.empty(0))
    strike_impulse: np.ndarray = field(default_factory=lambda: np.empty(0))
    strike_coupling: np.ndarray = field(default_factory=lambda: np.empty(0))
    # physical: strikes masked where they entered, by reason ("nonfinite gamma", ...)
    diagnostics: dict[str, int] = field(default_factory=dict)
    # physical: the regime classifier's inputs and how firmly `regime` holds (None for
    # floe, whose regime is the original's rule, and without any impulse)
    regime_inputs: RegimeInputs | None = None
    regime_firmness: RegimeFirmness | None = None


@dataclass(frozen=True, eq=False)
class CharmIntegral:
    """Buckets from now to the horizon.

    minutes_remaining : at each bucket's end (floe: its start), minutes to the horizon
    instantaneous_cex : $ per day at each bucket
    cumulative_cex : $ of dealer delta change from now to the bucket's end
    total_charm_to_close : last cumulative value, $ (positive: dealers' delta rises, they sell)
    settlement_step : $ jump from the last pre-expiry bucket to the payoff delta (physical,
        0 when the horizon is not the expiry)
    strike_contribution : per-strike D_K(horizon) - D_K(now) in $ (physical) or CEX (floe);
        physical: to the last pre-expiry point, so it sums to total_charm_to_close
    floe_direction : floe's own label ("buying" when cumulative > 0): never printed
    cex_now : instantaneous CEX at `computed_at`, $ per day (physical)
    strike_settlement_step : per-strike settlement jump, $ (physical; zeros when the horizon
        is not the expiry), aligned with contribution_strikes
    masked_options : options left out for a non-finite or non-positive input (physical)
    """

    spot: float
    expiration: datetime
    computed_at: datetime
    horizon: datetime
    minutes_remaining: float
    total_charm_to_close: float
    settlement_step: float
    bucket_minutes_remaining: np.ndarray
    bucket_time: np.ndarray
    instantaneous_cex: np.ndarray
    cumulative_cex: np.ndarray
    contribution_strikes: np.ndarray
    strike_contribution: np.ndarray
    fraction_of_total: np.ndarray
    floe_direction: str = ""
    cex_now: float = float("nan")
    strike_settlement_step: np.ndarray = field(default_factory=lambda: np.empty(0))
    masked_options: int = 0


@dataclass(frozen=True)
class HedgeContractEstimates:
    """Dealers' futures trade for a +1% move: contracts per instrument name; negative = sell.
    floe_* : floe's fixed nq/mnq/es/mes figures and its sign convention (never printed)."""

    contracts: dict[str, float]
    floe_contracts: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PressureZone:
    center: float
    lower: float
    upper: float
    strength: float
    side: Side
    kind: ExtremumKind
    impulse: float
    contracts: HedgeContractEstimates
    floe_trade_type: str = ""
    floe_hedge_type: str = ""
    # physical: `impulse` is the zone's integral of the density ($ per +1%); peak_density
    # is the curve's value at the centre ($ per 1% per point)
    peak_density: float = float("nan")


@dataclass(frozen=True)
class RegimeEdge:
    """A zero crossing of the curve; stable_beyond: moving from spot outward through the
    edge, price enters a region where H > 0 (dealers dampen)."""

    price: float
    stable_beyond: bool
    floe_transition_type: str = ""


@dataclass(frozen=True, eq=False)
class PressureLevel:
    """Per grid price scores and hedge contracts (arrays over the grid).

    floe_hedge_type : floe's per-level "passive"/"aggressive" label (floe profile only,
        never printed; empty for the physical model)."""

    price: np.ndarray
    stability_score: np.ndarray
    acceleration_score: np.ndarray
    expected_hedge_contracts: np.ndarray
    hedge_contracts: dict[str, np.ndarray]
    floe_hedge_type: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class PressureCloud:
    spot: float
    expiration: datetime
    computed_at: datetime
    stability_zones: tuple[PressureZone, ...]
    acceleration_zones: tuple[PressureZone, ...]
    regime_edges: tuple[RegimeEdge, ...]
    levels: PressureLevel
    total_contracts: HedgeContractEstimates
    # physical: futures price used for contracts (points) and the reachability scale (points)
    futures_price: float = float("nan")
    reach: float = float("nan")


@dataclass(frozen=True, eq=False)
class RepricedProfile:
    """Dealers' total impulse if spot were at each price (every strike repriced).

    price : grid, points; impulse : $ per +1% at that spot; flip_levels : zero crossings
    zero_gamma_price / zero_gamma : fixed-IV gamma-only profile summed over all expiries
    skew_stickiness : R used for the vol dynamics; impulse_at_spot : H at the book's spot
        (equals the strike total sum_K GEX_K - k_K VEX_K); masked_options : options left out
    search_range : (low, high) prices, points, over which flip_levels and zero_gamma_levels
        were searched (wider than `price`, the plotted window); None: on `price` only
    """

    price: np.ndarray
    impulse: np.ndarray
    flip_levels: tuple[ZeroCrossing, ...]
    nearest_flip: float | None
    zero_gamma_price: np.ndarray = field(default_factory=lambda: np.empty(0))
    zero_gamma: np.ndarray = field(default_factory=lambda: np.empty(0))
    zero_gamma_levels: tuple[float, ...] = ()
    skew_stickiness: float = float("nan")
    impulse_at_spot: float = float("nan")
    masked_options: int = 0
    search_range: tuple[float, float] | None = None


@dataclass(frozen=True, eq=False)
class HedgeFlowAnalysis:
    model: EngineModel
    positioning: PositioningModel
    regime_params: RegimeParams
    impulse_curve: HedgeImpulseCurve
    charm_integral: CharmIntegral


@dataclass(frozen=True)
class ExpiryRow:
    """One live expiry of the chain, compact (docs/METHOD.md "Expiry scope").

    expiration : settlement time (aware, New York); roots : its option roots
    days_left : calendar days from the snapshot to settlement
    in_scope : whether the analysis sums this expiry
    gex_share : sum_K |GEX_K| of this expiry over that of every live expiry, decimal
    net_gex : sum_K GEX_K, $ per +1 % spot move
    impulse : sum_K H_K with this expiry's own coupling, $ per +1 % (NaN out of scope)
    zero_gamma : this expiry's own fixed-IV gamma zero nearest spot, points (None: none
        within the search range, or out of scope)
    expected_move : S sigma_ATM sqrt(tau) to this expiry's settlement, points (NaN out of
        scope); sigma_ATM the smoothed smile at the forward
    charm_total : $ of dealer delta change to the charm horizon, settlement step apart
    settlement_step : $ jump at this expiry's settlement when the horizon reaches it
    """

    expiration: datetime
    roots: tuple[str, ...]
    days_left: float
    in_scope: bool
    gex_share: float
    net_gex: float
    impulse: float = float("nan")
    zero_gamma: float | None = None
    expected_move: float = float("nan")
    charm_total: float = float("nan")
    settlement_step: float = float("nan")


@dataclass(frozen=True)
class FuturesBasis:
    """The mapped future of an underlying and its basis (docs/METHOD.md "Futures levels").

    product : the future's name ("ES"); ratio : futures points per underlying point
    (configured: 10 for SPY -> ES); expiration : the future's settlement (the quarterly
    third Friday, 09:30 New York); price : the future's price, points; source : "feed"
    (a live futures price) or "parity" (fair value: ratio x the options' parity forward to
    the future's expiry); basis : price - ratio x spot, points; factor : price / spot,
    futures points per underlying point (a level L maps to L x factor).
    """

    product: str
    ratio: float
    expiration: datetime
    price: float
    source: str
    basis: float
    factor: float


@dataclass(frozen=True)
class LevelEntry:
    """One level of the levels card: name, price (points), signed distance from spot in
    points and as a decimal fraction of spot, and the price mapped to the future (NaN
    without a futures mapping)."""

    name: str
    price: float
    distance: float
    distance_percent: float
    futures: float = float("nan")


@dataclass(frozen=True)
class Levels:
    """The standard levels of a scope (docs/METHOD.md "Levels"); prices in points, None
    when there is none.

    call_wall / put_wall : strike of the largest call / put |GEX| in the scope
    call_wall_oi / put_wall_oi : strike of the largest call / put open interest
    abs_gamma : strike of the largest sum of |call GEX| + |put GEX|
    zero_gamma : all-expiry fixed-IV zero gamma nearest spot; zero_gamma_count : crossings
    flip_levels : the repriced impulse's zero crossings over the scope; nearest_flip
    max_pain : the strike where the scope's options pay their holders least at settlement
    expected_move : points, to `expected_move_to` (the nearest expiry's settlement in scope)
    attractor_above / attractor_below : the summed curve's nearest basins
    net_dex : sum of dealers' delta exposure pos m Delta S over the scope, $ of underlying
    futures : the mapped future and its basis (None without a mapping)
    entries : every level above as a `LevelEntry`, nearest spot first
    """

    spot: float
    call_wall: float | None
    put_wall: float | None
    call_wall_oi: float | None
    put_wall_oi: float | None
    abs_gamma: float | None
    zero_gamma: float | None
    zero_gamma_count: int
    flip_levels: tuple[float, ...]
    nearest_flip: float | None
    max_pain: float | None
    expected_move: float
    expected_move_to: datetime | None
    attractor_above: float | None
    attractor_below: float | None
    net_dex: float
    futures: FuturesBasis | None
    entries: tuple[LevelEntry, ...]


@dataclass(frozen=True, eq=False)
class ExpiryAnalysis:
    """Everything the screen and `hedgeflow analyze` show for one expiry of one underlying.

    Produced by `hedgeflow.engine.pipeline.analyze_chain`. `hedge_flow` and `pressure_cloud` come
    from the configured engine model; `repriced` is the physical repriced profile (None for
    the floe model or when it could not be computed). `notes` are human-readable warnings
    (spot disagrees with the parity forward, vendor IV fallbacks used, ...); `diagnostics`
    counts masked inputs by reason. `rate` is the analyzed expiry's discount rate
    (decimal/year, continuously compounded) and `rate_source` says where it came from
    (put-call parity, or the configuration and why). With a scope of several expiries
    (`hedgeflow.engine.scope.analyze_scope`) the curve, charm, repriced profile, cloud
    and exposures are summed over the scope; the surface, regime parameters and the
    `expiration` are the nearest expiry's in the scope.
    """

    symbol: str
    expiration: datetime
    roots: tuple[str, ...]
    as_of: datetime
    computed_at: datetime
    spot: float
    forward: float
    minutes_to_expiry: float
    model: EngineModel
    positioning: PositioningModel
    positions: PositionSource
    surface: IVSurface
    exposure: ExposurePerExpiry
    hedge_flow: HedgeFlowAnalysis
    pressure_cloud: PressureCloud
    repriced: RepricedProfile | None
    expirations: tuple[datetime, ...] = ()
    notes: tuple[str, ...] = ()
    diagnostics: dict[str, int] = field(default_factory=dict)
    rate: float = float("nan")
    rate_source: str = ""
    # the expiry scope (docs/METHOD.md "Expiry scope"): its label, one row per live expiry
    # and the standard levels of the scope (None where not computed)
    scope: str = "nearest"
    expiry_rows: tuple[ExpiryRow, ...] = ()
    levels: Levels | None = None
