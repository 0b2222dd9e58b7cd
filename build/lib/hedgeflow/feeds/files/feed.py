"""`FileFeed`: files as a `Feed`, each file one frozen snapshot of one underlying."""

from __future__ import annotations

import dataclasses
import glob
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from hedgeflow.engine.chain import OptionChain
from hedgeflow.engine.clock import NY
from hedgeflow.feeds.errors import BadPayload
from hedgeflow.feeds.files.errors import ChainFileError
from hedgeflow.feeds.files.read import read_chain_file


class FileFeed:
    """`hedgeflow.feeds.base.Feed` over files: each file is one frozen snapshot of one underlying.

    Config (`[feeds.file]`): `path` = one file, a glob (`"chains/*.csv"`), a list of files
    or globs, or a table mapping symbols to files (`{SPX = "spx.csv", SPY = "spy.csv"}`).
    Every file is read when the feed is built, so a missing, unreadable or truncated file is
    refused up front (`ChainFileError`, a ValueError, one line naming the file); `symbols`
    then names the underlyings the files hold, sorted. Files are re-read when their
    modification time or size changes; one that goes bad during a session (deleted,
    truncated) raises `ChainFileError` (a FeedError) from `snapshot`. `clock()` is the as-of
    time of the last snapshot served (a file is a frozen moment), so data age on screen is
    measured against the file, not the wall clock.
    """

    name = "file"

    def __init__(
        self, paths: Sequence[Path] = (), by_symbol: Mapping[str, Path] | None = None
    ) -> None:
        self._by_symbol: dict[str, Path] = {
            k.upper(): Path(v) for k, v in (by_symbol or {}).items()
        }
        self._cache: dict[Path, tuple[tuple[int, int], OptionChain]] = {}
        self._last: OptionChain | None = None
        if not paths and not self._by_symbol:
            raise ValueError("feeds.file: no file given")
        for path in self._by_symbol.values():
            self._load(path)
        # Files given without symbols: read each once to learn whose chain it holds.
        for path in map(Path, paths):
            sym = self._load(path).symbol.upper()
            other = self._by_symbol.get(sym)
            if other is not None and other != path:
                raise ChainFileError(
                    path, f"holds {sym} like {other}; map symbols to files explicitly"
                )
            self._by_symbol[sym] = path
        #: The underlyings the files hold, sorted.
        self.symbols: tuple[str, ...] = tuple(sorted(self._by_symbol))

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> FileFeed:
        """From a `[feeds.file]` table (see the class docstring); reads every file now and
        raises ValueError (`ChainFileError` for a file) with one line naming the problem."""
        unknown = sorted(set(section) - {"path"})
        if unknown:
            raise ValueError(f"unknown key `feeds.file.{unknown[0]}` (known: path)")
        spec = section.get("path")
        if spec is None or spec == "" or spec == [] or spec == {}:
            raise ValueError(
                "feeds.file: `path` is required (a file, a glob, a list, or symbol = file)"
            )
        if isinstance(spec, Mapping):
            return cls(
                by_symbol={str(k): Path(os.path.expanduser(str(v))) for k, v in spec.items()}
            )
        items = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
        paths: list[Path] = []
        for item in items:
            if not isinstance(item, (str, os.PathLike)):
                raise ValueError(f"feeds.file: `path` entries must be strings, got {item!r}")
            pattern = os.path.expanduser(str(item))
            if glob.has_magic(pattern):
                matches = sorted(glob.glob(pattern))
                if not matches:
                    raise ValueError(f"feeds.file: `path` {item!r} matches no file")
                paths += [Path(m) for m in matches]
            else:
                paths.append(Path(pattern))
        return cls(paths=paths)

    @property
    def delay_seconds(self) -> float:
        return self._last.delay_seconds if self._last is not None else 0.0

    async def __aenter__(self) -> FileFeed:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def _load(self, path: Path) -> OptionChain:
        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = (-1, -1)  # read_chain_file raises the precise error
        hit = self._cache.get(path)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        chain = read_chain_file(path)
        self._cache[path] = (stamp, chain)
        return chain

    def chain(self, symbol: str) -> OptionChain:
        """The chain of `symbol` (synchronous; `snapshot` is the async protocol method)."""
        sym = symbol.upper().lstrip("^$_")
        path = self._by_symbol.get(sym)
        if path is None:
            raise BadPayload(
                f"no file for {sym}; files hold {', '.join(self.symbols)}", vendor=self.name
            )
        chain = self._load(path)
        if chain.symbol.upper() != sym:
            chain = dataclasses.replace(chain, symbol=sym)
        self._last = chain
        return chain

    async def snapshot(self, symbol: str) -> OptionChain:
        return self.chain(symbol)

    async def expirations(self, symbol: str) -> list[datetime]:
        """Settlement times of the series still live at the file's as-of time, ascending."""
        chain = self.chain(symbol)
        live = chain.expiries()
        live = live[live > chain.as_of_epoch]
        return [datetime.fromtimestamp(float(e), tz=NY) for e in live]

    def clock(self) -> datetime:
        if self._last is None:
            self.chain(self.symbols[0])
        assert self._last is not None
        return self._last.as_of
