"""The exact charm integral: how the dealers' delta drifts as time passes, spot held fixed.

Instead of integrating an instantaneous charm rate (which blows up near expiry and
depends on the step), the integral reprices every option's delta at each bucket's end:

    D(t)            = sum_i pos_i * m_i * Delta_i(S, tau(t)) * S            ($, share delta at S)
    cumulative_j    = D(t_j) - D(now)                                      ($)
    instantaneous_j = sum_i pos_i * m_i * charm_i(S, tau(t_j)) * S         ($ per calendar day)

with spot S, each option's current (smoothed) IV, r and q held fixed; tau(t) is the
year fraction (365-day) from t to the book's settlement time. Buckets end at
t_j = now + j * step (j = 1..n), the last one exactly at the horizon, with
step = max(time_step_minutes, ceil(minutes to horizon / 100)) so that at most about
100 buckets are computed.

Horizon rule (the caller computes it; see `hedgeflow.engine.clock`): the expiry itself for a
same-day expiry; today's close for a later expiry; after the close, the next session's
close. A horizon after the expiry is the expiry.

Settlement: greeks are evaluated only for tau >= 60 s; below that an option is its
payoff (delta 1 / 0 / 0.5 at S == K for calls; -1 / 0 / -0.5 for puts). When the horizon
is the expiry, buckets ending in the last minute are evaluated at the last pre-expiry
point (tau = 60 s) and the jump from there to the payoff delta is reported separately as
`settlement_step` (not in `cumulative_cex`), so

    cumulative_cex[-1] + settlement_step = D(payoff) - D(now)   exactly.

Sign: a positive cumulative value means the dealers' delta rises with time, so their
hedge flow (-cumulative) is selling.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from hedgeflow.engine.black76 import DAYS_PER_YEAR, MIN_GREEK_TAU, SECONDS_PER_YEAR, norm_pdf
from hedgeflow.engine.book import ExpiryBook
from hedgeflow.engine.types import CharmIntegral, CharmIntegralConfig

# Greeks are evaluated only for tau >= 60 s (docs/METHOD.md "Expiry clock"); below, the payoff.
MIN_TAU_SECONDS = MIN_GREEK_TAU * SECONDS_PER_YEAR
MAX_BUCKETS = 100


def charm_step_minutes(minutes_to_horizon: float, time_step_minutes: float) -> float:
    """Bucket width in minutes: max(time_step_minutes, ceil(minutes_to_horizon / 100)).

    At most ~100 buckets reach the horizon whatever its distance (a 3-day horizon with a
    15-minute step would otherwise be 288 buckets).
    """
    if not (math.isfinite(time_step_minutes) and time_step_minutes > 0):
        raise ValueError("`time_step_minutes` must be a positive finite number of minutes")
    if not math.isfinite(minutes_to_horizon):
        raise ValueError("`minutes_to_horizon` must be finite")
    return float(max(time_step_minutes, math.ceil(max(minutes_to_horizon, 0.0) / MAX_BUCKETS)))


def payoff_delta(spot: float, strike: np.ndarray, is_call: np.ndarray) -> np.ndarray:
    """Delta at settlement per option share: calls 1 (S > K), 0 (S < K), 0.5 (S == K);
    puts the call minus 1 (-1, 0, -0.5)."""
    call = np.where(spot > strike, 1.0, np.where(spot < strike, 0.0, 0.5))
    return np.where(is_call, call, call - 1.0)


def delta_charm(
    S: float,
    K: np.ndarray,
    tau: np.ndarray,
    sigma: np.ndarray,
    r: float,
    q: float,
    is_call: NDArray[np.bool_] | bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Spot delta (per share) and charm (per calendar day) of Black-76 on F = S e^{(r-q) tau}.

    The lean kernel of `black76.greeks` (same formulas, only the two greeks this module
    needs; a test checks they agree). Inputs broadcast and must be valid (tau, sigma, K > 0):
    the caller masks. charm = q * delta - e^{-q tau} phi(d1) (2 (r-q) tau - d2 sigma sqrt(tau))
    / (2 tau sigma sqrt(tau)), per year / 365.
    """
    sig_sqrt = sigma * np.sqrt(tau)
    d1 = (np.log(S) - np.log(K) + (r - q) * tau + 0.5 * sig_sqrt * sig_sqrt) / sig_sqrt
    d2 = d1 - sig_sqrt
    eq = np.exp(-q * tau)
    if is_call is True:  # calls only (the charm integral): the same values, two passes fewer
        delta = eq * ndtr(d1)
    else:
        sign = np.where(is_call, 1.0, -1.0)
        delta = sign * eq * ndtr(sign * d1)
    common = eq * norm_pdf(d1) * (2.0 * (r - q) * tau - d2 * sig_sqrt) / (2.0 * tau * sig_sqrt)
    charm = (q * delta - common) / DAYS_PER_YEAR
    return delta, charm


