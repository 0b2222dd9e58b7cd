"""Process-level allocator tuning for the engine's array temporaries.

The engine's hot paths build (grid x strikes) and (buckets x options) arrays of a
few hundred kilobytes. glibc serves allocations above its mmap threshold (128 kB
by default, adjusted dynamically) with fresh mmap'd pages and trims the heap top
eagerly, so every such temporary page-faults on first touch: measured here, the
repriced profile of a 0DTE SPX expiry takes 1.9 ms instead of 0.9 ms, and a whole
16-expiry chain 15.8 ms instead of 8.3 ms. Raising both thresholds keeps those
arrays on the reused heap. The process that owns the event loop (the `hedgeflow`
command, the benchmarks) calls this once at start; the engine never touches it.

The trim threshold (free heap kept at the top before glibc gives it back) is 8 MB: the
engine benchmarks (a_0dte_chain_to_cloud, a_0dte_full_analysis, b_full_chain...) run
as fast as with 64 MB (within 2%, run-to-run noise), while glibc's 128 kB default costs
+45% on the full 0DTE analysis. Freed memory in the middle of the heap is not covered by
any threshold; the monitor returns it with `malloc_trim` once a minute (tui.app.trim_heap),
~15 MB after an hour of polling five symbols.

Arenas are limited to one: the monitor analyses on short-lived worker threads, and glibc
gives threads their own arenas, each holding its own freed and fragmented pages (measured:
~8 MB more RSS for five symbols, with no change in repaint latency; Python's small objects
do not go through malloc, so the threads hardly contend for the one arena).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 16 << 20  # arrays up to 16 MB come from the heap
TRIM_THRESHOLD_BYTES = 8 << 20  # keep up to 8 MB of free heap for reuse
ARENA_MAX = 1  # one malloc arena for all threads


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds and use one arena; False (and no change) off
    glibc. Call before any thread starts (arenas already handed out stay)."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    ok = mallopt(M_ARENA_MAX, ARENA_MAX) == 1 and ok
    return bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1 and ok)
