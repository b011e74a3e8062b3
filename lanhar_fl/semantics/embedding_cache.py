"""Persistent, content-addressed text-embedding cache (sqlite3 + float32 blobs, no pickles).

A key is ``sha256(encoder fingerprint + NUL + text)``, so an embedding is reused only by the
exact weights, vocabulary and pooling settings that produced it. The database runs in WAL mode
with a busy timeout: several processes on one machine (e.g. Ray workers) may read and write it
at once. Two processes that miss the same text at the same moment may both embed it; the first
write wins (``INSERT OR IGNORE``) and nothing is corrupted. Do not put it on a network file
system (sqlite's WAL needs shared memory). An in-memory LRU layer sits in front of the file.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

DB_FILE = "embeddings.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    key TEXT PRIMARY KEY, dim INTEGER NOT NULL, vector BLOB NOT NULL
) WITHOUT ROWID
"""
_QUERY_CHUNK = 500  # keys per SELECT (sqlite's bound-variable limit)


@dataclass
class CacheStats:
    """Counts since this cache object was opened (per key looked up or written)."""

    hits: int = 0
    misses: int = 0
    memory_hits: int = 0
    writes: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class EmbeddingCache:
    """``get_many`` / ``put_many`` of float32 vectors under content-addressed keys."""

    def __init__(self, directory: str | Path, memory_items: int = 50_000,
                 timeout_s: float = 60.0) -> None:
        self.directory = Path(directory).expanduser()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / DB_FILE
        self.memory_items = int(memory_items)
        self.timeout_s = float(timeout_s)
        self.stats = CacheStats()
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None

    @staticmethod
    def key(fingerprint: str, text: str) -> str:
        """The content address of ``text`` embedded by the encoder with ``fingerprint``."""
        return hashlib.sha256(f"{fingerprint}\0{text}".encode()).hexdigest()

    @classmethod
    def from_config(cls, cfg: DictConfig | Mapping) -> EmbeddingCache | None:
        """``text_encoder.cache_dir`` or ``${cache_dir}/embeddings``; None when disabled."""
        te = cfg.get("text_encoder") or {}
        if te.get("cache") is False:
            return None
        directory = te.get("cache_dir")
        if not directory:
            root = cfg.get("cache_dir")
            if not root:
                return None
            directory = Path(str(root)).expanduser() / "embeddings"
        return cls(directory)

    # ---------------------------------------------------------------- sqlite
    def _connection(self) -> sqlite3.Connection:
        """One connection per process (a forked child never reuses its parent's)."""
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=self.timeout_s, check_same_thread=False,
                                   isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection().execute(
                "SELECT COUNT(*) FROM embeddings").fetchone()[0])

    # ---------------------------------------------------------------- memory layer
    def _remember(self, key: str, vector: np.ndarray) -> None:
        self._memory[key] = vector
        self._memory.move_to_end(key)
        while len(self._memory) > self.memory_items:
            self._memory.popitem(last=False)

    # ---------------------------------------------------------------- API
    def get_many(self, keys: Sequence[str]) -> tuple[dict[str, np.ndarray], list[str]]:
        """(hits: key -> vector, missing keys in input order)."""
        hits: dict[str, np.ndarray] = {}
        with self._lock:
            wanted = []
            for k in dict.fromkeys(keys):
                if k in self._memory:
                    self._memory.move_to_end(k)
                    hits[k] = self._memory[k]
                    self.stats.memory_hits += 1
                else:
                    wanted.append(k)
            conn = self._connection() if wanted else None
            for s in range(0, len(wanted), _QUERY_CHUNK):
                part = wanted[s:s + _QUERY_CHUNK]
                rows = conn.execute(  # type: ignore[union-attr]
                    f"SELECT key, dim, vector FROM embeddings WHERE key IN "
                    f"({','.join('?' * len(part))})", part).fetchall()
                for k, dim, blob in rows:
                    if len(blob) != 4 * dim:  # a damaged row: treat as missing
                        continue
                    vector = np.frombuffer(blob, dtype="<f4").astype(np.float32)
                    vector.setflags(write=False)
                    hits[k] = vector
                    self._remember(k, vector)
            missing = [k for k in dict.fromkeys(keys) if k not in hits]
            self.stats.hits += len(hits)
            self.stats.misses += len(missing)
        return hits, missing

    def put_many(self, items: Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]]) -> int:
        """Store vectors (existing keys are kept); returns how many rows were new."""
        pairs = list(items.items() if isinstance(items, Mapping) else items)
        rows = []
        for k, v in pairs:
            vec = np.ascontiguousarray(v, dtype="<f4")
            if vec.ndim != 1 or not np.isfinite(vec).all():
                raise ValueError(f"embedding for key {k[:12]}... must be a finite 1-D vector")
            rows.append((k, int(vec.shape[0]), vec.tobytes()))
        if not rows:
            return 0
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                new = [row for row in rows if conn.execute(
                    "INSERT OR IGNORE INTO embeddings (key, dim, vector) VALUES (?, ?, ?)",
                    row).rowcount == 1]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            for k, _, blob in new:  # keys that already existed keep their stored vector
                vector = np.frombuffer(blob, dtype="<f4").astype(np.float32)
                vector.setflags(write=False)
                self._remember(k, vector)
            self.stats.writes += len(new)
        return len(new)
