"""Text-side artefacts (frozen text encoder, label bank) as Flower records, and the phone's cache.

An artefact is a folder written by ``save_pretrained`` / ``save``: its ``.safetensors`` files
travel as one ArrayRecord, its small text files (configs, tokenizer, bank JSON) as a
ConfigRecord. Each is named by its content digest (sha256 over the packed records, 64 lowercase
hex), which is also what the server's version strings carry. A phone checks the digest's form,
the artefact's size and file count, unpacks it into a temporary folder inside its cache, checks
that what it wrote hashes to the claimed digest, and only then renames it to
``<cache>/artifacts/<digest>/``. Nothing is unpickled; no received string becomes a path unchecked.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord
from safetensors.numpy import load_file, save_file

from . import schema

SEP = "::"
FINGERPRINT_KEY = "__fingerprint__"  # the model's own fingerprint: metadata only
DIGEST_KEY = "__digest__"  # the content digest: the folder name and the version string
META_KEYS = (FINGERPRINT_KEY, DIGEST_KEY)
TENSOR_SUFFIX = ".safetensors"
_DIGEST = re.compile(r"[0-9a-f]{64}")


class ArtifactRejected(ValueError):
    """A received artefact (or a version string naming one) failed a check; nothing was kept."""


@dataclass(frozen=True)
class ArtifactLimits:
    """The most one received artefact may hold (checked before anything is written)."""

    max_bytes: int = 512 * 2**20
    max_files: int = 256


DEFAULT_LIMITS = ArtifactLimits()


# ------------------------------------------------------------------------------------ packing
def pack_directory(folder: Path, fingerprint: str) -> tuple[ArrayRecord, ConfigRecord]:
    """Every file of ``folder``: safetensors tensors -> ArrayRecord, text files -> ConfigRecord,
    plus the model ``fingerprint`` and the content digest of both records."""
    arrays, texts = _read_directory(folder)
    texts[FINGERPRINT_KEY] = str(fingerprint)
    texts[DIGEST_KEY] = content_digest(arrays, texts)
    return arrays, texts


def pack_saved(save, fingerprint: str) -> tuple[ArrayRecord, ConfigRecord]:
    """Pack whatever ``save(folder)`` writes (e.g. ``encoder.save_pretrained``)."""
    with tempfile.TemporaryDirectory() as tmp:
        save(Path(tmp))
        return pack_directory(Path(tmp), fingerprint)


def _read_directory(folder: Path) -> tuple[ArrayRecord, ConfigRecord]:
    arrays = ArrayRecord()
    texts = ConfigRecord()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if path.suffix == TENSOR_SUFFIX:
            for key, value in load_file(str(path)).items():
                arrays[f"{rel}{SEP}{key}"] = Array(np.ascontiguousarray(value))
        else:
            texts[rel] = path.read_text(encoding="utf-8")
    return arrays, texts


def content_digest(arrays: ArrayRecord, texts: ConfigRecord) -> str:
    """sha256 (64 hex) over the records' content: sorted keys, each array's dtype, shape and
    bytes, each text value; the metadata keys are left out. Every field is length-prefixed."""
    h = hashlib.sha256()

    def feed(*parts: bytes) -> None:
        for part in parts:
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)

    for key in sorted(arrays.keys()):
        value = np.ascontiguousarray(arrays[key].numpy())
        feed(b"array", key.encode(), value.dtype.str.encode(),
             json.dumps(list(value.shape)).encode(), value.tobytes())
    for key in sorted(k for k in texts if k not in META_KEYS):
        value = texts[key]
        if not isinstance(value, str):
            raise ArtifactRejected(f"artefact text file {key!r} is a {type(value).__name__}, "
                                   "not text")
        feed(b"text", key.encode(), value.encode())
    return h.hexdigest()


# --------------------------------------------------------------------------- names and versions
def check_digest(value: object, what: str = "artefact digest") -> str:
    """``value`` if it is a content digest (64 lowercase hex); refused otherwise."""
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        raise ArtifactRejected(f"{what} {str(value)[:80]!r} is not 64 lowercase hex characters "
                               "(a sha256 content digest)")
    return value


def record_digest(texts: ConfigRecord) -> str:
    """The digest an artefact's text record claims, checked for form."""
    if DIGEST_KEY not in texts:
        raise ArtifactRejected("artefact has no content digest")
    return check_digest(texts[DIGEST_KEY])


