"""One entry point from a normalized chain to everything the screen shows for one expiry.

chain -> live expiries -> ExpiryBook (parity forward, smile, positions) ->
per-strike exposures -> regime params + impulse curve + charm integral ->
pressure cloud (+ repriced profile and the all-expiry zero-gamma line for the
physical model). Pure: `now` is an argument, nothing reads the clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Literal

import numpy as np

from hedgeflow.engine.book import ExpiryBook
from hedgeflow.engine.books import build_expiry_book, build_expiry_books
from hedgeflow.engine.chain import OptionChain, sorted_unique
from hedgeflow.engine.charm import compute_charm_integral
from hedgeflow.engine.clock import NY, next_session_close
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import EngineModel, PositioningModel, PositionSource
from hedgeflow.engine.exposure import compute_exposures
from hedgeflow.engine.floe import analyze_hedge_flow_floe, compute_pressure_cloud_floe
from hedgeflow.engine.impulse import compute_hedge_impulse_curve
from hedgeflow.engine.pressure import compute_pressure_cloud
from hedgeflow.engine.regime import (
    SmileInterpolant,
    clamp_skew_stickiness,
    derive_regime_params,
    smile_interpolant,
)
from hedgeflow.engine.reprice import (
    attach_zero_gamma,
    compute_repriced_profile,
    level_search_range,
)
from hedgeflow.engine.smile import SkippedExpiry
from hedgeflow.engine.types import (
    CharmIntegralConfig,
    ExpiryAnalysis,
    ExposurePerExpiry,
    HedgeFlowAnalysis,
    HedgeImpulseConfig,
    IVSurface,
    RegimeParams,
)

SECONDS_PER_YEAR = 365.0 * 86400.0
REGIME_MIN_DAYS = 7.0

ExpiryChoice = float | date | Literal["0dte", "next"] | None


class AnalysisError(ValueError):
    """The chain cannot be analyzed as asked (no live expiry, unknown date, no usable quotes)."""


# More contracts than this on one option (root, expiry, strike, right) is a corrupt field,
# not a market: the largest open interest ever published on one US option is of order
# 1e6 contracts.
MAX_OPEN_INTEREST = 1e8

#: Diagnostics key: open interest (contracts) of the listed contracts the reader dropped;
#: when present, the analysis' first note says which (`input_notes`).
DROPPED_OI = "dropped open interest"


def _describe(chain: OptionChain, i: int) -> str:
    epoch = float(chain.expiry[i])
    when = f" {_ny_date(epoch).isoformat()}" if math.isfinite(epoch) else ""
    return f"{chain.root[i]}{when} {chain.strike[i]:g} {'call' if chain.is_call[i] else 'put'}"


def input_notes(chain: OptionChain) -> list[str]:
    """What the reader did to listed contracts that moves a number, for the screen.

    First (when any): the open interest carried by contracts the reader dropped
    (`chain.dropped_open_interest`: a bad symbol, an adjusted root, a duplicate row...), with
    the count of contracts dropped for each reason; a listed contract left out with its open
    interest changes every exposure and the all-expiry lines. Then what the source said
    about its own data (`chain.notes`: contracts a vendor truncated away). Then contracts
    merged because they settle together (a holiday-moved expiration), their open interest
    kept. Then contracts kept with their open interest zeroed (unreadable, negative or
    infinite).
    """
    notes: list[str] = []
    lost = sorted(
        ((r, oi) for r, oi in chain.dropped_open_interest.items() if oi > 0),
        key=lambda item: -item[1],
    )
    if lost:
        total = sum(oi for _, oi in lost)
        parts = ", ".join(
            f"{int(chain.dropped.get(r, 0)):,} {r.replace('_', ' ')} ({oi:,.0f})" for r, oi in lost
        )
        notes.append(f"{total:,.0f} open interest left out with dropped contracts: {parts}")
    # what the source said about its own data (a vendor that truncated the chain); after
    # the dropped open interest, which the status line's rule expects first
    notes.extend(chain.notes)
    merged = int(chain.dropped.get("merged_same_settlement", 0))
    if merged:
        notes.append(
            f"{merged:,} contracts of a holiday-moved expiration settle with another series: "
            "merged, open interest summed"
        )
    zeroed = int(chain.dropped.get("bad_open_interest", 0))
    if zeroed:
        # the contract is kept, its position is not: one such cell on a big strike can
        # turn the regime, and nothing else on screen would say why
        many = "contracts' open interest" if zeroed > 1 else "contract's open interest"
        notes.append(f"{zeroed:,} {many} unreadable, negative or infinite: counted as 0")
    return notes


def check_positions(chain: OptionChain, positions: np.ndarray | None) -> None:
    """Refuse a chain whose dealer positions cannot be right, naming the first bad contract.

    From open interest (positions None): a count is finite and >= 0 (feeds zero a missing
    one and count it), and at most MAX_OPEN_INTEREST; at least one contract holds some.
    Live positions: signed, NaN where unknown, but never infinite or beyond that bound.
    Masking such values would turn the whole book into zeros or one absurd strike, and the
    screen would read a confident "neutral" off corrupt data.
    """
    if positions is not None:
        pos = np.asarray(positions, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            bad = np.isinf(pos) | (np.abs(pos) > MAX_OPEN_INTEREST)
        if bad.any():
            i = int(np.argmax(bad))
            raise AnalysisError(
                f"implausible live position {pos[i]:.3g} contracts on {_describe(chain, i)} "
                f"(more than {MAX_OPEN_INTEREST:.0e})"
            )
        return
    oi = chain.open_interest
    finite = np.isfinite(oi)
    if not finite.all():
        i = int(np.argmin(finite))
        n = int((~finite).sum())
        raise AnalysisError(
            f"non-finite open interest ({oi[i]}) on {_describe(chain, i)}"
            + (f" and {n - 1} more contracts" if n > 1 else "")
        )
    negative = oi < 0
    if negative.any():
        i = int(np.argmax(negative))
        n = int(negative.sum())
        raise AnalysisError(
            f"negative open interest ({oi[i]:g}) on {_describe(chain, i)}"
            + (f" and {n - 1} more contracts" if n > 1 else "")
        )
    huge = oi > MAX_OPEN_INTEREST
    if huge.any():
        i = int(np.argmax(huge))
        raise AnalysisError(
            f"implausible open interest {oi[i]:.3g} contracts on {_describe(chain, i)} "
            f"(more than {MAX_OPEN_INTEREST:.0e})"
        )
    if not (oi > 0).any():
        raise AnalysisError("no open interest: every contract's open interest is 0")


def live_expiries(chain: OptionChain) -> np.ndarray:
    """Settlement epochs (s) still in the future at the snapshot's as-of time, ascending."""
    expiries = sorted_unique(chain.expiry[np.isfinite(chain.expiry)])
    return expiries[expiries > chain.as_of_epoch]


