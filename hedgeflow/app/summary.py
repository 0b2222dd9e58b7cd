"""The readable one-screen summary `hedgeflow analyze` prints for one expiry.

The headline lines (impulse, flip, zero gamma, attractors, hedge, charm) come from
`hedgeflow.app.presentation.headline`, so they say what the monitor says; the words
come from `hedgeflow.engine.labels` (the sign rule).
"""

from __future__ import annotations

from hedgeflow.app.fmt import fmt_clock_from, fmt_dollars, fmt_price
from hedgeflow.app.presentation import FLOE_FIGURES, Headline, headline
from hedgeflow.engine import labels
from hedgeflow.engine.clock import NY
from hedgeflow.engine.enums import EngineModel
from hedgeflow.engine.types import ExpiryAnalysis


def _level(x: float | None) -> str:
    return "none" if x is None else f"{x:,.2f}"


def _span(h: Headline) -> str:
    """Where levels were searched: "12,040.47 – 14,716.14 (±10.0%)", or the plotted range."""
    if h.search_range is None:
        return "the plotted range"
    lo, hi = h.search_range
    return f"{lo:,.2f} – {hi:,.2f} (±{(hi - h.spot) / h.spot:.1%})"


def summary_text(a: ExpiryAnalysis, *, badge: str = "") -> str:
    """The summary of `a`: header, regime, headline numbers, zones (nearest first), charm.
    `badge` (e.g. "SIMULATED") ends the header line: data that is not a market's."""
    h = headline(a)
    rp = a.hedge_flow.regime_params
    charm = a.hedge_flow.charm_integral
    cloud = a.pressure_cloud
    exp_ny = a.expiration.astimezone(NY)
    lines = [
        f"{a.symbol}  spot {a.spot:,.2f}  forward {a.forward:,.2f}  as of {a.as_of.astimezone(NY):%Y-%m-%d %H:%M %Z}"
        + (f"  {badge}" if badge else ""),
        f"expiry   {exp_ny:%Y-%m-%d %H:%M %Z} ({'/'.join(a.roots)})  {a.minutes_to_expiry:,.0f} min left",
        f"scope    {scope_words(a)}"
        + ("" if a.scope == "nearest" else " (surface, regime and EM: the nearest expiry's)"),
        f"model    {h.model}  positioning {h.positioning}  positions {h.positions}",
        f"rate     {a.rate_source}",
        f"ATM IV   {h.atm_iv:.2%}  regime {h.vol_regime} (classified on {rp.regime_iv:.2%})  "
        f"expected move ±{h.expected_move:,.2f} {h.move_horizon}",
    ]
    if a.model is EngineModel.FLOE:
        lines.append(
            f"k        {rp.coupling_atm:+.3f} (floe: clamp(-corr * ATM IV * sqrt(252), 2, 20))"
        )
    else:
        lines.append(
            f"k        ATM {rp.coupling_atm:+.3f}  fixed-strike {rp.coupling_fixed_strike:+.3f} "
            f"vol pts per +1% (R = {rp.skew_stickiness:g})"
        )
    regime = f"{h.regime}, {h.firmness_words}" if h.firmness_words else f"{h.regime}"
    lines.append(
        f"impulse  {fmt_dollars(h.impulse)} per +1% at spot: {h.impulse_words}  [{regime}]"
    )
    n = len(h.flip_levels)
    if h.nearest_flip is not None:
        lines.append(
            f"flip     {h.nearest_flip:,.2f} (nearest of {n} flip level{'s' if n != 1 else ''} "
            f"of the {h.flip_source})"
        )
    else:
        lines.append(f"flip     none within {_span(h)} ({h.flip_source})")
    if h.zero_gamma is not None:
        others = [x for x in h.zero_gamma_levels if x != h.zero_gamma]
        also = f"; also {', '.join(f'{x:,.2f}' for x in others[:2])}" if others else ""
        lines.append(f"zero γ   {h.zero_gamma:,.2f} nearest spot (all expiries, fixed IV{also})")
    elif a.repriced is not None:
        lines.append(f"zero γ   none within {_span(h)} (all expiries, fixed IV)")
    lines.append(f"attract  above {_level(h.attractor_above)}   below {_level(h.attractor_below)}")
    zones = sorted(
        (*cloud.stability_zones, *cloud.acceleration_zones), key=lambda z: abs(z.center - a.spot)
    )
    if zones:
        lines.append("zones (closest to spot first)")
    for z in zones[:6]:
        trades = ", ".join(
            labels.contracts_trade(n, name) for name, n in z.contracts.contracts.items()
        )
        lines.append(
            f"  {z.center:>10,.2f} [{z.lower:,.2f} – {z.upper:,.2f}] {z.kind.value:<6} "
            f"strength {z.strength:.2f}: {labels.impulse_effect(z.impulse)}; {trades}"
        )
    total = cloud.total_contracts.contracts
    if total:
        whose = f"; {FLOE_FIGURES}" if a.model is EngineModel.FLOE else ""
        lines.append(
            "hedge    "
            + ", ".join(labels.contracts_trade(n, name) for name, n in total.items())
            + f" (strike total{whose})"
        )
    settle = (
        f"; settlement step {fmt_dollars(charm.settlement_step)}" if charm.settlement_step else ""
    )
    lines.append(
        f"charm    to {fmt_clock_from(charm.horizon, a.as_of, '%H:%M %Z')}: "
        f"{fmt_dollars(h.charm_total)} of dealer delta, "
        f"{h.charm_words}{settle}"
    )
    lines.extend(levels_lines(a))
    lines.extend(expiry_lines(a))
    for note in a.notes:
        lines.append(f"note     {note}")
    return "\n".join(lines)


