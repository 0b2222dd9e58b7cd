"""`hedgeflow record` shows its progress while it runs and a summary when it stops: the
printer on its own, and the real command in a pipe and in a terminal (a pty), stopped with
Ctrl-C (SIGINT)."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from hedgeflow.app.record_progress import RecordProgress, fmt_bytes
from hedgeflow.feeds.errors import FeedError

HEDGEFLOW = str(Path(sys.executable).with_name("hedgeflow"))


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_fmt_bytes() -> None:
    assert fmt_bytes(812) == "812 B"
    assert fmt_bytes(48_000) == "46.9 kB"
    assert fmt_bytes(3_400_000) == "3.2 MB"


def test_into_a_pipe_a_line_every_n_snapshots_and_at_each_new_error(tmp_path: Path) -> None:
    out = tmp_path / "rec.sqlite"
    out.write_bytes(b"x" * 2048)
    stream, clock = io.StringIO(), Clock()
    p = RecordProgress(stream, out, clock, tty=False, every=5)
    for n in range(1, 12):
        clock.t += 1
        p.update(n, "SPX" if n % 2 else "QQQ", None)
    p.update(11, "SPX", FeedError("HTTP 503 from the vendor"))
    p.update(11, "SPX", FeedError("HTTP 503 from the vendor"))  # the same error: no new line
    lines = stream.getvalue().splitlines()
    assert lines == [
        "1 snapshot · 2.0 kB · 1s",
        "5 snapshots · 2.0 kB · 5s",
        "10 snapshots · 2.0 kB · 10s",
        "11 snapshots · 2.0 kB · 11s · 1 error, last: SPX: HTTP 503 from the vendor",
    ]
    assert "\r" not in stream.getvalue()
    p.finish(interrupted=True)
    assert stream.getvalue().splitlines()[-1] == (
        f"stopped: 11 snapshots (QQQ 5, SPX 6) to {out}, 2.0 kB, in 11s; "
        "2 feed errors, last: SPX: HTTP 503 from the vendor"
    )


def test_on_a_terminal_one_line_rewritten(tmp_path: Path) -> None:
    stream = io.StringIO()
    p = RecordProgress(stream, tmp_path / "none.sqlite", Clock(), tty=True)
    for n in range(1, 4):
        p.update(n, "SPX", None)
    text = stream.getvalue()
    assert "\n" not in text and text.count("\r\x1b[K") == 3
    assert text.endswith("3 snapshots · 0 B · 0s")
    p.finish(interrupted=False)
    assert stream.getvalue().endswith(
        f"\r\x1b[Kdone: 3 snapshots (SPX 3) to {tmp_path / 'none.sqlite'}, 0 B, in 0s\n"
    )


def _config(tmp_path: Path) -> str:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"[monitor]\nlog_file = {str(tmp_path / 'hf.log')!r}\n"
        "[feeds.sim]\nseed = 3\nstart = '2025-06-10T11:00:00-04:00'\nspeed = 60.0\n",
        encoding="utf-8",
    )
    return str(cfg)


def _rows(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path) as db:
            return int(db.execute("select count(*) from snapshots").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _argv(tmp_path: Path, out: Path) -> list[str]:
    return [
        HEDGEFLOW, "record", "--config", _config(tmp_path), "--feed", "sim",
        "--symbols", "SPX,QQQ", "--interval", "0.05", "--out", str(out),
    ]  # fmt: skip


def test_record_into_a_pipe_prints_progress_and_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "rec.sqlite"
    proc = subprocess.Popen(
        _argv(tmp_path, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _rows(out) < 22:
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert stderr == ""
    lines = stdout.splitlines()
    assert lines[0].startswith("recording SPX, QQQ from sim")
    assert lines[1].startswith("1 snapshot · ")
    assert re.fullmatch(r"10 snapshots · [\d.]+ [kM]?B · \d+s", lines[2]), lines
    n = _rows(out)
    assert lines[-1].startswith(f"stopped: {n} snapshots (QQQ ") and f"to {out}, " in lines[-1]


def test_record_in_a_terminal_rewrites_one_line_and_ends_with_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "rec.sqlite"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        _argv(tmp_path, out), stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    data = b""

    def drain(seconds: float) -> None:
        nonlocal data
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data += os.read(master, 65536)
                except OSError:
                    return

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _rows(out) < 6:
            drain(0.2)
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
        drain(0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 0
    text = data.decode("utf-8", "replace")
    assert "Traceback" not in text
    body = text.split("(Ctrl-C stops)", 1)[1]
    # progress rewritten in place: no newline between the updates, one before nothing else
    progress, _, last = body.rpartition("\r\x1b[K")
    assert progress.count("\r\x1b[K") >= 5 and "\n" not in progress.strip()
    assert last.startswith("stopped: ") and last.rstrip().endswith(tuple("0123456789s"))
    assert f"to {out}, " in last