def text_version(records: Mapping) -> str:
    """The version string of the text-side records: "<encoder digest>:<bank digest>"."""
    return (f"{record_digest(records[schema.TEXT_ENCODER_META])}:"
            f"{record_digest(records[schema.LABEL_BANK_META])}")


def parse_version(version: object) -> tuple[str, str]:
    """(encoder digest, bank digest) of a version string, both checked for form."""
    encoder, sep, bank = str(version).partition(":")
    if not sep:
        raise ArtifactRejected(f"artefact version {str(version)[:80]!r} is not "
                               "'<encoder digest>:<bank digest>'")
    return check_digest(encoder, "encoder digest"), check_digest(bank, "label bank digest")


# ---------------------------------------------------------------------------------- unpacking
def unpack(arrays: ArrayRecord, texts: ConfigRecord, root: Path,
           limits: ArtifactLimits = DEFAULT_LIMITS) -> Path:
    """Check, write and verify one received artefact; return ``root/<digest>``.

    Refused (:class:`ArtifactRejected`, nothing left on disk) when the claimed digest is not a
    digest, the artefact exceeds ``limits``, a file name escapes the folder, or what was written
    does not hash to the claimed digest.
    """
    digest = record_digest(texts)
    folder = root / digest
    if folder.exists():
        return folder
    tensors = _check_layout(arrays, texts, limits, digest)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".unpack-"))
    try:
        try:
            _write(arrays, texts, tensors, tmp)
            written = content_digest(*_read_directory(tmp))
        except ArtifactRejected:
            raise
        except (OSError, ValueError, TypeError) as exc:
            raise ArtifactRejected(f"artefact {digest}: cannot be written: {exc}") from exc
        if written != digest:
            raise ArtifactRejected(f"artefact {digest}: content hashes to {written} (tampered "
                                   "or corrupted in transit)")
        try:
            tmp.rename(folder)
        except OSError:
            if not folder.is_dir():
                raise
            shutil.rmtree(tmp)  # another process of this phone got there first
        return folder
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write(arrays: ArrayRecord, texts: ConfigRecord, tensors: dict[str, dict[str, str]],
           tmp: Path) -> None:
    for rel, named in tensors.items():
        target = _safe_path(tmp, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        save_file({name: arrays[key].numpy() for name, key in named.items()}, str(target))
    for rel, text in texts.items():
        if rel not in META_KEYS:
            target = _safe_path(tmp, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(str(text), encoding="utf-8")


def _check_layout(arrays: ArrayRecord, texts: ConfigRecord, limits: ArtifactLimits,
                  digest: str) -> dict[str, dict[str, str]]:
    """{file: {tensor name: record key}}, after the size, count and file-kind checks."""
    tensors: dict[str, dict[str, str]] = {}
    size = 0
    for key, array in arrays.items():
        rel, _, name = key.partition(SEP)
        if not rel.endswith(TENSOR_SUFFIX):
            raise ArtifactRejected(f"artefact {digest}: tensor {key!r} is not in a "
                                   f"{TENSOR_SUFFIX} file")
        tensors.setdefault(rel, {})[name] = key
        size += len(array.data)
    files = [k for k in texts if k not in META_KEYS]
    for rel in files:
        if rel.endswith(TENSOR_SUFFIX) or not isinstance(texts[rel], str):
            raise ArtifactRejected(f"artefact {digest}: {rel!r} is not a text file")
        size += len(texts[rel].encode())
    if len(tensors) + len(files) > limits.max_files:
        raise ArtifactRejected(f"artefact {digest}: {len(tensors) + len(files)} files, more than "
                               f"the limit of {limits.max_files}")
    if size > limits.max_bytes:
        raise ArtifactRejected(f"artefact {digest}: {size} bytes, more than the limit of "
                               f"{limits.max_bytes}")
    return tensors


def _safe_path(root: Path, rel: str) -> Path:
    """``root/rel``, refusing names that would escape ``root`` (a hostile server)."""
    base = root.resolve()
    target = (root / rel).resolve()
    if target == base or not target.is_relative_to(base):
        raise ArtifactRejected(f"artefact file name escapes its folder: {rel!r}")
    return target
