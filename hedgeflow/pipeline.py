"""One entry point from a normalized chain to everything the screen shows for one expiry.

chain -> live expiries -> ExpiryBook (parity forward, smile, positions) ->
per-strike exposures -> regime params + impulse curve + charm integral ->
pressure cloud (+ repriced profile and the all-expiry zero-gamma line for the
physical model). Pure: `now` is an argument, nothing reads the clock.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Literal

import numpy as np

from hedgeflow.book import ExpiryBook
from hedgeflow.chain import OptionChain
from hedgeflow.charm import compute_charm_integral
from hedgeflow.clock import NY, next_session_close
from hedgeflow.config import EngineConfig
from hedgeflow.enums import EngineModel
from hedgeflow.exposure import compute_exposures
from hedgeflow.floe import analyze_hedge_flow_floe, compute_pressure_cloud_floe
from hedgeflow.impulse import compute_hedge_impulse_curve
from hedgeflow.pressure import compute_pressure_cloud
from hedgeflow.regime import derive_regime_params
from hedgeflow.reprice import compute_repriced_profile, zero_gamma_profile
from hedgeflow.smile import SkippedExpiry, build_expiry_book
from hedgeflow.types import ExpiryAnalysis, HedgeFlowAnalysis

SECONDS_PER_YEAR = 365.0 * 86400.0
REGIME_MIN_DAYS = 7.0

ExpiryChoice = float | date | Literal["0dte", "next"] | None


class AnalysisError(ValueError):
    """The chain cannot be analyzed as asked (no live expiry, unknown date, no usable quotes)."""


def live_expiries(chain: OptionChain) -> np.ndarray:
    """Settlement epochs (s) still in the future at the snapshot's as-of time, ascending."""
    expiries = np.unique(chain.expiry[np.isfinite(chain.expiry)])
    return expiries[expiries > chain.as_of_epoch]


def _ny_date(epoch: float) -> date:
    return datetime.fromtimestamp(epoch, tz=UTC).astimezone(NY).date()


def select_expiries(chain: OptionChain, choice: ExpiryChoice) -> np.ndarray:
    """Candidate settlement epochs for `choice`, in order of preference.

    None / "next": every live expiry, nearest first (the first usable one is analyzed).
    "0dte": the live expiries settling on the snapshot's New York date.
    a date: the live expiries on that date, PM-settled series first (SPXW before SPX).
    a float: that exact settlement epoch.
    """
    live = live_expiries(chain)
    if live.size == 0:
        raise AnalysisError("no live expiry in the chain (every series has expired)")
    if choice is None or choice == "next":
        return live
    if choice == "0dte":
        today = chain.as_of.astimezone(NY).date()
        same_day = live[[_ny_date(e) == today for e in live]]
        if same_day.size == 0:
            raise AnalysisError(f"no live expiry settles today ({today.isoformat()})")
        return same_day[::-1]
    if isinstance(choice, date):
        on_date = live[[_ny_date(e) == choice for e in live]]
        if on_date.size == 0:
            dates = sorted({_ny_date(e).isoformat() for e in live})
            shown = ", ".join(dates[:6]) + (" ..." if len(dates) > 6 else "")
            raise AnalysisError(f"no live expiry on {choice.isoformat()} (live: {shown})")
        return on_date[::-1]
    epoch = float(choice)
    if not np.any(live == epoch):
        raise AnalysisError("the requested expiry is not live in the chain")
    return np.array([epoch])


def charm_horizon(now: datetime, expiration: datetime) -> datetime:
    """The charm integral's horizon: the expiry if it comes before the next session close
    (a same-day expiry), else today's close, and after the close the next session's close."""
    close = next_session_close(now)
    return expiration if expiration <= close else close


def _regime_iv(chain: OptionChain, config: EngineConfig, expiration_epoch: float) -> float | None:
    """ATM IV of the nearest expiry at least 7 days out, on which the regime is classified,
    so that a 0DTE calendar-clock IV does not read as a crisis. None when the chain has none
    (the regime then uses the trading-time conversion)."""
    live = live_expiries(chain)
    far = live[live - chain.as_of_epoch >= REGIME_MIN_DAYS * 86400.0]
    if far.size == 0 or expiration_epoch >= far[0]:
        return None
    try:
        book = build_expiry_book(
            chain, float(far[0]), r=config.rate, positioning=config.effective_positioning
        )
    except SkippedExpiry:
        return None
    params = derive_regime_params(
        book.surface, book.spot, horizon_tau=book.tau, skew_stickiness=config.impulse.skew_stickiness
    )
    return params.atm_iv if math.isfinite(params.atm_iv) else None


