"""The one error every file reader raises."""

from __future__ import annotations

import os

from hedgeflow.feeds.errors import BadPayload


class ChainFileError(BadPayload, ValueError):
    """A file that cannot be read as an option chain. `str(exc)` is one line:
    "<path>: <problem>"."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = " ".join(problem.split())  # one line, whatever the cause said
        super().__init__(f"{self.path}: {self.problem}", vendor="")
