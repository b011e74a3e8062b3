"""MotionSense (iPhone 6s, front trouser pocket): ``A_DeviceMotion_data/<act>_<trial>/sub_<n>.csv``.

Core Motion splits acceleration into ``gravity`` and ``userAcceleration`` (both in g); the
Recording carries their sum, total acceleration with gravity included, so that preprocessing
estimates and removes gravity the same way as for every other dataset. Core Motion reports
acceleration with the opposite sign to Android (a phone lying face up reads z = -1 g), so with
``dataset.android_sign`` (default) the sum is negated to read +1 g upwards like the other
datasets' phones. ``rotationRate`` is rad/s in the same right-handed axes. 50 Hz. One Recording
per file; the activity comes from the folder name, the subject from the file name.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from ..errors import DataError
from ..recording import Recording
from ._text import LabelMap, column_positions, read_header, read_table, require_root

RATE_HZ = 50.0
FOLDER = "A_DeviceMotion_data"
TRIAL = re.compile(r"^([A-Za-z]+)_(\d+)$")
SUBJECT = re.compile(r"^sub_(\d+)\.csv(\.gz)?$")
GRAVITY = ("gravity.x", "gravity.y", "gravity.z")
USER_ACC = ("userAcceleration.x", "userAcceleration.y", "userAcceleration.z")
ROTATION = ("rotationRate.x", "rotationRate.y", "rotationRate.z")


def data_folder(root: Path | None) -> Path:
    root = require_root(root, f"the folder holding {FOLDER}/, or that folder itself")
    for folder in (root / FOLDER, root):
        if folder.is_dir() and any(TRIAL.match(p.name) for p in folder.iterdir() if p.is_dir()):
            return folder
    raise DataError(f"no MotionSense data here: expected {FOLDER}/<act>_<trial>/ folders", root)


def load(root: Path | None, cfg: DictConfig) -> list[Recording]:
    folder = data_folder(root)
    labels = LabelMap(cfg.get("labels"))
    sign = -1.0 if cfg.get("android_sign", True) else 1.0
    recordings = []
    for trial in sorted(p for p in folder.iterdir() if p.is_dir() and TRIAL.match(p.name)):
        code = labels.code(TRIAL.match(trial.name).group(1), trial)
        files = sorted(p for p in trial.iterdir() if SUBJECT.match(p.name))
        if not files:
            raise DataError("no sub_<n>.csv files in this trial folder", trial)
        for path in files:
            recordings.append(_file(path, code, labels, sign))
    return recordings


def _file(path: Path, code: int, labels: LabelMap, sign: float) -> Recording:
    header = read_header(path)
    pos = column_positions(path, header, GRAVITY + USER_ACC + ROTATION)
    table = read_table(path, numeric=pos, ncols=len(header.split(",")), header_lines=1)
    acc = sign * (table.stack(GRAVITY) + table.stack(USER_ACC))
    return Recording(
        acc=acc, gyro=table.stack(ROTATION), labels=np.full(len(acc), code, np.int64),
        label_names=labels.names, subject=int(SUBJECT.match(path.name).group(1)),
        rate_hz=RATE_HZ, acc_unit="g", gyro_unit="rad/s", gravity_included=True,
        placement="front_pocket", device="iphone6s", source=str(path))
