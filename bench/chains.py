"""Deterministic SPX-like chains for the benchmarks (not a market simulation: see feeds.sim).

A Tuesday 11:00 New York snapshot, PM-settled SPXW expiries on the next
sessions, 5-point strikes over +-10% of spot (240 strikes, 480 options per
expiry), quotes priced with Black-76 from a skewed smile with realistic
spreads, open interest concentrated near the money with walls at round strikes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from hedgeflow.engine.black76 import price
from hedgeflow.engine.chain import OptionChain, make_chain
from hedgeflow.engine.clock import NY, next_session, settlement_time

AS_OF = datetime(2025, 6, 10, 11, 0, tzinfo=NY)


def spx_like_chain(n_expiries: int = 1, *, seed: int = 0, spot: float = 6000.0) -> OptionChain:
    rng = np.random.default_rng(seed)
    r, q = 0.045, 0.013
    strikes = np.arange(round(spot * 0.90 / 5) * 5, spot * 1.10, 5.0)
    d = AS_OF.date()
    expiries = []
    for _ in range(n_expiries):
        expiries.append(settlement_time("SPXW", d))
        d = next_session(d)
    tau = np.array([(e - AS_OF).total_seconds() / 31_536_000.0 for e in expiries])
    K = np.tile(np.repeat(strikes, 2), len(expiries))
    is_call = np.tile(np.array([True, False]), len(strikes) * len(expiries))
    t = np.repeat(tau, 2 * len(strikes))
    exp_epoch = np.repeat([e.timestamp() for e in expiries], 2 * len(strikes))
    F = spot * np.exp((r - q) * t)
    x = np.log(K / F)
    atm = 0.12 + 0.04 / np.sqrt(1.0 + 50.0 * t)
    sigma = np.clip(atm - 0.9 * x + 3.0 * x * x, 0.05, 3.0)
    mid = price(F, K, t, sigma, r, is_call)
    half = np.maximum(0.05, 0.02 * mid)
    bid = np.maximum(np.round((mid - half) * 20) / 20, 0.0)
    ask = np.round((mid + half) * 20) / 20 + 0.05
    dist = (K - spot) / (0.03 * spot)
    wall = np.where(K % 100 == 0, 3.0, np.where(K % 25 == 0, 1.6, 1.0))
    oi = np.round(wall * 4000 * np.exp(-0.5 * dist * dist) * rng.uniform(0.5, 1.5, K.size))
    return make_chain(
        symbol="SPX",
        spot=spot,
        as_of=AS_OF,
        root="SPXW",
        strike=K,
        expiry=exp_epoch,
        is_call=is_call,
        bid=bid,
        ask=ask,
        last=mid,
        volume=np.round(oi * rng.uniform(0.0, 0.8, K.size)),
        open_interest=oi,
        vendor_iv=sigma,
        source="bench",
    )


def cboe_payload(n_contracts: int = 30_000, *, seed: int = 0) -> dict[str, Any]:
    """A CBOE delayed-quotes JSON payload (vendor format) of about `n_contracts` options."""
    per_expiry = 482
    chain = spx_like_chain(max(1, n_contracts // per_expiry), seed=seed)
    options = []
    for i in range(min(n_contracts, len(chain))):
        exp = datetime.fromtimestamp(chain.expiry[i], tz=NY)
        cp = "C" if chain.is_call[i] else "P"
        options.append(
            {
                "option": f"SPXW{exp:%y%m%d}{cp}{int(round(chain.strike[i] * 1000)):08d}",
                "bid": float(chain.bid[i]),
                "ask": float(chain.ask[i]),
                "iv": float(chain.vendor_iv[i]),
                "open_interest": float(chain.open_interest[i]),
                "volume": float(chain.volume[i]),
                "delta": 0.5,
                "gamma": 0.001,
                "last_trade_price": float(chain.last[i]),
                "last_trade_time": f"{AS_OF:%Y-%m-%dT%H:%M:%S}",
            }
        )
    stamp = (AS_OF + timedelta(minutes=15)).astimezone(UTC)  # CBOE stamps the file in UTC
    return {
        "timestamp": f"{stamp:%Y-%m-%d %H:%M:%S}",
        "data": {
            "symbol": "_SPX",
            "current_price": float(chain.spot),
            "close": float(chain.spot),
            "options": options,
        },
    }
