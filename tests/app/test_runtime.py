"""hedgeflow.app.runtime: the allocator tuning reaches glibc for the long-running commands
only, the heap trim gives freed memory back, and the log file rotates. (The calendar cache,
also in runtime, has its own tests in test_calendar_cache.py.)"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hedgeflow.app import runtime

ROOT = Path(__file__).resolve().parents[2]
SPY_CSV = ROOT / "tests" / "data" / "real" / "spy_quotedata_2023-09-14.csv"

glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux")
    or runtime._libc() is None
    or not hasattr(runtime._libc(), "mallopt"),
    reason="glibc only",
)

# After `hedgeflow.cli.main(argv)`, where does a new thread's malloc land? With one arena
# (M_ARENA_MAX = 1) it comes from the main arena, inside [heap]; with glibc's defaults a new
# thread gets an arena of its own, mapped elsewhere.
ARENA_PROBE = """
import ctypes, sys, threading
from hedgeflow.cli import main
code = main(sys.argv[1:])
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
got = {}
t = threading.Thread(target=lambda: got.setdefault("p", libc.malloc(200)))
t.start(); t.join()
for line in open("/proc/self/maps"):
    if line.rstrip().endswith("[heap]"):
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
print(code, lo <= got["p"] < hi, file=sys.stderr)
"""


def _arena_probe(*argv: str) -> tuple[int, bool]:
    proc = subprocess.run(
        [sys.executable, "-c", ARENA_PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    code, in_heap = proc.stderr.strip().splitlines()[-1].split()
    return int(code), in_heap == "True"


@glibc
def test_long_running_commands_tune_the_allocator() -> None:
    # `record` is refused (no path for the file feed) after the tuning, at start
    code, one_arena = _arena_probe("record", "--feed", "file")
    assert code == 2 and one_arena


@glibc
def test_one_shot_commands_keep_glibc_defaults() -> None:
    code, one_arena = _arena_probe("analyze", str(SPY_CSV))
    assert code == 0 and not one_arena


# Fragment the heap: 40 MB of blocks below a block still in use, then free them. The freed
# pages are in the middle of the heap, where no threshold returns them; trim_heap does.
TRIM_PROBE = """
import ctypes, os
from hedgeflow.app.runtime import trim_heap, tune_allocator
assert tune_allocator()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
blocks = [libc.malloc(100_000) for _ in range(400)]
keep = libc.malloc(100_000)
for p in [*blocks, keep]:
    libc.memset(p, 1, 100_000)
for p in blocks:
    libc.free(p)
before = rss()
trimmed = trim_heap()
print(type(trimmed).__name__, trimmed, (before - rss()) >> 20)
"""


@glibc
def test_trim_heap_returns_freed_pages() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", TRIM_PROBE], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    kind, trimmed, released_mb = proc.stdout.split()
    assert kind == "bool" and trimmed == "True"
    assert int(released_mb) >= 20  # of the 40 MB freed in the middle of the heap


def test_trim_heap_is_a_bool_anywhere() -> None:
    assert isinstance(runtime.trim_heap(), bool)


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    yield root
    logging.captureWarnings(False)  # configure_logging routed warnings to the log
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])


def test_log_file_rotates_at_its_cap(tmp_path: Path, root_logger: logging.Logger) -> None:
    path = tmp_path / "state" / "hedgeflow.log"
    runtime.configure_logging(path, max_bytes=2000, backups=2)
    log = logging.getLogger("hedgeflow.test")
    for i in range(200):
        log.info("poll %03d of SPX: %s", i, "x" * 40)
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["hedgeflow.log", "hedgeflow.log.1", "hedgeflow.log.2"]  # two backups kept
    for p in path.parent.iterdir():
        assert p.stat().st_size <= 2000
    assert "poll 199" in path.read_text(encoding="utf-8")  # the newest record is in the log
    assert "poll 000" not in "".join(p.read_text(encoding="utf-8") for p in path.parent.iterdir())


def test_default_cap_bounds_the_logs() -> None:
    assert runtime.LOG_MAX_BYTES * (runtime.LOG_BACKUPS + 1) <= 50 << 20


def test_a_directory_as_log_file_is_refused_and_logging_kept(
    tmp_path: Path, root_logger: logging.Logger
) -> None:
    good = tmp_path / "good.log"
    runtime.configure_logging(good)
    with pytest.raises(IsADirectoryError):
        runtime.configure_logging(tmp_path)
    logging.getLogger("hedgeflow.test").warning("still logged")
    for h in root_logger.handlers:
        h.flush()
    assert "still logged" in good.read_text(encoding="utf-8")


def test_reconfiguring_releases_the_previous_file(
    tmp_path: Path, root_logger: logging.Logger
) -> None:
    runtime.configure_logging(tmp_path / "a.log")
    first = root_logger.handlers[0]
    runtime.configure_logging(tmp_path / "b.log")
    assert root_logger.handlers != [first]
    assert isinstance(first, logging.FileHandler) and first.stream is None  # closed


def test_log_file_path_default_and_home() -> None:
    assert runtime.log_file_path("") == runtime.default_log_file()
    assert runtime.log_file_path("~/x.log") == Path.home() / "x.log"
