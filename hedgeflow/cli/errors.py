"""The command line's one-line failures: every expected refusal is one line on stderr and
exit code 2, never a traceback; a warning is one line and the command goes on."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

EXIT_USAGE = 2


class CliError(Exception):
    """A one-line, user-facing failure."""


def warn(message: str) -> None:
    """One warning line on stderr: the command goes on."""
    print(f"hedgeflow: warning: {message}", file=sys.stderr)


class OneLineParser(argparse.ArgumentParser):
    """argparse with its refusals on one line, like every other error of the command."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"hedgeflow: error: {message} (see `{self.prog} --help`)\n")
