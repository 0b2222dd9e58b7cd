"""The repriced impulse profile and the all-expiry zero-gamma line.

Repriced profile (DESIGN.md "Repriced profile"). The dealers' total hedge impulse if spot
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

Flip levels are the zero crossings of H(S') on the grid (linear interpolation, direction
as price rises; |H| <= eps * max|H| counts as zero); `nearest_flip` is the one nearest
spot. H > 0: dealers sell rallies and buy dips; H < 0: they chase the move.

Zero gamma (the number other tools call "zero gamma"): IVs held fixed, gamma only, summed
over every live expiry: G(S') = sum_i pos_i m_i gamma_i(S') S'^2 0.01 ($ per +1%), and its
zero crossings. `zero_gamma_profile` returns the line and its levels; `attach_zero_gamma`
stores them in a `RepricedProfile` (the caller combines the two).

Options with tau < 60 s are treated by their payoff: their gamma and vanna are 0 away from
the strike, so they add nothing to either line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from hedgeflow.engine.black76 import MIN_GREEK_TAU, norm_pdf
from hedgeflow.engine.book import ExpiryBook
from hedgeflow.engine.charm import valid_options
from hedgeflow.engine.impulse import find_zero_crossings, relative_tolerance
from hedgeflow.engine.regime import SmileInterpolant, clamp_skew_stickiness, smile_interpolant
from hedgeflow.engine.types import RepricedProfile

MIN_TAU_YEARS = MIN_GREEK_TAU
DEFAULT_EPS = 1e-3
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: cells per block of a (prices x options) array: ~1 MB of doubles, within a core's L2
_BLOCK_CELLS = 131_072


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
    ss = sigma * np.sqrt(tau)
    inv_ss = 1.0 / ss
    shift = np.log(K) - (r - q) * tau
    half = 0.5 * ss
    w = weight * np.exp(-q * tau) * inv_ss
    log_p = np.log(prices)
    total = np.empty(prices.size)
    step = max(1, _BLOCK_CELLS // max(K.size, 1))
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
) -> RepricedProfile:
    """The dealers' total impulse H(S') at each price S' of `prices` (see module docstring).

    Parameters
    ----------
    book : the expiry (spot S, tau, r, q, options with smoothed IV and dealer positions).
    prices : strictly ascending grid of hypothetical spots, points.
    skew_stickiness : R, clamped to [0, 3] (0 sticky moneyness, 1 sticky strike, 2 local vol).
    surface_slope : optional node slopes d sigma / d ln K (decimal per unit log strike) at the
        smile interpolant's nodes (the surface's valid strikes, ascending), replacing the
        Bessel slopes; pass the slopes behind your k_K if they came from elsewhere.
    smile : optional prebuilt `SmileInterpolant` of `book.surface` (built when None).
    eps : |H| <= eps * max|H| counts as zero when locating flip levels.

    Returns
    -------
    RepricedProfile: `impulse` in $ of dealer delta change per +1% at each price (positive:
    dealers dampen); `flip_levels` its zero crossings; `nearest_flip` the one nearest spot
    (None without crossing); `impulse_at_spot` = H(S), equal to the strike total;
    `masked_options` options left out (bad input) plus grid cells where the translated IV
    was not positive (counted once per option).
    """
    p = _check_prices(prices)
    spot = float(book.spot)
    if not (math.isfinite(spot) and spot > 0):
        raise ValueError("`book.spot` must be a positive finite price")
    R = clamp_skew_stickiness(skew_stickiness)

    valid = valid_options(book)
    K = np.asarray(book.strike, dtype=np.float64)[valid]
    iv0 = np.asarray(book.iv, dtype=np.float64)[valid]
    weight = (
        np.asarray(book.position, dtype=np.float64)[valid]
        * np.asarray(book.multiplier, dtype=np.float64)[valid]
    )
    masked = int((~valid).sum())
    K, iv0, weight = _net_by_strike(K, iv0, weight)
    grid = np.concatenate((p, [spot]))[:, None]  # last row: spot itself
    tau, r, q = float(book.tau), float(book.r), float(book.q)

    if not (tau >= MIN_TAU_YEARS) or K.size == 0:
        impulse_all = np.zeros(grid.shape[0])  # payoff only: no gamma, no vanna
    elif R == 1.0:
        # Sticky strike: every IV stays put and the coupling vanishes.
        impulse_all = _gamma_line(grid[:, 0], K, tau, iv0, r, q, weight)
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
        lg = np.log(grid[:, 0])
        # the translated log strike of every (price, strike): ln K - (1 - R) ln(S'/S)
        sig, slope = smile.at_log(xK - ((1.0 - R) * (lg - math.log(spot)))[:, None])
        sig_k, _ = smile.at_log(xK)
        sig += iv0 - sig_k  # sigma_i(S') = iv_i + Sigma(x) - Sigma(ln K_i)
        if not np.min(sig) > 0:  # a Hermite overshoot below zero (or NaN): masked
            ok = np.isfinite(sig) & (sig > 0)
            masked += int((~ok).any(axis=0).sum())  # per distinct strike
            sig[~ok] = 1.0
            slope[~ok] = 0.0
            bad = ~ok
        else:
            bad = None
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            impulse_all = _coupled_line(grid[:, 0], lg, xK, tau, sig, slope, r, q, R, weight, bad)

    impulse = impulse_all[:-1]
    flips = find_zero_crossings(p, impulse, relative_tolerance(impulse, eps))
    nearest = min((c.price for c in flips), key=lambda level: abs(level - spot)) if flips else None
    return RepricedProfile(
        price=p,
        impulse=impulse,
        flip_levels=flips,
        nearest_flip=nearest,
        skew_stickiness=R,
        impulse_at_spot=float(impulse_all[-1]),
        masked_options=masked,
    )


def zero_gamma_profile(
    books: Sequence[ExpiryBook], prices: np.ndarray, *, eps: float = DEFAULT_EPS
) -> tuple[np.ndarray, tuple[float, ...]]:
    """Fixed-IV, gamma-only dealer exposure summed over every expiry, and its zero levels.

    G(S') = sum over all books' options of pos m gamma(S') S'^2 0.01, $ of dealer delta
    change per +1% at spot S' (each option at its own smoothed IV, tau, r and q; forward
    moving with S'). Options with tau < 60 s or bad inputs add nothing. Returns the line on
    `prices` and the prices where it crosses zero (ascending; |G| <= eps * max|G| is zero).
    """
    p = _check_prices(prices)
    parts: list[tuple[np.ndarray, ...]] = []
    for book in books:  # a handful of expiries; the options inside are vectorized
        if not book.tau >= MIN_TAU_YEARS:
            continue
        valid = valid_options(book)
        K, iv, weight = _net_by_strike(
            np.asarray(book.strike, dtype=np.float64)[valid],
            np.asarray(book.iv, dtype=np.float64)[valid],
            np.asarray(book.position, dtype=np.float64)[valid]
            * np.asarray(book.multiplier, dtype=np.float64)[valid],
        )
        n = K.size
        parts.append(
            (
                K,
                iv,
                weight,
                np.full(n, book.tau),
                np.full(n, book.r),
                np.full(n, book.q),
            )
        )
    if not parts or sum(part[0].size for part in parts) == 0:
        return np.zeros(p.size), ()
    K, iv, weight, tau, r, q = (np.concatenate(col) for col in zip(*parts, strict=True))
    gex = _gamma_line(p, K, tau, iv, r, q, weight)
    levels = tuple(c.price for c in find_zero_crossings(p, gex, relative_tolerance(gex, eps)))
    return gex, levels


def attach_zero_gamma(
    profile: RepricedProfile, books: Sequence[ExpiryBook], *, eps: float = DEFAULT_EPS
) -> RepricedProfile:
    """`profile` with the all-expiry zero-gamma line computed on its own price grid."""
    line, levels = zero_gamma_profile(books, profile.price, eps=eps)
    return replace(
        profile, zero_gamma_price=profile.price, zero_gamma=line, zero_gamma_levels=levels
    )
