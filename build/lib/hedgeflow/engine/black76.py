"""Black-76 prices and spot greeks, vectorized.

The model prices on the forward F = S e^{(r-q) tau}, discounted at r. Spot
greeks follow from it (delta_S = e^{-q tau} N(d1) for a call). Inputs
broadcast; units:

S, F, K : points; tau : year fraction (365-day); sigma : decimal; r, q : decimal
continuously compounded per year.

Where tau <= 0 or sigma <= 0 or K <= 0 the greeks are NaN: the caller decides
(payoff, exclusion). No greek is ever rounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

DAYS_PER_YEAR = 365.0
SECONDS_PER_YEAR = DAYS_PER_YEAR * 86400.0
# Greeks are evaluated only for tau >= 60 s (docs/METHOD.md "Expiry clock"); below that an
# option is treated by its payoff.
MIN_GREEK_TAU = 60.0 / SECONDS_PER_YEAR
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def norm_pdf(x: NDArray[np.float64]) -> NDArray[np.float64]:
    pdf: NDArray[np.float64] = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
    return pdf


def _d1_d2(
    F: np.ndarray, K: np.ndarray, tau: np.ndarray, sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """d1, d2 and sigma*sqrt(tau); NaN where the model is undefined (mask `bad`)."""
    bad = ~((tau > 0) & (sigma > 0) & (K > 0) & (F > 0))
    # errstate: only masked (`bad`) or absurdly large inputs divide by 0 or overflow
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sig_sqrt = sigma * np.sqrt(np.where(bad, np.nan, tau))
        d1 = (np.log(F / K) + 0.5 * sig_sqrt * sig_sqrt) / sig_sqrt
        d1 = np.where(bad, np.nan, d1)
        d2 = d1 - sig_sqrt
    return d1, d2, sig_sqrt


def price(
    F: np.ndarray | float,
    K: np.ndarray | float,
    tau: np.ndarray | float,
    sigma: np.ndarray | float,
    r: np.ndarray | float,
    is_call: np.ndarray | bool,
) -> np.ndarray:
    """Black-76 option price in points: e^{-r tau} (F N(d1) - K N(d2)) for calls,
    e^{-r tau} (K N(-d2) - F N(-d1)) for puts. NaN where undefined."""
    F, K, tau, sigma, r = (np.asarray(x, dtype=np.float64) for x in (F, K, tau, sigma, r))
    is_call = np.asarray(is_call, dtype=bool)
    d1, d2, _ = _d1_d2(F, K, tau, sigma)
    # errstate: overflow of e^{-r tau} or inf * 0 only arises on inputs that `_d1_d2`
    # already masked to NaN (or on non-finite r, which propagates as NaN).
    with np.errstate(over="ignore", invalid="ignore"):
        df = np.exp(-r * tau)
        call = df * (F * ndtr(d1) - K * ndtr(d2))
        put = df * (K * ndtr(-d2) - F * ndtr(-d1))
    return np.where(is_call, call, put)


def intrinsic(
    F: np.ndarray | float,
    K: np.ndarray | float,
    r: np.ndarray | float,
    tau: np.ndarray | float,
    is_call: np.ndarray | bool,
) -> np.ndarray:
    """Discounted intrinsic value e^{-r tau} max(+-(F - K), 0), points: the Black-76 price
    at zero vol, and the lower bound below which no implied vol exists."""
    F, K, r, tau = (np.asarray(x, dtype=np.float64) for x in (F, K, r, tau))
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(-r * tau) * np.maximum(np.where(is_call, F - K, K - F), 0.0)


@dataclass(frozen=True, eq=False)
class Greeks:
    """Spot greeks per option (one unit of underlying, no multiplier).

    delta : dV/dS, shares per option share
    gamma : d2V/dS2, per point
    vega : dV/dsigma, points per 1.00 of vol (divide by 100 for a vol point)
    vanna : d delta / d sigma, per 1.00 of vol
    charm : d delta / dt as calendar time passes, per calendar day
    """

    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    vanna: np.ndarray
    charm: np.ndarray


def greeks(
    S: np.ndarray | float,
    K: np.ndarray | float,
    tau: np.ndarray | float,
    sigma: np.ndarray | float,
    r: np.ndarray | float,
    q: np.ndarray | float,
    is_call: np.ndarray | bool,
) -> Greeks:
    """Spot greeks of Black-76 on F = S e^{(r-q) tau}.

    Charm includes the dividend term: +q e^{-q tau} N(d1) for calls,
    -q e^{-q tau} N(-d1) for puts, minus e^{-q tau} phi(d1) (2 (r-q) tau - d2 sigma
    sqrt(tau)) / (2 tau sigma sqrt(tau)); divided by 365 for per calendar day.
    """
    S, K, tau, sigma, r, q = (np.asarray(x, dtype=np.float64) for x in (S, K, tau, sigma, r, q))
    is_call = np.asarray(is_call, dtype=bool)
    # errstate: overflow / inf * 0 only on inputs masked to NaN by `_d1_d2` (F, K, tau,
    # sigma) or on a non-finite S, r or q, which propagate as NaN.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        d1, d2, sig_sqrt, eq, pdf = _spot_terms(S, K, tau, sigma, r, q)
        n_d1 = ndtr(d1)
        n_md1 = ndtr(-d1)
        delta = np.where(is_call, eq * n_d1, -eq * n_md1)
        vega = S * eq * pdf * np.sqrt(tau)
        gamma, vanna, charm = _gamma_vanna_charm(
            S, tau, sigma, r, q, is_call, d2, sig_sqrt, eq, pdf, np.where(is_call, n_d1, n_md1)
        )
    return Greeks(delta=delta, gamma=gamma, vega=vega, vanna=vanna, charm=charm)


def exposure_greeks(
    S: np.ndarray | float,
    K: np.ndarray | float,
    tau: np.ndarray | float,
    sigma: np.ndarray | float,
    r: np.ndarray | float,
    q: np.ndarray | float,
    is_call: np.ndarray | bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gamma, vanna, charm) of `greeks`, bitwise the same values, without the delta and
    vega the exposures do not use and with one N(+-d1) pass instead of two."""
    return exposure_greeks_and_delta(S, K, tau, sigma, r, q, is_call)[:3]


