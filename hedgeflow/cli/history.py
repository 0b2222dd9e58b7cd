"""`hedgeflow history export`: the level history of recordings as Parquet datasets
(docs/HISTORY.md)."""

from __future__ import annotations

import argparse

from hedgeflow.cli.errors import CliError
from hedgeflow.cli.startup import read_settings
from hedgeflow.cli.symbols import symbol_list


def cmd_history_export(args: argparse.Namespace) -> int:
    from hedgeflow.app.history_export import ExportError, export_command

    symbols = symbol_list(args.symbols) if args.symbols else None
    try:
        return export_command(
            args.files, args.parquet, read_settings(args.config), symbols, args.strikes
        )
    except ExportError as exc:
        raise CliError(str(exc)) from None
