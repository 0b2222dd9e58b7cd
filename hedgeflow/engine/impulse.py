"""The hedge impulse of the physical engine: per strike, as a density in price, and its
analysis (crossings, basins and peaks, asymmetry, regime, attractors).

Per strike (docs/METHOD.md "Spot-vol coupling and the hedge impulse"):

    H_K = GEX_K - k_K * VEX_K        $ of dealer delta change per +1% spot move

with GEX_K in $ per +1%, VEX_K in $ per +1 vol point and k_K the coupling in vol points
per +1% (IV moves by -k_K vol points), so the Taylor expansion of the dealers' $ delta in
a +1% move with every held option's IV moved by its coupling is GEX_K - k_K VEX_K.
H > 0: the dealers' delta rises as spot rises, they sell rallies and buy dips (dampening);
H < 0: they chase the move (acceleration).

Density in price:

    H(S') = sum_K H_K exp(-((K - S') / lambda)^2) / (sqrt(pi) lambda)   $ per 1% per point

so that its integral over price is the strike total sum_K H_K; lambda =
kernel_width_strikes * modal strike spacing. Being a plain sum (not a normalized kernel
average) it is 0, not 0/0, where every weight underflows. The grid is
S (1 + i step/100), i = -n..n, n = round(range/step), spot exactly at i = 0.

The curve locates levels; the headline numbers are the strike totals (`impulse_total`).
The analysis functions below are pure and take any curve on an ascending grid, so the
screen can reuse them (e.g. on the repriced profile).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from hedgeflow.engine.enums import Bias, CrossingDirection, ExtremumKind, ImpulseRegime
from hedgeflow.engine.impulse_regime import BIAS_ENTER, enter_regime, firmness, regime_inputs
from hedgeflow.engine.regime import (
    SmileInterpolant,
    clamp_skew_stickiness,
    modal_strike_spacing,
    smile_interpolant,
)
from hedgeflow.engine.types import (
    DirectionalAsymmetry,
    ExposurePerExpiry,
    HedgeImpulseConfig,
    HedgeImpulseCurve,
    ImpulseExtremum,
    IVSurface,
    ZeroCrossing,
)

SQRT_PI = math.sqrt(math.pi)
#: strikes farther than this many kernel widths from every grid price contribute
#: exp(-KERNEL_CUTOFF^2) ~ 7e-36 of their H_K or less and are skipped in the density
KERNEL_CUTOFF = 9.0
#: bias: |upside - downside| below this fraction of max(|upside|, |downside|) is neutral
#: (the regime's thresholds, enter and exit, are in `hedgeflow.engine.impulse_regime`)
BIAS_THRESHOLD = BIAS_ENTER
#: |GEX_K|, |k_K VEX_K| above this ($ per +1%) are not market numbers (world equity is ~1e14 $)
#: but corrupted inputs; masking them keeps every sum, density and slope far from overflow
MAX_ABS_EXPOSURE = 1e30
#: exp(x) is exactly 0.0 in double precision for x below this (e^-745.2 is the smallest
#: subnormal, 4.9e-324)
MIN_EXP_ARG = -746.0


# --------------------------------------------------------------------------- building blocks


def strike_impulse(exposure: ExposurePerExpiry, coupling: np.ndarray) -> np.ndarray:
    """H_K = GEX_K - k_K * VEX_K per strike, $ of dealer delta change per +1% spot move.

    coupling : k_K, vol points per +1% (IV moves by -k_K), one per strike.
    Non-finite inputs give a non-finite H_K here; `compute_hedge_impulse_curve` masks and
    counts them.
    """
    k = np.asarray(coupling, dtype=np.float64)
    if k.shape != np.shape(exposure.strikes):
        raise ValueError("`coupling` must have one value per strike")
    return np.asarray(exposure.gamma, dtype=np.float64) - k * np.asarray(
        exposure.vanna, dtype=np.float64
    )


def price_grid(spot: float, range_percent: float, step_percent: float) -> np.ndarray:
    """S (1 + i step/100) for i = -n..n, n = round(range/step); spot exactly at index n."""
    n = int(round(range_percent / step_percent))
    i = np.arange(-n, n + 1, dtype=np.float64)
    return spot * (1.0 + i * (step_percent / 100.0))


def kernel_density(
    price: NDArray[np.float64],
    strikes: NDArray[np.float64],
    values: NDArray[np.float64],
    width: float,
) -> NDArray[np.float64]:
    """sum_K v_K exp(-((K - P)/width)^2) / (sqrt(pi) width) at each price P.

    values : shape (N,) or (N, m) per strike (ascending strikes); returns shape (G,) or
    (G, m). Units: the values' unit per point. Strikes beyond KERNEL_CUTOFF widths of the
    grid are skipped (weight < 7e-36). Underflowing weights give exact zeros.
    """
    lo = np.searchsorted(strikes, price[0] - KERNEL_CUTOFF * width, side="left")
    hi = np.searchsorted(strikes, price[-1] + KERNEL_CUTOFF * width, side="right")
    k = strikes[lo:hi]
    z = (k[None, :] - price[:, None]) * (1.0 / width)
    arg = np.negative(z * z, out=z)
    # exp only where it does not underflow to 0 (the rest stay exact zeros): numpy's exp
    # takes a slow path on underflow, 4x the whole kernel on a 0DTE chain. Bitwise the
    # same weights.
    w = np.zeros(arg.shape)
    np.exp(arg, out=w, where=arg > MIN_EXP_ARG)
    return (w @ values[lo:hi]) * (1.0 / (SQRT_PI * width))


# --------------------------------------------------------------------------- analysis


def value_at(price: np.ndarray, values: np.ndarray, x: float) -> float:
    """Linear interpolation of the curve at x (exact at grid points); NaN off the grid."""
    if not price[0] <= x <= price[-1]:
        return float("nan")
    return float(np.interp(x, price, values))


def slope_at(price: np.ndarray, values: np.ndarray, x: float) -> float:
    """dH/dP at the grid point nearest x: central difference (one-sided at the ends).
    Units: the curve's unit per point."""
    if price.size < 2:
        return float("nan")
    i = int(np.argmin(np.abs(price - x)))
    j0, j1 = max(i - 1, 0), min(i + 1, price.size - 1)
    return float((values[j1] - values[j0]) / (price[j1] - price[j0]))


