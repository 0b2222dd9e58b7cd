"""What the monitor writes to disk on a key: `x` exports the analysis on screen (the
files of `hedgeflow.app.export`), `s` a screenshot, `r` starts or stops a recording
(`tui.recording.Recording`, its writer on a thread). Each runs off the event loop; the
App's one worker handler reports how it ended (`export_done`, `recorder_done`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.worker import Worker, WorkerState

from hedgeflow.app.export import export_analysis, mark_simulated
from hedgeflow.app.fmt import NY
from hedgeflow.tui.recording import Recording

if TYPE_CHECKING:
    from hedgeflow.tui.app import HedgeflowApp

log = logging.getLogger("hedgeflow.tui")


def export(app: HedgeflowApp) -> None:
    """The analysis on screen to the export folder, in a worker thread."""
    st = app.states.get(app.current)
    if st is None or st.analysis is None:
        app.notify("nothing to export yet", severity="warning", timeout=3)
        return
    analysis, directory = st.analysis, app.export_dir
    if st.chain is not None and st.chain.source == "sim":  # (a replay of a sim recording too)
        analysis = mark_simulated(analysis)

    def work() -> list[Path]:
        return export_analysis(analysis, directory, stamp=analysis.as_of)

    app.run_worker(work, thread=True, group="export", name="export", exit_on_error=False)


def export_done(app: HedgeflowApp, worker: Worker[Any], state: WorkerState) -> None:
    if state == WorkerState.SUCCESS:
        paths = worker.result or []
        app.notify("\n".join(str(p) for p in paths), title="Exported", timeout=10)
    elif state == WorkerState.ERROR:
        app.notify(f"export failed: {worker.error}", severity="error", timeout=8)


def screenshot(app: HedgeflowApp, filename: str | None, path: str | None) -> None:
    """An SVG of the screen, named by symbol and data time unless `filename` is given, to
    `path` or the export folder."""
    from hedgeflow.tui.screenshot import save_without_notices

    stamp = app.data_clock().astimezone(NY).strftime("%Y%m%d-%H%M%S")
    name = filename or f"hedgeflow-{app.current}-{stamp}.svg"
    save_without_notices(app, name, Path(path) if path else app.export_dir)


def toggle_recording(app: HedgeflowApp) -> None:
    rec = stop_recording(app)
    if rec is not None:
        app.notify(str(rec.path), title="Recording stopped", timeout=6)
    else:
        start_recording(app)
    app.refresh_views()


def start_recording(app: HedgeflowApp) -> None:
    # The folder is made by the writer thread's Recorder: a folder that cannot be made is
    # its RecordingError, reported by `recorder_done` (made here, it raised out of the key
    # handler and ended the monitor)
    stamp = app.data_clock().astimezone(NY).strftime("%Y%m%d-%H%M%S")
    path = app.export_dir / f"hedgeflow-{app.feed_name}-{stamp}.sqlite"
    rec = app.recording = Recording(path, app.feed_name)
    app.run_worker(rec.write, thread=True, group="record", name="recorder", exit_on_error=False)
    # Record the latest snapshot of every symbol right away.
    for st in app.states.values():
        if st.chain is not None and st.fetched_at is not None:
            rec.put(st.chain, st.fetched_at)
    app.notify(str(path), title="Recording", timeout=6)


def stop_recording(app: HedgeflowApp) -> Recording | None:
    """Stop the recording, if one runs (its thread commits what is queued and closes)."""
    rec, app.recording = app.recording, None
    if rec is not None:
        rec.stop()
    return rec


def recorder_done(app: HedgeflowApp, worker: Worker[Any], state: WorkerState) -> None:
    if state == WorkerState.ERROR:
        log.error("recording failed: %r", worker.error)
        app.recording = None
        app.notify(f"recording failed: {worker.error}", severity="error", timeout=8)
