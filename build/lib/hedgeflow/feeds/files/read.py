"""Reading a chain file: the bytes decoded to text (UTF-8, UTF-16 with a BOM, cp1252), the
format told apart by content (JSON, an HTML page refused, else CBOE quotedata CSV)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from hedgeflow.engine.chain import OptionChain
from hedgeflow.feeds.files.chain_json import parse_json
from hedgeflow.feeds.files.errors import ChainFileError
from hedgeflow.feeds.files.quotedata import parse_quotedata


def read_chain_file(path: str | os.PathLike[str], *, symbol: str | None = None) -> OptionChain:
    """Read a CBOE quotedata CSV, a CBOE delayed-quotes JSON or a normalized chain JSON.

    Parameters
    ----------
    path : the file.
    symbol : the underlying's name for the chain ("SPX"); default from the file (roots
        SPX/SPXW -> "SPX", NDX/NDXP -> "NDX", SPY -> "SPY").

    Raises
    ------
    ChainFileError with a one-line message naming the file and the problem.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ChainFileError(p, "no such file") from None
    except IsADirectoryError:
        raise ChainFileError(p, "is a directory, not a file") from None
    except OSError as exc:
        raise ChainFileError(p, f"cannot read ({exc.strerror or exc})") from None
    return parse_chain_bytes(raw, name=str(p), symbol=symbol)


def parse_chain_bytes(
    raw: bytes, *, name: str = "<bytes>", symbol: str | None = None
) -> OptionChain:
    """`read_chain_file` on bytes already in memory; `name` is used in messages and as the
    chain's `source`."""
    text = _decode(raw, name)
    head = text.lstrip()[:1]
    if head in ("{", "["):
        return parse_json(text, name, symbol)
    if head == "<":
        raise ChainFileError(
            name, "looks like an HTML/XML page (an error or login page?), not an option chain"
        )
    try:
        return parse_quotedata(text, name, symbol)
    except csv.Error as exc:
        raise ChainFileError(name, f"malformed CSV ({exc})") from None


def _decode(raw: bytes, name: str) -> str:
    if not raw.strip():
        raise ChainFileError(name, "empty file")
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        # A spreadsheet's "Unicode text" export: UTF-16 with a byte-order mark.
        try:
            raw = raw.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise ChainFileError(name, "invalid UTF-16 text") from None
    if b"\x00" in raw:
        raise ChainFileError(name, "binary data (NUL bytes), not a text option chain")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # A spreadsheet re-save on Windows writes cp1252; latin-1 maps every byte, and the
        # parser below checks the content. Real text has few control characters.
        text = raw.decode("latin-1")
    sample = text[:4096]
    controls = sum(1 for ch in sample if ch < " " and ch not in "\t\r\n")
    if controls > len(sample) // 100:
        raise ChainFileError(name, "binary data (control bytes), not a text option chain")
    return text
