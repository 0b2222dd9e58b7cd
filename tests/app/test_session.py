"""Polling session state: change detection, session boundaries, live dealer positions."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from hedgeflow.app.session import SymbolSession, changed, session_start
from hedgeflow.engine.chain import OptionChain, make_chain
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import PositioningModel, PositionSource
from hedgeflow.feeds.sim import NY, SimFeed

WED = datetime(2026, 11, 18, 10, 30, tzinfo=NY)
EXPIRY = datetime(2026, 11, 18, 16, 0, tzinfo=NY).timestamp()


def chain(
    as_of: datetime,
    *,
    volume: tuple[float, float] = (0.0, 0.0),
    last: tuple[float, float] = (np.nan, np.nan),
    last_time: tuple[float, float] = (np.nan, np.nan),
    bid: tuple[float, float] = (2.0, 3.0),
    ask: tuple[float, float] = (2.2, 3.2),
    spot: float = 100.0,
) -> OptionChain:
    """A call and a put at strike 100 (OI 500 and 800)."""
    return make_chain(
        symbol="XYZ",
        spot=spot,
        as_of=as_of,
        root="XYZ",
        strike=[100.0, 100.0],
        expiry=EXPIRY,
        is_call=[True, False],
        bid=bid,
        ask=ask,
        last=last,
        last_trade_time=last_time,
        volume=volume,
        open_interest=[500.0, 800.0],
    )


# --------------------------------------------------------------------------- changed


def test_changed_detects_each_field_and_ignores_as_of() -> None:
    a = chain(WED)
    assert changed(None, a)
    assert not changed(a, a)
    assert not changed(a, replace(a, as_of=WED + timedelta(seconds=5)))
    assert changed(a, replace(a, spot=100.05))
    for name in ("bid", "ask", "last", "volume", "open_interest", "strike", "expiry"):
        arr = getattr(a, name).copy()
        arr[1] = 7.0
        assert changed(a, replace(a, **{name: arr})), name
    assert changed(a, replace(a, is_call=np.array([False, True])))
    assert changed(a, replace(a, root=np.array(["XYZ", "XYZW"])))
    assert changed(a, a.take(np.array([0])))
    nan_spot = replace(a, spot=float("nan"))
    assert not changed(nan_spot, replace(nan_spot, as_of=WED + timedelta(seconds=1)))


def test_changed_on_sim_polls() -> None:
    f = SimFeed(seed=2, start=WED, speed=0.0)
    a = f.chain_at("SPX", WED)
    assert not changed(a, f.chain_at("SPX", WED))
    assert changed(a, f.chain_at("SPX", WED + timedelta(seconds=30)))
    sat = datetime(2026, 11, 21, 12, 0, tzinfo=NY)  # closed market: nothing moves
    assert not changed(f.chain_at("SPX", sat), f.chain_at("SPX", sat + timedelta(hours=1)))


# --------------------------------------------------------------------------- sessions


def test_session_start_on_the_calendar() -> None:
    assert session_start(WED) == datetime(2026, 11, 18, 9, 30, tzinfo=NY)
    assert session_start(datetime(2026, 11, 18, 7, 0, tzinfo=NY)) == datetime(
        2026, 11, 18, 9, 30, tzinfo=NY
    )
    assert session_start(datetime(2026, 11, 21, 12, 0, tzinfo=NY)) == datetime(
        2026, 11, 20, 9, 30, tzinfo=NY
    )
    # Thanksgiving (Thursday 26 Nov 2026) belongs to Wednesday's session.
    assert session_start(datetime(2026, 11, 26, 12, 0, tzinfo=NY)) == datetime(
        2026, 11, 25, 9, 30, tzinfo=NY
    )


def test_live_positions_from_signed_trades() -> None:
    """Hand-worked: a customer buys 10 calls at the ask and sells 5 puts at the bid between
    two polls. Standard positioning: call +OI, put -OI; live = pos(OI_0) - signed volume:
    call 500 - 10 = 490, put -800 + 5 = -795."""
    s = SymbolSession("xyz")
    t0, t1 = WED, WED + timedelta(seconds=10)
    assert s.update(chain(t0))
    sod = s.positions(PositioningModel.STANDARD, PositionSource.LIVE)
    np.testing.assert_array_equal(sod, [500.0, -800.0])
    traded = chain(
        t1, volume=(10.0, 5.0), last=(2.2, 3.0), last_time=(t1.timestamp() - 2, t1.timestamp() - 1)
    )
    assert s.update(traded)
    np.testing.assert_array_equal(
        s.positions(PositioningModel.STANDARD, PositionSource.LIVE), [490.0, -795.0]
    )
    # floe positioning mirrors the model part, the flow part is the same trade.
    np.testing.assert_array_equal(
        s.positions(PositioningModel.FLOE, PositionSource.LIVE), [-510.0, 805.0]
    )
    assert s.positions(PositioningModel.STANDARD, PositionSource.START_OF_DAY) is None
    cfg = EngineConfig(positions=PositionSource.LIVE)
    np.testing.assert_array_equal(s.positions(cfg), [490.0, -795.0])
    assert s.positions(EngineConfig()) is None  # default config: start-of-day
    assert s.first is not None and s.first.as_of == t0
    assert s.previous is not None and s.previous.as_of == t0 and s.current is traded


def test_unsigned_mid_print_and_stale_snapshot() -> None:
    s = SymbolSession("XYZ")
    t1 = WED + timedelta(seconds=10)
    s.update(chain(WED))
    mid = chain(t1, volume=(4.0, 0.0), last=(2.1, np.nan), last_time=(t1.timestamp() - 1, np.nan))
    s.update(mid)
    assert s.flow is not None and s.flow.unsigned_volume == 4.0
    np.testing.assert_array_equal(s.positions(PositioningModel.STANDARD), [500.0, -800.0])
    # An older snapshot (a vendor's stale cache) is ignored.
    assert not s.update(chain(WED + timedelta(seconds=5), volume=(99.0, 99.0)))
    assert s.current is mid
    # The same snapshot twice folds nothing.
    assert not s.update(mid)
    assert s.flow.snapshots == 2


def test_new_session_and_pre_open_reset_the_state() -> None:
    s = SymbolSession("XYZ")
    pre = datetime(2026, 11, 18, 8, 0, tzinfo=NY)
    s.update(chain(pre))
    assert s.first is not None and s.first.as_of == pre
    opened = datetime(2026, 11, 18, 9, 31, tzinfo=NY)
    s.update(
        chain(
            opened,
            volume=(3.0, 0.0),
            last=(2.2, np.nan),
            last_time=(opened.timestamp() - 1, np.nan),
        )
    )
    assert s.first.as_of == opened  # the first snapshot of the session proper
    assert s.flow is not None and s.flow.snapshots == 1 and s.flow.buy_volume == 0.0
    nxt = datetime(2026, 11, 19, 9, 40, tzinfo=NY)
    s.update(chain(nxt))
    assert s.first.as_of == nxt and s.start == datetime(2026, 11, 19, 9, 30, tzinfo=NY)
    assert s.flow.snapshots == 1


def test_wrong_symbol_rejected() -> None:
    with pytest.raises(ValueError, match="XYZ"):
        SymbolSession("SPX").update(chain(WED))


def test_sim_trades_move_live_positions() -> None:
    """Polling the sim every 10 s for 20 minutes: customer buys and sells are signed, the
    unsigned share is a minority, and live positions depart from the start of day."""
    f = SimFeed(seed=4, start=WED, speed=0.0)
    s = SymbolSession("SPX")
    for i in range(121):
        s.update(f.chain_at("SPX", WED + timedelta(seconds=10 * i)))
    flow = s.flow
    assert flow is not None and flow.snapshots == 121
    assert flow.buy_volume > 0 and flow.sell_volume > 0
    # Quotes move between polls, so many prints cannot be signed (as with real snapshots).
    assert flow.unsigned_share < 0.8
    assert flow.buy_volume + flow.sell_volume > 1000
    live = s.positions(PositioningModel.STANDARD, PositionSource.LIVE)
    assert s.current is not None and live is not None
    sod = np.where(s.current.is_call, 1.0, -1.0) * s.current.open_interest
    moved = live != sod
    assert moved.sum() >= 20
    # Dealers take the other side: net customer buying lowers the dealers' total position.
    net_customer = flow.buy_volume - flow.sell_volume
    assert np.sign((live - sod).sum()) == -np.sign(net_customer)


def test_from_snapshots_of_a_recording(tmp_path: Path) -> None:
    """Folding a recording gives the same state as live polling."""
    from hedgeflow.feeds.recorder import Recorder
    from hedgeflow.feeds.replay import iter_snapshots

    f = SimFeed(seed=4, start=WED, speed=0.0, symbols=["SPY", "QQQ"])
    live = SymbolSession("SPY")
    path = tmp_path / "rec.sqlite"
    with Recorder(path) as rec:
        for i in range(30):
            when = WED + timedelta(seconds=10 * i)
            for sym in ("SPY", "QQQ"):
                c = f.chain_at(sym, when)
                rec.write(c, feed="sim", fetched_at=when)
                if sym == "SPY":
                    live.update(c)
    folded = SymbolSession.from_snapshots("SPY", iter_snapshots(path))
    assert folded.flow is not None and live.flow is not None
    assert folded.flow.snapshots == live.flow.snapshots == 30
    np.testing.assert_array_equal(
        folded.positions(PositioningModel.STANDARD), live.positions(PositioningModel.STANDARD)
    )


def test_rewind_restarts_the_session() -> None:
    """A looping replay jumps back before the session's first snapshot: start over."""
    f = SimFeed(seed=4, start=WED, speed=0.0, symbols=["SPY"])
    s = SymbolSession("SPY")
    t0 = WED + timedelta(minutes=5)
    for i in range(10):
        s.update(f.chain_at("SPY", t0 + timedelta(seconds=10 * i)))
    assert s.flow is not None and s.flow.snapshots == 10
    assert s.update(f.chain_at("SPY", t0))  # the loop's first snapshot again
    assert s.flow.snapshots == 1 and s.first is s.current
    # Older, but within the session and after its first: a stale cache, ignored.
    s.update(f.chain_at("SPY", t0 + timedelta(seconds=30)))
    assert not s.update(f.chain_at("SPY", t0 + timedelta(seconds=20)))
    assert s.flow.snapshots == 2
