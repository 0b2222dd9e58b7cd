"""Live dealer positions from signed customer flow (docs/METHOD.md "Live flow").

Between two snapshots of the same session, each contract's volume increase

    dv = max(volume_cur - volume_at_last_sighting, 0)   contracts (a vendor correction
                                                         that lowers volume is clamped)

is signed from the contract's last trade, and only when the contract is in the previous
snapshot and that trade is newer than it (last_trade_time > prev.as_of):

- last >= ask in both the previous and the current quote: a customer buy, +dv;
- last <= bid in both quotes: a customer sell, -dv;
- anything else (inside the spread, a quote that moved through the print, a missing or
  locked quote, a stale last trade): unsigned, counted and its share reported.

All of dv is attributed to the side of the last trade, the only print a snapshot shows.
The first snapshot of a session (and a contract's first appearance) is never signed: its
volume traded before we watched, and it only fixes the start-of-day open interest OI_0.
The state resets when the session changes or when a snapshot predates the session start
(daily volume restarts at zero); a gap in the polling (no previous snapshot) keeps the
state and leaves the increase over the gap unsigned.

Dealers' live position per contract (`live_positions`):

    pos = pos_model(OI_0) - cumulative signed volume

for calls and puts alike: when a customer lifts the offer a market maker sold, whether the
trade opened or closed a position (prints cannot tell), so no "live OI" is fed through the
positioning model. OI_0 is the open interest published with the contract when first seen
this session (OCC's start-of-day figure: 0 for a contract listed today, the published OI
for one that only entered the feed's strike window later). That the counterparty was a
dealer is a model assumption, and the screen says so.

Contracts are keyed by (root, expiry, strike, is_call) packed into fixed-width bytes whose
byte order is the key order, so sorting, `np.searchsorted`, `np.unique` and
`np.intersect1d` work on them directly and fast (memcmp), no per-contract Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from numpy.typing import NDArray

from hedgeflow.engine.chain import OptionChain
from hedgeflow.engine.enums import PositioningModel
from hedgeflow.engine.exposure import positions

ROOT_BYTES = 12
# Big-endian integers so that byte order equals numeric order (all values are positive).
_KEY_FIELDS = np.dtype(
    [("root", f"S{ROOT_BYTES}"), ("expiry", ">i8"), ("strike", ">i8"), ("is_call", "u1")]
)
KEY_DTYPE = np.dtype(f"V{_KEY_FIELDS.itemsize}")
#: strikes are keyed in 1/10000 of a point (a 4512.5 strike is 45125000)
STRIKE_SCALE = 10_000.0


def contract_keys(chain: OptionChain) -> np.ndarray:
    """One sortable key per chain row: (root, expiry second, strike, is_call).

    Returns a `KEY_DTYPE` (fixed-width void) array: equal contracts have equal keys and
    byte order is (root, expiry, strike, put < call) order, so the keys work with np.sort,
    np.unique, np.searchsorted and np.intersect1d. `decode_keys` turns them back into fields.
    Rows with a non-finite or non-positive strike or expiry get an all-0xFF key that sorts
    last (`valid_keys` tells them apart); roots longer than 12 bytes raise ValueError.
    """
    n = len(chain)
    # A chain has a handful of roots: encode each once.
    names, which = np.unique(np.asarray(chain.root, dtype=str), return_inverse=True)
    encoded = np.char.encode(names, "utf-8")
    if encoded.size and np.char.str_len(encoded).max() > ROOT_BYTES:
        raise ValueError(f"`root` longer than {ROOT_BYTES} bytes cannot be keyed")
    strike, expiry = chain.strike, chain.expiry
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(strike) & (strike > 0) & np.isfinite(expiry) & (expiry > 0)
    fields = np.zeros(n, dtype=_KEY_FIELDS)
    fields["root"] = encoded.astype(f"S{ROOT_BYTES}")[which.reshape(-1)]
    fields["expiry"] = np.round(np.where(ok, expiry, 0.0)).astype(np.int64)
    fields["strike"] = np.round(np.where(ok, strike, 0.0) * STRIKE_SCALE).astype(np.int64)
    fields["is_call"] = chain.is_call.astype(np.uint8)
    keys = fields.view(KEY_DTYPE).copy()
    keys[~ok] = np.frombuffer(b"\xff" * KEY_DTYPE.itemsize, dtype=KEY_DTYPE)[0]
    return keys


def valid_keys(keys: NDArray[np.void]) -> NDArray[np.bool_]:
    """False for the all-0xFF key of a row that could not be keyed."""
    valid: NDArray[np.bool_] = (
        keys != np.frombuffer(b"\xff" * KEY_DTYPE.itemsize, dtype=KEY_DTYPE)[0]
    )
    return valid


def decode_keys(keys: np.ndarray) -> np.ndarray:
    """Structured view of keys: root (bytes), expiry (epoch s), strike (points), is_call."""
    fields = np.asarray(keys, dtype=KEY_DTYPE).view(_KEY_FIELDS)
    out = np.empty(
        fields.size, dtype=[("root", "U12"), ("expiry", "f8"), ("strike", "f8"), ("is_call", "?")]
    )
    out["root"] = np.char.decode(fields["root"], "utf-8")
    out["expiry"] = fields["expiry"].astype(np.float64)
    out["strike"] = fields["strike"].astype(np.float64) / STRIKE_SCALE
    out["is_call"] = fields["is_call"].astype(bool)
    return out


def match_keys(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each of `keys` in the ascending unique `sorted_keys`, and a found mask
    (index is 0 where not found)."""
    if sorted_keys.size == 0:
        return np.zeros(keys.size, dtype=np.intp), np.zeros(keys.size, dtype=bool)
    idx = np.searchsorted(sorted_keys, keys)
    idx = np.minimum(idx, sorted_keys.size - 1)
    found = (sorted_keys[idx] == keys) & valid_keys(keys)
    return np.where(found, idx, 0), found