#: Bounds beyond which a multiplier or a position is a bad input, not a trade: the largest
#: listed multipliers are 1000 (jumbo) and open interest stays below 1e8 contracts. They keep
#: every $ weight, and every sum of them, far from float overflow.
MAX_MULTIPLIER = 1e6
MAX_POSITION = 1e12


def valid_options(book: ExpiryBook) -> NDArray[np.bool_]:
    """Options whose greeks and weights are defined; the rest are masked and counted:
    non-finite or non-positive strike or IV, non-finite position or |position| > 1e12,
    multiplier not in (0, 1e6]."""
    return valid_arrays(book.strike, book.iv, book.position, book.multiplier)


def valid_arrays(
    strike: np.ndarray, iv: np.ndarray, position: np.ndarray, multiplier: np.ndarray
) -> NDArray[np.bool_]:
    """`valid_options` on option arrays (of one book, or of several concatenated)."""
    with np.errstate(invalid="ignore"):
        ok: NDArray[np.bool_] = (
            np.isfinite(strike)
            & (strike > 0)
            & np.isfinite(iv)
            & (iv > 0)
            & (np.abs(position) <= MAX_POSITION)
            & (multiplier > 0)
            & (multiplier <= MAX_MULTIPLIER)
        )
    return ok


def compute_charm_integral(
    book: ExpiryBook,
    *,
    now: datetime,
    horizon: datetime,
    config: CharmIntegralConfig = CharmIntegralConfig(),  # noqa: B008 - frozen, immutable
) -> CharmIntegral:
    """Exact charm integral of one expiry from `now` to `horizon`.

    Parameters
    ----------
    book : the expiry's options (spot, smoothed IV per option, positions, multipliers, r, q).
    now : aware datetime, start of the integral; tau(now) = expiration - now (365-day).
    horizon : aware datetime, end of the integral (see the module docstring for the rule);
        clamped to the expiration.
    config : bucket width (`time_step_minutes`, raised to keep <= ~100 buckets).

    Returns
    -------
    CharmIntegral with, per bucket j (ending at `bucket_time[j]`, epoch seconds):
    `cumulative_cex[j]` = D(t_j) - D(now) in $ of dealer delta, `instantaneous_cex[j]` in $
    per calendar day at t_j, `bucket_minutes_remaining[j]` minutes from t_j to the horizon;
    `total_charm_to_close` = the last cumulative value (0 with no bucket); `settlement_step`
    in $ (0 unless the horizon is the expiry); per strike (ascending `contribution_strikes`)
    `strike_contribution` = D_K(last bucket) - D_K(now) in $ (sums to the total),
    `fraction_of_total` = contribution / total (NaN when the total is 0) and
    `strike_settlement_step`; `cex_now` = instantaneous CEX at `now`, $ per day.
    Positive cumulative: dealers' delta rises, so dealers sell.
    """
    if now.tzinfo is None or horizon.tzinfo is None:
        raise ValueError("`now` and `horizon` must be timezone-aware")
    spot = float(book.spot)
    if not (math.isfinite(spot) and spot > 0):
        raise ValueError("`book.spot` must be a positive finite price")

    valid = valid_options(book)
    K, sigma, is_call, pos, mult = (
        np.asarray(book.strike, dtype=np.float64),
        np.asarray(book.iv, dtype=np.float64),
        np.asarray(book.is_call, dtype=bool),
        np.asarray(book.position, dtype=np.float64),
        np.asarray(book.multiplier, dtype=np.float64),
    )
    masked = int(valid.size - np.count_nonzero(valid))
    if masked:
        K, sigma, is_call, pos, mult = (
            K[valid],
            sigma[valid],
            is_call[valid],
            pos[valid],
            mult[valid],
        )
    weight = pos * mult * spot  # $ of dealer delta per unit of option delta
    r, q = float(book.r), float(book.q)

    reaches_expiry = horizon >= book.expiration
    end = book.expiration if reaches_expiry else horizon
    total_seconds = max((end - now).total_seconds(), 0.0)
    tau_now_s = (book.expiration - now).total_seconds()

    minutes = total_seconds / 60.0
    step_s = charm_step_minutes(minutes, config.time_step_minutes) * 60.0
    # Tolerance so that 390 minutes in 15-minute steps is 26 buckets, not 27.
    n = math.ceil(total_seconds / step_s - 1e-9) if total_seconds > 0 else 0
    ends_s = np.minimum(np.arange(1, n + 1, dtype=np.float64) * step_s, total_seconds)

    # Put-call parity per option share: Delta_put = Delta_call - e^{-q tau} and
    # charm_put = charm_call - q e^{-q tau} / 365 (payoff: put = call - 1), so the grid only
    # needs call greeks per distinct (strike, IV), with each group's net weight W and its
    # put weight Wp: D = sum W Delta_call - e^{-q tau} sum Wp. Halves the work.
    put_weight = np.where(is_call, 0.0, weight)
    same_k = K[1:] == K[:-1]
    if bool((K[1:] >= K[:-1]).all()) and bool((~same_k | (sigma[1:] == sigma[:-1])).all()):
        Ks, sig_s = K, sigma  # a book's order (strike ascending, one IV per strike)
    else:
        order = np.lexsort((sigma, K))
        Ks, sig_s, weight, put_weight = K[order], sigma[order], weight[order], put_weight[order]
    start = np.ones(Ks.size, dtype=bool)
    start[1:] = (Ks[1:] != Ks[:-1]) | (sig_s[1:] != sig_s[:-1])
    group = np.cumsum(start) - 1
    Kg, sig_g = Ks[start], sig_s[start]
    W = np.bincount(group, weights=weight, minlength=Kg.size)
    Wp = np.bincount(group, weights=put_weight, minlength=Kg.size)
    put_total = float(Wp.sum())
    # distinct strikes of the (ascending) group strikes: np.unique without its sort
    new_k = np.ones(Kg.size, dtype=bool)
    new_k[1:] = Kg[1:] != Kg[:-1]
    strikes, strike_index = Kg[new_k], np.cumsum(new_k) - 1
    payoff_call = payoff_delta(spot, Kg, np.ones(Kg.size, dtype=bool))

    if tau_now_s < MIN_TAU_SECONDS:
        # Already inside the last minute: every option is its payoff, nothing moves.
        call_all = np.broadcast_to(payoff_call, (n + 1, Kg.size))
        charm_all = np.zeros((n + 1, Kg.size))
        eq_all = np.ones(n + 1)
        put_charm = np.zeros(n + 1)
    else:
        tau_b = tau_now_s - ends_s
        if reaches_expiry:
            # The last bucket(s) stop at the last pre-expiry point; the jump is settlement.
            tau_b = np.maximum(tau_b, MIN_TAU_SECONDS)
        by_payoff = tau_b < MIN_TAU_SECONDS  # horizon inside the last minute, not the expiry
        # One broadcast call: row 0 is now, rows 1..n the bucket ends.
        tau_all = np.concatenate(([tau_now_s], np.where(by_payoff, MIN_TAU_SECONDS, tau_b)))
        tau_y = tau_all / SECONDS_PER_YEAR
        call_all, charm_all = delta_charm(
            spot, Kg[None, :], tau_y[:, None], sig_g[None, :], r, q, True
        )
        eq_all = np.exp(-q * tau_y)
        put_charm = q * eq_all / DAYS_PER_YEAR  # charm_call - charm_put, per day
        rows = np.concatenate(([False], by_payoff))
        call_all[rows] = payoff_call
        charm_all[rows] = 0.0
        eq_all[rows] = 1.0
        put_charm[rows] = 0.0

    D = call_all @ W - eq_all * put_total  # $ at now and at each bucket end
    cex = charm_all @ W - put_charm * put_total  # $ per day
    cumulative = D[1:] - D[0]
    instantaneous = cex[1:]
    last = n  # row of the last bucket (0 = now when there is none)
    per_group = (call_all[last] - call_all[0]) * W - (eq_all[last] - eq_all[0]) * Wp
    if reaches_expiry and n > 0:
        settle_group = (payoff_call - call_all[last]) * W - (1.0 - eq_all[last]) * Wp
    else:
        settle_group = np.zeros(Kg.size)
    strike_contribution = np.bincount(strike_index, weights=per_group, minlength=strikes.size)
    strike_settlement = np.bincount(strike_index, weights=settle_group, minlength=strikes.size)
    total = float(cumulative[-1]) if n > 0 else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = strike_contribution / total if total != 0.0 else np.full(strikes.size, np.nan)

    now_epoch = now.timestamp()
    return CharmIntegral(
        spot=spot,
        expiration=book.expiration,
        computed_at=now,
        horizon=end,
        minutes_remaining=minutes,
        total_charm_to_close=total,
        settlement_step=float(settle_group.sum()),
        bucket_minutes_remaining=(total_seconds - ends_s) / 60.0,
        bucket_time=now_epoch + ends_s,
        instantaneous_cex=instantaneous,
        cumulative_cex=cumulative,
        contribution_strikes=strikes,
        strike_contribution=strike_contribution,
        fraction_of_total=fraction,
        cex_now=float(cex[0]),
        strike_settlement_step=strike_settlement,
        masked_options=masked,
    )