def relative_tolerance(values: np.ndarray, eps: float) -> float:
    """eps * max|H|: crossings and extrema below it are ignored."""
    return float(eps * np.abs(values).max()) if values.size else 0.0


def find_zero_crossings(
    price: np.ndarray, values: np.ndarray, tol: float
) -> tuple[ZeroCrossing, ...]:
    """Sign changes of the curve, ignoring points with |H| <= tol (treated as zero).

    Between adjacent points of opposite sign the crossing is interpolated linearly; when
    near-zero points separate the last point of one sign from the first of the other, the
    crossing is the middle of that near-zero run. Direction: RISING when H goes from
    negative to positive as price rises.
    """
    sign = np.where(values > tol, 1, np.where(values < -tol, -1, 0))
    idx = np.flatnonzero(sign)
    if idx.size < 2:
        return ()
    s = sign[idx]
    change = np.flatnonzero(s[1:] != s[:-1])
    j, k = idx[change], idx[change + 1]
    vj, vk = values[j], values[k]
    linear = price[j] + (price[k] - price[j]) * vj / (vj - vk)  # vj, vk of opposite sign
    # near-zero points between them: the middle of that run (an exact zero at a grid point
    # is found exactly; a flat underflow gap is split in the middle)
    run = price[np.minimum(j + 1, k)] + price[np.maximum(k - 1, j)]
    at = np.where(k - j > 1, 0.5 * run, linear)
    rising, falling = CrossingDirection.RISING, CrossingDirection.FALLING
    return tuple(
        ZeroCrossing(price=p, direction=rising if v > 0 else falling)
        for p, v in zip(at.tolist(), vk.tolist(), strict=True)
    )


