"""Regime parameters and spot-vol coupling of the physical engine.

From one expiry's smoothed smile (`IVSurface`) this module derives:

- the smile interpolant in log strike (`SmileInterpolant`), used for IVs and slopes
  at any strike (`interpolate_iv_at_strike`);
- the weighted quadratic fit sigma = a + b x + c x^2, x = ln(K/F), near the money
  (`fit_atm_smile`): ATM IV a, skew b = d sigma / d ln K, curvature 2c;
- `RegimeParams`: ATM IV, the volatility regime, the expected move, and the spot-vol
  coupling at the money (`derive_regime_params`);
- the per-strike coupling k_K (`strike_coupling`) that the hedge impulse uses.

Units: IV decimal (0.18); strikes and prices in points; tau in 365-day year fractions;
couplings in vol points per +1% spot move (positive k: IV falls when spot rises).

Spot-vol coupling (docs/METHOD.md "Spot-vol coupling and the hedge impulse"). R = skew stickiness, clamped to
[0, 3]. The smile translates with spot as sigma_K(S') = Sigma(ln K - (1 - R) ln(S'/S)),
with Sigma the smile as a function of ln K today. Differentiating at S' = S:

    d sigma_K = (R - 1) * Sigma'(ln K) * dS/S          (Sigma' = d sigma / d ln K = K dsigma/dK)

A +1% move is dS/S = 0.01; a vol point is 0.01 of decimal IV. The IV change in vol points
per +1% is therefore (R - 1) * Sigma' * 0.01 / 0.01 = (R - 1) * Sigma'. The coupling k is
defined with the sign that makes the hedge impulse H_K = GEX_K - k_K * VEX_K (IV moves by
-k vol points per +1%):

    k_K = -(R - 1) * Sigma'(ln K) = -(R - 1) * K * d sigma/dK |_K     vol points per 1%

The ATM IV follows K = S': sigma_ATM(S') = Sigma(ln S + R ln(S'/S)), so

    k_ATM = -R * Sigma'(ATM) = -R * F * d sigma/dK |_F = -R * b         vol points per 1%

and the fixed-strike coupling at the money is -(R - 1) * b. With R = 1 (sticky strike)
the per-strike coupling vanishes. Index put skew (b < 0) with R = 1.5 gives k_K > 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from hedgeflow.engine.enums import MarketRegime
from hedgeflow.engine.lattice import lattice_pieces
from hedgeflow.engine.types import IVSurface, RegimeParams

#: Regime bins on trading-time ATM IV, half-open: [0, 0.15) calm, [0.15, 0.20) normal,
#: [0.20, 0.35) stressed, [0.35, inf) crisis.
REGIME_BINS: tuple[float, float, float] = (0.15, 0.20, 0.35)
SKEW_STICKINESS_BOUNDS: tuple[float, float] = (0.0, 3.0)
TRADING_DAYS_PER_YEAR = 252.0
CALENDAR_DAYS_PER_YEAR = 365.0
SESSION_HOURS = 6.5
#: fit: weights exp(-x^2 / (2 width^2)); width at least this many strike spacings / F
FIT_MIN_SPACINGS = 3.0
#: fit: the MIN_FIT_STRIKES nearest strikes lie within 2 widths of the forward
MIN_FIT_STRIKES = 7
#: fit: strikes beyond this many widths (weight < exp(-12.5) ~ 4e-6) are left out
FIT_CUTOFF_WIDTHS = 5.0


# --------------------------------------------------------------------------- smile


@dataclass(frozen=True, eq=False)
class SmileInterpolant:
    """The smoothed smile as a C1 cubic Hermite interpolant in x = ln K.

    Node slopes are Bessel's: the derivative of the parabola through each node and its two
    neighbours (one-sided parabola at the ends), so a smile quadratic in ln K is reproduced
    exactly. Beyond the first and last valid strike the IV is flat (slope 0). Values are
    floored at half the smaller neighbouring node IV (binding only where the cubic would
    overshoot towards zero between very different nodes), so the IV is always positive.

    x : ln K of the valid nodes, strictly ascending; iv : decimal IV at the nodes;
    slope : d sigma / d ln K at the nodes; masked : surface points dropped (non-finite or
    non-positive strike or IV, duplicate strike).
    """

    x: np.ndarray
    iv: np.ndarray
    slope: np.ndarray
    masked: int = 0

    @property
    def size(self) -> int:
        return int(self.x.size)

    def _locate(
        self, strikes: np.ndarray, ok: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Interval index, local t in [0, 1], interval width and the inside mask; strikes
        that are not `ok` (non-finite or non-positive) are placed at the first node and
        masked by the caller."""
        xq = np.log(strikes if ok.all() else np.where(ok, strikes, np.exp(self.x[0])))
        i = np.minimum(np.maximum(np.searchsorted(self.x, xq, side="right") - 1, 0), self.size - 2)
        x_i = self.x[i]
        h = self.x[i + 1] - x_i
        t = (xq - x_i) / h
        inside = (xq >= self.x[0]) & (xq <= self.x[-1])
        return i, t, h, inside

    def __call__(self, strikes: np.ndarray | float) -> np.ndarray:
        """Decimal IV at `strikes` (points); NaN for non-finite or non-positive strikes."""
        k = np.asarray(strikes, dtype=np.float64)
        if self.size == 0:
            return np.full(k.shape, np.nan)
        ok = np.isfinite(k) & (k > 0)
        if self.size == 1:
            return np.where(ok, self.iv[0], np.nan)
        i, t, h, inside = self._locate(k, ok)
        t = np.where(inside, t, 0.0)  # outside: flat value below, keep the cubic finite
        t2, t3 = t * t, t * t * t
        val = (
            (2 * t3 - 3 * t2 + 1) * self.iv[i]
            + (t3 - 2 * t2 + t) * h * self.slope[i]
            + (-2 * t3 + 3 * t2) * self.iv[i + 1]
            + (t3 - t2) * h * self.slope[i + 1]
        )
        # a cubic can overshoot below zero between wildly different nodes (never on a smooth
        # smile); keep the IV at least half the smaller node so no caller gets IV <= 0
        val = np.maximum(val, 0.5 * np.minimum(self.iv[i], self.iv[i + 1]))
        flat = np.where(np.log(np.where(ok, k, 1.0)) < self.x[0], self.iv[0], self.iv[-1])
        return np.where(ok, np.where(inside, val, flat), np.nan)

    def log_slope(self, strikes: np.ndarray | float) -> np.ndarray:
        """d sigma / d ln K at `strikes` (decimal IV per unit log strike); 0 beyond the ends."""
        k = np.asarray(strikes, dtype=np.float64)
        ok = np.isfinite(k) & (k > 0)
        if self.size < 2:
            return np.where(ok, 0.0, np.nan)
        i, t, h, inside = self._locate(k, ok)
        t = np.where(inside, t, 0.0)
        t2 = t * t
        i1 = i + 1
        der = (
            (6 * t2 - 6 * t) * (self.iv[i] - self.iv[i1]) / h
            + (3 * t2 - 4 * t + 1) * self.slope[i]
            + (3 * t2 - 2 * t) * self.slope[i1]
        )
        der = np.where(inside, der, 0.0)
        return der if ok.all() else np.where(ok, der, np.nan)

    @cached_property
    def _pieces(self) -> tuple[np.ndarray, ...]:
        """Per-piece tables for `at_log`: breakpoints and, for each of the n + 1 pieces
        (the flat left wing, the n - 1 cubics, the flat right wing), the piece's origin
        x0, the cubic's coefficients in u = x - x0 (value a0 + a1 u + a2 u^2 + a3 u^3)
        and the value floor. Needs at least two nodes."""
        x, y, s = self.x, self.iv, self.slope
        h = np.diff(x)
        y0, y1, s0, s1 = y[:-1], y[1:], s[:-1], s[1:]
        dy = (y1 - y0) / h
        # the Hermite cubic expanded in u (a2 = c / h^2, a3 = d / h^3 of the t form)
        a2 = (3.0 * dy - 2.0 * s0 - s1) / h
        a3 = (s0 + s1 - 2.0 * dy) / (h * h)
        zero = np.zeros(1)
        # breakpoints: x_0 .. x_{n-2} and just above x_{n-1}, so that a point on the last
        # node still falls in the last cubic (as in `__call__`) and only x > x_{n-1} is wing
        br = np.append(x[:-1], np.nextafter(x[-1], np.inf))
        x0 = np.concatenate((zero, x[:-1], zero))
        a0 = np.concatenate((y[:1], y0, y[-1:]))
        a1 = np.concatenate((zero, s0, zero))
        c2 = np.concatenate((zero, a2, zero))
        c3 = np.concatenate((zero, a3, zero))
        floor = np.concatenate((y[:1], 0.5 * np.minimum(y0, y1), y[-1:]))
        return br, x0, a0, a1, c2, c3, floor

    @cached_property
    def _floor_may_bind(self) -> bool:
        """False when no cubic piece can come near its floor, so `at_log` can skip it: on
        [0, 1] the Hermite basis gives value >= min(y0, y1) - 4/27 h (|s0| + |s1|) (the
        value weights are a convex pair, the slope weights at most 4/27 in magnitude);
        the margin covers the rounding of the evaluation many times over."""
        x, y, s = self.x, self.iv, self.slope
        h = np.diff(x)
        lo = np.minimum(y[:-1], y[1:])
        reach = (4.0 / 27.0) * h * (np.abs(s[:-1]) + np.abs(s[1:]))
        scale = np.abs(y[:-1]) + np.abs(y[1:]) + reach
        return not bool((lo - reach - 0.5 * lo > 1e-12 * scale).all())

    @cached_property
    def _search(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For `_piece_index`: the breakpoints, their positions plus one (1..n, float: the
        piece that starts there) and the breakpoints behind a -inf (the lower bound of
        piece j is the j-th of these)."""
        br = self._pieces[0]
        return br, np.arange(1.0, br.size + 1.0), np.concatenate(([-np.inf], br))

    def _piece_index(self, x: np.ndarray) -> NDArray[np.intp]:
        """searchsorted(breakpoints, x, side="right"): the piece of each x (0 the left wing,
        n the right one). On large arrays through np.interp of the breakpoint positions,
        whose search starts from the previous point's interval (the repriced profile's rows
        are ascending): truncating the interpolated position gives the piece, or the next
        one when the position rounds up to a breakpoint, which a single comparison with the
        piece's lower bound undoes (interpolation never rounds below a breakpoint it is
        at or above, so the estimate is never low). NaN anywhere: the plain search."""
        br, pos, lower = self._search
        if x.size < 256:
            return np.searchsorted(br, x, side="right")
        f = np.interp(x, br, pos, left=0.0)
        if not math.isfinite(float(f.sum())):  # NaN: f cannot index
            return np.searchsorted(br, x, side="right")
        j: NDArray[np.intp] = f.astype(np.intp)
        j -= x < lower.take(j, out=f, mode="clip")
        return j

    def at_log(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """IV and d sigma / d ln K at log strikes `x` (finite, any shape), from one interval
        search: the same values as `__call__` and `log_slope` at K = e^x (flat beyond the
        ends, value floored as there), to rounding. The repriced profile evaluates the
        translated smile this way on a whole (grid x strikes) array, so the cubic of each
        piece is precomputed once (`_pieces`, polynomial in x - x0)."""
        x = np.asarray(x, dtype=np.float64)
        if self.size == 0:
            return np.full(x.shape, np.nan), np.full(x.shape, np.nan)
        if self.size == 1:
            return np.full(x.shape, self.iv[0]), np.zeros(x.shape)
        if x.ndim == 0:  # the scratch arrays below must be arrays
            val, der = self.at_log(x.reshape(1))
            return val.reshape(()), der.reshape(())
        return self._evaluate(x, self._piece_index(x))

    def at_translated(
        self, xk: NDArray[np.float64], shift: NDArray[np.float64]
    ) -> tuple[np.ndarray, np.ndarray]:
        """`at_log(xk[None, :] - shift[:, None])`, bitwise: IV and slope at every log strike
        `xk` (ascending, finite) translated by every `shift` (finite), one row per shift.
        The repriced profile's (prices x strikes) evaluation: the pieces are found on a
        lattice (`hedgeflow.engine.lattice`) instead of a search per cell."""
        x = xk - shift[:, None]
        if self.size < 2 or x.size < 256:
            return self.at_log(x)
        j = lattice_pieces(self._pieces[0], x, xk, shift)
        return self._evaluate(x, self._piece_index(x) if j is None else j)

    def _evaluate(self, x: np.ndarray, j: NDArray[np.intp]) -> tuple[np.ndarray, np.ndarray]:
        """Value and slope at `x` in pieces `j` (`at_log`)."""
        _, x0, a0, a1, a2, a3, floor = self._pieces
        # a few scratch arrays gathered into and updated in place: a (grid x strikes)
        # evaluation then stays within the cache. mode="clip": every j is a piece (0..n),
        # and numpy buffers a take into `out` in its default mode ("raise"), twice the time.
        # Horner's partial sums p1 = a3 u + a2 and p2 = p1 u + a1 give the slope too:
        # a1 + 2 a2 u + 3 a3 u^2 = p2 + u (p1 + a3 u).
        u = x0.take(j, mode="clip")
        np.subtract(x, u, out=u)  # the wings have zero coefficients: any finite u gives a0
        g3 = a3.take(j, mode="clip")
        g3 *= u  # a3 u
        p1 = a2.take(j, mode="clip")
        p1 += g3
        p2 = p1 * u
        p2 += a1.take(j, mode="clip")
        val = p2 * u
        val += a0.take(j, mode="clip")
        if self._floor_may_bind:
            np.maximum(val, floor.take(j, mode="clip"), out=val)
        g3 += p1
        g3 *= u
        g3 += p2
        return val, g3


def _bessel_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Node derivatives of the parabola through each node and its neighbours."""
    n = x.size
    if n < 2:
        return np.zeros(n)
    h = x[1:] - x[:-1]
    d = (y[1:] - y[:-1]) / h
    if n == 2:
        return np.array([d[0], d[0]])
    m = np.empty(n)
    h0, h1, d0, d1 = h[:-1], h[1:], d[:-1], d[1:]
    m[1:-1] = (h1 * d0 + h0 * d1) / (h0 + h1)
    m[0] = ((2 * h[0] + h[1]) * d[0] - h[0] * d[1]) / (h[0] + h[1])
    m[-1] = ((2 * h[-1] + h[-2]) * d[-1] - h[-1] * d[-2]) / (h[-1] + h[-2])
    return m


