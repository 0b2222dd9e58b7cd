"""What `hedgeflow record` shows while it runs, and the summary it ends with.

On a terminal one line is rewritten in place ("\\r"); into a pipe or a file a line is
written at the first snapshot, every `every` snapshots after it and at each new error, so
a log of the run stays short. The summary (always a line of its own) says how many
snapshots of which symbols went to which file, its size, how long it ran, and the last
error if any. Time comes from the `clock` given (monotonic seconds), never read here.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from hedgeflow.app.fmt import fmt_age

#: Into a pipe or file: a progress line every this many snapshots.
EVERY = 10


def fmt_bytes(n: float) -> str:
    """`812` -> `812 B`, `48_000` -> `46.9 kB`, `3_400_000` -> `3.2 MB` (powers of 1024)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def recording_size(path: Path) -> int:
    """Bytes of the recording on disk: the file and its write-ahead log (0 if absent)."""
    total = 0
    for p in (path, path.with_name(path.name + "-wal")):
        try:
            total += os.stat(p).st_size
        except OSError:
            pass
    return total


class RecordProgress:
    """The `record` command's progress line and summary, written to `stream`.

    `update(written, symbol, error)` is `hedgeflow.feeds.recorder.record`'s `progress`
    callback; `summary()` is printed once the recording is closed."""

    def __init__(
        self,
        stream: TextIO,
        out: Path,
        clock: Callable[[], float],
        *,
        tty: bool | None = None,
        every: int = EVERY,
    ) -> None:
        self.stream = stream
        self.out = out
        self._clock = clock
        self.tty = stream.isatty() if tty is None else tty
        self.every = max(1, every)
        self.written = 0
        self.by_symbol: Counter[str] = Counter()
        self.errors = 0
        self.last_error = ""
        self._started = self._now()

    def _now(self) -> float:
        return float(self._clock())

    def line(self) -> str:
        """The progress text: snapshots, size, elapsed time, last error."""
        text = (
            f"{self.written} snapshot{'s' if self.written != 1 else ''} · "
            f"{fmt_bytes(recording_size(self.out))} · {fmt_age(self._now() - self._started)}"
        )
        if self.errors:
            text += (
                f" · {self.errors} error{'s' if self.errors != 1 else ''}, last: {self.last_error}"
            )
        return text

    def update(self, written: int, symbol: str, error: Exception | None) -> None:
        new_error = False
        if error is None:
            self.written = written
            self.by_symbol[symbol] += 1
        else:
            self.errors += 1
            text = f"{symbol}: {' '.join(str(error).split())}"
            new_error = text != self.last_error
            self.last_error = text
        if self.tty:
            # One line rewritten in place; "\x1b[K" clears what a longer line left.
            self.stream.write(f"\r\x1b[K{self.line()}")
        elif new_error or (error is None and (written == 1 or written % self.every == 0)):
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def summary(self, *, interrupted: bool) -> str:
        """One line: what was recorded where, and why it ended."""
        symbols = ", ".join(f"{s} {n}" for s, n in sorted(self.by_symbol.items()))
        how = "stopped" if interrupted else "done"
        text = (
            f"{how}: {self.written} snapshot{'s' if self.written != 1 else ''}"
            f"{f' ({symbols})' if symbols else ''} to {self.out}, "
            f"{fmt_bytes(recording_size(self.out))}, in {fmt_age(self._now() - self._started)}"
        )
        if self.errors:
            text += f"; {self.errors} feed error{'s' if self.errors != 1 else ''}, last: {self.last_error}"
        return text

    def finish(self, *, interrupted: bool) -> None:
        """End the progress line (over a terminal's echoed "^C") and print the summary."""
        if self.tty:
            self.stream.write("\r\x1b[K")
        self.stream.write(self.summary(interrupted=interrupted) + "\n")
        self.stream.flush()
