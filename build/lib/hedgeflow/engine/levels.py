"""The standard levels of a scope (docs/METHOD.md "Levels").

- call wall / put wall: the strike with the largest |GEX| of the scope's calls / puts
  (GEX_i = pos m gamma S^2 0.01 per option, summed per strike over the scope's expiries);
  and by open interest: the strike with the most call / put contracts open;
- absolute-gamma strike: the largest |call GEX| + |put GEX|;
- zero gamma: the whole book's fixed-IV gamma zero nearest spot, and how many there are;
- flip levels: the zero crossings of the repriced impulse over the scope;
- max pain: the strike P minimizing what the scope's options pay their holders at
  settlement, sum_calls OI m max(P - K, 0) + sum_puts OI m max(K - P, 0) (open interest,
  whatever the positioning);
- expected move: S sigma_ATM sqrt(tau) to the nearest expiry's settlement in the scope;
- attractors: the summed curve's nearest basins above and below spot;
- net DEX: sum pos m Delta S over the scope's options, $ of underlying (the dealers' delta;
  their hedge is its negative).

Every level is listed nearest spot first with its distance in points and percent, and its
price on the mapped future (`hedgeflow.engine.futures`) when there is one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hedgeflow.engine.black76 import MIN_GREEK_TAU
from hedgeflow.engine.book import ExpiryBook
from hedgeflow.engine.chain import OptionChain
from hedgeflow.engine.charm import delta_charm, payoff_delta, valid_options
from hedgeflow.engine.exposure import option_exposures
from hedgeflow.engine.types import (
    ExpiryAnalysis,
    ExpiryRow,
    FuturesBasis,
    LevelEntry,
    Levels,
)


def _argmax_strike(strikes: np.ndarray, values: np.ndarray) -> float | None:
    """The strike of the largest value (the lowest strike on a tie); None when every value
    is 0 or there is none."""
    if values.size == 0 or not np.nanmax(values) > 0:
        return None
    return float(strikes[int(np.nanargmax(values))])


def per_strike(
    strikes: np.ndarray, values: np.ndarray, is_call: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unique strikes ascending, calls' values summed per strike, puts' summed)."""
    k, inv = np.unique(strikes, return_inverse=True)
    call = np.bincount(inv, weights=np.where(is_call, values, 0.0), minlength=k.size)
    put = np.bincount(inv, weights=np.where(is_call, 0.0, values), minlength=k.size)
    return k, call, put


def _cum(a: np.ndarray) -> np.ndarray:
    """Prefix sums with a leading 0: _cum(a)[i] = sum(a[:i])."""
    out: np.ndarray = np.concatenate(([0.0], np.cumsum(a)))
    return out


def max_pain(strike: np.ndarray, is_call: np.ndarray, weight: np.ndarray) -> float | None:
    """The strike P (among the listed ones) minimizing sum_calls w max(P - K, 0) +
    sum_puts w max(K - P, 0), w = open interest x multiplier; prefix sums, O(n log n).
    None without open interest."""
    ok = np.isfinite(strike) & np.isfinite(weight) & (weight > 0)
    K, call, w = strike[ok], is_call[ok], weight[ok]
    if K.size == 0:
        return None
    p = np.unique(K)
    order = np.argsort(K)
    Ks, cs, ws = K[order], call[order], w[order]
    wc, wp = np.where(cs, ws, 0.0), np.where(cs, 0.0, ws)
    cwc, ckc = _cum(wc), _cum(wc * Ks)
    cwp, ckp = _cum(wp), _cum(wp * Ks)
    below = np.searchsorted(Ks, p, side="left")  # options with K < P
    upto = np.searchsorted(Ks, p, side="right")  # options with K <= P
    calls = p * cwc[below] - ckc[below]
    puts = (ckp[-1] - ckp[upto]) - p * (cwp[-1] - cwp[upto])
    return float(p[int(np.argmin(calls + puts))])


