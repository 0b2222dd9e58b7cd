"""Recording feed snapshots to a SQLite file that survives a crash, for `replay`.

File format (one table, one row a snapshot):

    snapshots(id INTEGER PRIMARY KEY, symbol TEXT, as_of REAL, fetched_at REAL,
              feed TEXT, payload BLOB)
    index snapshots_symbol_as_of ON snapshots(symbol, as_of)

`as_of` and `fetched_at` are epoch seconds (UTC); `payload` is the zlib-compressed UTF-8
normalized chain JSON (`hedgeflow.engine.chain.chain_to_dict`). Only the normalized chain is
stored, never a request, header or credential.

Durability: WAL journal with `synchronous=FULL`, one transaction a snapshot. Each commit
is fsynced before `write` returns, so a kill -9 (or a power cut) loses at most the
snapshot being written; readers can open the file while the recorder writes
(`hedgeflow.feeds.replay` opens it read-only).

Run it as `hedgeflow record ...` or `python -m feeds.recorder --feed sim --symbols SPX
--interval 0.05 --out FILE`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import sys
import time
import zlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from hedgeflow.engine.chain import OptionChain, chain_from_dict, chain_to_dict
from hedgeflow.feeds.base import Feed, open_feed
from hedgeflow.feeds.errors import FeedError

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY,
    symbol TEXT NOT NULL,
    as_of REAL NOT NULL,
    fetched_at REAL NOT NULL,
    feed TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_symbol_as_of ON snapshots(symbol, as_of);
"""


def encode_chain(chain: OptionChain) -> bytes:
    """zlib-compressed normalized chain JSON (NaN as null, strict JSON)."""
    text = json.dumps(chain_to_dict(chain), separators=(",", ":"), allow_nan=False)
    return zlib.compress(text.encode("utf-8"), 6)


def decode_chain(payload: bytes) -> OptionChain:
    """Inverse of `encode_chain`; raises ValueError on a corrupt or foreign payload."""
    try:
        data = json.loads(zlib.decompress(payload).decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"corrupt snapshot payload: {exc}") from None
    return chain_from_dict(data)


class Recorder:
    """Append-only SQLite recording of snapshots; a context manager.

    `write(chain, feed=..., fetched_at=...)` stores one snapshot in its own committed
    transaction and returns its row id.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit; each write is an explicit BEGIN/COMMIT.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise OSError(f"{self.path}: cannot switch the journal to WAL (got {mode!r})")
        # FULL: the WAL is fsynced at every commit, so a committed snapshot survives kill -9
        # and power loss; NORMAL would survive kill -9 but could lose the last commits on a
        # power cut. One fsync per snapshot is cheap at polling rates.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self.count = 0

    def write(self, chain: OptionChain, *, feed: str, fetched_at: datetime | float) -> int:
        fetched = fetched_at.timestamp() if isinstance(fetched_at, datetime) else float(fetched_at)
        payload = encode_chain(chain)
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.execute(
                "INSERT INTO snapshots(symbol, as_of, fetched_at, feed, payload) VALUES (?, ?, ?, ?, ?)",
                (chain.symbol, chain.as_of_epoch, fetched, feed, payload),
            )
            row = int(cur.lastrowid or 0)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        self.count += 1
        return row

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_rows(
    path: str | Path, symbol: str | None = None
) -> Iterator[tuple[int, str, float, float, str, bytes]]:
    """(id, symbol, as_of, fetched_at, feed, payload) rows in recording order, read-only.
    Works while another process writes (WAL readers see the last committed state)."""
    uri = f"file:{Path(path).resolve()}?mode=ro"
    db = sqlite3.connect(uri, uri=True)
    try:
        sql = "SELECT id, symbol, as_of, fetched_at, feed, payload FROM snapshots"
        args: tuple[Any, ...] = ()
        if symbol is not None:
            sql += " WHERE symbol = ?"
            args = (symbol.upper(),)
        yield from db.execute(sql + " ORDER BY id", args)
    finally:
        db.close()


async def record(
    feed: Feed,
    symbols: Sequence[str],
    *,
    interval: float,
    out: str | Path,
    stop: asyncio.Event | None = None,
    max_snapshots: int | None = None,
) -> int:
    """Poll `feed` for every symbol every `interval` seconds and append each snapshot to the
    SQLite file `out` until `stop` is set or `max_snapshots` were written. Feed errors are
    logged and the loop goes on. Returns the number of snapshots written.

    `fetched_at` is the feed's clock at the fetch (the sim's or replay's own clock; the wall
    clock for real feeds), so a replay reproduces the recorded pacing.
    """
    if interval < 0:
        raise ValueError("`interval` must be >= 0 seconds")
    symbols = [s.upper() for s in symbols]
    if not symbols:
        raise ValueError("`symbols`: nothing to record")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    with Recorder(out) as rec:
        async with feed:
            while not stop.is_set():
                started = loop.time()
                for symbol in symbols:
                    try:
                        chain = await feed.snapshot(symbol)
                    except FeedError as exc:
                        log.warning("record %s: %s", symbol, exc)
                        continue
                    fetched = feed.clock()
                    # The SQLite write is a few ms (compress + fsync): off the event loop.
                    await asyncio.to_thread(rec.write, chain, feed=feed.name, fetched_at=fetched)
                    if max_snapshots is not None and rec.count >= max_snapshots:
                        return rec.count
                wait = max(0.0, interval - (loop.time() - started))
                try:
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                except TimeoutError:
                    pass
        return rec.count


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m feeds.recorder --feed sim --symbols SPX --interval 0.05 --out FILE`.

    Feed options come from the built-in defaults of the feed (`--seed`/`--start`/`--speed`
    for the sim, `--path` for file feeds); the full configuration lives in `hedgeflow record`.
    """
    p = argparse.ArgumentParser(prog="python -m feeds.recorder", description=main.__doc__)
    p.add_argument("--feed", default="sim")
    p.add_argument("--symbols", default="SPX")
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--out", required=True)
    p.add_argument("--max", type=int, default=None, help="stop after this many snapshots")
    p.add_argument("--seed", type=int)
    p.add_argument("--start")
    p.add_argument("--speed", type=float)
    p.add_argument("--path")
    args = p.parse_args(argv)
    section: dict[str, Any] = {}
    for key in ("seed", "start", "speed", "path"):
        if getattr(args, key) is not None:
            section[key] = getattr(args, key)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        feed = open_feed(args.feed, section)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    started = time.monotonic()
    try:
        n = asyncio.run(
            record(feed, symbols, interval=args.interval, out=args.out, max_snapshots=args.max)
        )
    except KeyboardInterrupt:
        return 130
    log.info("wrote %d snapshots to %s in %.1fs", n, args.out, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