def find_extrema(price: np.ndarray, values: np.ndarray, tol: float) -> tuple[ImpulseExtremum, ...]:
    """Interior local extrema, price ascending: basins (local maxima with H > tol) and peaks
    (local minima with H < -tol). A plateau counts once, at its first point."""
    if values.size < 3:
        return ()
    mid, left, right = values[1:-1], values[:-2], values[2:]
    is_max = (mid > left) & (mid >= right) & (mid > tol)
    is_min = (mid < left) & (mid <= right) & (mid < -tol)
    idx = np.flatnonzero(is_max | is_min) + 1
    basin, peak = ExtremumKind.BASIN, ExtremumKind.PEAK
    return tuple(
        ImpulseExtremum(price=p, impulse=v, kind=basin if v > 0 else peak)
        for p, v in zip(price[idx].tolist(), values[idx].tolist(), strict=True)
    )


def cumulative_integral(
    price: NDArray[np.float64], values: NDArray[np.float64], x: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Trapezoid integral of the piecewise-linear curve from price[0] to each x (clipped to
    the grid), vectorized over x. Units: the curve's unit x points."""
    # (minimum/maximum and slices: np.clip and np.diff, without their Python wrappers)
    x = np.minimum(np.maximum(np.asarray(x, dtype=np.float64), price[0]), price[-1])
    if price.size < 2:
        return np.zeros(x.shape)
    cum = np.empty(price.size)
    cum[0] = 0.0
    np.cumsum(0.5 * (price[1:] - price[:-1]) * (values[1:] + values[:-1]), out=cum[1:])
    j = np.minimum(np.maximum(np.searchsorted(price, x, side="right") - 1, 0), price.size - 2)
    vx = np.interp(x, price, values)
    return cum[j] + 0.5 * (x - price[j]) * (values[j] + vx)


def window_integral(price: np.ndarray, values: np.ndarray, lo: float, hi: float) -> float:
    """Trapezoid integral of the curve over [lo, hi] clipped to the grid, with the end
    values interpolated (so the ends are half-weighted). Units: the curve's unit x points."""
    if not hi > lo:
        return 0.0
    a, b = cumulative_integral(price, values, np.array([lo, hi]))
    return float(b - a)


def directional_asymmetry(
    price: np.ndarray, values: np.ndarray, spot: float, percent: float
) -> DirectionalAsymmetry:
    """Integrals of H over [S, S(1+a)] (upside) and [S(1-a), S] (downside), a = percent/100,
    trapezoid with spot half-weighted in each; $ per +1% for the density curve.

    bias : UP when the upside is the less stable side (upside < downside), DOWN when the
        downside is, NEUTRAL when |upside - downside| < 0.10 * max(|upside|, |downside|).
    asymmetry_ratio : (more negative side) / (other side), signed: > 1 both negative,
        in (0, 1] both positive, < 0 opposite signs; NaN when the other side is 0.
    """
    a = percent / 100.0
    lo, at, hi = cumulative_integral(
        price, values, np.array([spot * (1 - a), spot, spot * (1 + a)])
    )
    up, down = float(hi - at), float(at - lo)
    scale = max(abs(up), abs(down))
    if abs(up - down) < BIAS_THRESHOLD * scale or scale == 0:
        bias = Bias.NEUTRAL
    else:
        bias = Bias.UP if up < down else Bias.DOWN
    neg, other = (up, down) if up <= down else (down, up)
    ratio = neg / other if other != 0 else float("nan")
    return DirectionalAsymmetry(
        upside=up,
        downside=down,
        integration_range_percent=percent,
        bias=bias,
        asymmetry_ratio=ratio,
    )


def classify_impulse_regime(
    impulse_total: float, impulse_gross: float, asymmetry: DirectionalAsymmetry
) -> ImpulseRegime:
    """Impulse regime from the strike totals (headline sign) and the local asymmetry, on
    this analysis alone (no previous regime: the enter thresholds).

    f = impulse_total / impulse_gross (sum H_K over sum |H_K|, in [-1, 1]):
      gross 0 or not finite      -> NEUTRAL
      f >= +0.10                 -> PINNED (dealers net dampen)
      f <= -0.10                 -> SQUEEZE_UP / SQUEEZE_DOWN by bias, EXPANSION when the
                                    bias is neutral (acceleration both ways)
      |f| < 0.10 (balanced book) -> a squeeze in the bias direction when the more negative
                                    window is negative and >= 1.5 x the other in magnitude
                                    (or the other is 0), else NEUTRAL
    With hysteresis (a previous regime held): `hedgeflow.engine.impulse_regime.classify`.
    """
    return enter_regime(regime_inputs(impulse_total, impulse_gross, asymmetry))


def nearest_attractors(
    extrema: tuple[ImpulseExtremum, ...], spot: float
) -> tuple[float | None, float | None]:
    """Nearest basin at or above spot and at or below spot (a basin at spot is both)."""
    basins = [e.price for e in extrema if e.kind is ExtremumKind.BASIN]  # a handful
    above = [p for p in basins if p >= spot]
    below = [p for p in basins if p <= spot]
    return (min(above) if above else None, max(below) if below else None)


@dataclass(frozen=True)
class CurveAnalysis:
    """Everything `analyze_curve` derives from one curve (see the functions above)."""

    impulse_at_spot: float
    slope_at_spot: float
    zero_crossings: tuple[ZeroCrossing, ...]
    extrema: tuple[ImpulseExtremum, ...]
    asymmetry: DirectionalAsymmetry
    regime: ImpulseRegime
    nearest_attractor_above: float | None
    nearest_attractor_below: float | None


def analyze_curve(
    price: np.ndarray,
    values: np.ndarray,
    spot: float,
    *,
    impulse_total: float,
    impulse_gross: float,
    eps: float = 1e-3,
    asymmetry_percent: float = 0.5,
) -> CurveAnalysis:
    """Run the curve analysis on an ascending grid: value and central-difference slope at
    spot, crossings and extrema above eps * max|H|, asymmetry, regime, attractors."""
    tol = relative_tolerance(values, eps)
    extrema = find_extrema(price, values, tol)
    asym = directional_asymmetry(price, values, spot, asymmetry_percent)
    above, below = nearest_attractors(extrema, spot)
    return CurveAnalysis(
        impulse_at_spot=value_at(price, values, spot),
        slope_at_spot=slope_at(price, values, spot),
        zero_crossings=find_zero_crossings(price, values, tol),
        extrema=extrema,
        asymmetry=asym,
        regime=classify_impulse_regime(impulse_total, impulse_gross, asym),
        nearest_attractor_above=above,
        nearest_attractor_below=below,
    )


# --------------------------------------------------------------------------- the curve


def _check_config(config: HedgeImpulseConfig) -> None:
    for name in ("range_percent", "step_percent", "kernel_width_strikes", "asymmetry_percent"):
        v = getattr(config, name)
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"`config.{name}` must be finite and positive, got {v!r}")
    if not (math.isfinite(config.eps) and config.eps >= 0):
        raise ValueError(f"`config.eps` must be finite and >= 0, got {config.eps!r}")
    if config.step_percent > config.range_percent:
        raise ValueError("`config.step_percent` must not exceed `config.range_percent`")