def build_books(
    chain: OptionChain, config: EngineConfig, position: np.ndarray | None = None
) -> tuple[list[ExpiryBook], dict[str, int]]:
    """Books for every live expiry that can be built; skipped expiries counted by reason."""
    books: list[ExpiryBook] = []
    skipped: dict[str, int] = {}
    for epoch in live_expiries(chain):
        try:
            books.append(
                build_expiry_book(
                    chain,
                    float(epoch),
                    r=config.rate,
                    positioning=config.effective_positioning,
                    position=position,
                )
            )
        except SkippedExpiry as exc:
            key = f"expiry skipped: {exc}"
            skipped[key] = skipped.get(key, 0) + 1
    return books, skipped


def analyze_chain(
    chain: OptionChain,
    *,
    now: datetime | None = None,
    config: EngineConfig | None = None,
    expiry: ExpiryChoice = None,
    positions: np.ndarray | None = None,
    futures_price: float | None = None,
    all_expiries: bool = True,
) -> ExpiryAnalysis:
    """Analyze one expiry of `chain`.

    now : evaluation time (aware); defaults to the snapshot's as-of time. Greeks and IVs
        are always on the snapshot's clock (tau from `chain.as_of`).
    expiry : see `select_expiries`; the first candidate whose smile can be built is used.
    positions : dealers' live signed positions per chain row (None: the positioning model
        applied to open interest).
    all_expiries : also build every live expiry's book for the zero-gamma line (physical).
    Raises AnalysisError with a one-line reason when nothing can be analyzed.
    """
    config = config or EngineConfig()
    now = now or chain.as_of
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    if len(chain) == 0:
        raise AnalysisError("the chain has no contracts")
    candidates = select_expiries(chain, expiry)
    positioning = config.effective_positioning
    reasons: list[str] = []
    book: ExpiryBook | None = None
    for epoch in candidates:
        try:
            book = build_expiry_book(
                chain, float(epoch), r=config.rate, positioning=positioning, position=positions
            )
            break
        except SkippedExpiry as exc:
            reasons.append(f"{_ny_date(float(epoch)).isoformat()}: {exc}")
    if book is None:
        raise AnalysisError("no usable expiry: " + "; ".join(reasons[:3]))
    notes = [f"skipped {r}" for r in reasons]

    exposure = compute_exposures(book)
    surface = book.surface
    computed_at = now
    if config.model is EngineModel.FLOE:
        hedge_flow = analyze_hedge_flow_floe(
            exposure,
            surface,
            now=computed_at,
            impulse_config=config.impulse,
            charm_config=config.charm,
        )
        cloud = compute_pressure_cloud_floe(
            hedge_flow.impulse_curve, hedge_flow.regime_params, config.cloud, now=computed_at
        )
        repriced = None
    else:
        horizon = charm_horizon(now, book.expiration)
        horizon_tau = max((horizon - now).total_seconds(), 0.0) / SECONDS_PER_YEAR
        regime = derive_regime_params(
            surface,
            book.spot,
            horizon_tau=horizon_tau if horizon_tau > 0 else book.tau,
            skew_stickiness=config.impulse.skew_stickiness,
            regime_iv=_regime_iv(chain, config, float(book.expiration.timestamp())),
        )
        curve = compute_hedge_impulse_curve(exposure, surface, now=computed_at, config=config.impulse)
        charm = compute_charm_integral(book, now=now, horizon=horizon, config=config.charm)
        hedge_flow = HedgeFlowAnalysis(
            model=EngineModel.PHYSICAL,
            positioning=positioning,
            regime_params=regime,
            impulse_curve=curve,
            charm_integral=charm,
        )
        cloud = compute_pressure_cloud(
            curve,
            regime,
            config.cloud,
            now=computed_at,
            futures_price=futures_price,
            impulse_total=curve.impulse_total,
        )
        repriced = compute_repriced_profile(
            book, curve.price, skew_stickiness=config.impulse.skew_stickiness
        )
        if all_expiries:
            books, skipped = build_books(chain, config, positions)
            if books:
                zg, levels = zero_gamma_profile(books, curve.price)
                repriced = replace(
                    repriced,
                    zero_gamma_price=curve.price,
                    zero_gamma=zg,
                    zero_gamma_levels=levels,
                )
    diagnostics = {k: int(v) for k, v in dict(book.diagnostics).items()}
    for reason, count in chain.dropped.items():
        diagnostics[f"dropped: {reason}"] = int(count)
    live = live_expiries(chain)
    return ExpiryAnalysis(
        symbol=chain.symbol,
        expiration=book.expiration,
        roots=book.roots,
        as_of=chain.as_of,
        computed_at=computed_at,
        spot=book.spot,
        forward=book.forward,
        minutes_to_expiry=(book.expiration - chain.as_of).total_seconds() / 60.0,
        model=config.model,
        positioning=positioning,
        positions="live" if positions is not None else "start-of-day",
        surface=surface,
        exposure=exposure,
        hedge_flow=hedge_flow,
        pressure_cloud=cloud,
        repriced=repriced,
        expirations=tuple(datetime.fromtimestamp(float(e), tz=UTC).astimezone(NY) for e in live),
        notes=tuple(notes),
        diagnostics=diagnostics,
    )
