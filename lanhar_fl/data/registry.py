"""Dataset names -> loaders, and the one entry point ``load_windows(cfg)`` everything uses."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from .errors import DataError
from .labels import apply_label_space
from .preprocess import PreprocessConfig, recordings_to_windows
from .recording import Recording
from .windows import Windows

DATASETS = ("synthetic", "uci_hapt", "uci_har", "hhar", "motionsense", "shoaib", "wisdm",
            "basicmotions")

Loader = Callable[[Path | None, DictConfig], list[Recording]]


def get_loader(name: str) -> Loader:
    """The ``load(root, dataset_cfg) -> list[Recording]`` function of dataset ``name``."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    module = importlib.import_module(f"lanhar_fl.data.loaders.{name}")
    return module.load


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _cache_key(cfg: DictConfig, root: Path | None) -> str:
    """The windows cache key: settings plus every input file's name and content hash, so that
    any edit misses the cache whatever the file's size and times say."""
    stamp: list = []
    if root is not None and root.exists():
        files = sorted(p for p in root.rglob("*") if p.is_file())
        stamp = [(str(p.relative_to(root)), file_digest(p)) for p in files]
    blob = json.dumps({
        "dataset": OmegaConf.to_container(cfg.dataset, resolve=True),
        "data": OmegaConf.to_container(cfg.data, resolve=True),
        "root": str(root),
        "files": stamp,
        "version": 2,
    }, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _save(path: Path, w: Windows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # One temporary file per writer: runs in parallel (seeds, Ray workers) fill the same cache.
    tmp = path.with_name(f"{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp.npz")
    try:
        _write(tmp, w)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _write(tmp: Path, w: Windows) -> None:
    np.savez(tmp, data=w.data, labels=w.labels, subjects=w.subjects, has_gyro=w.has_gyro,
             gravity_removed=w.gravity_removed, gravity_aligned=w.gravity_aligned,
             placements=w.placements.astype(str), devices=w.devices.astype(str),
             meta=np.array(json.dumps({
                 "class_names": list(w.class_names), "dataset": w.dataset,
                 "sampling_rate_hz": w.sampling_rate_hz, "synthetic": w.synthetic,
                 "dropped": w.dropped, "masked": w.masked,
                 "source_rates_hz": list(w.source_rates_hz), "recordings": w.recordings})))


def _load(path: Path) -> Windows:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        return Windows(
            data=z["data"], labels=z["labels"], subjects=z["subjects"], has_gyro=z["has_gyro"],
            gravity_removed=z["gravity_removed"], gravity_aligned=z["gravity_aligned"],
            placements=z["placements"], devices=z["devices"],
            class_names=tuple(meta["class_names"]), dataset=meta["dataset"],
            sampling_rate_hz=meta["sampling_rate_hz"], synthetic=meta["synthetic"],
            dropped=meta["dropped"], masked=meta["masked"],
            source_rates_hz=tuple(meta["source_rates_hz"]), recordings=meta["recordings"],
        )


def load_dataset_windows(cfg: DictConfig) -> Windows:
    """All windows of ``cfg.dataset`` preprocessed per ``cfg.data``, in the dataset's own labels
    mapped to canonical names (cached on disk when ``cfg.cache_dir`` is set)."""
    name = cfg.dataset.name
    loader = get_loader(name)
    root = cfg.dataset.get("root")
    root_path = Path(str(root)).expanduser() if root not in (None, "") else None
    if root_path is not None and not root_path.exists():
        raise DataError(f"dataset folder does not exist (setting dataset.root={root})", root_path)
    cache_dir = cfg.get("cache_dir")
    cache_path = None
    if cache_dir and name != "synthetic":
        key = _cache_key(cfg, root_path)
        cache_path = Path(str(cache_dir)).expanduser() / "windows" / f"{name}-{key}.npz"
        if cache_path.is_file():
            try:
                return _load(cache_path)
            except (OSError, ValueError, KeyError):
                cache_path.unlink(missing_ok=True)  # a damaged cache is rebuilt, never trusted
    recordings = loader(root_path, cfg.dataset)
    if not recordings:
        raise DataError(f"no recordings found for dataset {name!r}", root_path)
    windows = recordings_to_windows(recordings, PreprocessConfig.from_mapping(cfg.data), name,
                                    synthetic=name == "synthetic")
    if cache_path is not None:
        _save(cache_path, windows)
    return windows


def load_windows(cfg: DictConfig) -> Windows:
    """Dataset windows in the configured label space, subsampled to ``data.max_windows``."""
    windows = apply_label_space(load_dataset_windows(cfg), cfg.label_space)
    max_windows = cfg.data.get("max_windows")
    if max_windows and len(windows) > max_windows:
        windows = windows.subset(stratified_subsample(windows.labels, int(max_windows), cfg.seed))
    return windows


def stratified_subsample(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of about ``n`` items with class proportions kept (every class keeps >= 1)."""
    rng = np.random.default_rng(seed)
    picked: list[np.ndarray] = []
    classes, counts = np.unique(labels, return_counts=True)
    for c, k in zip(classes, counts, strict=True):
        take = max(1, int(round(n * k / len(labels))))
        picked.append(rng.choice(np.flatnonzero(labels == c), size=min(take, k), replace=False))
    return np.sort(np.concatenate(picked))
