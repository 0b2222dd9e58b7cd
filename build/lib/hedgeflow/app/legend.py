"""Every label the monitor prints, explained in a trader's words (the help screen's legend).

Pure text, no Textual: a test checks that each label a pane prints has an entry here, so
a new label cannot ship unexplained. Signs follow docs/METHOD.md "The sign rule": an
exposure is the change of the dealers' delta; their hedge trade is its negative.
"""

from __future__ import annotations

from hedgeflow.app.strikes import Greek
from hedgeflow.engine import labels
from hedgeflow.engine.enums import ImpulseRegime, MarketRegime

#: (section, [(label as printed, what it means)]).
LEGEND: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Units",
        (
            ("481K, 1.2M, 3.4B", "thousands, millions, billions (figures are never cut)"),
            (
                "$/+1%",
                "dollars of stock the dealers' hedge changes by if the index rises 1% "
                "(the headline: 'H spot')",
            ),
            (
                "$/+1%/pt",
                "the impulse chart's y-axis: the same dollars per 1% spread over each "
                "point of price (a density); add it up over points to get $/+1%",
            ),
            ("ES/+1%, MES/+1%", "futures contracts the dealers trade on a +1% move"),
        ),
    ),
    (
        "Regime",
        (
            ("regime", "what the dealers' hedging does to moves now, one of the five below"),
            *(
                (r.value, labels.impulse_regime_description(r).split(": ", 1)[1])
                for r in ImpulseRegime
            ),
            ("(holding)", "the regime is past its entry threshold; (firm) well past it"),
            ("holds", "the measure that keeps the regime, and where it would be left (exit)"),
            (
                "vol " + "/".join(m.value for m in MarketRegime),
                "at-the-money implied vol below 15%, 15-20%, 20-35%, above 35%",
            ),
            ("H spot", "dealers' hedge change for a +1% move at today's price, all strikes"),
            ("slope", "how fast that figure changes per point of price"),
            ("flip", "nearest price where H changes sign: dampening turns to chasing"),
            ("hedge", "the futures trade the dealers need for a +1% move"),
            (
                "k … ATM, … K vp/1%",
                "how many vol points implied vol moves for a 1% move (at the money, and "
                "at a fixed strike): it feeds the vanna part of H",
            ),
            ("ATM IV", "at-the-money implied vol of the expiry"),
            (
                "EM",
                "expected move (± points, % of spot) to its horizon: the expiry's settlement "
                "when it comes before the next close, else that close (floe: one session)",
            ),
            ("bias … ratio", "the side where dealers damp a move less, and how lopsided"),
            ("model", "how the curve is computed, and who is assumed long or short"),
            ("pos", "open interest as of the morning, or adjusted by today's trades"),
            ("attract ↑ ↓", "the nearest stable price above and below (price tends to stick)"),
            ("zero γ", "where the dealers' gamma over every expiry changes sign"),
            ("R skew stickiness", "how the smile moves with price: 0 sticky moneyness, 1 strike"),
        ),
    ),
    (
        "Zones",
        (
            ("stable", "dealers sell rallies and buy dips here: moves slow down"),
            ("unstable", "dealers buy rallies and sell dips here: moves speed up"),
            ("Bounds", "the price range of the zone"),
            ("Edges ▲ ▼", "where the regime changes: ▲ stable beyond it, ▼ unstable"),
            ("Strength", "the zone's pull relative to the strongest zone"),
        ),
    ),
    (
        "By strike (b, n, c)",
        tuple((f"{g.value} {g.unit}", g.words) for g in Greek)
        + (
            ("net, calls/puts", "the total per strike, or calls (█) and puts (▒) apart"),
            ("Σ, bar", "the total over every strike, and the value of a full bar"),
            ("↑ ↓ more", "strikes with exposure above and below those shown"),
        ),
    ),
    (
        "Charm",
        (
            ("dealer Δ", "the change in the dealers' delta from time passing, to the close"),
            ("settlement step", "the jump in their delta when 0DTE options settle"),
        ),
    ),
)


def legend_labels() -> list[str]:
    """Every label the legend explains, as printed."""
    return [label for _, rows in LEGEND for label, _ in rows]