def smile_interpolant(surface: IVSurface) -> SmileInterpolant:
    """Build the smile interpolant from `surface.smoothed_iv`, masking and counting points
    with a non-finite or non-positive strike or IV (and repeated strikes, first kept)."""
    k = np.asarray(surface.strikes, dtype=np.float64)
    iv = np.asarray(surface.smoothed_iv, dtype=np.float64)
    ok = np.isfinite(k) & (k > 0) & np.isfinite(iv) & (iv > 0)
    k, iv = k[ok], iv[ok]
    order = np.argsort(k, kind="stable")
    k, iv = k[order], iv[order]
    keep = np.ones(k.size, dtype=bool)
    keep[1:] = k[1:] > k[:-1]
    k, iv = k[keep], iv[keep]
    x = np.log(k)
    return SmileInterpolant(
        x=x, iv=iv, slope=_bessel_slopes(x, iv), masked=int(len(surface.strikes) - k.size)
    )


def interpolate_iv_at_strike(surface: IVSurface, strike: float | np.ndarray) -> np.ndarray:
    """Smoothed IV (decimal) of `surface` at `strike` (points), by the C1 cubic Hermite
    interpolant in ln K (`SmileInterpolant`); flat in log-moneyness beyond the first and last
    valid strike. NaN where the strike is not positive and finite or the surface has no
    valid IV (non-finite or non-positive IVs are masked)."""
    return smile_interpolant(surface)(strike)


