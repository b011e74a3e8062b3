"""Interpretations cached by content hash: in memory, and persistently in sqlite3 (JSON values).

The key hashes the window's features, its context, the backend, the model id, the prompt
version and the validation settings, so that any change to what produced a text misses the
cache. Values are JSON (never pickles).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

FILENAME = "interpretations.sqlite3"


def cache_key(features_row: dict[str, float], context: dict, backend: str, model_id: str,
              prompt_version: str, extra: dict | None = None) -> str:
    """sha256 of everything an interpretation depends on (floats to 9 significant digits)."""
    blob = json.dumps({
        "features": {k: float(f"{v:.9g}") for k, v in sorted(features_row.items())},
        "context": context, "backend": backend, "model": model_id,
        "prompt": prompt_version, "extra": extra or {},
    }, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class InterpretationCache:
    """key -> JSON record; ``directory=None`` keeps it in memory only."""

    def __init__(self, directory: str | Path | None = None):
        self._memory: dict[str, dict] = {}
        self._db: sqlite3.Connection | None = None
        self.path: Path | None = None
        if directory is not None:
            self.path = Path(directory).expanduser() / FILENAME
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS interpretations "
                             "(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.commit()

    def get(self, key: str) -> dict | None:
        if key in self._memory:
            return self._memory[key]
        if self._db is None:
            return None
        row = self._db.execute("SELECT value FROM interpretations WHERE key = ?",
                               (key,)).fetchone()
        if row is None:
            return None
        try:
            record = json.loads(row[0])
        except json.JSONDecodeError:
            return None  # a damaged entry is regenerated, never trusted
        self._memory[key] = record
        return record

    def put(self, key: str, record: dict) -> None:
        self._memory[key] = record
        if self._db is not None:
            self._db.execute("INSERT OR REPLACE INTO interpretations VALUES (?, ?)",
                             (key, json.dumps(record)))
            self._db.commit()

    def __len__(self) -> int:
        if self._db is None:
            return len(self._memory)
        return int(self._db.execute("SELECT COUNT(*) FROM interpretations").fetchone()[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> InterpretationCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
