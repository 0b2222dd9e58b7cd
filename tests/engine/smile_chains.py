"""Synthetic quoted chains for the chain-pipeline tests (smile, forward, exposures).

The true smile is SSVI (Gatheral & Jacquier, "Arbitrage-free SVI volatility surfaces",
2014): w(k) = theta/2 (1 + rho phi k + sqrt((phi k + rho)^2 + 1 - rho^2)) with
phi = eta / sqrt(theta). It is free of butterfly arbitrage when
theta phi (1 + |rho|) <= 4 and theta phi^2 (1 + |rho|) <= 4 (their Theorem 4.2), which the
defaults satisfy (eta = 1, rho = -0.7). Quotes are Black-76 prices on F = S e^{(r-q) tau}
put on a tick grid with SPX-like spreads (0.05 below 3 points, 0.10 above, at least 2 % of
the price), bid floored to the tick and ask ceiled, so bid <= model <= ask; a bid that
would be 0 makes the quote one-sided.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np

from hedgeflow.engine.black76 import price
from hedgeflow.engine.chain import OptionChain, make_chain

AS_OF = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # Monday 12:00 New York


def ssvi_iv(k: np.ndarray, tau: float, atm: float = 0.16, rho: float = -0.7, eta: float = 1.0):
    theta = atm * atm * tau
    phi = eta / math.sqrt(theta)
    w = 0.5 * theta * (1 + rho * phi * k + np.sqrt((phi * k + rho) ** 2 + 1 - rho * rho))
    return np.sqrt(w / tau)


def quotes(model: np.ndarray, rel_spread: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    tick = np.where(model < 3.0, 0.05, 0.10)
    half = np.maximum(tick, rel_spread * model) / 2.0
    bid = np.floor((model - half) / tick + 1e-9) * tick
    ask = np.ceil((model + half) / tick - 1e-9) * tick
    bid = np.where(bid < tick / 2, 0.0, bid)
    return bid, np.maximum(ask, tick)


def synthetic_chain(
    *,
    spot: float = 5000.0,
    minutes: float = 240.0,
    r: float = 0.045,
    q: float = 0.013,
    step: float = 5.0,
    width: float = 0.1,
    atm: float = 0.16,
    rho: float = -0.7,
    eta: float = 1.0,
    rel_spread: float = 0.02,
    seed: int = 0,
    as_of: datetime = AS_OF,
    chain_spot: float | None = None,
    extra_expiries: tuple[float, ...] = (),
    mid_noise: float = 0.0,
    root: str = "SPXW",
) -> tuple[OptionChain, dict[str, object]]:
    """A quoted chain (calls and puts at every strike) and the truth it was made from.

    minutes : time to settlement; width : strikes span spot * (1 -+ width);
    chain_spot : the spot the chain reports (default: the true spot);
    extra_expiries : further expiries (minutes) with the same construction;
    mid_noise : each quote moved as a whole (bid and ask together, on its tick grid) by a
        normal shift of this many spreads, so its mid is off the model (bid floored at 0).
    """
    rng = np.random.default_rng(seed)
    rows: dict[str, list[np.ndarray]] = {
        k: [] for k in ("K", "call", "exp", "bid", "ask", "oi", "viv")
    }
    truth: dict[str, object] = {}
    for i, mins in enumerate((minutes, *extra_expiries)):
        tau = mins * 60.0 / (365.0 * 86400.0)
        F = spot * math.exp((r - q) * tau)
        K = np.arange(math.ceil(spot * (1 - width) / step) * step, spot * (1 + width) + 1e-9, step)
        iv = ssvi_iv(np.log(K / F), max(tau, 1e-9), atm, rho, eta)  # settled: quotes NaN
        for call in (True, False):
            p = price(F, K, tau, iv, r, call)
            bid, ask = quotes(p, rel_spread)
            if mid_noise:
                tick = np.where(p < 3.0, 0.05, 0.10)
                shift = np.round(rng.normal(0.0, mid_noise, K.size) * (ask - bid) / tick) * tick
                bid, ask = np.maximum(bid + shift, 0.0), np.maximum(ask + shift, tick)
            rows["K"].append(K)
            rows["call"].append(np.full(K.size, call))
            rows["exp"].append(np.full(K.size, (as_of + timedelta(minutes=mins)).timestamp()))
            rows["bid"].append(bid)
            rows["ask"].append(ask)
            rows["oi"].append(rng.integers(0, 5000, K.size).astype(float))
            rows["viv"].append(iv * (1 + 0.05 * rng.standard_normal(K.size)))
        if i == 0:
            truth.update(F=F, tau=tau, strikes=K, iv=iv, r=r, q=q, spot=spot)
    cat = {k: np.concatenate(v) for k, v in rows.items()}
    chain = make_chain(
        symbol="SPX",
        spot=spot if chain_spot is None else chain_spot,
        as_of=as_of,
        root=root,
        strike=cat["K"],
        expiry=cat["exp"],
        is_call=cat["call"],
        bid=cat["bid"],
        ask=cat["ask"],
        open_interest=cat["oi"],
        vendor_iv=cat["viv"],
    )
    truth["expiry"] = (as_of + timedelta(minutes=minutes)).timestamp()
    return chain, truth


def expiry_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)
