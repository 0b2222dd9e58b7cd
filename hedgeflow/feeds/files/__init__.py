"""The `file` feed (see `hedgeflow.feeds.files.quotedata`)."""

from hedgeflow.feeds.files.quotedata import (
    ROW_DROP_REASONS,
    ChainFileError,
    FileFeed,
    _parse_symbols,
    contracts_dropped,
    parse_chain_bytes,
    parse_quote_time,
    read_chain_file,
    write_chain_json,
)

__all__ = [
    "ROW_DROP_REASONS",
    "ChainFileError",
    "FileFeed",
    "_parse_symbols",
    "contracts_dropped",
    "parse_chain_bytes",
    "parse_quote_time",
    "read_chain_file",
    "write_chain_json",
]
