"""The watchlist: one row per watched symbol, the numbers a desk scans, sortable and filtered.

Pure and Textual-free: `watch_row` turns a symbol's latest analysis (and what the monitor
knows about its data: age, staleness, the last alert, the session's first price) into a
`WatchRow` of numbers and words; `sort_rows` and `filter_rows` order and narrow them;
`read_ticker_file` reads a plain text list of tickers. The screen (`hedgeflow.tui.
watchlist`) only draws what this module gives it.

Every number comes from `presentation.headline`, so a row agrees with the monitor's panes
for the same analysis. Distances are signed (level - spot): in % of spot and in expected
moves of the analyzed expiry (`Headline.expected_move`, to its own horizon).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hedgeflow.app.fmt import fmt_age, fmt_compact, fmt_level, fmt_percent
from hedgeflow.app.presentation import NAN, finite_or_nan, headline
from hedgeflow.engine.types import ExpiryAnalysis
from hedgeflow.feeds.tickers import TICKER_FORM, parse_ticker


class TickerFileError(ValueError):
    """A ticker file that cannot be used; the message is one line naming the file."""


def read_ticker_file(path: str | Path) -> list[str]:
    """Tickers from a plain text file: separated by newlines, commas or spaces; `#` starts a
    comment; case-insensitive, in the form `hedgeflow.feeds.tickers` accepts (a leading `$`
    dropped); each kept once, in order. Raises `TickerFileError` (one line)
    for a missing or unreadable file, a malformed ticker (with its line number), or a file
    with none."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TickerFileError(f"{p}: no such ticker file") from None
    except UnicodeDecodeError:
        raise TickerFileError(f"{p}: not a text file of tickers") from None
    except OSError as exc:
        raise TickerFileError(f"{p}: cannot read ({exc.strerror or exc})") from None
    out: dict[str, None] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        for word in re.split(r"[,\s]+", line.split("#", 1)[0]):
            if not word:
                continue
            t = parse_ticker(word)
            if t is None:
                raise TickerFileError(f"{p}:{n}: {word!r} is not a ticker ({TICKER_FORM})")
            out[t] = None
    if not out:
        raise TickerFileError(f"{p}: no tickers in the file")
    return list(out)


@dataclass(frozen=True)
class WatchRow:
    """One symbol's row (NaN: not known; "" words: none).

    last : spot, points; change, change_pct : since the session's first analysis seen
        (`first_spot`; no previous close reaches the monitor), points and decimal
    scope : the analysis' scope label; regime, firmness : the impulse regime held and how
        firmly ("firm", "holding", "marginal", "leaving"), bands : firmness in dead-band
        widths
    impulse : $ of dealer delta change per +1% at spot (positive: dealers dampen)
    flip, zero_gamma, call_wall, put_wall : points; *_pct : (level - spot) / spot;
        *_em : (level - spot) / expected move
    charm : $ of dealer delta change to the charm horizon; charm_words : the dealers'
        direction in words
    last_alert : the latest alert's message ("" none); age : seconds since the data's as-of
        on the feed clock; stale : what is shown is not current (STALE); state : "" when an
        analysis is shown, else what the row waits on ("waiting", "error: ...")
    """

    symbol: str
    last: float = NAN
    change: float = NAN
    change_pct: float = NAN
    scope: str = ""
    regime: str = ""
    firmness: str = ""
    bands: float = NAN
    impulse: float = NAN
    flip: float = NAN
    flip_pct: float = NAN
    flip_em: float = NAN
    zero_gamma: float = NAN
    zero_gamma_pct: float = NAN
    zero_gamma_em: float = NAN
    call_wall: float = NAN
    put_wall: float = NAN
    charm: float = NAN
    charm_words: str = ""
    last_alert: str = ""
    age: float = NAN
    stale: bool = False
    state: str = "waiting"


def watch_row(
    symbol: str,
    analysis: ExpiryAnalysis | None,
    *,
    first_spot: float | None = None,
    age: float | None = None,
    stale: bool = False,
    last_alert: str = "",
    error: str = "",
) -> WatchRow:
    """The row of `symbol` (see `WatchRow`). Without an analysis the row says what it waits
    on: `error` when the feed or engine failed, else "waiting"."""
    if analysis is None:
        return WatchRow(
            symbol,
            age=finite_or_nan(age),
            stale=stale,
            last_alert=last_alert,
            state=f"error: {error}" if error else "waiting",
        )
    h = headline(analysis)
    spot = float(analysis.spot)
    em = finite_or_nan(h.expected_move)
    first = finite_or_nan(first_spot)

    def pct(level: float) -> float:
        return (level - spot) / spot if spot > 0 else NAN

    def ems(level: float) -> float:
        return (level - spot) / em if em > 0 else NAN

    flip, zg = finite_or_nan(h.nearest_flip), finite_or_nan(h.zero_gamma)
    lv = analysis.levels
    firm = h.regime_firmness
    return WatchRow(
        symbol=symbol,
        last=spot,
        change=spot - first,
        change_pct=(spot - first) / first if first > 0 else NAN,
        scope=analysis.scope,
        regime=h.regime.value,
        firmness=firm.words if firm is not None else "",
        bands=finite_or_nan(firm.bands) if firm is not None else NAN,
        impulse=finite_or_nan(h.impulse),
        flip=flip,
        flip_pct=pct(flip),
        flip_em=ems(flip),
        zero_gamma=zg,
        zero_gamma_pct=pct(zg),
        zero_gamma_em=ems(zg),
        call_wall=finite_or_nan(lv.call_wall) if lv is not None else NAN,
        put_wall=finite_or_nan(lv.put_wall) if lv is not None else NAN,
        charm=finite_or_nan(h.charm_total),
        charm_words=h.charm_words,
        last_alert=last_alert,
        age=finite_or_nan(age),
        stale=stale,
        state="",
    )


