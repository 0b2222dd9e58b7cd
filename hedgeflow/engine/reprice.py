"""The repriced impulse profile and the all-expiry zero-gamma line.

Repriced profile (docs/METHOD.md "Repriced profile"). The dealers' total hedge impulse if spot
were at S', every option's greeks recomputed at S' with the same vol dynamics as the hedge
impulse H:

- smile translation: sigma_i(S') = iv_i + Sigma(ln K_i - (1 - R) ln(S'/S)) - Sigma(ln K_i),
  Sigma the expiry's smoothed smile as a C1 function of ln K (`regime.smile_interpolant`:
  cubic Hermite, Bessel node slopes, flat beyond the first and last strike). Anchoring on
  the option's own IV iv_i makes sigma_i(S) = iv_i exactly; the increments are the
  translation model's;
- coupling at S': k_i(S') = -(R - 1) * Sigma'(ln K_i - (1 - R) ln(S'/S)), vol points per +1%
  (the derivative of sigma_i(S') in ln S', with the sign of H = GEX - k VEX);
- forward moving with spot: F' = S' e^{(r-q) tau}, tau, r, q the book's;
- per option, in $ of dealer delta change per +1% at spot S' (valued at S'):

      GEX_i(S') = pos_i m_i gamma_i(S') S'^2 0.01
      VEX_i(S') = pos_i m_i vanna_i(S') S' 0.01
      H(S')     = sum_i GEX_i(S') - k_i(S') VEX_i(S')

  so that H(S) equals the strike total sum_K (GEX_K - k_K VEX_K).

Flip levels are the zero crossings of H(S') (linear interpolation, direction as price
rises; |H| <= eps * max|H| on the plotted grid counts as zero); `nearest_flip` is the one
nearest spot. H > 0: dealers sell rallies and buy dips; H < 0: they chase the move.

Where levels are searched (docs/METHOD.md "Level search"): on the plotted grid (the impulse
curve's, ±3 % by default) and, when a `search_range` is given, beyond it out to that range
(`level_search_range`: ±3 expected moves of the expiry, at least ±10 %, at most ±50 %) on
a coarse grid (`COARSE_STEP` of spot, at most `MAX_COARSE_POINTS` a side); a sign change
there is refined by a few regula-falsi steps (`REFINE_ITERATIONS`), so a level outside the
window is located at least as finely as one inside. The stored lines stay on the plotted
grid.

Zero gamma (the number other tools call "zero gamma"): IVs held fixed, gamma only, summed
over every live expiry: G(S') = sum_i pos_i m_i gamma_i(S') S'^2 0.01 ($ per +1%), and its
zero crossings, searched like the flip levels. `zero_gamma_profile` returns the line and its
levels; `attach_zero_gamma` stores them in a `RepricedProfile` (the caller combines the two).

Options with tau < 60 s are treated by their payoff: their gamma and vanna are 0 away from
the strike, so they add nothing to either line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from hedgeflow.engine.black76 import MIN_GREEK_TAU, norm_pdf
from hedgeflow.engine.book import ExpiryBook
from hedgeflow.engine.charm import valid_arrays, valid_options
from hedgeflow.engine.enums import CrossingDirection
from hedgeflow.engine.impulse import find_zero_crossings, relative_tolerance
from hedgeflow.engine.regime import SmileInterpolant, clamp_skew_stickiness, smile_interpolant
from hedgeflow.engine.types import RepricedProfile, ZeroCrossing

MIN_TAU_YEARS = MIN_GREEK_TAU
DEFAULT_EPS = 1e-3
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: cells per block of a (prices x options) array: ~1 MB of doubles, within a core's L2
_BLOCK_CELLS = 131_072

#: The level search (docs/METHOD.md "Level search"): half-width in expected moves of the
#: expiry (S sigma_ATM sqrt(tau)), and its floor and cap as fractions of spot.
SEARCH_EXPECTED_MOVES = 3.0
SEARCH_MIN_FRACTION = 0.10
SEARCH_MAX_FRACTION = 0.50
#: The coarse grid beyond the plotted window: this fraction of spot a step, widened so that
#: no side has more than MAX_COARSE_POINTS points.
COARSE_STEP = 0.005
MAX_COARSE_POINTS = 16
#: Regula-falsi (Illinois) steps refining a sign change beyond the plotted window: each
#: step one evaluation of the line per crossing, all crossings at once.
REFINE_ITERATIONS = 4

Line = Callable[[np.ndarray], np.ndarray]


def level_search_range(spot: float, atm_iv: float, tau: float) -> tuple[float, float]:
    """(low, high) prices, points, over which flip and zero-gamma levels are searched:
    spot -/+ max(SEARCH_EXPECTED_MOVES expected moves S sigma sqrt(tau), SEARCH_MIN_FRACTION
    of spot), at most SEARCH_MAX_FRACTION of spot. `atm_iv` decimal, `tau` years; without a
    usable IV or tau the floor applies."""
    move = atm_iv * math.sqrt(tau) if atm_iv > 0 and tau > 0 else 0.0  # False for NaN
    half = min(max(SEARCH_EXPECTED_MOVES * move, SEARCH_MIN_FRACTION), SEARCH_MAX_FRACTION)
    return spot * (1.0 - half), spot * (1.0 + half)


def _outer_grids(
    p: np.ndarray, search: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Coarse prices below and above the plotted grid `p` (each ascending) out to `search`
    (see the module docstring); empty arrays when `search` adds nothing."""
    empty = np.empty(0)
    if search is None:
        return empty, empty
    lo, hi = search
    low_width, high_width = p[0] - max(lo, 0.0), hi - p[-1]
    width = max(low_width, high_width)
    if not width > 0:
        return empty, empty
    step = max(COARSE_STEP * 0.5 * (p[0] + p[-1]), width / MAX_COARSE_POINTS)
    n_low = math.ceil(low_width / step - 1e-9) if low_width > 0 else 0
    n_high = math.ceil(high_width / step - 1e-9) if high_width > 0 else 0
    below = p[0] - step * np.arange(n_low, 0, -1, dtype=np.float64)
    return below[below > 0], p[-1] + step * np.arange(1, n_high + 1, dtype=np.float64)


