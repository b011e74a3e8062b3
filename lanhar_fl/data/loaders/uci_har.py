"""The windowed UCI-HAR release: ``UCI HAR Dataset/{train,test}/Inertial Signals/...``.

Each row of ``total_acc_*`` / ``body_gyro_*`` is a 128-sample (2.56 s) window at 50 Hz, cut
with 50% overlap; total acceleration in g (gravity included), gyroscope in rad/s, waist phone.
With ``dataset.stitch`` (default) consecutive rows of one subject and label whose overlapping
halves are equal are joined back into one continuous Recording, so re-windowing at 128/64
reproduces the release's windows without duplicating samples; a row that does not continue its
predecessor starts a new Recording. Without it, every row is its own 128-sample Recording.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from ..errors import DataError
from ..recording import Recording
from ._text import LabelMap, read_matrix, require_file, require_root

RATE_HZ = 50.0
WINDOW = 128
SIGNALS = ("total_acc_x", "total_acc_y", "total_acc_z",
           "body_gyro_x", "body_gyro_y", "body_gyro_z")
FOLDER = "UCI HAR Dataset"


def dataset_folder(root: Path | None) -> Path:
    root = require_root(root, f"the folder holding '{FOLDER}/', or that folder itself")
    for folder in (root / FOLDER, root):
        if (folder / "train").is_dir() or (folder / "test").is_dir():
            return folder
    raise DataError(f"no UCI-HAR release here: expected '{FOLDER}/train' or 'train/'", root)


def load(root: Path | None, cfg: DictConfig) -> list[Recording]:
    folder = dataset_folder(root)
    labels = LabelMap(cfg.get("labels"))
    splits = [s for s in cfg.get("splits") or ("train", "test") if (folder / s).is_dir()]
    if not splits:
        raise DataError(f"none of the splits {list(cfg.get('splits'))} exists", folder)
    recordings: list[Recording] = []
    for split in splits:
        recordings += _split(folder / split, split, labels, bool(cfg.get("stitch", True)))
    return recordings


def _split(folder: Path, split: str, labels: LabelMap, stitch: bool) -> list[Recording]:
    signal_dir = folder / "Inertial Signals"
    paths = [require_file(signal_dir, f"{s}_{split}.txt") for s in SIGNALS]
    signals = [read_matrix(p, WINDOW) for p in paths]
    subject_path = require_file(folder, f"subject_{split}.txt")
    y_path = require_file(folder, f"y_{split}.txt")
    subjects = read_matrix(subject_path, 1)[:, 0].astype(np.int64)
    y = read_matrix(y_path, 1)[:, 0]
    for path, arr in [*zip(paths, signals, strict=True), (y_path, y)]:
        if len(arr) != len(subjects):
            raise DataError(f"{len(arr)} rows but {subject_path.name} has {len(subjects)}; "
                            "every file of a split must have one row per window", path)
    data = np.stack(signals, axis=2)  # (rows, 128, 6)
    codes = np.array([labels.code(int(v), y_path, i + 1) for i, v in enumerate(y)], np.int64)
    source = f"{signal_dir} ({split})"
    runs = _runs(data, subjects, codes) if stitch else [[i] for i in range(len(data))]
    recordings = []
    for run in runs:
        stream = np.concatenate([data[run[0]], *(data[i, WINDOW // 2:] for i in run[1:])])
        recordings.append(Recording(
            acc=stream[:, :3], gyro=stream[:, 3:],
            labels=np.full(len(stream), codes[run[0]], np.int64), label_names=labels.names,
            subject=int(subjects[run[0]]), rate_hz=RATE_HZ, acc_unit="g", gyro_unit="rad/s",
            gravity_included=True, placement="waist", device="galaxy_s2",
            source=f"{source}, rows {run[0] + 1}-{run[-1] + 1}"))
    return recordings


def _runs(data: np.ndarray, subjects: np.ndarray, codes: np.ndarray) -> list[list[int]]:
    """Groups of consecutive rows that continue each other (same subject and label, second
    half of one equal to the first half of the next)."""
    half = WINDOW // 2
    continues = ((subjects[1:] == subjects[:-1]) & (codes[1:] == codes[:-1])
                 & np.isclose(data[:-1, half:], data[1:, :half], rtol=1e-6, atol=1e-9)
                 .all(axis=(1, 2)))
    runs: list[list[int]] = [[0]] if len(data) else []
    for i, joined in enumerate(continues, start=1):
        if joined:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs
