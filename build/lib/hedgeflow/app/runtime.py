"""Everything process-wide: the glibc allocator tuning and its heap trim, the exchange-calendar
cache, and the log file. The `hedgeflow` command (and the benchmarks) call these; the engine
and the feeds never do.

Allocator. The engine's hot paths build (grid x strikes) and (buckets x options) arrays of a
few hundred kilobytes. glibc serves allocations above its mmap threshold (128 kB by default,
adjusted dynamically) with fresh mmap'd pages and trims the heap top eagerly, so every such
temporary page-faults on first touch: measured here, the repriced profile of a 0DTE SPX expiry
takes 1.9 ms instead of 0.9 ms, and a whole 16-expiry chain 15.8 ms instead of 8.3 ms. Raising
both thresholds keeps those arrays on the reused heap. The trim threshold (free heap kept at
the top before glibc gives it back) is 8 MB: the engine benchmarks run as fast as with 64 MB
(within 2%, run-to-run noise), while glibc's 128 kB default costs +45% on the full 0DTE
analysis. Arenas are limited to one: the monitor analyses on short-lived worker threads, and
glibc gives threads their own arenas, each holding its own freed and fragmented pages
(measured: ~8 MB more RSS for five symbols, no change in repaint latency; Python's small
objects do not go through malloc, so the threads hardly contend for the one arena). Freed
memory in the middle of the heap is not covered by any threshold: the monitor returns it with
`trim_heap` once a minute (~15 MB after an hour of polling five symbols).

Calendar cache. The engine's expiry clock (`hedgeflow.engine.clock`) builds its NYSE session
table from `exchange_calendars` on first use, which imports pandas: ~0.25 s and ~40 MB, every
start. The table is three arrays that only change when exchange_calendars does, so they are
kept in the user cache directory (`<cache>/xnys-sessions.npz`) and installed into the engine
(`clock.install_sessions`) before anything asks for the calendar. The file is keyed by the
installed exchange_calendars version, the calendar span and a format number; a different key,
a corrupt or unreadable file, or a table the engine rejects is a miss: the table is built from
the library and the file rewritten (atomically, so a concurrent start never reads half a file).
A failing write only costs the next start its speed.

Logging. The monitor owns the terminal, so every log record and Python warning goes to a file
(never the screen), which rotates: at `LOG_MAX_BYTES` it is renamed `.1` (older ones `.2` ...)
and at most `LOG_BACKUPS` old files are kept, so a monitor left running for weeks cannot fill
the disk.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import logging.handlers
import os
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hedgeflow.engine import clock

log = logging.getLogger(__name__)

# ------------------------------------------------------------------ allocator

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 16 << 20  # arrays up to 16 MB come from the heap
TRIM_THRESHOLD_BYTES = 8 << 20  # keep up to 8 MB of free heap for reuse
ARENA_MAX = 1  # one malloc arena for all threads

_LIBC: Any = None


def _libc() -> Any:
    """glibc through ctypes, or None (not Linux, or no C library found)."""
    global _LIBC
    if _LIBC is None and sys.platform.startswith("linux"):
        name = ctypes.util.find_library("c")
        if name is not None:
            try:
                _LIBC = ctypes.CDLL(name)
            except OSError:
                return None
    return _LIBC


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds and use one arena; False (and no change) off
    glibc. Call before any thread starts (arenas already handed out stay)."""
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None)  # musl and others have no mallopt
    if mallopt is None:
        return False
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    ok = mallopt(M_ARENA_MAX, ARENA_MAX) == 1 and ok
    return bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1 and ok)


def trim_heap() -> bool:
    """Return freed heap pages to the system (glibc `malloc_trim`): True if any memory was
    released, False if none was or off glibc. Takes well under a millisecond on the monitor's
    heap; the cost is one analysis re-faulting its pages."""
    malloc_trim = getattr(_libc(), "malloc_trim", None)
    if malloc_trim is None:
        return False
    return bool(malloc_trim(0))


# ------------------------------------------------------------------ calendar cache

CACHE_NAME = "xnys-sessions.npz"
#: Bump when the file layout or the meaning of its arrays changes.
FORMAT = 1

Outcome = Literal["cache", "built"]


def default_cache_dir() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path("hedgeflow")


def calendar_version() -> str:
    """The installed exchange_calendars version (from its metadata: no import)."""
    try:
        return version("exchange_calendars")
    except PackageNotFoundError:
        return "missing"


def cache_key(xcals_version: str) -> dict[str, str]:
    return {
        "format": str(FORMAT),
        "exchange_calendars": xcals_version,
        "start": clock.CALENDAR_START.isoformat(),
        "end": clock.CALENDAR_END.isoformat(),
    }


def _load(path: Path, key: dict[str, str]) -> clock.SessionTable | None:
    """The cached table installed into the engine, or None (missing, stale or corrupt)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if any(str(f[k][()]) != v for k, v in key.items()):
                log.info("calendar cache %s is stale; rebuilding", path)
                return None
            day, opens, closes = f["day"], f["open"], f["close"]
        return clock.install_sessions(day, opens, closes, source=f"cache:{path}")
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - any unreadable cache is a miss, never a crash
        log.warning(
            "calendar cache %s unusable (%s: %s); rebuilding", path, type(exc).__name__, exc
        )
        return None


def _write(path: Path, table: clock.SessionTable, key: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".xnys-", suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            arrays: dict[str, Any] = {k: np.array(v) for k, v in key.items()}
            np.savez(f, day=table.day, open=table.open, close=table.close, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install_cached_calendar(
    cache_dir: Path | None = None, *, xcals_version: str | None = None
) -> Outcome:
    """Install the session table from the cache ("cache"), or build it from exchange_calendars
    and write the cache ("built"). Never raises for cache trouble; a build failure (no
    exchange_calendars) propagates as it would on the engine's first calendar lookup."""
    path = (cache_dir or default_cache_dir()) / CACHE_NAME
    key = cache_key(xcals_version or calendar_version())
    if _load(path, key) is not None:
        return "cache"
    clock.uninstall_sessions()  # the library's own table, not a rejected cached one
    table = clock.session_table()
    try:
        _write(path, table, key)
    except OSError as exc:
        log.warning("could not write the calendar cache %s: %s", path, exc)
    return "built"


# ------------------------------------------------------------------ logging

LOG_MAX_BYTES = 5 << 20  # 5 MB per file
LOG_BACKUPS = 3  # hedgeflow.log.1 .. .3: at most 20 MB of logs
_HANDLER_NAME = "hedgeflow-log-file"


def default_log_file() -> Path:
    from platformdirs import user_state_path

    return user_state_path("hedgeflow") / "hedgeflow.log"


def log_file_path(configured: str) -> Path:
    """`[monitor] log_file` as a path ("" = `default_log_file()`), `~` expanded."""
    return Path(configured).expanduser() if configured else default_log_file()


def configure_logging(
    log_file: Path, *, max_bytes: int = LOG_MAX_BYTES, backups: int = LOG_BACKUPS
) -> None:
    """Send every log record and Python warning to `log_file` (rotated at `max_bytes`,
    `backups` old files kept), never to the terminal. Raises OSError (IsADirectoryError,
    PermissionError, ...) when the file cannot be opened for appending; the handlers in place
    stay untouched then."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        if h.get_name() == _HANDLER_NAME:  # ours from an earlier call: release its file
            h.close()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
