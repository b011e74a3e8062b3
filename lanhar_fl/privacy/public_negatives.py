"""PUBLIC negatives for the DP-safe stage-2 loss: interpretation embeddings of server-held public
windows (never phone data), shipped to phones as an artefact beside the text encoder and bank.

Under DP-SGD each window is contrasted with its own interpretation and these negatives plus the
label-bank prototypes (``dp_negatives``), never with other private windows of the batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord
from safetensors.numpy import load_file, save_file

from ..data.windows import Windows
from ..federated.artifacts import pack_saved, record_digest
from ..semantics.interpret import interpret_windows

FILE = "public_negatives.safetensors"
TENSOR = "embeddings"


def public_embeddings(cfg, windows: Windows, embed: Callable[[list[str]], np.ndarray],
                      count: int, seed: int = 0) -> np.ndarray:
    """Embeddings (M, D) of the interpretations of ``count`` public windows (seeded sample)."""
    if count <= 0 or not len(windows):
        return np.zeros((0, 0), np.float32)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(windows), size=min(count, len(windows)), replace=False))
    texts = interpret_windows(windows.subset(chosen), cfg, labels_known=False,
                              progress=False).texts
    return np.ascontiguousarray(embed(list(texts)), dtype=np.float32)


def fingerprint(embeddings: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(embeddings, np.float32).tobytes())
    digest.update(str(embeddings.shape).encode())
    return "neg-" + digest.hexdigest()[:16]


def pack(embeddings: np.ndarray) -> tuple[ArrayRecord, ConfigRecord, str]:
    """(arrays, meta, content digest) records for the artefact transfer."""
    fp = fingerprint(embeddings)

    def save(folder: Path) -> None:
        save_file({TENSOR: np.ascontiguousarray(embeddings, np.float32)}, str(folder / FILE))

    arrays, meta = pack_saved(save, fp)
    return arrays, meta, record_digest(meta)


def load(folder: str | Path) -> np.ndarray:
    return load_file(str(Path(folder) / FILE))[TENSOR]


def dp_negatives(prototypes: np.ndarray, public: np.ndarray | None) -> np.ndarray:
    """Label-bank prototypes (K, D) followed by the public interpretation embeddings (M, D)."""
    parts: Sequence[np.ndarray] = [np.asarray(prototypes, np.float32)]
    if public is not None and len(public):
        parts = [*parts, np.asarray(public, np.float32)]
    return np.concatenate(parts, axis=0)
