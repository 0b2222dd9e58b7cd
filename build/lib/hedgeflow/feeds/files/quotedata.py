"""The CBOE quotedata CSV reader (`parse_quotedata`).

CBOE quotedata CSV, as downloaded from cboe.com's delayed-quotes page, in both layouts:
the 2020 `quotedata.dat` layout (CRLF; line 1 `^SPX (name),<spot>,<change>`, line 2
`<time>,Bid,<bid>,Ask,<ask>,Size,<size>,Vol,<vol>`, header on line 3) and the current
22-column layout (line 2 `<name>,Last: <spot>,Change: <chg>`, line 3 `"Date: <time>",Bid:
...`, header on line 4). Spreadsheet re-saves (no leading blank line, preamble padded with
trailing commas, strikes without decimals), quoted names and volumes with commas, and the
quote time in the downloading browser's locale (English variants, a hand-edited day-first
date split by a comma into two fields, Russian `9 декабря 2023 г. в 13:49 GMT-5`) are read,
and so are re-saves with `;` and decimal commas, tabs, UTF-16 or cp1252 text.
Columns are found by name within each side of `Strike` (call side before it, put side
after it), because `Bid`, `IV`, `Open Int(erest)` appear once per side.

CBOE CSV rules (what `OptionChain.dropped` counts, in contracts; names as in
`hedgeflow.feeds.normalize` so every feed speaks the same vocabulary):

rows dropped (`ROW_DROP_REASONS`; contracts = 2 x CSV rows - their sum):
    empty_row         both sides carry nothing: bid, ask, last, volume and OI all 0
                      (placeholder rows such as NDX strike 1.00, unquoted new strikes)
    bad_strike        strike missing, non-numeric or <= 0
    bad_expiry        expiration date unreadable or outside the exchange calendar
    bad_symbol        the Calls/Puts symbol is not an OCC symbol of that side and strike
    nonstandard_root  root with digits (adjusted deliverable, e.g. "SPY1"): unknown multiplier
    duplicate         the same listed contract (root, expiration date, strike, right) seen
                      before; the first row is kept (a holiday-moved series settling with
                      another is merged instead: `merged_same_settlement`, as every feed)

values repaired, contract kept (its open interest still counts): the rules every feed
applies, `hedgeflow.feeds.normalize.repair_quotes` (its module docstring lists them), with
`nan_unreadable` because a CBOE file prints every value (0 for nothing):
    bad_number        bid, ask, last, volume or OI cell empty or non-numeric -> NaN / 0
    negative_quote    bid, ask or last negative or infinite -> that price NaN
    crossed_quote     bid > ask -> bid and ask NaN
    no_market         bid == ask == 0 -> bid and ask NaN (no two-sided market)
    bad_open_interest open interest negative or infinite -> 0
    bad_volume        volume negative or infinite -> 0

Vendor conventions, not counted: last 0 ("no trade") -> NaN; IV 0 ("not computed") -> NaN.
IV is a decimal in every CBOE file. Expired series (settled before the file's quote time:
same-day series in files saved after the close, last Friday's in weekend files) are kept:
the engine excludes tau <= 0 and the pipeline picks the next live expiry.

Times: the quote time on the date line is New York time unless it carries an explicit
offset (`GMT-5`); `as_of` is that instant (aware, America/New_York). Expiry is the exact
settlement time by root (`hedgeflow.feeds.normalize.settlement`): SPX 09:30, SPXW at the close.
CBOE files are 15-minute delayed quotes: `delay_seconds` = 900.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import numpy as np

from hedgeflow.engine.chain import OptionChain, make_chain
from hedgeflow.engine.clock import NY
from hedgeflow.feeds.files.errors import ChainFileError
from hedgeflow.feeds.normalize import ROW_DROP_REASONS as ROW_DROP_REASONS  # re-exported
from hedgeflow.feeds.normalize import (
    add_dropped_oi,
    chain_order,
    dropped_oi,
    merge_contracts,
    nonstandard_roots,
    repair_quotes,
    settlement,
    spot_note_for,
)
from hedgeflow.feeds.normalize import contracts_dropped as contracts_dropped  # re-exported

#: CBOE's delayed quotes lag the market by 15 minutes.
CBOE_DELAY_SECONDS = 900.0

#: Underlying of a PM (or special) root, for naming the chain when the caller gives no symbol.
UNDERLYING_OF_ROOT: dict[str, str] = {
    "SPXW": "SPX",
    "SPXPM": "SPX",
    "SPXQ": "SPX",
    "NDXP": "NDX",
    "RUTW": "RUT",
    "VIXW": "VIX",
}

# Preamble lines come before the header; no real file has more than 3, allow some slack.
_MAX_PREAMBLE = 10


# --- the quote time -----------------------------------------------------------------------

_MONTH_NAMES: dict[int, tuple[str, ...]] = {
    # English, Russian (nominative and genitive), German, French, Spanish, Italian, Portuguese.
    1: ("january", "января", "январь", "januar", "janvier", "enero", "gennaio", "janeiro"),
    2: ("february", "февраля", "февраль", "februar", "février", "febrero", "febbraio", "fevereiro"),
    3: ("march", "марта", "март", "märz", "mars", "marzo", "março"),
    4: ("april", "апреля", "апрель", "avril", "abril", "aprile"),
    5: ("may", "мая", "май", "mai", "mayo", "maggio", "maio"),
    6: ("june", "июня", "июнь", "juni", "juin", "junio", "giugno", "junho"),
    7: ("july", "июля", "июль", "juli", "juillet", "julio", "luglio", "julho"),
    8: ("august", "августа", "август", "août", "agosto"),
    9: ("september", "сентября", "сентябрь", "septembre", "septiembre", "settembre", "setembro"),
    10: ("october", "октября", "октябрь", "oktober", "octobre", "octubre", "ottobre", "outubro"),
    11: ("november", "ноября", "ноябрь", "novembre", "noviembre", "novembro"),
    12: (
        "december",
        "декабря",
        "декабрь",
        "dezember",
        "décembre",
        "diciembre",
        "dicembre",
        "dezembro",
    ),
}
_MONTH_OF_NAME = {n: m for m, names in _MONTH_NAMES.items() for n in names}

_TIME_RE = re.compile(
    r"(?<![\d:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp])\.?\s?[Mm]\b\.?)?(?![\d:])"
)
_OFFSET_RE = re.compile(r"\b(?:GMT|UTC)\s*([+\-\u2212])\s*(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)
_UTC_RE = re.compile(r"\b(?:GMT|UTC|Z)\b", re.IGNORECASE)
_ISO_DATE_RE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_US_DATE_RE = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")
_DOT_DATE_RE = re.compile(r"(?<!\d)(\d{1,2})\.(\d{1,2})\.(\d{4})(?!\d)")
_YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_DAY_RE = re.compile(r"(?<!\d)(\d{1,2})(?!\d)")
_WORD_RE = re.compile(r"[^\W\d_]+")


def _month_of_word(word: str) -> int | None:
    w = word.lower().rstrip(".")
    if w in _MONTH_OF_NAME:
        return _MONTH_OF_NAME[w]
    if len(w) >= 3:
        for name, month in _MONTH_OF_NAME.items():
            if name.startswith(w):
                return month
    return None


def _calendar_date(text: str) -> date | None:
    """A calendar date from free text: ISO, US m/d/Y, d.m.Y, or a month name (any of the
    languages above) with a day and a year in either order. None when nothing fits."""
    try:
        if m := _ISO_DATE_RE.search(text):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := _US_DATE_RE.search(text):
            return date(int(m[3]), int(m[1]), int(m[2]))
        if m := _DOT_DATE_RE.search(text):
            return date(int(m[3]), int(m[2]), int(m[1]))
        month = next((mo for w in _WORD_RE.findall(text) if (mo := _month_of_word(w))), None)
        year = _YEAR_RE.search(text)
        if month is None or year is None:
            return None
        rest = text[: year.start()] + " " + text[year.end() :]
        day = _DAY_RE.search(rest)
        if day is None:
            return None
        return date(int(year[1]), month, int(day[1]))
    except ValueError:  # day 31 of a 30-day month and the like
        return None


def parse_quote_time(text: str) -> datetime | None:
    """The quote time printed on a CBOE date line, as an aware datetime in New York.

    New York wall time unless the text carries an explicit offset (`GMT-5`, `UTC+03:00`)
    or says GMT/UTC; `ET`/`EDT`/`EST` all mean New York (the zone decides EST vs EDT).
    Accepts `Mar 22 2020 @ 18:24 ET`, `July 12, 2022, 11:55 AM EDT`, `September 14, 2023 at
    4:31 PM EDT`, `9 June 2023, 1:40 PM EDT`, `9 декабря 2023 г. в 13:49 GMT-5`. None when
    no date and time can be found.
    """
    t = _TIME_RE.search(text)
    if t is None:
        return None
    hour, minute, second = int(t[1]), int(t[2]), int(t[3] or 0)
    if t[4]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if t[4].lower() == "p" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    rest = text[: t.start()] + " " + text[t.end() :]
    tz: Any = NY
    if off := _OFFSET_RE.search(rest):
        sign = -1 if off[1] in "-\u2212" else 1
        hours, mins = int(off[2]), int(off[3] or 0)
        if hours > 14 or mins > 59:
            return None
        tz = timezone(sign * timedelta(hours=hours, minutes=mins))
        rest = rest[: off.start()] + " " + rest[off.end() :]
    elif _UTC_RE.search(rest):
        tz = UTC
    day = _calendar_date(rest)
    if day is None:
        return None
    local = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=tz)
    return local.astimezone(NY)


# --- CBOE quotedata CSV -------------------------------------------------------------------

# Column names per side, first alias found wins; `None` = optional.
_SIDE_COLUMNS: dict[str, tuple[tuple[str, ...], bool]] = {
    "bid": (("Bid",), True),
    "ask": (("Ask",), True),
    "oi": (("Open Interest", "Open Int", "OI"), True),
    "last": (("Last Sale", "Last"), False),
    "volume": (("Volume", "Vol"), False),
    "iv": (("IV", "Implied Volatility"), False),
}
_EXPIRY_FORMATS = (
    "%a %b %d %Y",
    "%m/%d/%Y",
    "%Y-%m-%d",
    "%b %d %Y",
    "%m/%d/%y",
    "%d-%b-%y",
    "%d-%b-%Y",
)
_OCC_RE = re.compile(r"\s*([A-Za-z0-9]{1,6}?)\s*(\d{6})([CcPp])(\d{8})\s*")
_DIGIT_POS = np.r_[0:6, 7:15]  # digits of the OCC tail YYMMDD[CP]########
_PREAMBLE_LABEL_RE = re.compile(r"^\s*(Bid|Ask|Size|Vol|Volume|Last|Change)\b", re.IGNORECASE)


def _is_header(row: list[str]) -> bool:
    cells = [c.strip() for c in row]
    return len(cells) > 3 and cells[0].lower().startswith("expiration") and "Strike" in cells


def _side_indices(
    header: list[str], start: int, stop: int, symbol_names: tuple[str, ...], name: str
) -> dict[str, int | None]:
    cells = [c.strip() for c in header]
    out: dict[str, int | None] = {}

    def find(aliases: tuple[str, ...]) -> int | None:
        for j in range(start, stop):
            if cells[j] in aliases:
                return j
        return None

    out["symbol"] = find(symbol_names)
    for key, (aliases, required) in _SIDE_COLUMNS.items():
        out[key] = find(aliases)
        if required and out[key] is None:
            side = "call" if symbol_names == ("Calls",) else "put"
            raise ChainFileError(name, f"header lacks the {side} `{aliases[0]}` column")
    if out["symbol"] is None:
        raise ChainFileError(name, f"header lacks the `{symbol_names[0]}` symbol column")
    return out


def _floats(col: Sequence[str], decimal_comma: bool = False) -> np.ndarray:
    """float64 from CSV cells; empty or non-numeric -> NaN. Thousands separators are allowed
    (`1,234`); with `decimal_comma` (a `;`-separated re-save in a European or Russian
    locale) `4 505,1001` and `4.505,1001` read as 4505.1001."""
    try:
        return np.array(col, dtype=np.float64)
    except ValueError:
        pass
    out = np.empty(len(col), dtype=np.float64)
    for i, s in enumerate(col):
        t = s.strip()
        if decimal_comma:
            t = t.replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
            if "," in t:
                t = t.replace(".", "").replace(",", ".")
        else:
            t = t.replace(",", "")
        try:
            out[i] = float(t)
        except ValueError:
            out[i] = np.nan
    return out


def _parse_expiry_dates(col: Sequence[str]) -> np.ndarray:
    """datetime64[D] per row from the `Expiration Date` column (NaT where unreadable); each
    distinct string is parsed once."""
    uniq, inverse = np.unique(np.asarray(col, dtype=str), return_inverse=True)
    parsed = np.full(len(uniq), np.datetime64("NaT"), dtype="datetime64[D]")
    for j, s in enumerate(uniq.tolist()):
        s = s.strip()
        for fmt in _EXPIRY_FORMATS:
            try:
                parsed[j] = np.datetime64(datetime.strptime(s, fmt).date(), "D")  # noqa: DTZ007
                break
            except ValueError:
                continue
        else:
            d = _calendar_date(s)
            if d is not None:
                parsed[j] = np.datetime64(d, "D")
    return parsed[inverse.reshape(-1)]


def _parse_symbols(col: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """OCC symbols -> (root, right 'C'/'P'/'', expiration date from the symbol as
    datetime64[D], strike from the symbol in points); '', NaT and NaN where the symbol does
    not parse.

    Vectorized over the UCS-4 code points of the column (a full SPX file has ~20,000
    symbols): the tail is the fixed-width `YYMMDD[CP]########`, the root whatever precedes
    it. Symbols that are not in the plain unpadded upper-case form (spaces, lower case) take
    a regex path one by one.
    """
    n = len(col)
    roots = np.full(n, "", dtype=object)
    rights = np.full(n, "", dtype="<U1")
    dates = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    strikes = np.full(n, np.nan)
    a = np.asarray(col, dtype=str)
    width = a.dtype.itemsize // 4
    fast = np.zeros(n, dtype=bool)
    if n and width >= 16:
        codes = np.ascontiguousarray(a).view(np.uint32).reshape(n, width)
        length = np.char.str_len(a)
        start = length - 15  # root length
        pos = np.clip(start, 0, None)[:, None] + np.arange(15)
        tail = np.take_along_axis(codes, np.minimum(pos, width - 1), axis=1).astype(np.int64)
        digits = tail[:, _DIGIT_POS] - ord("0")
        cp = tail[:, 6]
        col_idx = np.arange(width)[None, :]
        in_root = col_idx < start[:, None]
        upper = (codes >= ord("A")) & (codes <= ord("Z"))
        digit = (codes >= ord("0")) & (codes <= ord("9"))
        fast = (
            (start >= 1)
            & (start <= 6)
            & ((digits >= 0) & (digits <= 9)).all(axis=1)
            & ((cp == ord("C")) | (cp == ord("P")))
            & (upper | digit | ~in_root).all(axis=1)
            & (upper[:, 0])
        )
        if fast.any():
            f = np.flatnonzero(fast)
            d = digits[f]
            yy = d[:, 0] * 10 + d[:, 1]
            mm = d[:, 2] * 10 + d[:, 3]
            dd = d[:, 4] * 10 + d[:, 5]
            month = ((2000 + yy - 1970) * 12 + np.clip(mm, 1, 12) - 1).astype("datetime64[M]")
            day = month.astype("datetime64[D]") + (np.maximum(dd, 1) - 1)
            ok = (mm >= 1) & (mm <= 12) & (dd >= 1) & (day.astype("datetime64[M]") == month)
            # An impossible date (month 13, June 31) means the symbol does not parse.
            f, d, day = f[ok], d[ok], day[ok]
            dates[f] = day
            strikes[f] = d[:, 6:] @ (10 ** np.arange(7, -1, -1)) / 1000.0
            rights[f] = np.where(cp[f] == ord("C"), "C", "P")
            rootcodes = np.where(in_root[f], codes[f], 0).astype(np.uint32)
            roots[f] = rootcodes.view(f"<U{width}").reshape(len(f)).astype(object)
    match = _OCC_RE.fullmatch
    for i in np.flatnonzero(~fast).tolist():
        m = match(str(a[i]))
        if m is None:
            continue
        y = m[2]
        try:
            dates[i] = np.datetime64(f"20{y[:2]}-{y[2:4]}-{y[4:]}", "D")
        except ValueError:
            continue  # month 13 and the like: the symbol does not parse
        roots[i] = m[1].upper()
        rights[i] = m[3].upper()
        strikes[i] = int(m[4]) / 1000.0
    return roots.astype(str), rights, dates, strikes


def _preamble_time_and_spot(
    preamble: list[list[str]], name: str, decimal_comma: bool = False
) -> tuple[datetime, float, str]:
    """(as_of, spot, name line) from the lines before the header."""
    rows = [[c.strip() for c in r] for r in preamble if any(c.strip() for c in r)]
    candidates: list[str] = []
    for r in rows:
        for j, cell in enumerate(r):
            if cell.lower().startswith("date:"):
                text = cell[5:].strip()
                # A hand-edited line lost its quotes: "Date: 9 June 2023, 1:40 PM EDT" split
                # into two fields. Join the next field unless it is the next label.
                if j + 1 < len(r) and r[j + 1] and not _PREAMBLE_LABEL_RE.match(r[j + 1]):
                    text = f"{text}, {r[j + 1]}"
                candidates.append(text)
    # 2020 layout: `Mar 22 2020 @ 18:24 ET,Bid,2243.68,...` (no "Date:" label).
    candidates += [r[0] for r in rows if len(r) > 1 and r[1].lower() == "bid"]
    candidates += [r[0] for r in rows]
    as_of = next((t for c in candidates if (t := parse_quote_time(c)) is not None), None)
    if as_of is None:
        shown = " | ".join(",".join(r)[:60] for r in rows[:3]) or "nothing"
        raise ChainFileError(
            name, f"no quote time found before the header (expected a `Date:` line; got {shown!r})"
        )

    spot = np.nan
    label = ""
    for r in rows:
        for cell in r:
            if cell.lower().startswith("last:"):
                spot = _floats([cell[5:]], decimal_comma)[0]
                label = r[0]
                break
        if label:
            break
    if not label and rows:
        # 2020 layout: `^SPX (Standard & Poors 500 Index),2304.92,-104.4701`.
        label = rows[0][0]
        if len(rows[0]) > 1:
            spot = _floats([rows[0][1]], decimal_comma)[0]
    return as_of, float(spot), label


def _underlying_symbol(roots: np.ndarray, label: str) -> str:
    if len(roots):
        uniq, counts = np.unique(roots, return_counts=True)
        tally: Counter[str] = Counter()
        for r, c in zip(uniq.tolist(), counts.tolist(), strict=True):
            tally[UNDERLYING_OF_ROOT.get(r, r)] += int(c)
        return tally.most_common(1)[0][0]
    m = re.match(r"\^?([A-Za-z]{1,6})\b", label)
    return m[1].upper() if m else ""


def _spot_note(spot: float, as_of: datetime) -> str:
    """The chain's spot note: "missing" without a usable spot, else that of every feed,
    `hedgeflow.feeds.normalize.spot_note_for` (outside regular hours the print is not live)."""
    if not (np.isfinite(spot) and spot > 0):
        return "missing"
    return spot_note_for(as_of)


def _delimiter(text: str) -> str:
    """`,` as CBOE writes it; `;` or tab when a spreadsheet re-saved the file that way (told
    by the header line, the one naming `Strike`)."""
    for line in text[:16384].splitlines()[: _MAX_PREAMBLE + 1]:
        if "Strike" in line:
            return max((",", ";", "\t"), key=line.count)
    return ","


def parse_quotedata(text: str, name: str, symbol: str | None) -> OptionChain:
    delimiter = _delimiter(text)
    decimal_comma = delimiter == ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    preamble: list[list[str]] = []
    header: list[str] | None = None
    for row in reader:
        if _is_header(row):
            header = row
            break
        preamble.append(row)
        if len(preamble) >= _MAX_PREAMBLE:
            break
    if header is None:
        raise ChainFileError(
            name,
            "not a CBOE quotedata file: no `Expiration Date,Calls,...,Strike,...` header "
            f"in the first {_MAX_PREAMBLE} lines",
        )
    header_line = reader.line_num
    as_of, spot, label = _preamble_time_and_spot(preamble, name, decimal_comma)

    cells = [c.strip() for c in header]
    k = cells.index("Strike")
    calls = _side_indices(header, 0, k, ("Calls",), name)
    puts = _side_indices(header, k + 1, len(cells), ("Puts",), name)
    need = max(v for side in (calls, puts) for v in side.values() if v is not None) + 1

    data: list[list[str]] = []
    for row in reader:
        if len(row) >= need and row[k]:
            data.append(row)
        elif not "".join(row).strip():
            continue  # blank line (or a spreadsheet's row of empty cells)
        elif len(row) < need:
            raise ChainFileError(
                name,
                f"line {reader.line_num} has {len(row)} fields, expected {need} (truncated file?)",
            )
        else:
            data.append(row)  # no strike: dropped below as bad_strike, counted
    if not data:
        raise ChainFileError(name, f"no option rows after the header on line {header_line}")
    columns = list(zip(*data, strict=False))
    n = len(data)

    def col(j: int | None, fill: float = np.nan) -> np.ndarray:
        return np.full(n, fill) if j is None else _floats(columns[j], decimal_comma)

    strike = col(k)
    row_dates = _parse_expiry_dates(columns[0])
    counts: Counter[str] = Counter()

    sides = []
    for side, right in ((calls, "C"), (puts, "P")):
        assert side["symbol"] is not None
        roots, rights, sym_dates, sym_strikes = _parse_symbols(columns[side["symbol"]])
        with np.errstate(invalid="ignore"):
            # The symbol must name this side and the row's strike (1/1000 point precision).
            agrees = (rights == right) & (np.abs(sym_strikes - strike) < 5e-4)
        sides.append(
            {
                "root": roots,
                "ok_symbol": agrees | ~np.isfinite(strike),
                "date": np.where(np.isnat(row_dates), sym_dates, row_dates),
                "bid": col(side["bid"]),
                "ask": col(side["ask"]),
                "last": col(side["last"]),
                "volume": col(side["volume"], 0.0),
                "oi": col(side["oi"]),
                "iv": col(side["iv"]),
            }
        )

    with np.errstate(invalid="ignore"):
        # A row that carries nothing on either side (no quote, trade, volume or OI).
        empty = np.ones(n, dtype=bool)
        for s in sides:
            for key in ("bid", "ask", "last", "volume", "oi"):
                empty &= ~(s[key] > 0)
    is_call = np.concatenate([np.ones(n, dtype=bool), np.zeros(n, dtype=bool)])

    def both(key: str) -> np.ndarray:
        return np.concatenate([sides[0][key], sides[1][key]])

    root = both("root")
    dates = both("date")
    strike2 = np.concatenate([strike, strike])
    keep = np.ones(2 * n, dtype=bool)

    oi_all = both("oi")
    oi_counts: dict[str, float] = {}

    def drop(mask: np.ndarray, reason: str) -> None:
        hit = mask & keep
        if hit.any():
            counts[reason] += int(hit.sum())
            add_dropped_oi(oi_counts, reason, dropped_oi(oi_all, hit))
            keep[hit] = False

    # Settlement epochs by root; NaN where the date is unreadable or outside the exchange
    # calendar (the rule every feed applies, `hedgeflow.feeds.normalize.settlement`).
    expiry = settlement(root, dates)
    with np.errstate(invalid="ignore"):
        drop(np.concatenate([empty, empty]), "empty_row")
        drop(~np.isfinite(strike2) | (strike2 <= 0), "bad_strike")
        drop(~np.isfinite(expiry), "bad_expiry")
        drop(~both("ok_symbol"), "bad_symbol")
        drop(nonstandard_roots(root), "nonstandard_root")

    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        raise ChainFileError(name, f"no usable option rows ({dict(counts)})")
    co = chain_order(
        idx,
        root,
        expiry,
        strike2,
        is_call,
        counts,
        listed=dates,
        open_interest=oi_all,
        oi_counts=oi_counts,
    )
    order = co.rows
    q = repair_quotes(
        both("bid")[order],
        both("ask")[order],
        both("last")[order],
        both("volume")[order],
        oi_all[order],
        both("iv")[order],
        counts,
        nan_unreadable=True,  # every CBOE cell holds a number: NaN = unreadable
    )
    first, q, _ = merge_contracts(co.start, q, np.full(len(order), np.nan))  # holiday moves
    order = order[first]

    kept_roots = root[order]
    spot_note = _spot_note(spot, as_of)
    return make_chain(
        symbol=(symbol or _underlying_symbol(kept_roots, label)).upper(),
        spot=spot if np.isfinite(spot) and spot > 0 else np.nan,
        as_of=as_of,
        root=kept_roots,
        strike=strike2[order],
        expiry=expiry[order],
        is_call=is_call[order],
        bid=q.bid,
        ask=q.ask,
        last=q.last,
        volume=q.volume,
        open_interest=q.open_interest,
        multiplier=100.0,
        vendor_iv=q.vendor_iv,
        source=name,
        delay_seconds=CBOE_DELAY_SECONDS,
        spot_note=spot_note,
        dropped=dict(counts),
        dropped_open_interest=dict(oi_counts),
    )
