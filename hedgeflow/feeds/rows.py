"""The row rules every reader shares (`hedgeflow.feeds.normalize` states them): chain order,
duplicate rows, listed contracts that settle together (merged), the value repairs, and the
open interest of dropped rows. Split from `normalize` for size; import them from there.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import numpy as np


def dropped_oi(open_interest: np.ndarray, hit: np.ndarray) -> float:
    """Open interest (contracts) carried by the rows `hit` (mask or index): finite positive
    values only, as `repair_quotes` would have kept them."""
    oi = np.asarray(open_interest, dtype=np.float64)[hit]
    with np.errstate(invalid="ignore"):
        return float(oi[np.isfinite(oi) & (oi > 0)].sum())


def add_dropped_oi(oi_counts: dict[str, float], reason: str, open_interest: float) -> None:
    """Record `open_interest` carried by rows dropped for `reason` (nothing when 0; never for
    `expired`: a settled series has no exposure left to lose)."""
    if open_interest > 0 and reason != "expired":
        oi_counts[reason] = oi_counts.get(reason, 0.0) + open_interest


class ContractOrder(NamedTuple):
    """Rows of a chain in chain order (`chain_order`).

    rows : row indices of the input, sorted by (expiry, root, strike, put before call);
    start : bool per entry of `rows`, True where a contract begins; False marks a row that
        settles with the row before it (same root, settlement, strike and right, another
        listed expiration date) and is to be merged into it (`merge_contracts`).
    """

    rows: np.ndarray
    start: np.ndarray


def chain_order(
    idx: np.ndarray,
    root: np.ndarray,
    expiry: np.ndarray,
    strike: np.ndarray,
    is_call: np.ndarray,
    counts: Counter[str],
    *,
    listed: np.ndarray | None = None,
    open_interest: np.ndarray | None = None,
    oi_counts: dict[str, float] | None = None,
) -> ContractOrder:
    """The kept rows `idx` (ascending, i.e. in payload or file order) in chain order, sorted
    by (expiry, root, strike, put before call).

    A later row of the same listed contract (root, `listed` expiration date, strike, right) is
    a duplicate: dropped, counted `duplicate` (its open interest added to `oi_counts`); the
    first row wins. Rows of different listed dates that settle together (a holiday moved one
    expiration onto the previous session, where another series already settles) are kept
    next to each other, the later ones marked in `start` for `merge_contracts` and counted
    `merged_same_settlement`. Without `listed` every row of one (root, settlement, strike,
    right) after the first is a duplicate.
    """
    # lexsort is stable: within one key the first row of the input comes first; the listed
    # date (least significant key) groups the rows of one listed contract together.
    keys = [is_call[idx], strike[idx], root[idx], expiry[idx]]
    if listed is not None:
        keys.insert(0, np.asarray(listed, dtype="datetime64[D]").view(np.int64)[idx])
    order = idx[np.lexsort(keys)]
    if len(order) < 2:
        return ContractOrder(order, np.ones(len(order), dtype=bool))

    def same_contract(o: np.ndarray) -> np.ndarray:
        same: np.ndarray = (
            (expiry[o][1:] == expiry[o][:-1])
            & (root[o][1:] == root[o][:-1])
            & (strike[o][1:] == strike[o][:-1])
            & (is_call[o][1:] == is_call[o][:-1])
        )
        return same

    same = same_contract(order)
    dup = same
    if listed is not None:
        day = np.asarray(listed, dtype="datetime64[D]")[order]
        dup = same & (day[1:] == day[:-1])
    if dup.any():
        counts["duplicate"] += int(dup.sum())
        if open_interest is not None and oi_counts is not None:
            add_dropped_oi(oi_counts, "duplicate", dropped_oi(open_interest, order[1:][dup]))
        order = order[np.concatenate([[True], ~dup])]
        same = same_contract(order) if len(order) > 1 else np.zeros(0, dtype=bool)
    start = np.concatenate([[True], ~same])
    if not start.all():
        counts["merged_same_settlement"] += int((~start).sum())
    return ContractOrder(order, start)


class RepairedQuotes(NamedTuple):
    """The per-contract values after `repair_quotes` (new arrays, same order and length)."""

    bid: np.ndarray
    ask: np.ndarray
    last: np.ndarray
    volume: np.ndarray
    open_interest: np.ndarray
    vendor_iv: np.ndarray


def repair_quotes(
    bid: np.ndarray,
    ask: np.ndarray,
    last: np.ndarray,
    volume: np.ndarray,
    open_interest: np.ndarray,
    vendor_iv: np.ndarray,
    counts: Counter[str],
    *,
    nan_unreadable: bool = False,
) -> RepairedQuotes:
    """Apply the value rules of the module docstring to the contracts a reader keeps; every
    repair is counted in `counts` under its reason. Inputs are not modified.

    Parameters
    ----------
    bid, ask, last : float64, option prices in points, NaN = missing.
    volume, open_interest : float64 contract counts, NaN = missing (-> 0).
    vendor_iv : float64 decimal IV; <= 0 or non-finite means "not computed" (-> NaN).
    counts : the reader's `dropped` counter, updated in place.
    nan_unreadable : True when the source prints every value (a CBOE CSV writes 0 for
        nothing), so a NaN in bid, ask, last, volume or OI is a cell that did not read as a
        number: counted `bad_number` here (`bad_open_interest` for OI). False for vendor JSON,
        whose null means missing
        and whose unparseable values `as_float_array` already counted.
    """
    b, a, la = (np.array(x, dtype=np.float64) for x in (bid, ask, last))
    vol, oi = np.array(volume, dtype=np.float64), np.array(open_interest, dtype=np.float64)
    iv = np.array(vendor_iv, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        if nan_unreadable:
            unreadable = sum(int(np.isnan(arr).sum()) for arr in (b, a, la, vol))
            if unreadable:
                counts["bad_number"] += unreadable
            # an unreadable open interest is a position the book loses: counted apart, so
            # that the analysis can say so (`engine.pipeline.input_notes`)
            lost = int(np.isnan(oi).sum())
            if lost:
                counts["bad_open_interest"] += lost
        for arr in (b, a, la):
            neg = np.isinf(arr) | (arr < 0)
            if neg.any():
                counts["negative_quote"] += int(neg.sum())
                arr[neg] = np.nan
        crossed = b > a
        if crossed.any():
            counts["crossed_quote"] += int(crossed.sum())
            b[crossed] = np.nan
            a[crossed] = np.nan
        nomkt = (b == 0) & (a == 0)
        if nomkt.any():
            counts["no_market"] += int(nomkt.sum())
            b[nomkt] = np.nan
            a[nomkt] = np.nan
        la[la == 0] = np.nan  # "no trade"

        def nonneg(arr: np.ndarray, reason: str) -> np.ndarray:
            # NaN (missing, or unreadable and counted above) means 0; count only values
            # that were present and wrong (negative or infinite).
            wrong = np.isinf(arr) | (arr < 0)
            if wrong.any():
                counts[reason] += int(wrong.sum())
            return np.where(wrong | np.isnan(arr), 0.0, arr)

        vol = nonneg(vol, "bad_volume")
        oi = nonneg(oi, "bad_open_interest")
        iv[~(iv > 0) | ~np.isfinite(iv)] = np.nan  # 0 = "not computed"
    return RepairedQuotes(b, a, la, vol, oi, iv)


def merge_contracts(
    start: np.ndarray, q: RepairedQuotes, last_trade_time: np.ndarray
) -> tuple[np.ndarray, RepairedQuotes, np.ndarray]:
    """Fold each row marked False in `start` (`ContractOrder.start`) into the contract that
    begins before it: rows that settle at the same instant on the same root, strike and
    right are one payoff, so their positions add up.

    open interest, volume : summed;
    bid, ask, vendor IV : of the row with the tightest two-sided quote (ask - bid, both
        present), the earliest listed row on a tie or when none is two-sided. One row's
        pair, never a bid from one and an ask from another: a tighter market on the same
        payoff is the better estimate of its price, and a per-row quote time (to keep the
        most recent) is given by no CBOE file and few vendors;
    last, last trade time : of the most recent trade (a row without a trade time counts as
        older than any with one; the earliest listed row on a tie).

    Returns (index into the inputs of each contract's first row, the merged values, the
    merged last trade times), each one entry per contract.
    """
    first = np.flatnonzero(start)
    if first.size == start.size:
        return first, q, last_trade_time
    group = np.cumsum(start) - 1
    n = first.size
    pos = np.arange(start.size)
    with np.errstate(invalid="ignore"):
        spread = q.ask - q.bid
    spread = np.where(np.isfinite(spread), spread, np.inf)
    quote_row = np.lexsort((pos, spread, group))[first]  # first row per group in that order
    has_last = np.isfinite(q.last)
    when = np.where(np.isfinite(last_trade_time), last_trade_time, -np.inf)
    trade_row = np.lexsort((pos, -when, ~has_last, group))[first]
    merged = RepairedQuotes(
        bid=q.bid[quote_row],
        ask=q.ask[quote_row],
        last=q.last[trade_row],
        volume=np.bincount(group, weights=q.volume, minlength=n),
        open_interest=np.bincount(group, weights=q.open_interest, minlength=n),
        vendor_iv=q.vendor_iv[quote_row],
    )
    return first, merged, last_trade_time[trade_row]