def _outer_crossings(
    line: Line,
    p: np.ndarray,
    values: np.ndarray,
    below: np.ndarray,
    v_below: np.ndarray,
    above: np.ndarray,
    v_above: np.ndarray,
    tol: float,
) -> tuple[ZeroCrossing, ...]:
    """Zero crossings of `line` whose sign change is not between two points of the plotted
    grid `p` (those are `find_zero_crossings(p, values, tol)`), found on the coarse points
    `below` and `above` (line values `v_below`, `v_above`).

    A sign change between adjacent points is refined by REFINE_ITERATIONS steps of the
    Illinois method (regula falsi that halves the value kept at a stale end), every bracket
    in one call of `line` a step; the level is the last linear interpolation in the final
    bracket. A sign change across points with |value| <= tol is the middle of that near-zero
    run, as on the plotted grid.
    """
    if below.size == 0 and above.size == 0:
        return ()
    price = np.concatenate((below, p, above))
    vals = np.concatenate((v_below, values, v_above))
    sign = np.where(vals > tol, 1, np.where(vals < -tol, -1, 0))
    idx = np.flatnonzero(sign)
    change = np.flatnonzero(sign[idx][1:] != sign[idx][:-1])
    j, k = idx[change], idx[change + 1]
    outside = (j < below.size) | (k >= below.size + p.size)
    j, k = j[outside], k[outside]
    if j.size == 0:
        return ()
    run = k - j > 1
    at = 0.5 * (price[np.minimum(j + 1, k)] + price[np.maximum(k - 1, j)])  # near-zero runs
    a, b, fa, fb = price[j], price[k], vals[j], vals[k]
    x = b - fb * (b - a) / (fb - fa)
    live = ~run
    for _ in range(REFINE_ITERATIONS):
        if not live.any():
            break
        fx = line(x[live])
        ia = np.flatnonzero(live)
        small = fx == 0.0  # an exact zero: found
        same_b = np.sign(fx) == np.sign(fb[ia])
        # the end with the sign of f(x) moves to x; the other end's value is halved when it
        # was kept twice in a row (Illinois), which keeps the steps from stalling
        nb, nfb = np.where(same_b, x[ia], b[ia]), np.where(same_b, fx, fb[ia])
        na, nfa = np.where(same_b, a[ia], x[ia]), np.where(same_b, fa[ia] * 0.5, fx)
        nfb = np.where(same_b, nfb, fb[ia] * 0.5)
        a[ia], b[ia], fa[ia], fb[ia] = na, nb, nfa, nfb
        live[ia[small]] = False
        step = ia[~small]
        x[step] = b[step] - fb[step] * (b[step] - a[step]) / (fb[step] - fa[step])
    level = np.where(run, at, x)
    rising, falling = CrossingDirection.RISING, CrossingDirection.FALLING
    return tuple(
        ZeroCrossing(price=lv, direction=rising if up > 0 else falling)
        for lv, up in zip(level.tolist(), vals[k].tolist(), strict=True)
    )


