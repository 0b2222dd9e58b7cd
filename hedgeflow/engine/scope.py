"""The expiry scope: which expiries an analysis sums, and the sum itself.

docs/METHOD.md "Expiry scope". A scope names a set of live expiries: the nearest one
(the default, the single-expiry analysis of `pipeline.analyze_chain`), the ones settling
today (0DTE), on the next session, within N calendar days, all of them, or one chosen
expiry. `analyze_scope` builds every live expiry's book in one vectorized pass, analyzes
the nearest expiry of the scope with `analyze_chain` and, when the scope holds several,
replaces its results by the sums over the scope:

- impulse curve: sum_i of each expiry's own density H_i(S') (H_K = GEX_K - k_K VEX_K with
  that expiry's own smile coupling) on the common price grid; strike totals, gross and
  slope summed; crossings, extrema, asymmetry and regime re-derived from the sum;
- charm integral: each expiry's exact delta change to its own horizon (`charm_horizon`),
  summed bucket by bucket on the longest expiry's bucket times (an expiry whose horizon is
  earlier holds its last value); settlement steps summed and kept apart per expiry in
  the rows;
- repriced profile and flip levels: every expiry in the scope repriced at each S' and
  summed; the zero-gamma line stays the whole book's (every live expiry);
- pressure cloud: from the summed curve (regime parameters: the nearest expiry's);
- exposures: every per-strike array of `ExposurePerExpiry` summed on the union of strikes.

The surface, the regime parameters and `expiration` stay the nearest expiry's. Every
live expiry gets a compact `ExpiryRow`; `levels` (`hedgeflow.engine.levels`) is computed
over the scope. Pure: `now` is an argument.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

import numpy as np

from hedgeflow.engine.book import ExpiryBook
from hedgeflow.engine.chain import OptionChain
from hedgeflow.engine.charm import compute_charm_integral
from hedgeflow.engine.clock import NY, next_session
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import EngineModel
from hedgeflow.engine.expiry_scope import CYCLE, ExpiryScope, ScopeKind, _ny, parse_scope
from hedgeflow.engine.exposure import compute_exposures_many, sum_exposures
from hedgeflow.engine.futures import futures_basis
from hedgeflow.engine.impulse import analyze_curve, compute_hedge_impulse_curve
from hedgeflow.engine.impulse_regime import firmness, regime_inputs
from hedgeflow.engine.levels import compute_levels
from hedgeflow.engine.pipeline import (
    AnalysisError,
    ExpiryChoice,
    analyze_chain,
    build_books,
    charm_horizon,
    checked_inputs,
)
from hedgeflow.engine.pressure import compute_pressure_cloud
from hedgeflow.engine.regime import SmileInterpolant, atm_iv, smile_interpolant
from hedgeflow.engine.reprice import (
    _levels,
    _outer_grids,
    compute_repriced_profile,
    level_search_range,
    zero_gamma_profile,
)
from hedgeflow.engine.types import (
    CharmIntegral,
    ExpiryAnalysis,
    ExpiryRow,
    ExposurePerExpiry,
    HedgeImpulseCurve,
    RepricedProfile,
)

SECONDS_PER_DAY = 86400.0


def scope_expiries(chain: OptionChain, scope: ExpiryScope, live: np.ndarray) -> np.ndarray:
    """The live settlement epochs (ascending) in `scope`; the NEAREST scope lists every live
    expiry (the first buildable one is analyzed). AnalysisError when none is live."""
    if live.size == 0:
        raise AnalysisError("no live expiry in the chain (every series has expired)")
    kind = scope.kind
    if kind in (ScopeKind.NEAREST, ScopeKind.ALL):
        return live
    today = chain.as_of.astimezone(NY).date()
    dates = [_ny(float(e)).date() for e in live]
    if kind is ScopeKind.ZERO_DTE:
        out = live[[d == today for d in dates]]
    elif kind is ScopeKind.NEXT_SESSION:
        nxt = next_session(today)
        out = live[[d == nxt for d in dates]]
    elif kind is ScopeKind.WITHIN_DAYS:
        out = live[live - chain.as_of_epoch <= scope.days * SECONDS_PER_DAY]
    else:
        out = live[live == scope.expiry]
    if out.size == 0:
        raise AnalysisError(f"no live expiry in the scope {scope.label}")
    return out


# --------------------------------------------------------------------------- sums


def _on_union(
    strikes: Sequence[np.ndarray], values: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-strike values of several expiries summed on the union of their strikes."""
    k = np.concatenate(strikes) if strikes else np.empty(0)
    v = np.concatenate(values) if values else np.empty(0)
    union, inv = np.unique(k, return_inverse=True)
    return union, np.bincount(inv, weights=v, minlength=union.size)


