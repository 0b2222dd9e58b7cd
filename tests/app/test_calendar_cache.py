"""hedgeflow.app.runtime, the calendar cache: the cached NYSE session table equals exchange_calendars' own, a stale
key or a corrupt file is rebuilt, and with a table installed the engine never imports
pandas or exchange_calendars."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hedgeflow.app import runtime as cc
from hedgeflow.engine import clock

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _restore_clock() -> Iterator[None]:
    clock.uninstall_sessions()
    yield
    clock.uninstall_sessions()


def library_table() -> clock.SessionTable:
    clock.uninstall_sessions()
    return clock._built_sessions()


def assert_equal_tables(a: clock.SessionTable, b: clock.SessionTable) -> None:
    for name in ("day", "open", "close"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)


def test_miss_builds_and_writes_then_hit_installs_the_same_table(tmp_path: Path) -> None:
    assert cc.install_cached_calendar(tmp_path, xcals_version="4.0") == "built"
    assert (tmp_path / cc.CACHE_NAME).is_file()
    assert not list(tmp_path.glob(".xnys-*"))  # no temporary left behind
    assert cc.install_cached_calendar(tmp_path, xcals_version="4.0") == "cache"
    installed = clock.session_table()
    assert installed.source.startswith("cache:")
    assert_equal_tables(installed, library_table())
    # same answers through the public lookups (Good Friday 2026, day after Thanksgiving)
    clock.install_sessions(installed.day, installed.open, installed.close, source="t")
    from datetime import date

    assert not clock.is_session(date(2026, 4, 3))
    assert clock.session_close(date(2026, 11, 27)).hour == 13  # type: ignore[union-attr]


def test_stale_version_forces_rebuild(tmp_path: Path) -> None:
    assert cc.install_cached_calendar(tmp_path, xcals_version="3.9") == "built"
    assert cc.install_cached_calendar(tmp_path, xcals_version="4.1") == "built"
    with np.load(tmp_path / cc.CACHE_NAME) as f:
        assert str(f["exchange_calendars"][()]) == "4.1"
    assert cc.install_cached_calendar(tmp_path, xcals_version="4.1") == "cache"


def test_stale_span_forces_rebuild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cc.install_cached_calendar(tmp_path, xcals_version="4.0")
    key = cc.cache_key("4.0")
    monkeypatch.setattr(cc, "cache_key", lambda v: {**key, "end": "2040-12-31"})
    assert cc._load(tmp_path / cc.CACHE_NAME, cc.cache_key("4.0")) is None


@pytest.mark.parametrize(
    "content",
    [b"", b"not a zip file at all", b"PK\x03\x04" + b"\x00" * 40],
    ids=["empty", "garbage", "truncated-zip"],
)
def test_corrupt_file_is_rebuilt(tmp_path: Path, content: bytes) -> None:
    (tmp_path / cc.CACHE_NAME).write_bytes(content)
    assert cc.install_cached_calendar(tmp_path, xcals_version="4.0") == "built"
    assert cc.install_cached_calendar(tmp_path, xcals_version="4.0") == "cache"


def test_well_formed_but_wrong_table_is_rejected(tmp_path: Path) -> None:
    t = library_table()
    key = cc.cache_key("4.0")
    # open and close swapped: the engine's validation refuses it, so it is a miss
    np.savez(
        tmp_path / cc.CACHE_NAME,
        day=t.day,
        open=t.close,
        close=t.open,
        **{k: np.array(v) for k, v in key.items()},
    )
    assert cc.install_cached_calendar(tmp_path, xcals_version="4.0") == "built"
    assert clock.session_table().source == "exchange_calendars"


def test_unwritable_cache_dir_does_not_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where the directory should be
    assert cc.install_cached_calendar(blocker / "sub", xcals_version="4.0") == "built"


def test_engine_never_imports_pandas_with_a_cached_table(tmp_path: Path) -> None:
    cc.install_cached_calendar(tmp_path)  # make sure the cache exists
    code = f"""
import sys
from datetime import date
from pathlib import Path
from hedgeflow.app.runtime import install_cached_calendar
assert install_cached_calendar(Path({str(tmp_path)!r})) == "cache"
from hedgeflow.engine import clock
import numpy as np
clock.session_table(); clock.is_session(date(2026, 11, 25))
clock.settlement_epochs(np.array(["SPX", "SPXW"]), np.array(["2026-12-18", "2026-12-18"]))
from hedgeflow.feeds.sim import SimFeed
sim = SimFeed(seed=7, start="2026-11-24T10:00:00-05:00", speed=0.0)
sim.chain_at("SPX", sim.clock())
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("pandas", "exchange_calendars"))
print(bad)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