def _ny_date(epoch: float) -> date:
    return datetime.fromtimestamp(epoch, tz=UTC).astimezone(NY).date()


def _left_out_of_zero_gamma(
    chain: OptionChain,
    live: np.ndarray,
    built: Mapping[float, ExpiryBook],
    skipped: Mapping[float, str],
) -> str:
    """A note naming the live expiries the all-expiry zero-gamma line leaves out (no book
    could be built: too few IVs, no smile) and the open interest they carry, "" when none:
    a line that silently lacks an expiry is not the all-expiry line it claims to be."""
    out = [float(e) for e in live if float(e) not in built]
    if not out:
        return ""
    oi = chain.open_interest[np.isin(chain.expiry, np.asarray(out))]
    carried = float(np.sum(oi[np.isfinite(oi)]))
    shown = "; ".join(f"{_ny_date(e).isoformat()}: {skipped.get(e, 'skipped')}" for e in out[:3])
    more = f"; and {len(out) - 3} more" if len(out) > 3 else ""
    what = "expiry" if len(out) == 1 else "expiries"
    return (
        f"zero γ line leaves out {len(out)} {what} with {carried:,.0f} open interest "
        f"({shown}{more})"
    )


def select_expiries(chain: OptionChain, choice: ExpiryChoice) -> np.ndarray:
    """Candidate settlement epochs for `choice`, in order of preference.

    None / "next": every live expiry, nearest first (the first usable one is analyzed).
    "0dte": the live expiries settling on the snapshot's New York date.
    a date: the live expiries on that date, PM-settled series first (SPXW before SPX).
    a float: that exact settlement epoch.
    """
    return _select(chain, choice, live_expiries(chain))


def _select(chain: OptionChain, choice: ExpiryChoice, live: np.ndarray) -> np.ndarray:
    """`select_expiries` given the chain's live expiries."""
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
    if not (live == epoch).any():
        raise AnalysisError("the requested expiry is not live in the chain")
    return np.array([epoch])


def charm_horizon(now: datetime, expiration: datetime) -> datetime:
    """The charm integral's horizon: the expiry if it comes before the next session close
    (a same-day expiry), else today's close, and after the close the next session's close."""
    close = next_session_close(now)
    return expiration if expiration <= close else close


