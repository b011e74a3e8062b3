"""Text-side artefacts (frozen text encoder, label bank) as Flower records, and the phone's cache.

An artefact is a folder written by ``save_pretrained`` / ``save``: its ``.safetensors`` files
travel as one ArrayRecord, its small text files (configs, tokenizer, bank JSON) as a
ConfigRecord. A phone unpacks them once into ``<cache>/artifacts/<fingerprint>/`` and loads from
there on every later round; nothing is unpickled.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord
from safetensors.numpy import load_file, save_file

SEP = "::"
FINGERPRINT_KEY = "__fingerprint__"


def pack_directory(folder: Path, fingerprint: str) -> tuple[ArrayRecord, ConfigRecord]:
    """Every file of ``folder``: safetensors tensors -> ArrayRecord, text files -> ConfigRecord."""
    arrays = ArrayRecord()
    texts = ConfigRecord({FINGERPRINT_KEY: fingerprint})
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if path.suffix == ".safetensors":
            for key, value in load_file(str(path)).items():
                arrays[f"{rel}{SEP}{key}"] = Array(np.ascontiguousarray(value))
        else:
            texts[rel] = path.read_text()
    return arrays, texts


def unpack_directory(arrays: ArrayRecord, texts: ConfigRecord, folder: Path) -> None:
    """Rebuild the folder ``pack_directory`` packed (written atomically via a temp folder)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".unpack-"))
    try:
        tensors: dict[str, dict[str, np.ndarray]] = {}
        for key, array in arrays.items():
            rel, _, name = key.partition(SEP)
            tensors.setdefault(rel, {})[name] = array.numpy()
        for rel, named in tensors.items():
            _safe_path(tmp, rel).parent.mkdir(parents=True, exist_ok=True)
            save_file(named, str(_safe_path(tmp, rel)))
        for rel, text in texts.items():
            if rel == FINGERPRINT_KEY:
                continue
            target = _safe_path(tmp, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(str(text))
        if folder.exists():  # another process of this phone got there first
            shutil.rmtree(tmp)
            return
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def record_fingerprint(texts: ConfigRecord) -> str:
    return str(texts[FINGERPRINT_KEY])


def _safe_path(root: Path, rel: str) -> Path:
    """``root/rel``, refusing names that would escape ``root`` (a hostile server)."""
    target = (root / rel).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ValueError(f"artefact file name escapes its folder: {rel!r}")
    return target


def pack_saved(save, fingerprint: str) -> tuple[ArrayRecord, ConfigRecord]:
    """Pack whatever ``save(folder)`` writes (e.g. ``encoder.save_pretrained``)."""
    with tempfile.TemporaryDirectory() as tmp:
        save(Path(tmp))
        return pack_directory(Path(tmp), fingerprint)
