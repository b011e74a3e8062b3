"""The phone's copy of the server's text side (frozen encoder + label bank, and the public
negatives of sample-level DP), by content digest.

Received once (the server attaches the records only for phones that lack the current version),
checked (digest form, size and file-count limits, the content hashing to its digest) and
unpacked to ``<cache_dir>/artifacts/<digest>/``, then kept in memory for later rounds. A digest
or version string that is not 64 lowercase hex is refused before any path is built.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from flwr.app import RecordDict

from lanhar_fl.federated import schema
from lanhar_fl.federated.artifacts import (
    DEFAULT_LIMITS,
    ArtifactLimits,
    check_digest,
    parse_version,
    unpack,
)
from lanhar_fl.privacy import public_negatives
from lanhar_fl.semantics.label_bank import LabelBank
from lanhar_fl.semantics.text_encoder import TextEncoder


class MissingArtifactError(RuntimeError):
    """The server named an artefact version this phone never received."""


@dataclass(frozen=True)
class TextArtifacts:
    encoder: TextEncoder
    bank: LabelBank
    public_negatives: np.ndarray | None = None  # sample-level DP: public interpretation embeddings


def artifact_root(cache_dir: str | None) -> Path:
    base = Path(str(cache_dir or "~/.cache/lanhar-fl")).expanduser()
    return base / "artifacts"


def receive(content: RecordDict, root: Path,
            limits: ArtifactLimits = DEFAULT_LIMITS) -> None:
    """Check and unpack any artefact records in a server message (no-op when there are none).

    Raises ``ArtifactRejected`` (nothing of that artefact kept) for a malformed digest, an
    artefact over ``limits``, an escaping file name or content that does not match its digest.
    """
    pairs = ((schema.TEXT_ENCODER, schema.TEXT_ENCODER_META),
             (schema.LABEL_BANK, schema.LABEL_BANK_META),
             (schema.PUBLIC_NEGATIVES, schema.PUBLIC_NEGATIVES_META))
    for arrays_key, meta_key in pairs:
        if arrays_key in content and meta_key in content:
            unpack(content[arrays_key], content[meta_key], root, limits)


def resolve(version: str, root: Path, negatives: str | None = None) -> TextArtifacts:
    """The encoder and bank of ``version`` ("<encoder digest>:<bank digest>") and, when the
    server named them, the public negatives of digest ``negatives``; loaded once per process."""
    encoder_digest, bank_digest = parse_version(version)
    negatives = check_digest(negatives, "public negatives digest") if negatives else None
    public = _negatives(str(root / negatives)) if negatives else None
    return TextArtifacts(_encoder(str(root / encoder_digest)), _bank(str(root / bank_digest)),
                         public)


@functools.lru_cache(maxsize=2)
def _encoder(folder: str) -> TextEncoder:
    if not Path(folder).exists():
        raise MissingArtifactError(f"text encoder {Path(folder).name} was never received")
    return TextEncoder.from_pretrained(folder).eval()


@functools.lru_cache(maxsize=4)
def _bank(folder: str) -> LabelBank:
    if not Path(folder).exists():
        raise MissingArtifactError(f"label bank {Path(folder).name} was never received")
    return LabelBank.load(folder)


@functools.lru_cache(maxsize=2)
def _negatives(folder: str) -> np.ndarray:
    if not Path(folder).exists():
        raise MissingArtifactError(f"public negatives {Path(folder).name} were never received")
    return public_negatives.load(folder)