def scope_words(a: ExpiryAnalysis) -> str:
    """'all: 58 expiries summed' / 'nearest' / '2023-09-15': the scope in words."""
    n = sum(r.in_scope for r in a.expiry_rows)
    return f"{a.scope}: {n} expiries summed" if n > 1 else a.scope


def scope_tag(a: ExpiryAnalysis) -> str:
    """The scope as a pane title shows it, short: "nearest", "all (58)" (58 expiries
    summed), "0DTE", "2023-09-15" (one chosen expiry)."""
    n = sum(r.in_scope for r in a.expiry_rows)
    return f"{a.scope} ({n})" if n > 1 else a.scope


def levels_lines(a: ExpiryAnalysis) -> list[str]:
    """The levels card as text: the futures basis, then every level nearest spot first with
    its distance in points and percent and its futures price."""
    lv = a.levels
    if lv is None or not lv.entries:
        return []
    f = lv.futures
    lines = [f"levels   scope {scope_words(a)}; closest to spot first"]
    if f is not None:
        src = "feed price" if f.source == "feed" else "fair value from the parity forward"
        lines.append(
            f"futures  {f.product} {fmt_price(f.price)} ({src}, settles {f.expiration:%Y-%m-%d}): "
            f"basis {f.basis:+,.2f} pts, level x {f.factor:.5f}"
        )
    for e in lv.entries:
        fut = f"  {f.product} {e.futures:>10,.2f}" if f is not None else ""
        lines.append(
            f"  {e.name:<16} {e.price:>10,.2f} {e.distance:>+9,.2f} {e.distance_percent:>+7.2%}{fut}"
        )
    em_to = (
        f" to {lv.expected_move_to.astimezone(NY):%Y-%m-%d %H:%M %Z}"
        if lv.expected_move_to is not None
        else ""
    )
    lines.append(
        f"  zero γ crossings {lv.zero_gamma_count}; expected move ±{lv.expected_move:,.2f}{em_to}; "
        f"net DEX {fmt_dollars(lv.net_dex)} of underlying"
    )
    return lines


def expiry_lines(a: ExpiryAnalysis) -> list[str]:
    """One compact row per expiry of a scope that sums several (none for one expiry)."""
    rows = a.expiry_rows
    if sum(r.in_scope for r in rows) < 2:
        return []
    lines = [
        f"expiries scope {scope_words(a)} (of {len(rows)} live); charm to each horizon, "
        "settlement apart",
        f"  {'date':<10} {'root':<5} {'days':>6} {'|GEX|':>6} {'net GEX':>9} {'impulse':>9} "
        f"{'zero γ':>9} {'EM ±':>8} {'charm':>9} {'settle':>9}",
    ]
    for r in rows:
        if not r.in_scope:
            continue
        zg = f"{r.zero_gamma:,.1f}" if r.zero_gamma is not None else "none"
        lines.append(
            f"  {r.expiration:%Y-%m-%d} {'/'.join(r.roots)[:5]:<5} {r.days_left:>6.2f} "
            f"{r.gex_share:>6.1%} "
            f"{fmt_dollars(r.net_gex):>9} {fmt_dollars(r.impulse):>9} {zg:>9} "
            f"{r.expected_move:>8,.1f} {fmt_dollars(r.charm_total):>9} "
            f"{fmt_dollars(r.settlement_step):>9}"
        )
    return lines