def _regime_iv(
    chain: OptionChain,
    config: EngineConfig,
    book: ExpiryBook,
    books: list[ExpiryBook],
    smile: SmileInterpolant | None = None,
    live: np.ndarray | None = None,
) -> tuple[float | None, ExpiryBook | None, RegimeParams | None]:
    """The IV on which the regime is classified, one per chain whichever expiry is viewed.

    The ATM IV of the nearest expiry at least 7 days out (calendar and trading clocks agree
    there), so that a 0DTE calendar-clock IV does not read as a crisis. Without one (a feed
    fetching only the nearest expirations), the farthest live expiry's ATM IV converted to
    trading time: on the real CBOE files a 0DTE calendar IV is 1.2-1.9x the >= 7-day IV, not
    the 2.3x the pure trading-time conversion assumes, so converting the 0DTE itself
    under-reads (SPX 2022-07-12, VIX 27: 0.126 "calm" against 0.235); a multi-day expiry
    dilutes that error. None when no such book can be built (`derive_regime_params` then
    converts the analyzed expiry's own IV). Returned with the book it came from and that
    book's regime params (horizon: its expiry), which the analysis reuses when that book
    is the analyzed one; `smile` is the analyzed book's interpolant, if built; `live`
    the chain's live expiries, if known.
    """
    live = live_expiries(chain) if live is None else live
    far = live[live - chain.as_of_epoch >= REGIME_MIN_DAYS * 86400.0]
    convert = far.size == 0
    candidates = live[::-1] if convert else far
    known = {b.expiration.timestamp(): b for b in (*books, book)}
    for epoch in candidates:  # the first buildable one; a handful at most
        reg_book = known.get(float(epoch))
        if reg_book is None:
            try:
                reg_book = build_expiry_book(
                    chain, float(epoch), r=config.rate, positioning=config.effective_positioning
                )
            except SkippedExpiry:
                continue
        params = derive_regime_params(
            reg_book.surface,
            reg_book.spot,
            horizon_tau=reg_book.tau,
            skew_stickiness=config.impulse.skew_stickiness,
            smile=smile if reg_book is book else None,
        )
        iv = params.regime_iv if convert else params.atm_iv
        return (iv if math.isfinite(iv) else None), reg_book, params
    return None, None, None


def analyze_hedge_flow(
    exposure: ExposurePerExpiry,
    surface: IVSurface,
    *,
    now: datetime,
    model: EngineModel = EngineModel.PHYSICAL,
    book: ExpiryBook | None = None,
    horizon: datetime | None = None,
    impulse_config: HedgeImpulseConfig = HedgeImpulseConfig(),  # noqa: B008 (frozen)
    charm_config: CharmIntegralConfig = CharmIntegralConfig(),  # noqa: B008 (frozen)
    regime_iv: float | None = None,
    positioning: PositioningModel = PositioningModel.STANDARD,
) -> HedgeFlowAnalysis:
    """Regime params, impulse curve and charm integral of one expiry.

    model FLOE reproduces the original library on (exposure, surface) alone (its positioning
    is floe's, applied by whoever built the exposures). `positioning` only labels the result. The physical
    model's charm integral is exact, so it needs the expiry's options: `book` (and the
    horizon, by default `charm_horizon(now, expiration)`).
    """
    if model is EngineModel.FLOE:
        return analyze_hedge_flow_floe(
            exposure, surface, now=now, impulse_config=impulse_config, charm_config=charm_config
        )
    if book is None:
        raise ValueError(
            "the physical model needs the expiry's `book` for the exact charm integral"
        )
    return _physical_hedge_flow(
        exposure,
        surface,
        now=now,
        book=book,
        horizon=horizon,
        impulse_config=impulse_config,
        charm_config=charm_config,
        regime_iv=regime_iv,
        positioning=positioning,
    )