def exposure_greeks_and_delta(
    S: np.ndarray | float,
    K: np.ndarray | float,
    tau: np.ndarray | float,
    sigma: np.ndarray | float,
    r: np.ndarray | float,
    q: np.ndarray | float,
    is_call: np.ndarray | bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(gamma, vanna, charm, delta) of `greeks`, bitwise the same values: the delta from the
    same N(+-d1) pass (e^{-q tau} N(d1) for a call, -e^{-q tau} N(-d1) for a put)."""
    S, K, tau, sigma, r, q = (np.asarray(x, dtype=np.float64) for x in (S, K, tau, sigma, r, q))
    is_call = np.asarray(is_call, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        d1, d2, sig_sqrt, eq, pdf = _spot_terms(S, K, tau, sigma, r, q)
        n_side = ndtr(np.where(is_call, d1, -d1))  # N(d1) for calls, N(-d1) for puts
        gamma, vanna, charm = _gamma_vanna_charm(
            S, tau, sigma, r, q, is_call, d2, sig_sqrt, eq, pdf, n_side
        )
        delta = np.where(is_call, eq * n_side, -eq * n_side)
    return gamma, vanna, charm, delta


def _spot_terms(
    S: np.ndarray, K: np.ndarray, tau: np.ndarray, sigma: np.ndarray, r: np.ndarray, q: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """d1, d2, sigma sqrt(tau), e^{-q tau} and phi(d1) on F = S e^{(r-q) tau} (caller's errstate)."""
    F = S * np.exp((r - q) * tau)
    d1, d2, sig_sqrt = _d1_d2(F, K, tau, sigma)
    return d1, d2, sig_sqrt, np.exp(-q * tau), norm_pdf(d1)


def _gamma_vanna_charm(
    S: np.ndarray,
    tau: np.ndarray,
    sigma: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    is_call: np.ndarray,
    d2: np.ndarray,
    sig_sqrt: np.ndarray,
    eq: np.ndarray,
    pdf: np.ndarray,
    n_side: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gamma, vanna and charm per calendar day from the shared terms; n_side is N(d1) for
    calls and N(-d1) for puts (the charm's dividend term). One formula for `greeks` and
    `exposure_greeks`."""
    gamma = eq * pdf / (S * sig_sqrt)
    vanna = -eq * pdf * d2 / sigma
    common = eq * pdf * (2.0 * (r - q) * tau - d2 * sig_sqrt) / (2.0 * tau * sig_sqrt)
    charm_year = np.where(is_call, q * eq * n_side, -q * eq * n_side) - common
    return gamma, vanna, charm_year / DAYS_PER_YEAR
