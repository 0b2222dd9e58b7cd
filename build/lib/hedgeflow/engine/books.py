"""The chain pipeline: the `ExpiryBook` (`hedgeflow.engine.book`) of each expiry of a chain.

`build_expiry_books(chain, r=..., positioning=...)` is the chain pipeline for every
requested expiry at once; `build_expiry_book(chain, expiry, ...)` is its one-expiry
case. Steps:

1. rows of the expiry (settlement epoch, exact), strikes validated, sorted by strike;
2. tau from the snapshot's as-of time to settlement (365-day years): tau <= 0 is an
   expired series and is skipped;
3. mids of sane two-sided quotes (`hedgeflow.engine.iv.quote_mid`); the rate of each
   expiry and its parity forward from the pairs near the money (`hedgeflow.engine.forward`:
   the rate implied where the roots are European-style and the fit is credible, else the
   configured one, with the reason in `ExpiryBook.rate_source`); one spot for the whole chain, the vendor's
   if it agrees with the nearest live expiry's forward, else that forward discounted
   (flagged), and each expiry's dividend yield q implied against it (F = S e^{(r-q) tau};
   a q beyond a plausible band is flagged, e.g. an ex-dividend date inside the expiry);
4.-6. the smile: raw IVs, the smoothed total variance, the fit inside the market and
   free of butterfly arbitrage (`hedgeflow.engine.smile`);
7. the dealers' signed positions (positioning model, or live positions passed in).

Downstream code (exposures, the exact charm integral, the repriced profile, the
finite-difference checks) reprices options from a book's arrays and never goes back to
quotes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from hedgeflow.engine.black76 import MIN_GREEK_TAU, SECONDS_PER_YEAR
from hedgeflow.engine.book import ExpiryBook
from hedgeflow.engine.chain import OptionChain, sorted_unique
from hedgeflow.engine.enums import PositioningModel
from hedgeflow.engine.exposure import positions as model_positions
from hedgeflow.engine.forward import (
    ForwardEstimates,
    RateSource,
    describe_rate,
    is_european,
    parity_forwards,
    with_spot,
)
from hedgeflow.engine.iv import quote_mid
from hedgeflow.engine.smile import (
    NO_QUOTE,
    SkippedExpiry,
    Smiles,
    segment_bounds,
    segment_counts,
    vendor_note,
)
from hedgeflow.engine.types import IVSurface

# --------------------------------------------------------------------------- the books


REFERENCE_CANDIDATES = 3  # nearest live expiries searched for the spot's reference forward
REFERENCE_MIN_PAIRS = 3  # parity pairs a reference forward should rest on, when any has them


@dataclass(frozen=True)
class SpotEstimate:
    """The underlying's spot for every book of a chain (one spot, so books add up).

    spot : points; trusted : the vendor's spot agreed with the reference forward
    reference_expiry : epoch of the expiry whose parity forward checked (or set) the spot,
        NaN when no expiry had a quoted call/put pair
    note : why the vendor spot was not used ("" when it was)
    """

    spot: float
    trusted: bool
    reference_expiry: float
    note: str = ""


def _reference_spot(
    chain: OptionChain,
    fe: ForwardEstimates,
    E: np.ndarray,
    tau: np.ndarray,
    cand: np.ndarray,
) -> SpotEstimate:
    """The chain's spot from the nearest live expiry whose forward rests on parity pairs
    (at least REFERENCE_MIN_PAIRS if one of the candidates has them): the vendor spot when
    it agrees with that forward, else S = F e^{-r tau} of that expiry (q = 0 over its
    short life). A disagreeing spot is an after-hours print, a stale index value or an
    ex-dividend day (docs/METHOD.md "Pricing"): flagged, not trusted."""
    vendor = float(chain.spot)
    idx = np.flatnonzero(cand)
    pairs = fe.n_pairs[idx]
    good = idx[pairs >= REFERENCE_MIN_PAIRS]
    some = idx[pairs >= 1]
    ref = int(good[0]) if good.size else (int(some[0]) if some.size else -1)
    if ref < 0:
        ok = math.isfinite(vendor) and vendor > 0
        return SpotEstimate(vendor if ok else float("nan"), ok, float("nan"))
    if bool(fe.spot_consistent[ref]):
        return SpotEstimate(vendor, True, float(E[ref]))
    when = datetime.fromtimestamp(float(E[ref]), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    forward = float(fe.forward[ref])
    spot = forward * math.exp(-float(fe.rate[ref]) * float(tau[ref]))
    if math.isfinite(vendor):
        note = (
            f"spot {vendor:.2f} disagrees with the parity forward {forward:.2f} of the "
            f"{when} expiry (beyond a plausible dividend yield): not used; spot taken as "
            f"F e^(-r tau) = {spot:.2f}"
        )
    else:
        note = f"no spot: taken as F e^(-r tau) = {spot:.2f} of the {when} expiry"
    return SpotEstimate(spot, False, float(E[ref]), note)


def _member(sorted_values: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.isin(x, sorted_values) for ascending unique (NaN-free) values, and each x's
    np.searchsorted position in them."""
    pos = np.searchsorted(sorted_values, x)
    if sorted_values.size == 0:
        return np.zeros(pos.shape, dtype=bool), pos
    return sorted_values[np.minimum(pos, sorted_values.size - 1)] == x, pos