def _physical_hedge_flow(
    exposure: ExposurePerExpiry,
    surface: IVSurface,
    *,
    now: datetime,
    book: ExpiryBook,
    horizon: datetime | None,
    impulse_config: HedgeImpulseConfig,
    charm_config: CharmIntegralConfig,
    regime_iv: float | None,
    positioning: PositioningModel,
    smile: SmileInterpolant | None = None,
    known: tuple[ExpiryBook | None, RegimeParams | None] = (None, None),
) -> HedgeFlowAnalysis:
    """`analyze_hedge_flow` of the physical model. `smile`: the surface's interpolant if
    already built; `known`: a (book, regime params at its expiry) pair from `_regime_iv`,
    reused when it is this book, horizon and regime IV (the same call's result)."""
    horizon = horizon or charm_horizon(now, book.expiration)
    if smile is None:  # one interpolant for the regime fit and the impulse curve
        smile = smile_interpolant(surface)
    horizon_tau = max((horizon - now).total_seconds(), 0.0) / SECONDS_PER_YEAR
    horizon_tau = horizon_tau if horizon_tau > 0 else book.tau
    known_book, known_regime = known
    if (
        known_regime is not None
        and known_book is book
        and surface is book.surface
        and exposure.spot == book.spot
        and horizon_tau == book.tau
        and known_regime.skew_stickiness == clamp_skew_stickiness(impulse_config.skew_stickiness)
        and (regime_iv is None or regime_iv == known_regime.regime_iv)
        and "regime_iv_unconverted" not in known_regime.diagnostics
    ):
        regime = known_regime  # the very call `_regime_iv` made
    else:
        regime = derive_regime_params(
            surface,
            exposure.spot,
            horizon_tau=horizon_tau,
            skew_stickiness=impulse_config.skew_stickiness,
            regime_iv=regime_iv,
            smile=smile,
        )
    return HedgeFlowAnalysis(
        model=EngineModel.PHYSICAL,
        positioning=positioning,
        regime_params=regime,
        impulse_curve=compute_hedge_impulse_curve(
            exposure, surface, now=now, config=impulse_config, smile=smile
        ),
        charm_integral=compute_charm_integral(book, now=now, horizon=horizon, config=charm_config),
    )


def checked_inputs(
    chain: OptionChain,
    now: datetime | None,
    config: EngineConfig | None,
    positions: np.ndarray | None,
) -> tuple[EngineConfig, datetime, np.ndarray]:
    """What every analysis checks first (`analyze_chain`, `scope.analyze_scope`): the
    config (default `EngineConfig()`), `now` (default the snapshot's as-of; must be aware),
    a chain with contracts and positions that can be right (`check_positions`); returns
    them with the chain's live expiries. ValueError for a naive `now`, AnalysisError else."""
    config = config or EngineConfig()
    now = now or chain.as_of
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    if len(chain) == 0:
        raise AnalysisError("the chain has no contracts")
    check_positions(chain, positions)
    return config, now, live_expiries(chain)


def build_books(
    chain: OptionChain,
    config: EngineConfig,
    position: np.ndarray | None = None,
    *,
    expiries: np.ndarray | None = None,
) -> tuple[dict[float, ExpiryBook], dict[float, str]]:
    """Books of `expiries` (default: every live expiry) in one vectorized pass, keyed by
    settlement epoch, and the reasons the others were skipped. A book needs a smile: a
    series in its last minute without one is skipped, not built on NaN IVs."""
    wanted = live_expiries(chain) if expiries is None else expiries
    books, skipped = build_expiry_books(
        chain,
        wanted,
        r=config.rate,
        positioning=config.effective_positioning,
        position=position,
        payoff_only=False,
    )
    return {b.expiration.timestamp(): b for b in books}, skipped