def net_dex(books: Sequence[ExpiryBook]) -> float:
    """sum pos m Delta S over the books' valid options, $ of underlying; Delta the Black-76
    spot delta at the option's smoothed IV (its payoff delta below 60 s to settlement)."""
    total = 0.0
    for b in books:
        ok = valid_options(b)
        K, iv, call = b.strike[ok], b.iv[ok], b.is_call[ok]
        weight = b.position[ok] * b.multiplier[ok] * b.spot
        if b.tau >= MIN_GREEK_TAU:
            delta, _ = delta_charm(b.spot, K, np.full(K.size, b.tau), iv, b.r, b.q, call)
        else:
            delta = payoff_delta(b.spot, K, call)
        total += float(np.dot(weight, delta))
    return total


def _nearest(levels: Sequence[float], spot: float) -> float | None:
    finite = [x for x in levels if math.isfinite(x)]
    return min(finite, key=lambda x: abs(x - spot)) if finite else None


def compute_levels(
    chain: OptionChain,
    books: Sequence[ExpiryBook],
    analysis: ExpiryAnalysis,
    rows: Sequence[ExpiryRow],
    futures: FuturesBasis | None,
) -> Levels:
    """The levels of the scope whose books are `books` (see the module docstring)."""
    spot = float(analysis.spot)
    if books:
        gex = np.concatenate([option_exposures(b)[0] for b in books])
        k, call_gex, put_gex = per_strike(
            np.concatenate([b.strike for b in books]),
            gex,
            np.concatenate([b.is_call for b in books]),
        )
    else:
        k = call_gex = put_gex = np.empty(0)
    epochs = np.array([b.expiration.timestamp() for b in books])
    rows_in = np.isin(chain.expiry, epochs) & np.isfinite(chain.open_interest)
    oi = chain.open_interest[rows_in]
    ko, call_oi, put_oi = per_strike(chain.strike[rows_in], oi, chain.is_call[rows_in])
    curve = analysis.hedge_flow.impulse_curve
    if analysis.repriced is not None:
        flips = tuple(sorted(c.price for c in analysis.repriced.flip_levels))
        zeros = tuple(sorted(analysis.repriced.zero_gamma_levels))
    else:
        flips = tuple(sorted(c.price for c in curve.zero_crossings))
        zeros = ()
    scoped = [r for r in rows if r.in_scope]
    em = scoped[0].expected_move if scoped else math.nan
    em_to = scoped[0].expiration if scoped else None
    values = dict(
        call_wall=_argmax_strike(k, np.abs(call_gex)),
        put_wall=_argmax_strike(k, np.abs(put_gex)),
        call_wall_oi=_argmax_strike(ko, call_oi),
        put_wall_oi=_argmax_strike(ko, put_oi),
        abs_gamma=_argmax_strike(k, np.abs(call_gex) + np.abs(put_gex)),
        zero_gamma=_nearest(zeros, spot),
        max_pain=max_pain(
            chain.strike[rows_in],
            chain.is_call[rows_in],
            oi * chain.multiplier[rows_in],
        ),
        attractor_above=curve.nearest_attractor_above,
        attractor_below=curve.nearest_attractor_below,
    )
    named: list[tuple[str, float | None]] = [
        ("call wall", values["call_wall"]),
        ("put wall", values["put_wall"]),
        ("call wall OI", values["call_wall_oi"]),
        ("put wall OI", values["put_wall_oi"]),
        ("abs gamma", values["abs_gamma"]),
        ("zero gamma", values["zero_gamma"]),
        *(("flip", f) for f in flips),
        ("max pain", values["max_pain"]),
        ("attractor above", values["attractor_above"]),
        ("attractor below", values["attractor_below"]),
    ]
    if math.isfinite(em) and em > 0:
        named += [("EM high", spot + em), ("EM low", spot - em)]
    factor = futures.factor if futures is not None else math.nan
    entries = sorted(
        (
            LevelEntry(
                name=name,
                price=float(price),
                distance=float(price) - spot,
                distance_percent=(float(price) - spot) / spot if spot else math.nan,
                futures=float(price) * factor,
            )
            for name, price in named
            if price is not None and math.isfinite(price)
        ),
        key=lambda e: abs(e.distance),
    )
    return Levels(
        spot=spot,
        zero_gamma_count=len(zeros),
        flip_levels=flips,
        nearest_flip=_nearest(flips, spot),
        expected_move=em,
        expected_move_to=em_to,
        net_dex=net_dex(books),
        futures=futures,
        entries=tuple(entries),
        **values,
    )
