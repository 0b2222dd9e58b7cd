"""Live signed flow and dealer positions (hedgeflow.flow): signing cases worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgeflow.engine.chain import OptionChain, make_chain
from hedgeflow.engine.enums import PositioningModel
from hedgeflow.engine.flow import (
    LiveFlow,
    contract_keys,
    decode_keys,
    live_positions,
    update_live_flow,
    valid_keys,
)

OPEN = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)  # 09:30 New York
EXP = datetime(2026, 11, 25, 21, 0, tzinfo=UTC).timestamp()
STD = PositioningModel.STANDARD


def snap(
    t: datetime,
    *,
    volume: list[float],
    last: list[float] | None = None,
    ltt: list[float] | None = None,
    bid: list[float] | None = None,
    ask: list[float] | None = None,
    oi: list[float] | None = None,
    strike: list[float] | None = None,
    is_call: list[bool] | None = None,
    root: list[str] | str = "SPXW",
) -> OptionChain:
    """A small SPXW chain at time t; defaults: a 5500 call and a 5500 put quoted 10.0/10.5."""
    n = len(volume)
    return make_chain(
        symbol="SPX",
        spot=5500.0,
        as_of=t,
        root=root,
        strike=strike or [5500.0] * n,
        expiry=EXP,
        is_call=is_call if is_call is not None else [True, False][:n],
        bid=bid or [10.0] * n,
        ask=ask or [10.5] * n,
        last=last or [10.25] * n,
        last_trade_time=ltt or [t.timestamp() - 1.0] * n,
        volume=volume,
        open_interest=oi or [1000.0, 500.0][:n],
    )


def two_step(first: OptionChain, second: OptionChain) -> LiveFlow:
    state = update_live_flow(None, None, first, session_start=OPEN)
    return update_live_flow(state, first, second, session_start=OPEN)


T1 = OPEN + timedelta(minutes=5)
T2 = OPEN + timedelta(minutes=6)


# --------------------------------------------------------------------------- keys


def test_keys_identify_contracts_across_snapshots() -> None:
    a = snap(T1, volume=[0.0, 0.0], strike=[5500.0, 4512.5], is_call=[True, False])
    b = snap(
        T2,
        volume=[0.0, 0.0, 0.0],
        strike=[4512.5, 5500.0, 4512.0],
        is_call=[False, True, False],
        oi=[1.0, 2.0, 3.0],
    )
    ka, kb = contract_keys(a), contract_keys(b)
    assert ka[0] == kb[1] and ka[1] == kb[0]
    assert kb[2] != kb[0]  # 4512.0 is not 4512.5
    np.testing.assert_array_equal(np.intersect1d(ka, kb), np.sort(ka))
    dec = decode_keys(kb)
    assert dec["strike"].tolist() == [4512.5, 5500.0, 4512.0]
    assert dec["is_call"].tolist() == [False, True, False]
    assert dec["root"].tolist() == ["SPXW"] * 3
    assert dec["expiry"].tolist() == [EXP] * 3


def test_am_and_pm_series_on_one_date_are_distinct() -> None:
    # Third Friday: SPX (AM) and SPXW (PM) share date and strike; the root tells them apart.
    c = snap(T1, volume=[0.0, 0.0], root=["SPX", "SPXW"], is_call=[True, True])
    k = contract_keys(c)
    assert k[0] != k[1]
    assert np.sort(k)[0] == k[0]  # "SPX" < "SPXW"


def test_key_order_is_field_order() -> None:
    c = snap(
        T1,
        volume=[0.0] * 4,
        strike=[5505.0, 5500.0, 5500.0, 995.0],
        is_call=[False, True, False, True],
        oi=[1.0] * 4,
    )
    order = np.argsort(contract_keys(c), kind="stable")
    # Ascending strike, put before call at one strike.
    assert order.tolist() == [3, 2, 1, 0]


def test_unkeyable_rows_get_an_invalid_key() -> None:
    c = snap(T1, volume=[0.0, 0.0], strike=[np.nan, 5500.0])
    k = contract_keys(c)
    assert valid_keys(k).tolist() == [False, True]


def test_long_root_rejected() -> None:
    with pytest.raises(ValueError, match="root"):
        contract_keys(snap(T1, volume=[0.0], root="A" * 13, is_call=[True], oi=[1.0]))


# --------------------------------------------------------------------------- signing


def test_first_snapshot_only_sets_open_interest() -> None:
    s = update_live_flow(None, None, snap(T1, volume=[40.0, 7.0]), session_start=OPEN)
    assert s.snapshots == 1
    assert s.buy_volume == s.sell_volume == s.unsigned_volume == 0.0
    assert s.unseen_volume == 47.0
    assert np.all(s.signed_volume == 0.0)
    c = snap(T1, volume=[40.0, 7.0])
    np.testing.assert_array_equal(live_positions(s, c, STD), [1000.0, -500.0])


def test_at_ask_in_both_quotes_is_a_customer_buy() -> None:
    a = snap(T1, volume=[10.0, 10.0])
    b = snap(T2, volume=[40.0, 15.0], last=[10.5, 10.6], ask=[10.5, 10.6])  # at / above ask
    s = two_step(a, b)
    assert s.buy_volume == 35.0 and s.sell_volume == 0.0 and s.unsigned_volume == 0.0
    # Dealers sold 30 calls and 5 puts: call 1000 - 30, put -500 - 5.
    np.testing.assert_array_equal(live_positions(s, b, STD), [970.0, -505.0])


def test_at_bid_in_both_quotes_is_a_customer_sell() -> None:
    a = snap(T1, volume=[10.0, 10.0])
    b = snap(T2, volume=[12.0, 30.0], last=[10.0, 9.9], bid=[10.0, 9.9])
    s = two_step(a, b)
    assert s.sell_volume == 22.0 and s.buy_volume == 0.0
    np.testing.assert_array_equal(live_positions(s, b, STD), [1002.0, -480.0])
    np.testing.assert_array_equal(live_positions(s, b, PositioningModel.FLOE), [-998.0, 520.0])
    np.testing.assert_array_equal(
        live_positions(s, b, PositioningModel.SHORT_ALL), [-998.0, -480.0]
    )


def test_mid_and_one_sided_prints_are_unsigned() -> None:
    a = snap(T1, volume=[0.0, 0.0], ask=[10.5, 10.8])  # put's previous ask above the print
    b = snap(T2, volume=[8.0, 2.0], last=[10.25, 10.5], ask=[10.5, 10.5])
    s = two_step(a, b)
    assert s.buy_volume == 0.0 and s.sell_volume == 0.0
    assert s.unsigned_volume == 10.0
    assert s.unsigned_share == 1.0
    np.testing.assert_array_equal(live_positions(s, b, STD), [1000.0, -500.0])


def test_stale_last_trade_is_unsigned() -> None:
    a = snap(T1, volume=[0.0, 0.0])
    stale = [T1.timestamp(), T1.timestamp() - 30.0]  # not newer than the previous as_of
    b = snap(T2, volume=[5.0, 5.0], last=[10.5, 10.0], ask=[10.5, 10.5], ltt=stale)
    s = two_step(a, b)
    assert s.buy_volume == s.sell_volume == 0.0 and s.unsigned_volume == 10.0


def test_locked_or_missing_quotes_are_unsigned() -> None:
    a = snap(T1, volume=[0.0, 0.0], bid=[10.0, np.nan], ask=[10.0, np.nan])
    b = snap(T2, volume=[3.0, 4.0], last=[10.0, 10.5], bid=[10.0, 10.0], ask=[10.0, 10.5])
    s = two_step(a, b)
    assert s.buy_volume == s.sell_volume == 0.0 and s.unsigned_volume == 7.0


def test_volume_decrease_is_clamped_and_measured_from_the_lower_value() -> None:
    a = snap(T1, volume=[50.0, 0.0])
    b = snap(T2, volume=[45.0, 0.0], last=[10.5, 10.5], ask=[10.5, 10.5])  # vendor correction
    s = two_step(a, b)
    assert s.buy_volume == 0.0 and s.unsigned_volume == 0.0
    c = snap(T2 + timedelta(minutes=1), volume=[48.0, 0.0], last=[10.5, 10.5], ask=[10.5, 10.5])
    s = update_live_flow(s, b, c, session_start=OPEN)
    assert s.buy_volume == 3.0
    np.testing.assert_array_equal(live_positions(s, c, STD), [997.0, -500.0])


def test_flow_accumulates_over_snapshots() -> None:
    a = snap(T1, volume=[0.0, 0.0])
    b = snap(T2, volume=[10.0, 0.0], last=[10.5, 10.25], ask=[10.5, 10.5])
    c = snap(T2 + timedelta(minutes=1), volume=[14.0, 6.0], last=[10.0, 10.0], bid=[10.0, 10.0])
    s = two_step(a, b)
    s = update_live_flow(s, b, c, session_start=OPEN)
    assert s.snapshots == 3
    assert (s.buy_volume, s.sell_volume) == (10.0, 10.0)
    np.testing.assert_array_equal(live_positions(s, c, STD), [1000.0 - 10 + 4, -500.0 + 6])
    assert s.unsigned_share == 0.0


def test_reset_at_session_start() -> None:
    yesterday = OPEN - timedelta(days=1)
    a = snap(T1 - timedelta(days=1), volume=[100.0, 100.0])
    b = snap(T2 - timedelta(days=1), volume=[150.0, 100.0], last=[10.5, 10.5], ask=[10.5, 10.5])
    old = update_live_flow(None, None, a, session_start=yesterday)
    old = update_live_flow(old, a, b, session_start=yesterday)
    assert old.buy_volume == 50.0
    # New session: volume restarted, yesterday's flow is gone, OI_0 is today's.
    today = snap(T1, volume=[5.0, 0.0], oi=[1050.0, 500.0], last=[10.5, 10.5], ask=[10.5, 10.5])
    s = update_live_flow(old, b, today, session_start=OPEN)
    assert s.snapshots == 1 and s.buy_volume == 0.0 and s.session_date == OPEN.date()
    np.testing.assert_array_equal(live_positions(s, today, STD), [1050.0, -500.0])
    # A previous snapshot from before the open (pre-market) also starts afresh.
    pre = snap(OPEN - timedelta(minutes=1), volume=[0.0, 0.0])
    s2 = update_live_flow(s, pre, today, session_start=OPEN)
    assert s2.snapshots == 1


def test_new_contract_joins_with_its_published_oi() -> None:
    a = snap(T1, volume=[0.0], is_call=[True], oi=[1000.0])
    # A strike listed today (OI 0) and one that entered the window later (published OI 700).
    b = snap(
        T2,
        volume=[2.0, 9.0, 4.0],
        strike=[5500.0, 5510.0, 5600.0],
        is_call=[True, True, False],
        oi=[1000.0, 0.0, 700.0],
        last=[10.5] * 3,
        ask=[10.5] * 3,
    )
    s = two_step(a, b)
    assert s.buy_volume == 2.0
    assert s.unseen_volume == 13.0  # traded before we saw the new contracts
    np.testing.assert_array_equal(live_positions(s, b, STD), [998.0, 0.0, -700.0])
    # Later their trades are signed like any other.
    c = snap(
        T2 + timedelta(minutes=1),
        volume=[2.0, 12.0, 4.0],
        strike=[5500.0, 5510.0, 5600.0],
        is_call=[True, True, False],
        oi=[1000.0, 0.0, 700.0],
        last=[10.5] * 3,
        ask=[10.5] * 3,
    )
    s = update_live_flow(s, b, c, session_start=OPEN)
    np.testing.assert_array_equal(live_positions(s, c, STD), [998.0, -3.0, -700.0])


def test_gap_without_previous_snapshot_keeps_state_and_leaves_increase_unsigned() -> None:
    a = snap(T1, volume=[0.0, 0.0])
    b = snap(T2, volume=[10.0, 0.0], last=[10.5, 10.25], ask=[10.5, 10.5])
    s = two_step(a, b)
    c = snap(T2 + timedelta(minutes=5), volume=[25.0, 0.0], last=[10.5, 10.5], ask=[10.5, 10.5])
    s = update_live_flow(s, None, c, session_start=OPEN)
    assert s.buy_volume == 10.0 and s.unsigned_volume == 15.0
    np.testing.assert_array_equal(live_positions(s, c, STD), [990.0, -500.0])


def test_older_snapshot_is_ignored() -> None:
    a = snap(T1, volume=[0.0, 0.0])
    b = snap(T2, volume=[10.0, 0.0], last=[10.5, 10.25], ask=[10.5, 10.5])
    s = two_step(a, b)
    assert update_live_flow(s, b, a, session_start=OPEN) is s


def test_duplicate_rows_are_counted_and_first_kept() -> None:
    a = snap(T1, volume=[0.0, 0.0, 0.0], is_call=[True, False, True], oi=[1000.0, 500.0, 9.0])
    s = update_live_flow(None, None, a, session_start=OPEN)
    assert s.keys.size == 2 and s.masked_rows == 1
    np.testing.assert_array_equal(live_positions(s, a, STD), [1000.0, -500.0, 1000.0])


def test_empty_first_snapshot_then_contracts() -> None:
    # A first snapshot with nothing keyable, then real contracts: no crash, nothing signed.
    a = snap(T1, volume=[3.0], strike=[np.nan], is_call=[True], oi=[1.0])
    b = snap(T2, volume=[4.0, 1.0], last=[10.5, 10.5], ask=[10.5, 10.5])
    s = two_step(a, b)
    assert s.keys.size == 2 and s.buy_volume == 0.0 and s.unseen_volume == 5.0
    np.testing.assert_array_equal(live_positions(s, b, STD), [1000.0, -500.0])


def test_missing_open_interest_gives_nan_position() -> None:
    a = snap(T1, volume=[0.0, 0.0], oi=[np.nan, 500.0])
    s = update_live_flow(None, None, a, session_start=OPEN)
    pos = live_positions(s, a, STD)
    assert np.isnan(pos[0]) and pos[1] == -500.0


def test_naive_session_start_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        update_live_flow(
            None, None, snap(T1, volume=[0.0, 0.0]), session_start=OPEN.replace(tzinfo=None)
        )


# --------------------------------------------------------------------------- properties


@st.composite
def snapshot_sequences(draw: st.DrawFn) -> list[OptionChain]:
    n = draw(st.integers(1, 12))
    strikes = draw(
        st.lists(st.sampled_from([5480.0, 5490.0, 5500.0, 5510.0, np.nan]), min_size=n, max_size=n)
    )
    calls = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    oi = draw(st.lists(st.floats(0, 1e5), min_size=n, max_size=n))
    steps = draw(st.integers(1, 5))
    out = []
    volume = np.zeros(n)
    t = OPEN + timedelta(minutes=1)
    price = st.one_of(st.floats(0.0, 20.0), st.just(np.nan))
    for _ in range(steps):
        volume = np.maximum(volume + draw(st.lists(st.floats(-5, 50), min_size=n, max_size=n)), 0)
        t = t + timedelta(seconds=draw(st.integers(1, 120)))
        out.append(
            make_chain(
                symbol="SPX",
                spot=5500.0,
                as_of=t,
                root="SPXW",
                strike=strikes,
                expiry=EXP,
                is_call=calls,
                bid=draw(st.lists(price, min_size=n, max_size=n)),
                ask=draw(st.lists(price, min_size=n, max_size=n)),
                last=draw(st.lists(price, min_size=n, max_size=n)),
                last_trade_time=[t.timestamp() - draw(st.integers(0, 200)) for _ in range(n)],
                volume=volume,
                open_interest=oi,
            )
        )
    return out


@settings(max_examples=60, deadline=None)
@given(snapshot_sequences())
def test_random_sequences_keep_the_books_balanced(chains: list[OptionChain]) -> None:
    state = None
    prev = None
    for cur in chains:
        state = update_live_flow(state, prev, cur, session_start=OPEN)
        prev = cur
    assert state is not None
    assert state.buy_volume >= 0 and state.sell_volume >= 0 and state.unsigned_volume >= 0
    assert float(state.signed_volume.sum()) == pytest.approx(
        state.buy_volume - state.sell_volume, abs=1e-6
    )
    # Every unit of volume is accounted for once: seen at first sighting or observed after.
    last = chains[-1]
    keys = contract_keys(last)
    ok = valid_keys(keys)
    _, first = np.unique(keys[ok], return_index=True)
    assert state.unseen_volume + state.observed_volume >= float(last.volume[ok][first].sum()) - 1e-6
    pos = live_positions(state, last, STD)
    assert pos.shape == (len(last),) and np.all(np.isfinite(pos))
