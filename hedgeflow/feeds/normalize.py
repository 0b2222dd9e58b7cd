"""Shared last step of every reader: raw columns -> a clean `OptionChain`.

Each vendor module turns its payload into equal-length column arrays (one entry per
contract row it saw) and hands them to `assemble_chain`, which applies one set of
data-quality rules, vectorized, and counts every action in `OptionChain.dropped`. The CBOE
quotedata CSV reader (`hedgeflow.feeds.files`) has row rules of its own (two contracts per CSV row,
empty rows, expired series kept) and shares the pieces: `settlement`, `nonstandard_roots`,
`chain_order` (order and duplicates) and `repair_quotes` (the value rules).

One vocabulary of reasons for every reader:

rows dropped (`ROW_DROP_REASONS`; `contracts_dropped` sums them):
    bad_row           a payload entry that is not an object (vendor parsers)
    empty_row         CSV row carrying nothing on either side: no bid, ask, last, volume or
                      OI above 0 (`hedgeflow.feeds.files`)
    bad_symbol        option symbol does not parse (counted by the vendor parser), or in a CSV
                      is not an OCC symbol of that side and strike
    nonstandard_root  root with digits (adjusted deliverable, e.g. "SPY1"): unknown multiplier
    bad_strike        strike missing, non-finite or <= 0
    bad_expiry        expiration date missing, invalid or outside the exchange calendar
    expired           settlement time at or before the snapshot's as-of time (vendor JSON;
                      the CSV reader keeps expired series, the engine skips tau <= 0)
    duplicate         the same listed contract (root, listed expiration date, strike, right)
                      seen before; the first row is kept

values NaN'd or zeroed (the row is kept, so its open interest still counts):
    bad_number        a value that does not read as a number -> NaN: a price stays NaN,
                      volume and OI become 0. Vendor JSON: counted by `as_float_array`
                      wherever a field is read, in every row, also where a fallback (the OCC
                      symbol's strike) fills the value (null is "missing", not counted).
                      CSV: counted by `repair_quotes` in the kept contracts' bid, ask, last
                      and volume (a CBOE CSV prints every value, 0 for nothing, so an
                      empty or unreadable cell is a bad number; an OI cell: below)
    negative_quote    bid, ask or last < 0 or infinite -> that price NaN
    crossed_quote     bid > ask -> bid and ask NaN
    no_market         bid == ask == 0 -> bid and ask NaN (no two-sided market)
    bad_open_interest open interest infinite or < 0 (CSV: or unreadable) -> 0; the analysis
                      notes it (`engine.pipeline.input_notes`): a position the book lost
    bad_volume        volume infinite or < 0 -> 0
    bad_multiplier    multiplier non-finite or <= 0 -> 100 (vendor JSON; CSV contracts are 100)

contracts merged (not a drop: the open interest stays in the chain):
    merged_same_settlement  a listed contract folded into another of the same root, strike
                      and right that settles at the same instant: a series whose listed
                      expiration is an exchange holiday settles at the previous session, like
                      the series listed on that session (`chain_order`, `merge_contracts`).
                      Open interest and volume are summed; the tighter two-sided quote is kept.

open interest of dropped rows (`OptionChain.dropped_open_interest`, by the reasons above):
    every row-drop reason but `expired` (a settled series carries no exposure) adds the open
    interest its rows carried, so that the analysis can say what it left out.

Not counted (normal vendor conventions): missing values (JSON null; NaN volume or OI -> 0),
last == 0 ("no trade") -> NaN, vendor IV <= 0 or non-finite ("not computed") -> NaN.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from hedgeflow.engine.chain import OptionChain, make_chain
from hedgeflow.engine.clock import (
    CALENDAR_END,
    CALENDAR_START,
    NY,
    session_close,
    session_open,
    settlement_epochs,
)
from hedgeflow.feeds.errors import WrongSymbol
from hedgeflow.feeds.rows import (
    ContractOrder as ContractOrder,
)
from hedgeflow.feeds.rows import (
    RepairedQuotes as RepairedQuotes,
)
from hedgeflow.feeds.rows import (
    add_dropped_oi as add_dropped_oi,
)
from hedgeflow.feeds.rows import (
    chain_order as chain_order,
)
from hedgeflow.feeds.rows import (
    dropped_oi as dropped_oi,
)
from hedgeflow.feeds.rows import (
    merge_contracts as merge_contracts,
)
from hedgeflow.feeds.rows import (
    repair_quotes as repair_quotes,
)

#: `dropped` keys that remove contracts (module docstring); every other key counts values
#: repaired in contracts that were kept.
ROW_DROP_REASONS: frozenset[str] = frozenset(
    {
        "bad_row",
        "empty_row",
        "bad_symbol",
        "nonstandard_root",
        "bad_strike",
        "bad_expiry",
        "expired",
        "duplicate",
    }
)


def contracts_dropped(dropped: Mapping[str, int]) -> int:
    """Contracts removed by a reader (the sum over `ROW_DROP_REASONS`), as opposed to values
    repaired in kept contracts."""
    return sum(int(v) for k, v in dropped.items() if k in ROW_DROP_REASONS)


#: OCC option symbol without padding: root (1-6 chars), YYMMDD, C/P, strike * 1000 (8 digits).
#: The tail is fixed-width, so the root is whatever precedes it (SPXW, SPX, NDXP, NDX, SPY...).
OCC_RE = re.compile(r"^([A-Z][A-Z0-9]{0,5})(\d{6})([CP])(\d{8})$")

#: Cash-settled index underlyings (vendors prefix them: CBOE "_SPX", Schwab "$SPX").
INDEX_SYMBOLS = frozenset(
    {"SPX", "NDX", "RUT", "VIX", "DJX", "OEX", "XSP", "XEO", "MRUT", "MXEA", "MXEF", "SPESG"}
)

#: Index underlyings whose monthly (third-Friday) series is AM-settled under the symbol's own
#: root, with the PM-settled weeklies/dailies under a companion root.
PM_COMPANION_ROOT: dict[str, str] = {"SPX": "SPXW", "NDX": "NDXP", "RUT": "RUTW"}

_ROOT_RE = re.compile(r"^[A-Z]{1,6}$")
_CAL_LO = np.datetime64(CALENDAR_START.isoformat(), "D")
_CAL_HI = np.datetime64(CALENDAR_END.isoformat(), "D")


def plain_symbol(symbol: str) -> str:
    """An underlying as users and chains name it: trimmed, upper case, without the vendor
    index prefixes ("$spx" Schwab, "_SPX" CBOE, "^SPX") -> "SPX"."""
    return symbol.strip().upper().lstrip("$^_")


def check_underlying(
    requested: str | None, named: Iterable[Any], roots: np.ndarray, *, vendor: str
) -> None:
    """Refuse a payload for another underlying than `requested` (WrongSymbol naming both).

    `named` holds what the payload says its underlying is (vendor prefixes ignored; blanks
    and non-strings skipped); every name must match. A payload that names none is judged by
    its option roots: at least one must start with the requested symbol (SPX -> SPX/SPXW,
    NDX -> NDX/NDXP), else the most common root is what it holds. `requested` None: no check.
    """
    if requested is None:
        return
    want = plain_symbol(requested)
    names = [plain_symbol(n) for n in named if isinstance(n, str) and n.strip()]
    for got in names:
        if got != want:
            raise WrongSymbol(want, got, vendor=vendor)
    if names:
        return
    present = [str(r) for r in roots if r]
    if present and not any(r.startswith(want) for r in present):
        raise WrongSymbol(want, Counter(present).most_common(1)[0][0], vendor=vendor)


def as_float_array(values: Sequence[Any], counts: Counter[str] | None = None) -> np.ndarray:
    """float64 array from JSON scalars: None -> NaN, numbers and numeric strings cast,
    anything else NaN (counted as `bad_number` when `counts` is given)."""
    try:
        arr = np.array(values, dtype=np.float64)
        if arr.shape == (len(values),):  # nested lists would give a 2-d array
            return arr
    except (TypeError, ValueError, OverflowError):
        pass
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        if v is None:
            out[i] = np.nan
            continue
        try:
            out[i] = float(v)
        except (TypeError, ValueError, OverflowError):
            out[i] = np.nan
            if counts is not None:
                counts["bad_number"] += 1
    return out


def parse_occ(symbols: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split OCC symbols ("SPXW240621C05000000", spaces allowed as in "SPXW  240621C...").

    Returns root (str array, "" where unparseable), expiration date (datetime64[D], NaT
    where unparseable or invalid), is_call (bool) and strike (float64 points, NaN where
    unparseable). A row is parseable where `root != ""`.
    """
    n = len(symbols)
    root = np.full(n, "", dtype=object)
    ymd = np.full(n, "NaT", dtype=object)
    is_call = np.zeros(n, dtype=bool)
    strike = np.full(n, np.nan)
    match = OCC_RE.match
    for i, s in enumerate(symbols):
        m = match(s.replace(" ", "").upper()) if isinstance(s, str) else None
        if m is None:
            continue
        r, d, cp, k = m.groups()
        root[i] = r
        ymd[i] = f"20{d[0:2]}-{d[2:4]}-{d[4:6]}"
        is_call[i] = cp == "C"
        strike[i] = int(k) / 1000.0
    return root.astype(str), to_dates(ymd), is_call, strike


