"""A history rebuilt from a recording's snapshots keeps, beside each row, the feed clock
its snapshot was fetched at, through the rows a step back drops and the oldest the cap
drops."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hedgeflow.app.history_rebuild import Rebuilder
from hedgeflow.engine.config import EngineConfig
from hedgeflow.feeds.recorder import Recorder
from tests.tui.conftest import START, shared_sim


def test_rows_keep_their_snapshot_clocks_through_steps_back_and_the_cap(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rec.db"
    sim = shared_sim()
    # (chain time, minutes after START): the third is from before the first snapshot (a
    # rewound tape: the session restarts and its row drops every later one)
    minutes = [1.0, 3.0, 0.0, 4.0, 5.0]
    clocks = [START + timedelta(minutes=10, seconds=i) for i in range(len(minutes))]
    with Recorder(path) as rec:
        for m, c in zip(minutes, clocks, strict=True):
            rec.write(sim.chain_at("SPX", START + timedelta(minutes=m)), feed="sim", fetched_at=c)

    def times(entries: list | None) -> list[float]:
        assert entries is not None
        return [round((r.time - START.timestamp()) / 60.0, 6) for r, s in entries if s]

    rb = Rebuilder(path, "SPX", EngineConfig(), max_rows=2)
    assert times(rb.run(clocks[1].timestamp())) == [1.0, 3.0]
    assert times(rb.run(clocks[2].timestamp())) == [0.0]  # the rewound row dropped both
    assert times(rb.run(clocks[4].timestamp())) == [4.0, 5.0]  # the cap: the oldest out
    # the tape moved back: what was analyzed is sliced by the clocks kept with the rows
    assert times(rb.run(clocks[3].timestamp())) == [4.0]
    assert times(rb.run(clocks[2].timestamp())) == []


def test_a_step_back_into_an_earlier_session_keeps_the_clocks_of_the_rows_before_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rec.db"
    sim = shared_sim()
    # the next day's session, then the first day again an hour in (a tape looped back to
    # another session): its row drops the next day's and keeps the first day's first
    at = [START, START + timedelta(days=1), START + timedelta(hours=1)]
    clocks = [START + timedelta(days=2, seconds=i) for i in range(len(at))]
    with Recorder(path) as rec:
        for t, c in zip(at, clocks, strict=True):
            rec.write(sim.chain_at("SPX", t), feed="sim", fetched_at=c)
    rb = Rebuilder(path, "SPX", EngineConfig())
    got = rb.run(clocks[2].timestamp())
    assert got is not None
    assert [r.time for r, _ in got] == [at[0].timestamp(), at[2].timestamp()]
    first = rb.run(clocks[0].timestamp())  # the tape back at the first snapshot's clock
    assert first is not None and [r.time for r, _ in first] == [at[0].timestamp()]
