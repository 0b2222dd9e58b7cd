"""Every way out of the monitor (issue 8, item 8) in process: ctrl+c quits, SIGTERM and
SIGHUP quit like q with an open recording closed complete, and a crash exits non-zero.
The same with the real command in a terminal is in test_e2e_tmux.py."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hedgeflow.app.config import Settings, default_settings
from hedgeflow.feeds.sim import SimFeed
from hedgeflow.tui.app import HedgeflowApp, run_monitor
from tests.tui.conftest import make_app, wait_for_analyses, wait_until


def _integrity_and_rows(path: Path) -> tuple[str, int]:
    with sqlite3.connect(path) as db:
        (check,) = db.execute("PRAGMA integrity_check").fetchone()
        (rows,) = db.execute("select count(*) from snapshots").fetchone()
    return check, rows


async def test_ctrl_c_quits_with_exit_code_0(tmp_path: Path) -> None:
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
async def test_sigterm_and_sighup_quit_like_q_and_close_the_recording(
    tmp_path: Path, sim: SimFeed, sig: signal.Signals
) -> None:
    app = make_app(symbols=["SPX", "SPY"], export_dir=tmp_path, poll_interval=0.1, frozen=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        # Installed by the app (else the signal below would kill the test run).
        assert sig in app._signals
        await pilot.press("r")
        rec = app.recording
        assert rec is not None
        await wait_until(pilot, lambda: rec.written >= 4)
        os.kill(os.getpid(), sig)
        await wait_until(pilot, lambda: not app.is_running, limit=10)
    assert app.return_code == 0
    assert app._signals == []  # handlers removed: the process is as before
    assert signal.getsignal(sig) == signal.SIG_DFL
    # Every snapshot the app queued was committed before the app ended.
    check, rows = _integrity_and_rows(rec.path)
    assert check == "ok" and rows == rec.written >= 4


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    yield
    logging.captureWarnings(False)
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])


def _settings(tmp_path: Path) -> Settings:
    settings = default_settings()
    monitor = replace(
        settings.monitor, log_file=str(tmp_path / "hedgeflow.log"), export_dir=str(tmp_path)
    )
    return replace(settings, monitor=monitor)


def _run_headless(monkeypatch: pytest.MonkeyPatch, auto_pilot: Any) -> None:
    """`app.run()` in run_monitor runs the real app loop, headless, driven by auto_pilot."""
    run = HedgeflowApp.run

    def headless(self: HedgeflowApp, **kw: Any) -> Any:
        return run(self, headless=True, size=(120, 40), auto_pilot=auto_pilot)

    monkeypatch.setattr(HedgeflowApp, "run", headless)


def test_a_crash_exits_non_zero(
    tmp_path: Path, sim: SimFeed, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    from hedgeflow.engine.config import EngineConfig

    async def crash(pilot: Any) -> None:
        def boom() -> None:
            raise RuntimeError("a bug in a handler")

        pilot.app.call_later(boom)

    _run_headless(monkeypatch, crash)
    code = run_monitor(
        settings=_settings(tmp_path),
        feed=sim,
        symbols=["SPX"],
        poll_interval=60.0,
        engine_config=EngineConfig(),
    )
    assert code == 1
    log = (tmp_path / "hedgeflow.log").read_text()
    assert "monitor exit: 1" in log


def test_q_exits_zero_through_run_monitor(
    tmp_path: Path, sim: SimFeed, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    from hedgeflow.engine.config import EngineConfig

    async def quit_(pilot: Any) -> None:
        await pilot.press("q")

    _run_headless(monkeypatch, quit_)
    code = run_monitor(
        settings=_settings(tmp_path),
        feed=sim,
        symbols=["SPX"],
        poll_interval=60.0,
        engine_config=EngineConfig(),
    )
    assert code == 0
    assert "monitor exit: 0" in (tmp_path / "hedgeflow.log").read_text()


def test_run_monitor_freezes_the_startup_objects(
    tmp_path: Path, sim: SimFeed, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    """The monitor starts with what it imported and built out of the cyclic collector's
    sight (`freeze_startup_objects`): a full collection then walks only what the session
    allocates."""
    import gc

    from hedgeflow.engine.config import EngineConfig

    seen: dict[str, int] = {}

    async def look(pilot: Any) -> None:
        seen["frozen"] = gc.get_freeze_count()
        await pilot.press("q")

    _run_headless(monkeypatch, look)
    try:
        code = run_monitor(
            settings=_settings(tmp_path),
            feed=sim,
            symbols=["SPX"],
            poll_interval=60.0,
            engine_config=EngineConfig(),
        )
    finally:
        gc.unfreeze()  # the test process goes on collecting as before
    assert code == 0
    assert seen["frozen"] > 50_000  # the modules, classes and functions imported