def _levels(
    line: Line,
    p: np.ndarray,
    values: np.ndarray,
    outer: tuple[np.ndarray, np.ndarray],
    outer_values: tuple[np.ndarray, np.ndarray],
    eps: float,
) -> tuple[ZeroCrossing, ...]:
    """Zero crossings of a line on the plotted grid `p` and beyond it (ascending)."""
    tol = relative_tolerance(values, eps)
    inside = find_zero_crossings(p, values, tol)
    beyond = _outer_crossings(
        line, p, values, outer[0], outer_values[0], outer[1], outer_values[1], tol
    )
    return tuple(sorted((*inside, *beyond), key=lambda c: c.price)) if beyond else inside


def _check_prices(prices: np.ndarray) -> np.ndarray:
    p = np.asarray(prices, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError("`prices` must be a non-empty 1-d array of points")
    if not np.all(np.isfinite(p) & (p > 0)):
        raise ValueError("`prices` must be positive and finite")
    if np.any(np.diff(p) <= 0):
        raise ValueError("`prices` must be strictly ascending")
    return p


def smile_value_and_slope(smile: SmileInterpolant, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sigma(x) and d Sigma / d x at log strikes `x` (any shape): `smile.at_log`, the same C1
    cubic Hermite as `SmileInterpolant.__call__` / `log_slope`, flat beyond the ends (value
    of the end node, slope 0). `smile` must have at least one node."""
    return smile.at_log(x)


def _net_by_strike(
    K: np.ndarray, iv: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Net weight per distinct (strike, IV): a call and a put at one strike and IV have the
    same gamma and vanna, so H needs each strike once (halves the grid work). Groups come
    sorted by strike, then IV."""
    if K.size > 1:
        same = K[1:] == K[:-1]
        if bool(np.all(K[1:] >= K[:-1])) and bool(np.all(~same | (iv[1:] == iv[:-1]))):
            # a book's order (strike ascending, one IV per strike): lexsort would keep it
            start = np.empty(K.size, dtype=bool)
            start[0] = True
            np.logical_not(same, out=start[1:])
            return K[start], iv[start], np.bincount(np.cumsum(start) - 1, weights=weight)
    order = np.lexsort((iv, K))
    Ks, ivs, ws = K[order], iv[order], weight[order]
    start = np.ones(Ks.size, dtype=bool)
    start[1:] = (Ks[1:] != Ks[:-1]) | (ivs[1:] != ivs[:-1])
    group = np.cumsum(start) - 1
    return Ks[start], ivs[start], np.bincount(group, weights=ws)


def _net_by_book_and_strike(
    book: NDArray[np.intp], K: np.ndarray, iv: np.ndarray, weight: np.ndarray
) -> tuple[NDArray[np.intp], np.ndarray, np.ndarray, np.ndarray]:
    """`_net_by_strike` of every book at once: `book` is each row's book index (rows of a
    book together, books ascending); groups never span two books. Returns (book, strike,
    IV, net weight) per group, sorted by book, strike, IV: the per-book groups one after
    the other, each weight summed in the same row order as book by book."""
    if K.size == 0:
        return book, K, iv, weight
    same_b = book[1:] == book[:-1]
    same = same_b & (K[1:] == K[:-1])
    ordered = (
        bool(np.all(book[1:] >= book[:-1]))
        and bool(np.all(~same_b | (K[1:] >= K[:-1])))
        and bool(np.all(~same | (iv[1:] == iv[:-1])))
    )
    if not ordered:  # (lexsort is stable: a book already in order keeps its row order)
        order = np.lexsort((iv, K, book))
        book, K, iv, weight = book[order], K[order], iv[order], weight[order]
        same_b = book[1:] == book[:-1]
        same = same_b & (K[1:] == K[:-1]) & (iv[1:] == iv[:-1])
    start = np.empty(K.size, dtype=bool)
    start[0] = True
    np.logical_not(same, out=start[1:])
    return book[start], K[start], iv[start], np.bincount(np.cumsum(start) - 1, weights=weight)


def _impulse_per_option(
    S: np.ndarray,
    K: np.ndarray,
    tau: float | np.ndarray,
    sigma: np.ndarray,
    r: float | np.ndarray,
    q: float | np.ndarray,
    k: np.ndarray | None,
) -> np.ndarray:
    """(GEX - k VEX) / (pos m) per option at spot S, $ per +1% per contract-share.

    = 0.01 S e^{-q tau} phi(d1) (1 / (sigma sqrt(tau)) + k d2 / sigma), from
    gamma = e^{-q tau} phi(d1) / (S sigma sqrt(tau)) and vanna = -e^{-q tau} phi(d1) d2 / sigma;
    k = None: gamma only. Inputs broadcast and are valid (the caller masks).
    """
    sig_sqrt = sigma * np.sqrt(tau)
    d1 = (np.log(S) - np.log(K) + (r - q) * tau) / sig_sqrt + 0.5 * sig_sqrt
    core = 1.0 / sig_sqrt
    if k is not None:
        core = core + k * (d1 - sig_sqrt) / sigma
    impulse: NDArray[np.float64] = (0.01 * np.exp(-q * tau)) * S * norm_pdf(d1) * core
    return impulse


def _gamma_line(
    prices: np.ndarray,
    K: np.ndarray,
    tau: float | np.ndarray,
    sigma: np.ndarray,
    r: float | np.ndarray,
    q: float | np.ndarray,
    weight: np.ndarray,
) -> np.ndarray:
    """sum_i weight_i * `_impulse_per_option`(S', K_i, tau_i, sigma_i, r_i, q_i, None) at each
    S' of `prices` (1-d), with IVs fixed per option: the per-option factors
    e^{-q tau} / (sigma sqrt(tau)) go into the weights and the per-price factor 0.01 S' /
    sqrt(2 pi) is applied after the sum, so the (prices x options) array sees only
    d1 and its Gaussian. Rows are taken in blocks of about _BLOCK_CELLS cells, so that a
    whole chain's array stays in cache between the passes (every row is computed the same
    way whatever the blocking). Inputs valid (the caller masks)."""
    return _gamma_line_of(prices, _gamma_terms(K, tau, sigma, r, q, weight))


GammaTerms = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _gamma_terms(
    K: np.ndarray,
    tau: float | np.ndarray,
    sigma: np.ndarray,
    r: float | np.ndarray,
    q: float | np.ndarray,
    weight: np.ndarray,
) -> GammaTerms:
    """The per-option terms of `_gamma_line` (ln K - (r - q) tau, 1 / (sigma sqrt(tau)),
    sigma sqrt(tau) / 2 and the folded weight), computed once for a line evaluated several
    times (the grid, then each regula-falsi step beyond it)."""
    ss = sigma * np.sqrt(tau)
    inv_ss = 1.0 / ss
    shift = np.log(K) - (r - q) * tau
    w = weight * np.exp(-q * tau) * inv_ss
    return shift, inv_ss, 0.5 * ss, w


def _gamma_line_of(prices: np.ndarray, terms: GammaTerms) -> np.ndarray:
    """`_gamma_line` at `prices` from its per-option `terms` (`_gamma_terms`)."""
    shift, inv_ss, half, w = terms
    log_p = np.log(prices)
    total = np.empty(prices.size)
    step = max(1, _BLOCK_CELLS // max(shift.size, 1))
    for a in range(0, prices.size, step):  # one block unless the chain is large
        # d1 = (ln S' - ln K + (r - q) tau) / ss + ss / 2
        d1 = log_p[a : a + step, None] - shift
        d1 *= inv_ss
        d1 += half
        np.square(d1, out=d1)
        d1 *= -0.5
        np.exp(d1, out=d1)
        total[a : a + step] = d1 @ w
    return (0.01 * _INV_SQRT_2PI) * prices * total


def _coupled_line(
    prices: NDArray[np.float64],
    log_prices: NDArray[np.float64],
    xK: NDArray[np.float64],
    tau: float,
    sigma: np.ndarray,
    slope: np.ndarray,
    r: float,
    q: float,
    R: float,
    weight: np.ndarray,
    bad: np.ndarray | None,
) -> np.ndarray:
    """sum_i weight_i * `_impulse_per_option`(S', K_i, tau, sigma, r, q, k) with
    sigma = sigma[S', i] (positive) and k = -(R - 1) slope[S', i], at each S' of `prices`;
    cells where `bad` (prices x options) is True add nothing.
    Per cell only phi(d1) (1/sqrt(tau) + k d2) / sigma; the factor 0.01 e^{-q tau} S' is
    applied after the sum. `slope` is overwritten."""
    sqrt_tau = math.sqrt(tau)
    lnm = (log_prices + (r - q) * tau)[:, None] - xK  # ln(F'/K)
    ss = np.multiply(sigma, sqrt_tau)
    lnm /= ss  # = (d1 + d2) / 2
    ss *= 0.5
    d2 = np.subtract(lnm, ss)
    lnm += ss  # d1
    np.square(lnm, out=lnm)
    lnm *= -0.5
    pdf = np.exp(lnm, out=lnm)
    core = np.multiply(slope, d2, out=slope)
    core *= -(R - 1.0)  # k d2
    core += 1.0 / sqrt_tau
    core /= sigma
    core *= pdf
    if bad is not None:
        core[bad] = 0.0
    total = core @ weight
    line: NDArray[np.float64] = (0.01 * _INV_SQRT_2PI * math.exp(-q * tau)) * prices * total
    return line


def compute_repriced_profile(
    book: ExpiryBook,
    prices: np.ndarray,
    *,
    skew_stickiness: float = 1.5,
    surface_slope: np.ndarray | None = None,
    smile: SmileInterpolant | None = None,
    eps: float = DEFAULT_EPS,
    search_range: tuple[float, float] | None = None,
) -> RepricedProfile:
    """The dealers' total impulse H(S') at each price S' of `prices` (see module docstring).

    Parameters
    ----------
    book : the expiry (spot S, tau, r, q, options with smoothed IV and dealer positions).
    prices : strictly ascending grid of hypothetical spots, points (the plotted window).
    skew_stickiness : R, clamped to [0, 3] (0 sticky moneyness, 1 sticky strike, 2 local vol).
    surface_slope : optional node slopes d sigma / d ln K (decimal per unit log strike) at the
        smile interpolant's nodes (the surface's valid strikes, ascending), replacing the
        Bessel slopes; pass the slopes behind your k_K if they came from elsewhere.
    smile : optional prebuilt `SmileInterpolant` of `book.surface` (built when None).
    eps : |H| <= eps * max|H| (on `prices`) counts as zero when locating flip levels.
    search_range : (low, high) prices, points, over which flip levels are searched beyond
        `prices` (`level_search_range`); None: on `prices` only.

    Returns
    -------
    RepricedProfile: `impulse` in $ of dealer delta change per +1% at each price (positive:
    dealers dampen); `flip_levels` its zero crossings within the search range; `nearest_flip`
    the one nearest spot (None without crossing); `impulse_at_spot` = H(S), equal to the
    strike total; `masked_options` options left out (bad input) plus grid cells of `prices`
    where the translated IV was not positive (counted once per option).
    """
    p = _check_prices(prices)
    spot = float(book.spot)
    if not (math.isfinite(spot) and spot > 0):
        raise ValueError("`book.spot` must be a positive finite price")
    R = clamp_skew_stickiness(skew_stickiness)

    valid = valid_options(book)
    K = np.asarray(book.strike, dtype=np.float64)
    iv0 = np.asarray(book.iv, dtype=np.float64)
    weight = np.asarray(book.position, dtype=np.float64) * np.asarray(
        book.multiplier, dtype=np.float64
    )
    masked = int(valid.size - np.count_nonzero(valid))
    if masked:
        K, iv0, weight = K[valid], iv0[valid], weight[valid]
    K, iv0, weight = _net_by_strike(K, iv0, weight)
    outer = _outer_grids(p, search_range)
    grid = np.concatenate((p, *outer, [spot]))  # last: spot itself
    tau, r, q = float(book.tau), float(book.r), float(book.q)

    line: Line
    if not (tau >= MIN_TAU_YEARS) or K.size == 0:

        def line(x: np.ndarray) -> np.ndarray:
            return np.zeros(x.size)  # payoff only: no gamma, no vanna

        impulse_all = line(grid)
    elif R == 1.0:
        # Sticky strike: every IV stays put and the coupling vanishes.
        terms = _gamma_terms(K, tau, iv0, r, q, weight)

        def line(x: np.ndarray) -> np.ndarray:
            return _gamma_line_of(x, terms)

        impulse_all = line(grid)
    else:
        if smile is None:
            smile = smile_interpolant(book.surface)
        if smile.size == 0:
            raise ValueError("`book.surface` has no valid smoothed IV")
        if surface_slope is not None:
            slope = np.asarray(surface_slope, dtype=np.float64)
            if slope.shape != smile.x.shape or not np.all(np.isfinite(slope)):
                raise ValueError("`surface_slope` must be finite, one value per smile node")
            smile = replace(smile, slope=slope)
        xK = np.log(K)
        sig_k, _ = smile.at_log(xK)
        shift = iv0 - sig_k
        shifted = bool(shift.any())
        at_translated = smile.at_translated

        def coupled(x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
            """H at prices `x`, and the (prices x strikes) cells masked (None: none)."""
            lg = np.log(x)
            # the translated log strike of every (price, strike): ln K - (1 - R) ln(S'/S)
            sig, slope = at_translated(xK, (1.0 - R) * (lg - math.log(spot)))
            if shifted:  # sigma_i(S') = iv_i + Sigma(x) - Sigma(ln K_i) (0 at the nodes)
                sig += shift
            if not np.min(sig) > 0:  # a Hermite overshoot below zero (or NaN): masked
                bad = ~(np.isfinite(sig) & (sig > 0))
                sig[bad] = 1.0
                slope[bad] = 0.0
            else:
                bad = None
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                return _coupled_line(x, lg, xK, tau, sig, slope, r, q, R, weight, bad), bad

        def line(x: np.ndarray) -> np.ndarray:
            return coupled(x)[0]

        impulse_all, bad = coupled(grid)
        if bad is not None:  # counted on the plotted grid and spot, per distinct strike
            plotted = np.concatenate((bad[: p.size], bad[-1:]))
            masked += int(plotted.any(axis=0).sum())

    impulse = impulse_all[: p.size]
    n_low = outer[0].size
    outer_values = (impulse_all[p.size : p.size + n_low], impulse_all[p.size + n_low : -1])
    flips = _levels(line, p, impulse, outer, outer_values, eps)
    nearest = min((c.price for c in flips), key=lambda level: abs(level - spot)) if flips else None
    return RepricedProfile(
        price=p,
        impulse=impulse,
        flip_levels=flips,
        nearest_flip=nearest,
        skew_stickiness=R,
        impulse_at_spot=float(impulse_all[-1]),
        masked_options=masked,
        search_range=search_range,
    )


def zero_gamma_profile(
    books: Sequence[ExpiryBook],
    prices: np.ndarray,
    *,
    eps: float = DEFAULT_EPS,
    search_range: tuple[float, float] | None = None,
) -> tuple[np.ndarray, tuple[float, ...]]:
    """Fixed-IV, gamma-only dealer exposure summed over every expiry, and its zero levels.

    G(S') = sum over all books' options of pos m gamma(S') S'^2 0.01, $ of dealer delta
    change per +1% at spot S' (each option at its own smoothed IV, tau, r and q; forward
    moving with S'). Options with tau < 60 s or bad inputs add nothing. Returns the line on
    `prices` and the prices where it crosses zero (ascending; |G| <= eps * max|G| on
    `prices` is zero), searched beyond `prices` out to `search_range` (low, high) if given.
    """
    p = _check_prices(prices)
    live = [b for b in books if b.tau >= MIN_TAU_YEARS]
    if not live:
        return np.zeros(p.size), ()
    # every book's options in one pass (as `valid_options` and `_net_by_strike` book by book:
    # the same groups, in book order, summed in the same order)
    sizes = np.array([b.strike.size for b in live], dtype=np.intp)
    cat = (
        np.concatenate([np.asarray(b.strike, dtype=np.float64) for b in live]),
        np.concatenate([np.asarray(b.iv, dtype=np.float64) for b in live]),
        np.concatenate([np.asarray(b.position, dtype=np.float64) for b in live]),
        np.concatenate([np.asarray(b.multiplier, dtype=np.float64) for b in live]),
    )
    valid = valid_arrays(*cat)
    book_of = np.repeat(np.arange(len(live)), sizes)[valid]
    g, K, iv, weight = _net_by_book_and_strike(
        book_of, cat[0][valid], cat[1][valid], cat[2][valid] * cat[3][valid]
    )
    # a strike whose calls and puts net to no position adds exactly 0 at every price (its
    # Gaussian is finite): left out of the (prices x strikes) work (on the real SPX files
    # 5-11 % of the strikes, on NDX 2023-05-15 more than half)
    held = weight != 0
    if not held.all():
        g, K, iv, weight = g[held], K[held], iv[held], weight[held]
    if K.size == 0:
        return np.zeros(p.size), ()
    tau = np.array([b.tau for b in live])[g]
    r = np.array([b.r for b in live])[g]
    q = np.array([b.q for b in live])[g]

    terms = _gamma_terms(K, tau, iv, r, q, weight)

    def line(x: np.ndarray) -> np.ndarray:
        return _gamma_line_of(x, terms)

    outer = _outer_grids(p, search_range)
    everything = line(np.concatenate((p, *outer)))
    gex = everything[: p.size]
    n_low = outer[0].size
    outer_values = (everything[p.size : p.size + n_low], everything[p.size + n_low :])
    levels = tuple(c.price for c in _levels(line, p, gex, outer, outer_values, eps))
    return gex, levels


def attach_zero_gamma(
    profile: RepricedProfile, books: Sequence[ExpiryBook], *, eps: float = DEFAULT_EPS
) -> RepricedProfile:
    """`profile` with the all-expiry zero-gamma line computed on its own price grid, its
    levels searched over the profile's `search_range`."""
    line, levels = zero_gamma_profile(
        books, profile.price, eps=eps, search_range=profile.search_range
    )
    return replace(
        profile, zero_gamma_price=profile.price, zero_gamma=line, zero_gamma_levels=levels
    )