def analyze_chain(
    chain: OptionChain,
    *,
    now: datetime | None = None,
    config: EngineConfig | None = None,
    expiry: ExpiryChoice = None,
    positions: np.ndarray | None = None,
    futures_price: float | None = None,
    all_expiries: bool = True,
    prebuilt: tuple[Mapping[float, ExpiryBook], Mapping[float, str]] | None = None,
) -> ExpiryAnalysis:
    """Analyze one expiry of `chain`.

    now : evaluation time (aware); defaults to the snapshot's as-of time. Greeks and IVs
        are always on the snapshot's clock (tau from `chain.as_of`).
    expiry : see `select_expiries`; the first candidate whose smile can be built is used.
    positions : dealers' live signed positions per chain row (None: the positioning model
        applied to open interest).
    all_expiries : also build every live expiry's book for the zero-gamma line (physical).
    prebuilt : (books by settlement epoch, skip reasons) already built by `build_books` for
        every live expiry (the scope analysis builds them once for every expiry it sums).
    Raises AnalysisError with a one-line reason when nothing can be analyzed, or when the
    chain's positions cannot be right (`check_positions`).
    """
    config, now, live = checked_inputs(chain, now, config, positions)
    candidates = _select(chain, expiry, live)
    positioning = config.effective_positioning
    physical_all = config.model is EngineModel.PHYSICAL and all_expiries
    # every live expiry in one pass when the zero-gamma line needs them all, else the
    # candidates (the first buildable one is analyzed)
    if prebuilt is not None:
        by_epoch, skipped = dict(prebuilt[0]), dict(prebuilt[1])
    else:
        by_epoch, skipped = build_books(
            chain, config, positions, expiries=live if physical_all else candidates
        )
    reasons: list[str] = []
    book: ExpiryBook | None = None
    for epoch in candidates:
        book = by_epoch.get(float(epoch))
        if book is not None:
            break
        reasons.append(
            f"{_ny_date(float(epoch)).isoformat()}: {skipped.get(float(epoch), 'skipped')}"
        )
    if book is None:
        raise AnalysisError("no usable expiry: " + "; ".join(reasons[:3]))
    # the book's own warnings (untrusted spot, vendor IV fallbacks) are for the screen too
    # what the reader left out comes first: the status line shows the first note
    notes = [*input_notes(chain), *book.notes, *(f"skipped {r}" for r in reasons)]

    exposure = compute_exposures(book)
    surface = book.surface
    books = sorted(by_epoch.values(), key=lambda b: b.tau) if physical_all else []
    if config.model is EngineModel.FLOE:
        hedge_flow = analyze_hedge_flow(
            exposure,
            surface,
            now=now,
            model=config.model,
            book=book,
            impulse_config=config.impulse,
            charm_config=config.charm,
            regime_iv=_regime_iv(chain, config, book, books, live=live)[0],
            positioning=positioning,
        )
    else:
        # one interpolant of the analyzed smile for the regime fit, the curve and the
        # repriced profile (and the regime fit itself reused when it is of this book)
        smile = smile_interpolant(surface)
        regime_iv, reg_book, reg_params = _regime_iv(chain, config, book, books, smile, live)
        hedge_flow = _physical_hedge_flow(
            exposure,
            surface,
            now=now,
            book=book,
            horizon=None,
            impulse_config=config.impulse,
            charm_config=config.charm,
            regime_iv=regime_iv,
            positioning=positioning,
            smile=smile,
            known=(reg_book, reg_params),
        )
    repriced = None
    if config.model is EngineModel.FLOE:
        cloud = compute_pressure_cloud_floe(
            hedge_flow.impulse_curve, hedge_flow.regime_params, config.cloud, now=now
        )
    else:
        curve = hedge_flow.impulse_curve
        cloud = compute_pressure_cloud(
            curve,
            hedge_flow.regime_params,
            config.cloud,
            now=now,
            futures_price=futures_price,
            impulse_total=curve.impulse_total,
        )
        # levels are searched wider than the plotted window: ±3 expected moves of this
        # expiry, at least ±10 % (`level_search_range`, docs/METHOD.md "Level search")
        search = level_search_range(book.spot, hedge_flow.regime_params.atm_iv, book.tau)
        repriced = compute_repriced_profile(
            book,
            curve.price,
            skew_stickiness=config.impulse.skew_stickiness,
            smile=smile,
            search_range=search,
        )
        if books:
            repriced = attach_zero_gamma(repriced, books)
            left_out = _left_out_of_zero_gamma(chain, live, by_epoch, skipped)
            if left_out:
                notes.append(left_out)
    diagnostics = {k: int(v) for k, v in dict(book.diagnostics).items()}
    for reason, count in chain.dropped.items():
        diagnostics[f"dropped: {reason}"] = int(count)
    lost_oi = sum(oi for oi in chain.dropped_open_interest.values() if oi > 0)
    if lost_oi > 0:  # notes[0] then says which contracts (`input_notes`)
        diagnostics[DROPPED_OI] = round(lost_oi)
    return ExpiryAnalysis(
        symbol=chain.symbol,
        expiration=book.expiration.astimezone(NY),
        roots=book.roots,
        as_of=chain.as_of.astimezone(NY),
        computed_at=now,
        spot=book.spot,
        forward=book.forward,
        minutes_to_expiry=(book.expiration - chain.as_of).total_seconds() / 60.0,
        model=config.model,
        positioning=positioning,
        positions=PositionSource.LIVE if positions is not None else PositionSource.START_OF_DAY,
        surface=surface,
        exposure=exposure,
        hedge_flow=hedge_flow,
        pressure_cloud=cloud,
        repriced=repriced,
        expirations=tuple(datetime.fromtimestamp(float(e), tz=UTC).astimezone(NY) for e in live),
        notes=tuple(notes),
        diagnostics=diagnostics,
        rate=book.r,
        rate_source=book.rate_source,
    )