@dataclass(frozen=True)
class Column:
    """A watchlist column: its key, its header, how a row sorts on it (NaN last either
    way) and how a cell prints."""

    key: str
    title: str
    sort: Callable[[WatchRow], float | str]
    cell: Callable[[WatchRow], str]
    numeric: bool = True  # right-aligned


def _dist(pct: float, em: float) -> str:
    if not math.isfinite(pct):
        return "–"
    out = fmt_percent(pct, decimals=2, signed=True)
    return f"{out} {em:+.1f}σ" if math.isfinite(em) else out


COLUMNS: tuple[Column, ...] = (
    Column("symbol", "symbol", lambda r: r.symbol, lambda r: r.symbol, numeric=False),
    # the data's age second, so that STALE shows however narrow the terminal
    Column(
        "age",
        "age",
        lambda r: r.age,
        lambda r: ("STALE " if r.stale else "") + (fmt_age(r.age) if math.isfinite(r.age) else "–"),
    ),
    Column("last", "last", lambda r: r.last, lambda r: fmt_level(r.last)),
    Column(
        "change",
        "chg",
        lambda r: r.change_pct,
        lambda r: fmt_percent(r.change_pct, decimals=2, signed=True),
    ),
    Column(
        "regime",
        "regime",
        lambda r: r.regime,
        lambda r: f"{r.regime} {r.firmness}".strip() if r.regime else r.state,
        numeric=False,
    ),
    Column(
        "impulse",
        "impulse $/1%",
        lambda r: r.impulse,
        lambda r: fmt_compact(r.impulse, signed=True),
    ),
    Column(
        "flip",
        "flip",
        lambda r: abs(r.flip_pct),
        lambda r: (
            f"{fmt_level(r.flip)} {_dist(r.flip_pct, r.flip_em)}" if math.isfinite(r.flip) else "–"
        ),
    ),
    Column(
        "zero_gamma",
        "zero γ",
        lambda r: abs(r.zero_gamma_pct),
        lambda r: (
            f"{fmt_level(r.zero_gamma)} {_dist(r.zero_gamma_pct, r.zero_gamma_em)}"
            if math.isfinite(r.zero_gamma)
            else "–"
        ),
    ),
    Column(
        "walls",
        "put / call wall",
        lambda r: r.call_wall,
        lambda r: f"{fmt_level(r.put_wall)} / {fmt_level(r.call_wall)}",
    ),
    Column(
        "charm",
        "charm to horizon",
        lambda r: r.charm,
        lambda r: (
            f"{fmt_compact(r.charm, signed=True)} {r.charm_words}".strip()
            if math.isfinite(r.charm)
            else "–"
        ),
        numeric=False,
    ),
    Column(
        "alert",
        "last alert",
        lambda r: r.last_alert,
        lambda r: r.last_alert or "–",
        numeric=False,
    ),
    Column("scope", "scope", lambda r: r.scope, lambda r: r.scope or "–", numeric=False),
)

COLUMN_KEYS = tuple(c.key for c in COLUMNS)


def sort_rows(rows: Sequence[WatchRow], key: str, *, descending: bool = False) -> list[WatchRow]:
    """`rows` ordered by column `key` (ties by symbol); rows without a value for it (NaN,
    "") last in either direction. Raises KeyError for an unknown column."""
    col = next((c for c in COLUMNS if c.key == key), None)
    if col is None:
        raise KeyError(f"no watchlist column {key!r} (known: {', '.join(COLUMN_KEYS)})")

    def missing(r: WatchRow) -> bool:
        v = col.sort(r)
        return v == "" if isinstance(v, str) else not math.isfinite(v)

    have = [r for r in rows if not missing(r)]
    lack = sorted((r for r in rows if missing(r)), key=lambda r: r.symbol)
    have.sort(key=lambda r: r.symbol)
    have.sort(key=col.sort, reverse=descending)  # stable: ties stay by symbol
    return have + lack


def filter_rows(rows: Sequence[WatchRow], text: str) -> list[WatchRow]:
    """Rows whose symbol, regime, firmness, scope or last alert contains every word of
    `text` (case-insensitive); all rows for empty text. "stale" matches stale rows."""
    words = text.lower().split()
    if not words:
        return list(rows)

    def hay(r: WatchRow) -> str:
        return " ".join(
            (r.symbol, r.regime, r.firmness, r.scope, r.last_alert, r.state, "stale" * r.stale)
        ).lower()

    return [r for r in rows if all(w in hay(r) for w in words)]