def sum_curves(
    curves: Sequence[HedgeImpulseCurve], exposure: ExposurePerExpiry, eps: float, percent: float
) -> HedgeImpulseCurve:
    """The impulse curves of several expiries (one common grid) summed, and the curve
    analysis re-run on the sum (see the module docstring). The first curve is the nearest
    expiry's: its coupling at the forward, kernel width and spacing are kept."""
    base = curves[0]
    price = base.price

    def on_grid(c: HedgeImpulseCurve, values: np.ndarray) -> np.ndarray:
        # every book of a chain shares one spot, hence one grid; a curve on another grid
        # (a foreign caller's) is read off at the common prices, 0 beyond its own
        if c.price.shape == price.shape and np.array_equal(c.price, price):
            return values
        out: np.ndarray = np.interp(price, c.price, values, left=0.0, right=0.0)
        return out

    gamma = np.sum([on_grid(c, c.gamma) for c in curves], axis=0)
    vanna = np.sum([on_grid(c, c.vanna) for c in curves], axis=0)
    impulse = np.sum([on_grid(c, c.impulse) for c in curves], axis=0)
    total = float(sum(c.impulse_total for c in curves))
    gross = float(sum(float(np.abs(c.strike_impulse).sum()) for c in curves))
    analysis = analyze_curve(
        price,
        impulse,
        base.spot,
        impulse_total=total,
        impulse_gross=gross,
        eps=eps,
        asymmetry_percent=percent,
    )
    strikes, h_k = _on_union([c.strikes for c in curves], [c.strike_impulse for c in curves])
    # the scope's coupling per strike, k = (GEX - H) / VEX on the summed exposures: exact
    # in H = GEX - k VEX, 0 where the summed VEX is 0
    at = np.clip(np.searchsorted(exposure.strikes, strikes), 0, max(exposure.strikes.size - 1, 0))
    gex, vex = exposure.gamma[at], exposure.vanna[at]
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(vex != 0, (gex - h_k) / vex, 0.0)
    diagnostics: dict[str, int] = {}
    for c in curves:
        for reason, n in c.diagnostics.items():
            diagnostics[reason] = diagnostics.get(reason, 0) + n
    inputs = regime_inputs(total, gross, analysis.asymmetry)
    return replace(
        base,
        gamma=gamma,
        vanna=vanna,
        impulse=impulse,
        impulse_at_spot=float(impulse[price.size // 2]),
        slope_at_spot=float(sum(c.slope_at_spot for c in curves)),
        zero_crossings=analysis.zero_crossings,
        extrema=analysis.extrema,
        asymmetry=analysis.asymmetry,
        regime=analysis.regime,
        nearest_attractor_above=analysis.nearest_attractor_above,
        nearest_attractor_below=analysis.nearest_attractor_below,
        impulse_total=total,
        strikes=strikes,
        strike_impulse=h_k,
        strike_coupling=k,
        diagnostics=diagnostics,
        regime_inputs=inputs,
        regime_firmness=firmness(analysis.regime, inputs),
    )


def sum_charm(integrals: Sequence[CharmIntegral]) -> CharmIntegral:
    """Charm integrals of several expiries (each to its own horizon) summed: cumulative and
    instantaneous values on the bucket times of the one reaching farthest (an integral
    that ends earlier holds its last value and adds no rate after its end), totals,
    settlement steps and per-strike contributions summed."""
    longest = max(integrals, key=lambda c: (c.horizon, c.bucket_time.size))
    t = longest.bucket_time
    now = longest.computed_at.timestamp()
    cumulative = np.zeros(t.size)
    instantaneous = np.zeros(t.size)
    for c in integrals:
        if c.bucket_time.size == 0:
            continue
        xs = np.concatenate(([now], c.bucket_time))
        cumulative += np.interp(t, xs, np.concatenate(([0.0], c.cumulative_cex)))
        rate = np.interp(t, xs, np.concatenate(([c.cex_now], c.instantaneous_cex)), right=0.0)
        instantaneous += rate
    total = float(sum(c.total_charm_to_close for c in integrals))
    if t.size:  # every integral's last value is in the sum at the last bucket
        cumulative[-1] = total
    strikes, contribution = _on_union(
        [c.contribution_strikes for c in integrals], [c.strike_contribution for c in integrals]
    )
    _, settle = _on_union(
        [c.contribution_strikes for c in integrals if c.strike_settlement_step.size],
        [c.strike_settlement_step for c in integrals if c.strike_settlement_step.size],
    )
    if settle.size != strikes.size:
        settle = np.zeros(strikes.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = contribution / total if total != 0.0 else np.full(strikes.size, np.nan)
    return replace(
        longest,
        total_charm_to_close=total,
        settlement_step=float(sum(c.settlement_step for c in integrals)),
        cumulative_cex=cumulative,
        instantaneous_cex=instantaneous,
        contribution_strikes=strikes,
        strike_contribution=contribution,
        fraction_of_total=fraction,
        cex_now=float(sum(c.cex_now for c in integrals)),
        strike_settlement_step=settle,
        masked_options=int(sum(c.masked_options for c in integrals)),
    )


def sum_repriced(
    books: Sequence[ExpiryBook],
    smiles: Sequence[SmileInterpolant],
    base: RepricedProfile,
    *,
    skew_stickiness: float,
    search_range: tuple[float, float],
    eps: float,
) -> RepricedProfile:
    """The repriced profile of every book in the scope summed at each price (the first
    book's profile is `base`, on the plotted grid), its flip levels searched out to
    `search_range` like a single expiry's; the zero-gamma line is kept from `base`."""
    p = base.price
    masked = 0

    def line(x: np.ndarray) -> np.ndarray:
        nonlocal masked
        xs, inv = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True)
        total = np.zeros(xs.size)
        masked = 0
        for book, smile in zip(books, smiles, strict=True):
            prof = compute_repriced_profile(
                book,
                xs,
                skew_stickiness=skew_stickiness,
                smile=smile,
                eps=eps,
            )
            total += prof.impulse
            masked += prof.masked_options
        return total[inv]

    outer = _outer_grids(p, search_range)
    values = line(np.concatenate((outer[0], p, outer[1])))
    n_low = outer[0].size
    impulse = values[n_low : n_low + p.size]
    plotted_masked = masked
    outer_values = (values[:n_low], values[n_low + p.size :])
    flips = _levels(line, p, impulse, outer, outer_values, eps)
    spot = float(books[0].spot)
    nearest = min((c.price for c in flips), key=lambda lv: abs(lv - spot)) if flips else None
    return replace(
        base,
        impulse=impulse,
        flip_levels=flips,
        nearest_flip=nearest,
        impulse_at_spot=float(impulse[p.size // 2]),
        masked_options=plotted_masked,
        search_range=search_range,
    )


# --------------------------------------------------------------------------- the analysis


def analyze_scope(
    chain: OptionChain,
    *,
    now: datetime | None = None,
    config: EngineConfig | None = None,
    scope: ExpiryScope = ExpiryScope(),  # noqa: B008 (frozen)
    expiry: ExpiryChoice = None,
    positions: np.ndarray | None = None,
    futures_price: float | None = None,
) -> ExpiryAnalysis:
    """The analysis of `scope` (see the module docstring), with a row per live expiry and
    the scope's levels. The NEAREST and EXPIRY scopes give `analyze_chain`'s numbers
    exactly; with the NEAREST scope, `expiry` is `analyze_chain`'s choice (a date, "0dte",
    an epoch: the analysis is then labelled with the expiry analyzed). Several expiries
    need the physical model (AnalysisError otherwise)."""
    config, now, live = checked_inputs(chain, now, config, positions)
    wanted = scope_expiries(chain, scope, live)
    single = scope.kind in (ScopeKind.NEAREST, ScopeKind.EXPIRY)
    physical = config.model is EngineModel.PHYSICAL
    if not single and not physical:
        raise AnalysisError(f"the scope {scope.label} sums expiries: it needs the physical model")
    by_epoch, skipped = build_books(chain, config, positions, expiries=live)
    if single:
        choice = expiry if scope.kind is ScopeKind.NEAREST else float(wanted[0])
        # the floe model builds its own books, as it always has (its numbers are frozen)
        base = analyze_chain(
            chain,
            now=now,
            config=config,
            expiry=choice,
            positions=positions,
            futures_price=futures_price,
            prebuilt=(by_epoch, skipped) if physical else None,
        )
        # (a floe book built on its own and not in the batch is left out of the rows)
        in_scope = [e for e in (base.expiration.timestamp(),) if e in by_epoch]
    else:
        in_scope = [float(e) for e in wanted if float(e) in by_epoch]
        if not in_scope:
            reasons = "; ".join(
                f"{_ny(float(e)).date().isoformat()}: {skipped.get(float(e), 'skipped')}"
                for e in wanted[:3]
            )
            raise AnalysisError(f"no usable expiry in the scope {scope.label}: {reasons}")
        base = analyze_chain(
            chain,
            now=now,
            config=config,
            expiry=in_scope[0],
            positions=positions,
            futures_price=futures_price,
            prebuilt=(by_epoch, skipped),
        )
    ordered = sorted(by_epoch.values(), key=lambda b: b.expiration)
    # the analyzed book's exposures are the base analysis' (the same numbers, bitwise:
    # `compute_exposures_many` sums each book alone); the other books' in one pass
    analyzed = base.expiration.timestamp()
    reuse = analyzed in by_epoch and physical
    others = [b for b in ordered if not (reuse and b.expiration.timestamp() == analyzed)]
    computed = dict(
        zip(
            (b.expiration.timestamp() for b in others),
            compute_exposures_many(others),
            strict=True,
        )
    )
    if reuse:
        computed[analyzed] = base.exposure
    exposures = {e: computed[e] for e in (b.expiration.timestamp() for b in ordered)}
    # the zero-gamma line of a chain with one built expiry is that expiry's own line, on the
    # same grid and search range: its row reuses the levels (the same computation)
    own_zero_gamma: dict[float, tuple[float, ...]] = {}
    if reuse and len(ordered) == 1 and base.repriced is not None:
        own_zero_gamma[analyzed] = base.repriced.zero_gamma_levels
    scope_books = [by_epoch[e] for e in in_scope]
    smiles = [smile_interpolant(b.surface) for b in scope_books]
    curves: list[HedgeImpulseCurve] = [base.hedge_flow.impulse_curve]
    charms: list[CharmIntegral] = [base.hedge_flow.charm_integral]
    for book, smile in zip(scope_books[1:], smiles[1:], strict=True):
        ex = exposures[book.expiration.timestamp()]
        curves.append(
            compute_hedge_impulse_curve(
                ex, book.surface, now=now, config=config.impulse, smile=smile
            )
        )
        charms.append(
            compute_charm_integral(
                book, now=now, horizon=charm_horizon(now, book.expiration), config=config.charm
            )
        )
    result = base
    search = base.repriced.search_range if base.repriced is not None else None
    if len(scope_books) > 1:
        exposure = sum_exposures([exposures[e] for e in in_scope], base.expiration)
        curve = sum_curves(curves, exposure, config.impulse.eps, config.impulse.asymmetry_percent)
        charm = sum_charm(charms)
        for book, smile in zip(scope_books, smiles, strict=True):
            # the regime pane's ATM IV (one definition: `regime.atm_iv`), to settlement
            iv = atm_iv(smile, book.forward, book.tau) if math.isfinite(book.forward) else math.nan
            lo, hi = level_search_range(book.spot, iv, book.tau)
            search = (lo, hi) if search is None else (min(search[0], lo), max(search[1], hi))
        repriced = base.repriced
        if repriced is not None and search is not None:
            repriced = sum_repriced(
                scope_books,
                smiles,
                repriced,
                skew_stickiness=config.impulse.skew_stickiness,
                search_range=search,
                eps=config.impulse.eps,
            )
        regime = base.hedge_flow.regime_params
        cloud = compute_pressure_cloud(
            curve,
            regime,
            config.cloud,
            now=now,
            futures_price=futures_price,
            impulse_total=curve.impulse_total,
        )
        result = replace(
            base,
            exposure=exposure,
            hedge_flow=replace(base.hedge_flow, impulse_curve=curve, charm_integral=charm),
            pressure_cloud=cloud,
            repriced=repriced,
        )
    rows = expiry_rows(
        chain,
        ordered,
        exposures,
        dict(zip(in_scope, zip(curves, charms, smiles, strict=False), strict=False)),
        prices=base.hedge_flow.impulse_curve.price,
        search=search,
        known_zero_gamma=own_zero_gamma if len(scope_books) == 1 else {},
    )
    fut = None
    if config.cloud.futures:
        fut = futures_basis(
            config.cloud.futures[0].name,
            config.cloud.futures_ratio,
            float(result.spot),
            chain.as_of,
            [(b.tau, b.forward) for b in ordered],
            futures_price,
        )
    levels = compute_levels(chain, scope_books, result, rows, fut)
    label = scope.label
    if single and (scope.kind is ScopeKind.EXPIRY or expiry not in (None, "next")):
        label = ExpiryScope(ScopeKind.EXPIRY, expiry=base.expiration.timestamp()).label
    return replace(result, scope=label, expiry_rows=rows, levels=levels)


def expiry_rows(
    chain: OptionChain,
    books: Sequence[ExpiryBook],
    exposures: Mapping[float, ExposurePerExpiry],
    in_scope: Mapping[float, tuple[HedgeImpulseCurve, CharmIntegral, SmileInterpolant]],
    *,
    prices: np.ndarray,
    search: tuple[float, float] | None,
    known_zero_gamma: Mapping[float, tuple[float, ...]] | None = None,
) -> tuple[ExpiryRow, ...]:
    """One `ExpiryRow` per built live expiry, nearest first (see `ExpiryRow`).
    `known_zero_gamma`: an expiry's zero-gamma levels already computed on `prices` and
    `search` (`zero_gamma_profile([book], prices, search_range=search)`), by settlement epoch."""
    known = known_zero_gamma or {}
    gross = {e: float(np.abs(x.gamma).sum()) for e, x in exposures.items()}
    all_gross = sum(gross.values())
    rows: list[ExpiryRow] = []
    for book in books:
        e = book.expiration.timestamp()
        ex = exposures[e]
        row = ExpiryRow(
            expiration=book.expiration.astimezone(NY),
            roots=book.roots,
            days_left=(e - chain.as_of_epoch) / SECONDS_PER_DAY,
            in_scope=e in in_scope,
            gex_share=gross[e] / all_gross if all_gross > 0 else math.nan,
            net_gex=float(ex.gamma.sum()),
        )
        if e in in_scope:
            curve, charm, smile = in_scope[e]
            # the regime pane's ATM IV (one definition: `regime.atm_iv`), to settlement
            iv = atm_iv(smile, book.forward, book.tau) if math.isfinite(book.forward) else math.nan
            zeros = known.get(e)
            if zeros is None:
                _, zeros = zero_gamma_profile([book], prices, search_range=search)
            spot = float(book.spot)
            row = replace(
                row,
                impulse=curve.impulse_total,
                zero_gamma=min(zeros, key=lambda z: abs(z - spot)) if zeros else None,
                expected_move=spot * iv * math.sqrt(book.tau) if book.tau > 0 else math.nan,
                charm_total=charm.total_charm_to_close,
                settlement_step=charm.settlement_step,
            )
        rows.append(row)
    return tuple(rows)


__all__ = [
    "CYCLE",
    "ExpiryScope",
    "ScopeKind",
    "analyze_scope",
    "expiry_rows",
    "parse_scope",
    "scope_expiries",
    "sum_charm",
    "sum_curves",
    "sum_repriced",
]