def _per_node(values: np.ndarray, node: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    out[node[mask]] = values[mask]  # duplicate contracts at one strike: the last row wins
    return out


def _per_node_rows(
    values: np.ndarray, rows: np.ndarray, node_of_rows: np.ndarray, n: int
) -> np.ndarray:
    """Each row of `values` (k x rows) spread to its node (k x n, NaN where no row):
    `_per_node(values[i], node, mask, n)` for every i at once, given `rows` =
    np.flatnonzero(mask) and `node_of_rows` = node[rows] (the same assignments, in the same
    order: duplicate contracts at one strike, the last row wins)."""
    out = np.full((values.shape[0], n), np.nan)
    out[:, node_of_rows] = values[:, rows]
    return out


def _by_expiry_strike_right(
    rows: np.ndarray, seg: np.ndarray, strike: np.ndarray, is_call: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`rows` and `seg` sorted by expiry segment, strike, put before call, stable:
    np.lexsort's order. Without its sort when the rows already come in it (a normalized
    chain, `hedgeflow.feeds.rows.chain_order`), and by one stable sort of integer keys
    (strike node, right) when only the rights at a strike are out of order (a feed that
    lists the call first)."""
    if rows.size > 1:
        ds = seg[1:] - seg[:-1]
        dk = strike[1:] - strike[:-1]  # (finite strikes: the sign of a difference is exact)
        same_seg = ds == 0
        new = (ds > 0) | (same_seg & (dk > 0))
        same = same_seg & (dk == 0)
        if bool((new | same).all()):  # (expiry, strike) ascending
            if bool((~same | (is_call[1:] >= is_call[:-1])).all()):
                return rows, seg
            key = np.empty(rows.size, dtype=np.intp)
            key[0] = 0
            np.cumsum(new, out=key[1:])  # the (expiry, strike) node of each row
            key *= 2
            key += is_call
            order = np.argsort(key, kind="stable")
            return rows[order], seg[order]
    order = np.lexsort((is_call, strike, seg))
    return rows[order], seg[order]


def build_expiry_books(
    chain: OptionChain,
    expiries: Iterable[float] | np.ndarray | None = None,
    *,
    r: float,
    positioning: PositioningModel,
    position: np.ndarray | None = None,
    payoff_only: bool = True,
) -> tuple[list[ExpiryBook], dict[float, str]]:
    """Books of several expiries at once, vectorized across them.

    Parameters
    ----------
    chain : the normalized chain
    expiries : settlement epochs (seconds UTC, as in `chain.expiry`); None = all in the chain
    r, positioning, position, payoff_only : as in `build_expiry_book`

    Returns
    -------
    (books in ascending expiry order, {expiry epoch: reason} for the expiries skipped).
    Each book equals `build_expiry_book(chain, expiry, ...)` for its expiry.
    """
    if position is not None:
        position = np.asarray(position, dtype=np.float64)
        if position.shape != (len(chain),):
            raise ValueError(f"`position` must have one value per chain row ({len(chain)})")
    all_e = chain.expiries()
    all_e = all_e[np.isfinite(all_e)]
    if expiries is None:
        E_req = all_e
    elif isinstance(expiries, np.ndarray) and expiries.ndim == 1:
        E_req = sorted_unique(np.asarray(expiries, dtype=np.float64))  # = np.unique
    else:
        E_req = np.unique(np.asarray(list(expiries), dtype=np.float64))
    skipped: dict[float, str] = {}
    if not np.isfinite(E_req).all():
        for e in E_req[~np.isfinite(E_req)]:
            skipped[float(e)] = "no options at this expiry"
        E_req = E_req[np.isfinite(E_req)]
    # the nearest live expiries ride along (without smiles) for the chain's one spot
    candidates = all_e[all_e - chain.as_of_epoch >= MIN_GREEK_TAU * SECONDS_PER_YEAR]
    candidates = candidates[:REFERENCE_CANDIDATES]
    # (sorted unique arrays throughout: membership by one search, not np.isin's sort)
    if _member(E_req, candidates)[0].all():  # the common case: the candidates are asked for
        E, requested = E_req, np.ones(E_req.size, dtype=bool)
    else:
        E = np.union1d(E_req, candidates)
        requested = _member(E_req, E)[0]
    is_candidate = _member(candidates, E)[0]
    in_e, seg_of = _member(E, chain.expiry)
    rows = np.flatnonzero(in_e)
    seg_all = seg_of[rows]
    n_rows = np.bincount(seg_all, minlength=E.size)
    tau_e = (E - chain.as_of_epoch) / SECONDS_PER_YEAR
    strike = chain.strike[rows]
    strike_ok = np.isfinite(strike) & (strike > 0)
    n_bad_strike = np.bincount(seg_all[~strike_ok], minlength=E.size)
    live = np.ones(E.size, dtype=bool)
    for j in range(E.size):
        if n_rows[j] == 0:
            why = "no options at this expiry"
        elif not tau_e[j] > 0:
            why = "expired (tau <= 0)"
        elif n_rows[j] == n_bad_strike[j]:
            why = "no valid strike"
        else:
            continue
        live[j] = False
        if requested[j]:
            skipped[float(E[j])] = why
    keep = strike_ok & live[seg_all]
    L = np.flatnonzero(live)
    n_seg = L.size
    if n_seg == 0:
        return [], skipped
    remap = np.full(E.size, -1)
    remap[L] = np.arange(n_seg)
    rows, seg = rows[keep], remap[seg_all[keep]]
    rows, seg = _by_expiry_strike_right(rows, seg, chain.strike[rows], chain.is_call[rows])
    E, tau, n_bad_strike = E[L], tau_e[L], n_bad_strike[L]
    requested, is_candidate = requested[L], is_candidate[L]
    K = chain.strike[rows]
    is_call = chain.is_call[rows]
    bid, ask = chain.bid[rows], chain.ask[rows]
    mid, qreason = quote_mid(bid, ask)
    with np.errstate(invalid="ignore", over="ignore"):
        spread = ask - bid

    # nodes: one per (expiry, strike)
    first = np.empty(rows.size, dtype=bool)
    first[0] = True
    first[1:] = (seg[1:] != seg[:-1]) | (K[1:] != K[:-1])
    node = np.cumsum(first) - 1
    n_node = int(node[-1]) + 1
    nseg, nK = seg[first], K[first]
    dup = np.zeros(rows.size, dtype=bool)
    dup[1:] = ~first[1:] & (is_call[1:] == is_call[:-1])
    n_dup = segment_counts(seg, dup, n_seg)
    put = ~is_call
    # (the rows of each right and their nodes once, for every per-node column)
    call_rows, put_rows = np.flatnonzero(is_call), np.flatnonzero(put)
    call_node, put_node = node[call_rows], node[put_rows]
    quotes = np.stack((mid, ask, spread))
    call_mid, call_ask, call_spread = _per_node_rows(quotes, call_rows, call_node, n_node)
    put_mid, put_ask, put_spread = _per_node_rows(quotes, put_rows, put_node, n_node)
    call_reason = np.full(n_node, NO_QUOTE, dtype=np.int8)
    put_reason = call_reason.copy()
    call_reason[call_node] = qreason[call_rows]
    put_reason[put_node] = qreason[put_rows]

    roots = chain.root[rows]
    if bool((roots == roots[0]).all()):  # one root (the common case): skip a string sort
        root_names, root_code = roots[:1], np.zeros(rows.size, dtype=np.intp)
    else:
        root_names, root_code = np.unique(roots, return_inverse=True)
    # the rate is implied where every option of the expiry is European-style
    american = ~np.array([is_european(str(x)) for x in root_names])[root_code]
    european = segment_counts(seg, american, n_seg) == 0

    fe = parity_forwards(
        nseg, n_seg, nK, call_mid, put_mid, tau, r, chain.spot,
        call_spread=call_spread, put_spread=put_spread, rate_eligible=european,
    )  # fmt: skip
    ref = _reference_spot(chain, fe, E, tau, is_candidate)
    if not ref.spot == chain.spot:
        # one spot for every book: q of each expiry implied against it
        fe = with_spot(fe, ref.spot, tau)
    with np.errstate(invalid="ignore"):  # (one context: each costs ~1 us)
        alive = np.isfinite(fe.forward) & (fe.forward > 0) & requested
        F = np.where(alive, fe.forward, np.nan)
        vend = chain.vendor_iv[rows]
        otm_row = is_call == (K >= F[seg])
        vendor_k = _per_node(vend, node, ~otm_row, n_node)  # the ITM one only where no OTM one
        vendor_otm = _per_node(vend, node, otm_row, n_node)
        vendor_k = np.where(vendor_otm > 0, vendor_otm, vendor_k)
    sm = Smiles(
        nseg, n_seg, nK, call_mid, put_mid, call_spread, put_spread, vendor_k,
        call_reason, put_reason, call_ask=call_ask, put_ask=put_ask, forward=F, tau=tau,
        r=fe.rate, alive=alive,
    )  # fmt: skip

    # dealers' positions, all rows at once
    if position is None:
        oi = chain.open_interest[rows]
        bad_oi = ~(np.isfinite(oi) & (oi >= 0))
        n_bad_oi = segment_counts(seg, bad_oi, n_seg)
        pos = model_positions(np.where(bad_oi, 0.0, oi), is_call, positioning)
    else:
        n_bad_oi = np.zeros(n_seg, dtype=np.intp)
        pos = position[rows]
    mult = chain.multiplier[rows]
    row_start, row_end = segment_bounds(seg, n_seg)
    node_start, node_end = segment_bounds(nseg, n_seg)

    books: list[ExpiryBook] = []
    for j in range(n_seg):
        epoch = float(E[j])
        if not requested[j]:
            continue
        if not alive[j]:
            skipped[epoch] = "no forward: no quoted call/put pair and no spot"
            continue
        expiration = datetime.fromtimestamp(epoch, tz=UTC)
        ns = slice(node_start[j], node_end[j])
        rs = slice(row_start[j], row_end[j])
        diag: dict[str, int] = {}
        notes: list[str] = []
        if n_bad_strike[j]:
            diag["bad_strike"] = int(n_bad_strike[j])
        if n_dup[j]:
            diag["duplicate_contracts"] = int(n_dup[j])
        diag["parity_pairs"] = int(fe.n_pairs[j])
        est = fe[j]
        if est.rate_source is RateSource.PARITY:
            diag["rate_parity_pairs"] = est.rate_pairs
        else:
            diag[f"rate_config_{est.rate_source.name.lower()}"] = 1
        if est.rate_source is RateSource.IMPLAUSIBLE:
            notes.append(f"rate {describe_rate(est)}")
        reason = sm.skip[j]
        if reason is None:
            raw, sigma = sm.raw[ns], sm.sigma[ns]
            diag.update(sm.diag[j])
        elif payoff_only and tau[j] < MIN_GREEK_TAU:
            raw = np.full(node_end[j] - node_start[j], np.nan)
            sigma = raw.copy()
            diag["payoff_only"] = 1
            notes.append("under 60 s to settlement and no smile: options treated by payoff")
        else:
            skipped[epoch] = reason
            continue
        if "iv_vendor_fallback" in diag:
            notes.append(vendor_note(diag, float(sm.vendor_scale[j])))
        spot, q = ref.spot, float(fe.q[j])
        if not ref.trusted:
            notes.append(ref.note)
            diag["spot_untrusted"] = 1
        if fe.n_pairs[j] == 0:
            notes.append("no call/put pair quoted: forward taken from spot (q = 0)")
            diag["forward_from_spot"] = 1
        elif not fe.spot_consistent[j]:
            # the spot is right (checked on the nearest expiry), so the gap is this
            # expiry's: a dividend inside its life (ex-dividend day) or stale quotes
            notes.append(
                f"implied dividend yield {q:+.2%} beyond the plausible band: an "
                "ex-dividend date inside this expiry's life, or stale quotes"
            )
            diag["q_implausible"] = 1
        if n_bad_oi[j]:
            diag["oi_missing"] = int(n_bad_oi[j])
        diag["options"] = int(row_end[j] - row_start[j])
        diag["strikes"] = int(node_end[j] - node_start[j])
        surface = IVSurface(expiration, nK[ns], raw, sigma, forward=float(F[j]), tau=float(tau[j]))
        books.append(
            ExpiryBook(
                symbol=chain.symbol,
                roots=(
                    (str(root_names[0]),)
                    if root_names.size == 1
                    else tuple(str(root_names[c]) for c in np.unique(root_code[rs]))
                ),
                expiration=expiration,
                as_of=chain.as_of,
                spot=float(spot),
                forward=float(F[j]),
                r=est.rate,
                q=float(q),
                tau=float(tau[j]),
                strike=K[rs],
                is_call=is_call[rs],
                position=pos[rs],
                multiplier=mult[rs],
                iv=sigma[node[rs] - node_start[j]],
                surface=surface,
                diagnostics=diag,
                notes=tuple(notes),
                rate_source=describe_rate(est),
            )
        )
    return books, skipped


def build_expiry_book(
    chain: OptionChain,
    expiry: float,
    *,
    r: float,
    positioning: PositioningModel,
    position: np.ndarray | None = None,
    payoff_only: bool = True,
) -> ExpiryBook:
    """One expiry's options with the parity forward, the smoothed smile and positions.

    Parameters
    ----------
    chain : the normalized chain (all expiries)
    expiry : settlement time, epoch seconds UTC, exactly as in `chain.expiry`
    r : discount rate, decimal/year, continuously compounded
    positioning : dealer positioning model applied to open interest
    position : optional dealers' signed contracts, one per chain row (overrides the model)
    payoff_only : below 60 s to settlement, build a book with NaN IVs when the smile cannot
        be built (True), or skip the expiry (False: for callers that need a smile, such
        as the regime fit)

    Returns
    -------
    ExpiryBook with options sorted by strike (puts before calls at a strike), `iv` the
    smoothed smile at each option's strike, `spot` and `q` consistent with the parity
    forward (F = S e^{(r-q) tau}; a spot that disagrees is replaced and noted). Below 60 s
    to settlement the greeks are not evaluated (`hedgeflow.engine.exposure` treats the options by
    their payoff); if the smile can no longer be built then, the book still is, with NaN
    IVs (diagnostic `payoff_only`).

    Raises
    ------
    SkippedExpiry : no rows at this expiry, expired (tau <= 0), no valid strike, no
        forward (no quoted pair and no spot), fewer than 5 valid IVs.
    """
    books, skipped = build_expiry_books(
        chain,
        [float(expiry)],
        r=r,
        positioning=positioning,
        position=position,
        payoff_only=payoff_only,
    )
    if books:
        return books[0]
    raise SkippedExpiry(next(iter(skipped.values()), "no options at this expiry"))