def strike_coupling(surface: IVSurface, strikes: np.ndarray, skew_stickiness: float) -> np.ndarray:
    """Per-strike spot-vol coupling k_K = -(R - 1) * K * d sigma/dK |_K, vol points per +1%.

    The slope is the analytic derivative of the smile interpolant in ln K (0 beyond the
    surface's ends, where the smile is flat); R is clamped to [0, 3]. See the module
    docstring for the derivation. NaN only where the strike is not positive and finite.
    """
    r = clamp_skew_stickiness(skew_stickiness)
    slope = smile_interpolant(surface).log_slope(np.asarray(strikes, dtype=np.float64))
    return -(r - 1.0) * slope


def clamp_skew_stickiness(skew_stickiness: float) -> float:
    """R clamped to [0, 3]; a NaN R raises ValueError."""
    if not math.isfinite(skew_stickiness):
        raise ValueError("`skew_stickiness` must be finite")
    lo, hi = SKEW_STICKINESS_BOUNDS
    return float(min(max(skew_stickiness, lo), hi))


# --------------------------------------------------------------------------- fit


def modal_strike_spacing(strikes: np.ndarray) -> float:
    """The most frequent gap between consecutive distinct sorted strikes, points.

    Gaps are compared after rounding to 1e-6 points (so float noise in listed strikes
    does not split a mode); ties go to the smaller gap (the finer kernel). NaN with fewer
    than two distinct finite strikes.
    """
    # (array methods and slices rather than np.round/np.diff/np.append: ~half the time of
    # their Python wrappers on a chain's strikes; the same gaps and counts)
    k = np.asarray(strikes, dtype=np.float64)
    finite = np.isfinite(k)
    if not finite.all():
        k = k[finite]
    if k.size < 2:
        return float("nan")
    d = k[1:] - k[:-1]
    if (d < 0).any():
        k = np.sort(k)
        d = k[1:] - k[:-1]
    with np.errstate(over="ignore"):  # a gap near float max rounds to inf: never the mode
        gaps = d.round(6)
    first = float(gaps.min())
    if first > 0 and first == float(gaps.max()) and first < math.inf:
        return first  # one gap (a uniform strike grid): the mode without sorting
    gaps.sort()
    gaps = gaps[np.searchsorted(gaps, 0.0, side="right") :]  # the positive ones (sorted)
    if gaps.size == 0:
        return float("nan")
    # run lengths of the sorted gaps; argmax takes the first (smallest) of tied modes
    new = np.empty(gaps.size, dtype=bool)
    new[0] = True
    np.not_equal(gaps[1:], gaps[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    counts = np.empty(starts.size, dtype=np.intp)
    counts[:-1] = starts[1:] - starts[:-1]
    counts[-1] = gaps.size - starts[-1]
    return float(gaps[starts[np.argmax(counts)]])


def fit_atm_smile(surface: IVSurface, forward: float, tau_h: float) -> tuple[float, float, float]:
    """Weighted quadratic fit sigma = a + b x + c x^2 in x = ln(K/F) near the money.

    Parameters
    ----------
    surface : the expiry's smile; `smoothed_iv` is fitted (decimal), invalid points masked.
    forward : F, points (> 0).
    tau_h : year fraction (365-day) of the horizon; sets the weight width.

    Returns
    -------
    (a, b, c) : a = ATM IV (decimal), b = d sigma / d ln K at the money, 2c = curvature.

    Weights w = exp(-x^2 / (2 width^2)) with
    width = max(sigma_0 sqrt(tau_h), 3 * modal spacing / F, |x|_(7) / 2), sigma_0 the
    interpolated IV at F and |x|_(7) the 7th smallest |x|, so at least 7 strikes carry
    weight >= exp(-2). Strikes beyond 5 widths are left out. With fewer than 3 valid
    strikes the fit degrades: 2 points give the line (c = 0), 1 point (iv, 0, 0). A
    surface with no valid IV raises ValueError.
    """
    if not (math.isfinite(forward) and forward > 0):
        raise ValueError("`forward` must be finite and positive")
    smile = smile_interpolant(surface)
    return _fit(smile, forward, tau_h)[:3]


def atm_iv(smile: SmileInterpolant, forward: float, horizon_tau: float) -> float:
    """The ATM IV (decimal) exactly as `derive_regime_params` takes it: the weighted
    quadratic fit's level at F, the interpolated IV at F where the fit is not positive.
    One definition, so every expected move on screen (the regime pane's, the levels
    card's, each expiry's row) is the same number for the same expiry and horizon."""
    a = _fit(smile, forward, horizon_tau)[0]
    return a if (math.isfinite(a) and a > 0) else float(smile(forward))


def _fit(smile: SmileInterpolant, forward: float, tau_h: float) -> tuple[float, float, float, int]:
    if smile.size == 0:
        raise ValueError("`surface` has no valid (finite, positive) smoothed IV")
    x = smile.x - math.log(forward)
    y = smile.iv
    if smile.size == 1:
        return float(y[0]), 0.0, 0.0, 1
    ax = np.abs(x)
    sigma0 = float(smile(forward))
    spacing = modal_strike_spacing(np.exp(smile.x))
    nth = min(MIN_FIT_STRIKES, ax.size) - 1
    candidates = [
        sigma0 * math.sqrt(tau_h) if (math.isfinite(tau_h) and tau_h > 0) else 0.0,
        FIT_MIN_SPACINGS * spacing / forward if math.isfinite(spacing) else 0.0,
        float(np.partition(ax, nth)[nth]) / 2.0,
    ]
    width = max(candidates)
    if not width > 0:  # every candidate 0: all strikes at F (impossible: strikes unique)
        width = float(ax.max()) or 1.0
    use = ax <= FIT_CUTOFF_WIDTHS * width
    u = x[use] / width  # fit in u = x / width: columns of order 1, well conditioned
    sw = np.exp(-0.25 * u * u)  # sqrt of the weight exp(-u^2/2)
    degree = 2 if u.size >= 3 else 1
    design = np.vander(u, degree + 1, increasing=True) * sw[:, None]
    coef, *_ = np.linalg.lstsq(design, y[use] * sw, rcond=None)
    a = float(coef[0])
    b = float(coef[1]) / width
    c = float(coef[2]) / (width * width) if degree == 2 else 0.0
    return a, b, c, int(u.size)


# --------------------------------------------------------------------------- regime


def classify_regime(iv: float) -> MarketRegime:
    """Volatility regime from a trading-time ATM IV (decimal), bins half-open:
    iv < 0.15 calm, 0.15 <= iv < 0.20 normal, 0.20 <= iv < 0.35 stressed, iv >= 0.35 crisis.
    A NaN IV raises ValueError (no regime can be claimed)."""
    if math.isnan(iv):
        raise ValueError("cannot classify a regime on a NaN IV")
    calm, normal, stressed = REGIME_BINS
    if iv < calm:
        return MarketRegime.CALM
    if iv < normal:
        return MarketRegime.NORMAL
    if iv < stressed:
        return MarketRegime.STRESSED
    return MarketRegime.CRISIS


def trading_time_fraction(tau: float) -> float:
    """Approximate trading-time year fraction (252 sessions of 6.5 h) for a calendar-clock
    year fraction `tau` (365 days), without a calendar.

    Calendar days d = 365 tau. Up to one session's length (6.5 h) every remaining minute is
    assumed to be trading time: sessions = d / (6.5/24). Beyond it each further calendar
    day adds 252/365 session: sessions = 1 + (d - 6.5/24) * 252/365. tau_trading =
    sessions / 252. The same total variance gives sigma_trading = sigma_calendar *
    sqrt(tau / tau_trading): 0.432 (= 1/2.31) intraday, -> 1 for long expiries.
    """
    days = tau * CALENDAR_DAYS_PER_YEAR
    session_days = SESSION_HOURS / 24.0
    if days <= session_days:
        sessions = days / session_days
    else:
        sessions = 1.0 + (days - session_days) * TRADING_DAYS_PER_YEAR / CALENDAR_DAYS_PER_YEAR
    return sessions / TRADING_DAYS_PER_YEAR


def trading_time_iv(iv: float, tau: float) -> float:
    """A calendar-clock IV (365-day tau) converted to trading time (see
    `trading_time_fraction`); unchanged when tau is not finite and positive."""
    if not (math.isfinite(tau) and tau > 0):
        return iv
    return iv * math.sqrt(tau / trading_time_fraction(tau))


def derive_regime_params(
    surface: IVSurface,
    spot: float,
    *,
    horizon_tau: float,
    skew_stickiness: float = 1.5,
    regime_iv: float | None = None,
    smile: SmileInterpolant | None = None,
) -> RegimeParams:
    """Regime parameters of one expiry (physical engine).

    Parameters
    ----------
    surface : the expiry's smile (smoothed IVs, decimal; forward F and tau used when finite).
    spot : S, points.
    horizon_tau : year fraction (365-day, the IV's clock) to the horizon.
    skew_stickiness : R, clamped to [0, 3].
    regime_iv : decimal IV to classify the regime on (a trading-time IV, or the nearest
        >= 7-day expiry's ATM IV). None: the fit's ATM IV converted to trading time with
        `trading_time_iv(atm_iv, surface.tau)` (unconverted when surface.tau is unknown,
        counted as diagnostics["regime_iv_unconverted"]).
    smile : optional prebuilt `smile_interpolant(surface)` (built when None).

    Returns
    -------
    RegimeParams with
      atm_iv = a, skew = b (d sigma / d ln K), curvature = 2c from `fit_atm_smile` at F
      (F = surface.forward, else spot); a non-positive or non-finite a falls back to the
      interpolated IV at F (diagnostics["atm_fit_fallback"]);
      expected_move = S * atm_iv * sqrt(horizon_tau), points;
      expected_daily_spot_move = regime_iv / sqrt(252), decimal fraction of spot per
        session (a trading-time IV over one session: unlike atm_iv / sqrt(252), it does not
        inflate 2.3x for a 0DTE calendar-clock IV);
      coupling_atm = -R * b, coupling_fixed_strike = -(R - 1) * b, vol points per +1%.
    Raises ValueError for a non-positive spot or a surface without a valid IV.
    """
    if not (math.isfinite(spot) and spot > 0):
        raise ValueError("`spot` must be finite and positive")
    r = clamp_skew_stickiness(skew_stickiness)
    forward = float(surface.forward)
    if not (math.isfinite(forward) and forward > 0):
        forward = float(spot)
    if smile is None:
        smile = smile_interpolant(surface)
    a, b, c, n_fit = _fit(smile, forward, horizon_tau)
    diagnostics = {"fit_strikes": n_fit, "masked_iv": smile.masked}
    if not (math.isfinite(a) and a > 0):
        a = float(smile(forward))
        diagnostics["atm_fit_fallback"] = 1
    if regime_iv is None or not math.isfinite(regime_iv):
        tau = float(surface.tau)
        if not (math.isfinite(tau) and tau > 0):
            diagnostics["regime_iv_unconverted"] = 1
        classified_on = trading_time_iv(a, tau)
    else:
        classified_on = float(regime_iv)
    if math.isfinite(horizon_tau) and horizon_tau >= 0:
        expected_move = spot * a * math.sqrt(horizon_tau)
    else:
        expected_move = float("nan")
    return RegimeParams(
        atm_iv=a,
        skew=b,
        curvature=2.0 * c,
        regime=classify_regime(classified_on),
        regime_iv=classified_on,
        expected_move=expected_move,
        expected_daily_spot_move=classified_on / math.sqrt(TRADING_DAYS_PER_YEAR),
        coupling_atm=-r * b,
        coupling_fixed_strike=-(r - 1.0) * b,
        skew_stickiness=r,
        diagnostics=diagnostics,
    )


__all__ = [
    "REGIME_BINS",
    "SmileInterpolant",
    "clamp_skew_stickiness",
    "classify_regime",
    "derive_regime_params",
    "fit_atm_smile",
    "interpolate_iv_at_strike",
    "modal_strike_spacing",
    "smile_interpolant",
    "strike_coupling",
    "trading_time_fraction",
    "trading_time_iv",
]