def _gather(
    values: np.ndarray, idx: np.ndarray, found: np.ndarray, fill: float | np.ndarray
) -> np.ndarray:
    """values[idx] where found, else fill (safe when `values` is empty)."""
    if values.size == 0:
        return np.broadcast_to(np.asarray(fill, dtype=np.float64), idx.shape).copy()
    return np.where(found, values[idx], fill)


@dataclass(frozen=True, eq=False)
class LiveFlow:
    """Signed customer flow of one session, per contract.

    session_start : aware datetime the session (and its volume count) started
    as_of : the last snapshot's as-of time
    keys : contract keys (`contract_keys`), ascending and unique
    open_interest_0 : OI_0 per key, contracts (published OI when first seen this session;
        NaN where the feed had none, so that the position is NaN and the book masks it)
    signed_volume : cumulative signed customer volume per key, contracts (buys +, sells -)
    last_volume : the session volume per key at its last sighting, contracts (the next
        snapshot's increase is measured from it)
    buy_volume, sell_volume : signed customer buys and sells this session, contracts (>= 0)
    unsigned_volume : volume seen between snapshots that could not be signed, contracts
    unseen_volume : volume traded before a contract's first sighting (never signable)
    snapshots : snapshots folded into this state
    masked_rows : chain rows that could not be keyed or repeated a key (first row kept),
        over all snapshots
    """

    session_start: datetime
    as_of: datetime
    keys: np.ndarray
    open_interest_0: np.ndarray
    signed_volume: np.ndarray
    last_volume: np.ndarray
    buy_volume: float = 0.0
    sell_volume: float = 0.0
    unsigned_volume: float = 0.0
    unseen_volume: float = 0.0
    snapshots: int = 1
    masked_rows: int = 0

    def __post_init__(self) -> None:
        if self.session_start.tzinfo is None or self.as_of.tzinfo is None:
            raise ValueError("`session_start` and `as_of` must be timezone-aware")
        n = self.keys.size
        for name in ("open_interest_0", "signed_volume", "last_volume"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"`{name}` must have one value per key ({n})")
        if self.keys.dtype != KEY_DTYPE:
            raise ValueError("`keys` must be `contract_keys` output")
        # Void keys have no `<` ufunc: ascending means sorting changes nothing.
        if n > 1 and (
            np.any(self.keys[1:] == self.keys[:-1])
            or not np.array_equal(np.sort(self.keys), self.keys)
        ):
            raise ValueError("`keys` must be ascending and unique")

    @property
    def session_date(self) -> date:
        """The session's date in the session start's own time zone."""
        return self.session_start.date()

    @property
    def observed_volume(self) -> float:
        """Volume seen trading between snapshots: buys + sells + unsigned, contracts."""
        return self.buy_volume + self.sell_volume + self.unsigned_volume

    @property
    def unsigned_share(self) -> float:
        """Share of the observed volume that could not be signed; NaN before any is seen."""
        total = self.observed_volume
        return self.unsigned_volume / total if total > 0 else float("nan")


def _unique_rows(chain: OptionChain) -> tuple[np.ndarray, np.ndarray, int]:
    """Sorted unique valid keys, the chain row of each (first occurrence), rows dropped."""
    keys = contract_keys(chain)
    uniq, first = np.unique(keys, return_index=True)
    keep = valid_keys(uniq)
    return uniq[keep], first[keep], int(len(chain) - keep.sum())


def _clean_volume(volume: np.ndarray) -> np.ndarray:
    """Session volume, contracts: a missing, infinite or negative figure counts as 0."""
    return np.where(np.isfinite(volume) & (volume > 0), volume, 0.0)


def _fresh(chain: OptionChain, session_start: datetime) -> LiveFlow:
    keys, rows, dropped = _unique_rows(chain)
    volume = _clean_volume(chain.volume[rows])
    return LiveFlow(
        session_start=session_start,
        as_of=chain.as_of,
        keys=keys,
        open_interest_0=chain.open_interest[rows].copy(),
        signed_volume=np.zeros(keys.size),
        last_volume=volume,
        unseen_volume=float(volume.sum()),
        snapshots=1,
        masked_rows=dropped,
    )


