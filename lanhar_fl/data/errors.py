"""Errors raised for bad input data: each names the file, line or setting at fault."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """A dataset file or setting is unusable. The message names where and why."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path = None if path is None else Path(path)
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(where + message)
