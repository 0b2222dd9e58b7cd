"""The exchange-calendar cache: start-up without pandas and exchange_calendars.

The engine's expiry clock (`hedgeflow.engine.clock`) builds its NYSE session table from
`exchange_calendars` on first use, which imports pandas: ~0.25 s and ~40 MB, every
start. The table is three arrays that only change when exchange_calendars does, so the
application keeps them in the user cache directory (`<cache>/xnys-sessions.npz`) and
installs them into the engine (`hedgeflow.engine.clock.install_sessions`) before anything asks
for the calendar. The file is keyed by the installed exchange_calendars version, the
calendar span and a format number; a different key, a corrupt or unreadable file, or a
table the engine rejects is a miss: the table is built from the library as usual and the
file rewritten (atomically, so a concurrent start never reads half a file). A failing
write only costs the next start its speed.
"""

from __future__ import annotations

import logging
import os
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hedgeflow.engine import clock

log = logging.getLogger(__name__)

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
        # typed Any: mypy checks a ** dict against savez's own `allow_pickle: bool` too
        keys: dict[str, Any] = {k: np.array(v) for k, v in key.items()}
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                day=table.day,
                open=table.open,
                close=table.close,
                **keys,
            )
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