def update_live_flow(
    state: LiveFlow | None,
    prev: OptionChain | None,
    cur: OptionChain,
    *,
    session_start: datetime,
) -> LiveFlow:
    """Fold snapshot `cur` (taken after `prev`) into the session's signed flow.

    Starts afresh (nothing signed, OI_0 and volumes from `cur`) when there is no state, the
    state belongs to another session, or `prev` or `cur` predates `session_start`. Otherwise
    each known contract's volume increase since its last sighting (clamped >= 0) is signed
    as the module docstring says when the contract is also in `prev` (whose quotes the rule
    needs), else counted unsigned; `prev` None (a gap in the polling) leaves every increase
    unsigned. Contracts new in `cur` join with their published OI as OI_0 and their volume
    counted as unseen. A snapshot older than the state's is ignored (the state is returned).
    Pure: the polling loop keeps the returned state and the snapshot.
    """
    if session_start.tzinfo is None:
        raise ValueError("`session_start` must be timezone-aware")
    if (
        state is None
        or state.session_start != session_start
        or cur.as_of < session_start
        or (prev is not None and prev.as_of < session_start)
    ):
        return _fresh(cur, session_start)
    if cur.as_of < state.as_of:
        return state  # an out-of-order (older) snapshot: its volumes would run backwards

    cur_keys, cur_rows, dropped = _unique_rows(cur)
    volume = _clean_volume(cur.volume[cur_rows])

    # Union of the known contracts and the ones new in `cur` (both sorted and unique).
    sidx, known = match_keys(state.keys, cur_keys)
    new_keys = cur_keys[~known]
    new_oi = cur.open_interest[cur_rows][~known]
    keys = np.concatenate((state.keys, new_keys))
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    oi0 = np.concatenate((state.open_interest_0, new_oi))[order]
    signed = np.concatenate((state.signed_volume, np.zeros(new_keys.size)))[order]
    last_volume = np.concatenate((state.last_volume, np.zeros(new_keys.size)))[order]
    at, _ = match_keys(keys, cur_keys)  # every cur key is in the union

    # Volume increase since the contract's last sighting; a decrease is clamped to 0.
    dv = np.where(
        known, np.maximum(volume - _gather(state.last_volume, sidx, known, 0.0), 0.0), 0.0
    )
    unseen = float(volume[~known].sum())

    if prev is not None:
        prev_keys, prev_rows, _ = _unique_rows(prev)
        pidx, in_prev = match_keys(prev_keys, cur_keys)
        prow = _gather(prev_rows, pidx, in_prev, 0).astype(np.intp)
        prev_ask = _gather(prev.ask, prow, in_prev, np.nan)
        prev_bid = _gather(prev.bid, prow, in_prev, np.nan)
        # Sign from the last trade against both quotes (NaN compares False: unsigned).
        last = cur.last[cur_rows]
        with np.errstate(invalid="ignore"):
            fresh_trade = cur.last_trade_time[cur_rows] > prev.as_of_epoch
            at_ask = (last >= cur.ask[cur_rows]) & (last >= prev_ask)
            at_bid = (last <= cur.bid[cur_rows]) & (last <= prev_bid)
        signable = known & in_prev & fresh_trade
        buy = signable & at_ask & ~at_bid  # a locked quote (bid == ask) is ambiguous
        sell = signable & at_bid & ~at_ask
    else:
        buy = sell = np.zeros(cur_keys.size, dtype=bool)
    signed[at] += np.where(buy, dv, 0.0) - np.where(sell, dv, 0.0)  # unique keys: no repeats
    last_volume[at] = volume

    buys = float(dv[buy].sum())
    sells = float(dv[sell].sum())
    return LiveFlow(
        session_start=session_start,
        as_of=cur.as_of,
        keys=keys,
        open_interest_0=oi0,
        signed_volume=signed,
        last_volume=last_volume,
        buy_volume=state.buy_volume + buys,
        sell_volume=state.sell_volume + sells,
        unsigned_volume=state.unsigned_volume + float(dv[~(buy | sell)].sum()),
        unseen_volume=state.unseen_volume + unseen,
        snapshots=state.snapshots + 1,
        masked_rows=state.masked_rows + dropped,
    )


def live_positions(state: LiveFlow, chain: OptionChain, model: PositioningModel) -> np.ndarray:
    """Dealers' live signed position per row of `chain`, contracts.

    pos = pos_model(OI_0) - cumulative signed customer volume, with OI_0 and the signed
    volume from `state`; a row whose contract the state has not seen uses the chain's
    published OI and no flow; a row that cannot be keyed gets pos_model of its published OI
    (NaN OI stays NaN, for the caller to mask). Positive: dealers long.
    """
    keys = contract_keys(chain)
    idx, found = match_keys(state.keys, keys)
    oi0 = _gather(state.open_interest_0, idx, found, chain.open_interest)
    flow = _gather(state.signed_volume, idx, found, 0.0)
    live: NDArray[np.float64] = positions(oi0, chain.is_call, model) - flow
    return live
