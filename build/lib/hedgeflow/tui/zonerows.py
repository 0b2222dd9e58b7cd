"""The zones table's rows and columns (`panes.ZonesPane` draws them): one row a zone,
nearest spot first, its regime edges in a column of their own, and columns laid out so that
the pane's edge never cuts a number.

Formatting and layout only: the zones, edges and contracts are the engine's, the edges'
zone from `app.presentation.zone_edges`, the words from `engine.labels`.
"""

from __future__ import annotations

import math

from rich.text import Text

from hedgeflow.app.fmt import fmt_compact, fmt_level, strength_bar
from hedgeflow.app.presentation import zone_edges
from hedgeflow.engine import labels
from hedgeflow.engine.types import ExpiryAnalysis
from hedgeflow.tui.views import Palette

Row = tuple[Text | str, ...]

#: Fixed widths: an auto-width column re-measures every cell on each update (tens of ms
#: per refresh). Each fits the longest value its column takes: contracts are compact
#: (`fmt_compact`, at most 6 characters), so no figure is ever cut by its column.
COLUMN_WIDTHS = {"Level": 8, "Type": 8, "Bounds": 15, "Strength": 8}
CONTRACT_WIDTH = 7
DEALERS_MIN = 8


def zone_rows(
    a: ExpiryAnalysis, palette: Palette, *, no_color: bool = False
) -> tuple[tuple[str, ...], list[Row], int]:
    """(futures named in the contract columns, rows nearest spot first, the Edges column's
    width). A row: level, type, contracts per future, bounds, edges, strength bar, words.
    `no_color`: the type words and bars in the default ink (NO_COLOR turns the palette's red
    and green into two dark greys, the unstable one barely readable); the words and the
    edges' arrows still tell the zones apart."""
    cloud = a.pressure_cloud
    names = list(cloud.total_contracts.contracts)
    zones = (*cloud.stability_zones, *cloud.acceleration_zones)
    for z in zones:
        names += [n for n in z.contracts.contracts if n not in names]
    futures = tuple(names)
    edges_w = 5
    entries: list[tuple[float, Row]] = []
    for z, edges in zip(zones, zone_edges(zones, cloud.regime_edges), strict=True):
        word = labels.stability(z.impulse)
        color = "" if no_color else palette.hex("stable" if word == labels.STABLE else "unstable")
        edge_text = Text(no_wrap=True)
        for i, e in enumerate(edges):
            tone = "stable" if e.stable_beyond else "unstable"
            edge_text.append(" " if i else "")
            edge_text.append(
                f"{fmt_level(e.price)}{'▲' if e.stable_beyond else '▼'}",
                style="" if no_color else palette.hex(tone),
            )
        edges_w = max(edges_w, edge_text.cell_len)
        row: Row = (
            Text(fmt_level(z.center), style="bold"),
            Text(word, style=color, justify="left"),
            *(
                Text(
                    fmt_compact(z.contracts.contracts.get(n, math.nan), signed=True),
                    justify="right",
                )
                for n in futures
            ),
            f"{fmt_level(z.lower)}–{fmt_level(z.upper)}",
            edge_text,
            Text(strength_bar(z.strength, 6), style=color, justify="left"),
            # the words after "dampens:" / "amplifies:" (the Type column says which)
            Text(
                labels.impulse_effect(z.impulse).split(": ", 1)[-1],
                no_wrap=True,
                overflow="ellipsis",
            ),
        )
        entries.append((abs(z.center - a.spot), row))
    entries.sort(key=lambda item: item[0])
    return futures, [row for _, row in entries], edges_w


def fit_columns(
    futures: tuple[str, ...], rows: list[Row], edges_w: int, avail: int
) -> tuple[tuple[tuple[str, int], ...], list[Row]]:
    """(columns as (name, width), rows in that column order) for `avail` cells.

    Level, Type and the contracts first; Bounds and Edges next where they fit whole, else
    after the Dealers words and the strength bar: a column cut by the pane's edge is then
    words (ending in an ellipsis) or the bar, never a number; what does not fit is reached
    by the horizontal scrollbar. DataTable pads each cell by one on both sides."""
    n_fixed = 2 + len(futures)
    fixed = [
        ("Level", COLUMN_WIDTHS["Level"]),
        ("Type", COLUMN_WIDTHS["Type"]),
        *((f"{n}/+1%", CONTRACT_WIDTH) for n in futures),
    ]
    used = sum(w + 2 for _, w in fixed)
    front: list[tuple[str, int, int]] = []
    back: list[tuple[str, int, int]] = []
    for j, (name, w) in enumerate((("Bounds", COLUMN_WIDTHS["Bounds"]), ("Edges", edges_w))):
        if used + w + 2 <= avail and not back:
            front.append((name, w, n_fixed + j))
            used += w + 2
        else:
            back.append((name, w, n_fixed + j))
    # the Dealers words next, as wide as the longest where the strength bar fits after
    # them, else what is left (an ellipsis ends the words) with the bar beyond
    strength = COLUMN_WIDTHS["Strength"]
    words_w = max((len(str(r[-1])) for r in rows), default=DEALERS_MIN)
    if used + words_w + 2 + strength + 2 <= avail:
        dealers = words_w
    else:
        dealers = max(DEALERS_MIN, avail - used - 2)
    tail = [("Dealers", dealers, n_fixed + 3), ("Strength", strength, n_fixed + 2)]
    order = [*range(n_fixed), *(i for _, _, i in (*front, *tail, *back))]
    columns = (*fixed, *((n, w) for n, w, _ in (*front, *tail, *back)))
    return columns, [tuple(row[i] for i in order) for row in rows]