def to_dates(values: Iterable[Any]) -> np.ndarray:
    """datetime64[D] from "YYYY-MM-DD" strings (a longer ISO string uses its first 10 chars);
    anything unparseable becomes NaT."""
    vals = list(values)
    try:
        return np.array(
            [v[:10] if isinstance(v, str) else "NaT" for v in vals], dtype="datetime64[D]"
        )
    except ValueError:
        out = np.full(len(vals), np.datetime64("NaT"), dtype="datetime64[D]")
        for i, v in enumerate(vals):
            try:
                out[i] = np.datetime64(v[:10], "D") if isinstance(v, str) else np.datetime64("NaT")
            except ValueError:
                pass
        return out


def settlement(roots: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Settlement epochs (s, UTC) by root (hedgeflow.clock); NaN for NaT or dates outside the
    exchange calendar (never an exception: a bad vendor date drops the row, not the chain)."""
    out = np.full(len(dates), np.nan)
    ok = ~np.isnat(dates)
    ok[ok] = (dates[ok] >= _CAL_LO) & (dates[ok] <= _CAL_HI)
    if ok.any():
        # settlement_epochs is vectorized already (one AM flag per distinct root, one
        # searchsorted for the dates); de-duplicating (root, date) records first cost more
        # than it saved (17 ms vs 1.3 ms for the 40k contracts of a full SPX file).
        out[ok] = settlement_epochs(np.asarray(roots, dtype=str)[ok], dates[ok])
    return out


def ny_naive_to_epoch(values: Sequence[Any]) -> np.ndarray:
    """Epoch seconds from naive New York wall-clock strings ("YYYY-MM-DDTHH:MM:SS" or with a
    space); None/""/unparseable -> NaN. DST is resolved per distinct hour (exact except
    inside the ambiguous 01:00-02:00 hour of the autumn change, where fold=0 is taken)."""
    n = len(values)
    out = np.full(n, np.nan)
    texts = [v.replace(" ", "T")[:19] if isinstance(v, str) and v else "NaT" for v in values]
    try:
        local = np.array(texts, dtype="datetime64[s]")
    except ValueError:
        local = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
        for i, t in enumerate(texts):
            try:
                local[i] = np.datetime64(t, "s")
            except ValueError:
                pass
    ok = ~np.isnat(local)
    # "0" or "99999" parse as years; only 2000..2099 are vendor times.
    ok[ok] = (local[ok] >= np.datetime64("2000-01-01")) & (local[ok] < np.datetime64("2100-01-01"))
    if not ok.any():
        return out
    hours = local[ok].astype("datetime64[h]")
    uhours, inverse = np.unique(hours, return_inverse=True)
    offsets = np.empty(len(uhours))
    for j, h in enumerate(uhours.astype(datetime)):
        off = h.replace(tzinfo=NY).utcoffset()
        offsets[j] = off.total_seconds() if off is not None else 0.0
    out[ok] = local[ok].astype(np.int64).astype(np.float64) - offsets[inverse.reshape(-1)]
    return out


#: Plausible vendor timestamps (epoch s): 2000-01-01 .. 2100-01-01; anything else is junk.
_EPOCH_LO, _EPOCH_HI = 946_684_800.0, 4_102_444_800.0


def ms_to_epoch(values: np.ndarray) -> np.ndarray:
    """Epoch milliseconds -> seconds; 0 (vendors' "no trade"), negative, non-finite or
    implausible (outside 2000..2100) -> NaN."""
    s = np.asarray(values, dtype=np.float64) / 1000.0
    with np.errstate(invalid="ignore"):
        return np.where((s >= _EPOCH_LO) & (s < _EPOCH_HI), s, np.nan)


def first_positive(values: Sequence[Any]) -> float:
    """The first of `values` (JSON scalars, best source first: a vendor's last, mark,
    close...) that reads as a finite number > 0; NaN when none does."""
    for v in as_float_array(values):
        if np.isfinite(v) and v > 0:
            return float(v)
    return float("nan")


def as_of_from_stamps(stamps: np.ndarray, now: datetime, delay_seconds: float) -> datetime:
    """The quote time of a broker snapshot (aware UTC): the newest vendor timestamp in
    `stamps` (epoch s, NaN = none) capped at `now`, the fetch time (a vendor clock ahead of
    ours must not date quotes in the future); without any timestamp, `now - delay_seconds`."""
    now_utc = now.astimezone(UTC)
    if np.isfinite(stamps).any():
        return min(datetime.fromtimestamp(float(np.nanmax(stamps)), tz=UTC), now_utc)
    return now_utc - timedelta(seconds=delay_seconds)


def spot_note_for(as_of: datetime) -> str:
    """Empty when `as_of` falls inside a regular session, else "stale (market closed)":
    outside regular hours index spot is the last print, not live."""
    d = as_of.astimezone(NY).date()
    if not CALENDAR_START <= d <= CALENDAR_END:
        return "stale (outside calendar)"
    o, c = session_open(d), session_close(d)
    if o is None or c is None or not o <= as_of <= c:
        return "stale (market closed)"
    return ""


def third_friday_expiration(d: date) -> bool:
    """True when `d` is the standard monthly expiration date: the third Friday of its month,
    or the session before it when that Friday is a holiday (Good Friday)."""
    from hedgeflow.engine.clock import is_session, previous_session

    first = date(d.year, d.month, 1)
    third_friday = date(d.year, d.month, 1 + (4 - first.weekday()) % 7 + 14)
    if d == third_friday:
        return True
    if CALENDAR_START < third_friday <= CALENDAR_END and not is_session(third_friday):
        return d == previous_session(third_friday)
    return False


def expiration_roots(symbol: str, d: date) -> list[str]:
    """Roots that expire on date `d` for an underlying: for AM-settled indexes the monthly
    date carries the AM root and the PM companion (SPX and SPXW), other dates the companion
    only; every other underlying uses its own symbol as root."""
    sym = symbol.upper().lstrip("$_^")
    companion = PM_COMPANION_ROOT.get(sym)
    if companion is None:
        return [sym]
    return [sym, companion] if third_friday_expiration(d) else [companion]


def expirations_from_dates(symbol: str, dates: Iterable[date]) -> list[datetime]:
    """Aware UTC settlement times of the series expiring on `dates`, ascending, distinct."""
    roots: list[str] = []
    days: list[str] = []
    for d in dates:
        if not CALENDAR_START <= d <= CALENDAR_END:
            continue
        for r in expiration_roots(symbol, d):
            roots.append(r)
            days.append(d.isoformat())
    if not roots:
        return []
    epochs = np.unique(settlement(np.array(roots), np.array(days, dtype="datetime64[D]")))
    return [datetime.fromtimestamp(float(e), tz=UTC) for e in epochs if np.isfinite(e)]


def nonstandard_roots(root: np.ndarray) -> np.ndarray:
    """True where an option root is not 1-6 ASCII capitals: digits mark an adjusted
    deliverable ("SPY1"), whose multiplier is unknown ("" is nonstandard too)."""
    uroots, rinv = np.unique(np.asarray(root, dtype=str), return_inverse=True)
    standard = np.array([bool(_ROOT_RE.match(str(r))) for r in uroots], dtype=bool)
    return ~standard[rinv.reshape(-1)]


def assemble_chain(
    *,
    symbol: str,
    spot: float,
    as_of: datetime,
    root: np.ndarray,
    expiry: np.ndarray,
    strike: np.ndarray,
    is_call: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    last: np.ndarray,
    last_trade_time: np.ndarray,
    volume: np.ndarray,
    open_interest: np.ndarray,
    vendor_iv: np.ndarray,
    multiplier: np.ndarray | float = 100.0,
    counts: Counter[str] | None = None,
    source: str = "",
    delay_seconds: float = 0.0,
    spot_note: str = "",
    listed: np.ndarray | None = None,
) -> OptionChain:
    """Apply the data-quality rules of the module docstring and build the chain, rows sorted
    by (expiry, root, strike, put before call). `expiry` is settlement epoch seconds (NaN for
    rows whose date was bad); `listed` the listed expiration dates (datetime64[D]) those
    settlements came from, which tell a duplicate row from a holiday-moved series settling
    with another (merged); `counts` carries what the vendor parser already counted."""
    counts = Counter() if counts is None else counts
    oi_counts: dict[str, float] = {}
    n = len(strike)
    root = np.asarray(root, dtype=str)
    mult = np.broadcast_to(np.asarray(multiplier, dtype=np.float64), (n,)).copy()

    keep = np.ones(n, dtype=bool)

    def drop(mask: np.ndarray, reason: str) -> None:
        hit = mask & keep
        k = int(hit.sum())
        if k:
            counts[reason] += k
            add_dropped_oi(oi_counts, reason, dropped_oi(open_interest, hit))
            keep[hit] = False

    drop(np.char.str_len(root) == 0, "bad_symbol")
    drop(nonstandard_roots(root), "nonstandard_root")
    with np.errstate(invalid="ignore"):
        drop(~np.isfinite(strike) | (strike <= 0), "bad_strike")
        drop(~np.isfinite(expiry), "bad_expiry")
        drop(expiry <= as_of.timestamp(), "expired")

    co = chain_order(
        np.flatnonzero(keep),
        root,
        expiry,
        strike,
        is_call,
        counts,
        listed=listed,
        open_interest=open_interest,
        oi_counts=oi_counts,
    )
    order = co.rows
    q = repair_quotes(
        bid[order],
        ask[order],
        last[order],
        volume[order],
        open_interest[order],
        vendor_iv[order],
        counts,
    )
    first, q, trade_time = merge_contracts(co.start, q, last_trade_time[order])
    order = order[first]
    m = mult[order]
    with np.errstate(invalid="ignore"):
        badm = ~np.isfinite(m) | (m <= 0)
    if badm.any():
        counts["bad_multiplier"] += int(badm.sum())
        m = np.where(badm, 100.0, m)

    spot_f = float(spot)
    if not (np.isfinite(spot_f) and spot_f > 0):
        spot_f = float("nan")
        spot_note = "missing"  # not "stale (market closed)": there is no price at all
    return make_chain(
        symbol=symbol,
        spot=spot_f,
        as_of=as_of,
        root=root[order],
        strike=strike[order],
        expiry=expiry[order],
        is_call=is_call[order],
        bid=q.bid,
        ask=q.ask,
        last=q.last,
        last_trade_time=trade_time,
        volume=q.volume,
        open_interest=q.open_interest,
        multiplier=m,
        vendor_iv=q.vendor_iv,
        source=source,
        delay_seconds=delay_seconds,
        spot_note=spot_note,
        dropped=dict(counts),
        dropped_open_interest=dict(oi_counts),
    )