def _masked_and_sorted(
    strikes: np.ndarray,
    gamma: np.ndarray,
    vanna: np.ndarray,
    k: np.ndarray,
    vanna_term: np.ndarray,
    diagnostics: dict[str, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Strikes with a non-finite strike, GEX, VEX or coupling, or |GEX| or |k VEX| above
    $1e30, left out and counted by reason in `diagnostics`; the rest sorted by strike.
    Returns (strikes, gamma, vanna_term, k)."""
    bad_strike = ~(np.isfinite(strikes) & (strikes > 0))
    bad_gamma = ~np.isfinite(gamma)
    bad_vanna = ~np.isfinite(vanna)
    bad_k = ~np.isfinite(k) & ~bad_strike
    huge = ~(bad_gamma | bad_vanna | bad_k) & (
        ~(np.abs(gamma) <= MAX_ABS_EXPOSURE) | ~(np.abs(vanna_term) <= MAX_ABS_EXPOSURE)
    )
    for reason, mask in (
        ("nonfinite or non-positive strike", bad_strike),
        ("nonfinite gamma exposure", bad_gamma),
        ("nonfinite vanna exposure", bad_vanna),
        ("nonfinite coupling", bad_k),
        ("exposure beyond $1e30", huge),
    ):
        if mask.any():
            diagnostics[reason] = int(np.count_nonzero(mask))
    ok = ~(bad_strike | bad_gamma | bad_vanna | bad_k | huge)
    if not ok.all():
        strikes, gamma, vanna_term, k = strikes[ok], gamma[ok], vanna_term[ok], k[ok]
        diagnostics["masked strikes"] = int(np.count_nonzero(~ok))
    if strikes.size > 1 and (strikes[1:] < strikes[:-1]).any():  # the kernel needs ascending
        order = np.argsort(strikes, kind="stable")
        strikes, gamma, vanna_term, k = strikes[order], gamma[order], vanna_term[order], k[order]
    return strikes, gamma, vanna_term, k


def compute_hedge_impulse_curve(
    exposure: ExposurePerExpiry,
    surface: IVSurface,
    *,
    now: datetime,
    config: HedgeImpulseConfig = HedgeImpulseConfig(),  # noqa: B008 (frozen, immutable)
    smile: SmileInterpolant | None = None,
) -> HedgeImpulseCurve:
    """The physical hedge impulse curve of one expiry and its analysis.

    Parameters
    ----------
    exposure : per-strike GEX ($ per +1%), VEX ($ per vol point), strikes in points.
    surface : the expiry's smile; gives k_K = -(R-1) K dsigma/dK (`strike_coupling`).
    now : aware datetime stored as computed_at (the clock is never read).
    config : grid (range_percent, step_percent), kernel_width_strikes, R, eps, asymmetry.
    smile : optional prebuilt `smile_interpolant(surface)` (built when None).

    Returns
    -------
    HedgeImpulseCurve with
      price : the grid, points; impulse : H(S') density, $ per 1% per point;
      gamma : the GEX density (sum GEX_K w / (sqrt(pi) lambda)); vanna : the coupled vanna
        term's density (sum -k_K VEX_K w / (sqrt(pi) lambda)), so gamma + vanna = impulse;
      impulse_at_spot : H(S) (density, exact: spot is a grid point);
      slope_at_spot : dH/dS' at S, analytic derivative of the kernel sum ($ per 1% per
        point per point);
      impulse_total : sum_K H_K, $ per +1% (the headline; its sign can differ from the
        density at spot);
      spot_vol_coupling : fixed-strike coupling -(R-1) Sigma' at the forward (else spot),
        vol points per 1%;
      kernel_width : lambda = kernel_width_strikes * strike_spacing, floored at one grid
        step, points; strike_spacing : modal gap (the grid step when fewer than two distinct
        strikes);
      strikes / strike_impulse / strike_coupling : the strikes that entered and their
        H_K and k_K; diagnostics : strikes masked by reason (a strike with a non-finite
        strike, GEX, VEX or coupling, or |GEX| or |k VEX| above $1e30, is left out of
        every array and total).
    """
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    _check_config(config)
    spot = float(exposure.spot)
    if not (math.isfinite(spot) and spot > 0):
        raise ValueError("`exposure.spot` must be finite and positive")
    r = clamp_skew_stickiness(config.skew_stickiness)

    # --- enter: cast, sort, mask and count
    strikes = np.asarray(exposure.strikes, dtype=np.float64)
    gamma = np.asarray(exposure.gamma, dtype=np.float64)
    vanna = np.asarray(exposure.vanna, dtype=np.float64)
    if smile is None:
        smile = smile_interpolant(surface)
    # k_K = -(R - 1) K dsigma/dK (see hedgeflow.regime); 0 beyond the smile's ends
    forward = float(surface.forward)
    atm = forward if math.isfinite(forward) and forward > 0 else spot
    slopes = smile.log_slope(np.append(strikes, atm))
    k = -(r - 1.0) * slopes[:-1]
    atm_coupling = float(-(r - 1.0) * slopes[-1])
    with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN products: masked below
        vanna_term = -k * vanna
    # the common case in a few reductions: every strike positive and finite, every GEX and
    # k VEX finite and within $1e30 (NaN fails the comparisons; a non-finite k or VEX makes
    # k VEX non-finite), strikes ascending: nothing to mask, count or sort
    clean = (
        strikes.size > 0
        and float(strikes.min()) > 0
        and float(strikes.max()) < math.inf
        and float(np.abs(gamma).max()) <= MAX_ABS_EXPOSURE
        and float(np.abs(vanna_term).max()) <= MAX_ABS_EXPOSURE
        and bool((strikes[1:] >= strikes[:-1]).all())
    )
    diagnostics: dict[str, int] = {}
    if not clean:
        strikes, gamma, vanna_term, k = _masked_and_sorted(
            strikes, gamma, vanna, k, vanna_term, diagnostics
        )
    if smile.size < 2 and r != 1.0:
        diagnostics["no smile slope: coupling 0"] = int(np.asarray(exposure.strikes).size)
        if "masked strikes" in diagnostics:  # (listed last)
            diagnostics["masked strikes"] = diagnostics.pop("masked strikes")
    h_k = gamma + vanna_term

    # --- grid and kernel
    price = price_grid(spot, config.range_percent, config.step_percent)
    spacing = modal_strike_spacing(strikes)
    if not math.isfinite(spacing):
        spacing = spot * config.step_percent / 100.0
    # floor at one grid step: a narrower kernel is not resolved by the grid (its trapezoid
    # integral would no longer be the strike total); binds only for exotic configs
    lam = max(config.kernel_width_strikes * spacing, spot * config.step_percent / 100.0)
    dens = kernel_density(price, strikes, np.column_stack((gamma, vanna_term, h_k)), lam)
    gamma_d, vanna_d, impulse = dens[:, 0], dens[:, 1], dens[:, 2]

    # --- headline totals and the analytic slope at spot
    impulse_total = float(h_k.sum())
    impulse_gross = float(np.abs(h_k).sum())
    near = np.abs(strikes - spot) <= KERNEL_CUTOFF * lam  # the rest weighs < 7e-36
    z = (strikes[near] - spot) / lam
    slope = float((h_k[near] * np.exp(-(z * z)) * 2.0 * z).sum() / (SQRT_PI * lam * lam))

    # `analyze_curve` without its value and slope at spot (the curve's own are exact)
    tol = relative_tolerance(impulse, config.eps)
    extrema = find_extrema(price, impulse, tol)
    asymmetry = directional_asymmetry(price, impulse, spot, config.asymmetry_percent)
    above, below = nearest_attractors(extrema, spot)
    n = price.size // 2
    inputs = regime_inputs(impulse_total, impulse_gross, asymmetry)
    regime = enter_regime(inputs)
    return HedgeImpulseCurve(
        spot=spot,
        expiration=exposure.expiration,
        computed_at=now,
        spot_vol_coupling=atm_coupling,
        kernel_width=lam,
        strike_spacing=spacing,
        price=price,
        gamma=gamma_d,
        vanna=vanna_d,
        impulse=impulse,
        impulse_at_spot=float(impulse[n]),
        slope_at_spot=slope,
        zero_crossings=find_zero_crossings(price, impulse, tol),
        extrema=extrema,
        asymmetry=asymmetry,
        regime=regime,
        nearest_attractor_above=above,
        nearest_attractor_below=below,
        impulse_total=impulse_total,
        strikes=strikes,
        strike_impulse=h_k,
        strike_coupling=k,
        diagnostics=diagnostics,
        regime_inputs=inputs,
        regime_firmness=firmness(regime, inputs),
    )


__all__ = [
    "CurveAnalysis",
    "analyze_curve",
    "classify_impulse_regime",
    "compute_hedge_impulse_curve",
    "directional_asymmetry",
    "find_extrema",
    "find_zero_crossings",
    "kernel_density",
    "nearest_attractors",
    "price_grid",
    "relative_tolerance",
    "slope_at",
    "strike_impulse",
    "value_at",
    "window_integral",
    "cumulative_integral",
]
