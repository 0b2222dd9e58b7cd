"""The `file` feed: option chains read from files.

Three formats, told apart by content (never by the file name):

- CBOE quotedata CSV, as downloaded from cboe.com's delayed-quotes page: both layouts,
  spreadsheet re-saves, the quote time in any browser locale (`quotedata` has the details
  and the rules for rows dropped and values repaired).
- CBOE delayed-quotes JSON (`{"timestamp": ..., "data": {"options": [...]}}`), parsed by
  `hedgeflow.feeds.cboe.parse_cboe_json` (imported lazily).
- The normalized chain JSON (`{"format": "hedgeflow.chain", ...}`, docs/CHAIN_FORMAT.md),
  written by `write_chain_json`.

Modules: `read` (`read_chain_file`: tells the formats apart and decodes the text),
`quotedata` (the CBOE CSV reader and its rules), `chain_json` (both JSON formats, and
`write_chain_json`), `feed` (`FileFeed`), `errors` (`ChainFileError`).

Errors: any file that cannot be read or is not an option chain raises `ChainFileError` (a
`ValueError` and a `hedgeflow.feeds.errors.BadPayload`) with a one-line message naming the file and
the problem; the CLI prints it and exits 2.
"""

from hedgeflow.feeds.files.chain_json import write_chain_json
from hedgeflow.feeds.files.errors import ChainFileError
from hedgeflow.feeds.files.feed import FileFeed
from hedgeflow.feeds.files.quotedata import (
    CBOE_DELAY_SECONDS,
    ROW_DROP_REASONS,
    UNDERLYING_OF_ROOT,
    contracts_dropped,
    parse_quote_time,
)
from hedgeflow.feeds.files.read import parse_chain_bytes, read_chain_file

__all__ = [
    "CBOE_DELAY_SECONDS",
    "ROW_DROP_REASONS",
    "UNDERLYING_OF_ROOT",
    "ChainFileError",
    "FileFeed",
    "contracts_dropped",
    "parse_chain_bytes",
    "parse_quote_time",
    "read_chain_file",
    "write_chain_json",
]
