"""UCI HAPT raw recordings: ``RawData/acc_expXX_userYY.txt[.gz]``, ``gyro_...``, ``labels.txt``.

One Recording per experiment: 50 Hz, waist-worn Galaxy S II, total acceleration in g (gravity
included), gyroscope in rad/s. ``labels.txt`` rows are ``exp user activity start end`` with
inclusive sample bounds; ``dataset.label_index_base`` says whether they count from 0 (default:
the shared copy was checked sample by sample as 0-based, SOURCE.md) or 1 (as some copies of the
original are read). Activities mapped to null in ``dataset.labels`` (the postural transitions
7-12 by default) and unlabelled stretches become UNLABELLED. Two rows of one experiment that
share a sample are a DataError naming both lines and the shared samples (one sample cannot
belong to two activities, and silently letting the later row win moves windows between classes).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from ..errors import DataError
from ..recording import UNLABELLED, Recording
from ._text import LabelMap, Table, read_matrix, read_table, require_file, require_root

RATE_HZ = 50.0
SIGNAL = re.compile(r"^acc_exp(\d+)_user(\d+)\.txt(\.gz)?$")
# HAPT's transition activities, named when ``include_transitions`` is set
TRANSITIONS = {7: "stand_to_sit", 8: "sit_to_stand", 9: "sit_to_lie", 10: "lie_to_sit",
               11: "stand_to_lie", 12: "lie_to_stand"}


def raw_folder(root: Path | None) -> Path:
    """``root/RawData`` or ``root`` itself when it already is the RawData folder."""
    root = require_root(root, "the folder holding RawData/, or RawData/ itself")
    for folder in (root / "RawData", root):
        if (folder / "labels.txt").is_file() or (folder / "labels.txt.gz").is_file():
            return folder
    raise DataError("no HAPT RawData here: expected RawData/labels.txt or labels.txt", root)


def label_map(cfg: DictConfig) -> LabelMap:
    mapping = dict(cfg.get("labels") or {})
    if cfg.get("include_transitions"):
        for key, name in TRANSITIONS.items():
            if mapping.get(key, mapping.get(str(key))) is None:
                mapping[key] = name
    return LabelMap(mapping)


def load(root: Path | None, cfg: DictConfig) -> list[Recording]:
    folder = raw_folder(root)
    labels = label_map(cfg)
    base = int(cfg.get("label_index_base", 0))
    if base not in (0, 1):
        raise DataError(f"dataset.label_index_base must be 0 or 1, got {base}")
    segments = read_table(require_file(folder, "labels.txt"), delimiter=None, ncols=5,
                          numeric={k: i for i, k in enumerate(("exp", "user", "act", "a", "b"))})
    experiments = {}
    for path in sorted(folder.iterdir()):
        if m := SIGNAL.match(path.name):
            experiments[int(m.group(1))] = (int(m.group(2)), path)
    if not experiments:
        raise DataError("no acc_expXX_userYY.txt[.gz] files", folder)
    for exp, line in zip(segments.num["exp"].astype(int), segments.lines, strict=True):
        if exp not in experiments:
            raise DataError(f"labels for experiment {exp}, which has no acc_exp{exp:02d}_user"
                            "YY.txt file", segments.path, int(line))
    return [_experiment(folder, exp, user, acc_path, segments, labels, base)
            for exp, (user, acc_path) in sorted(experiments.items())]


def _experiment(folder: Path, exp: int, user: int, acc_path: Path, segments: Table,
                labels: LabelMap, base: int) -> Recording:
    gyro_path = require_file(folder, f"gyro_exp{exp:02d}_user{user:02d}.txt")
    acc, gyro = read_matrix(acc_path, 3), read_matrix(gyro_path, 3)
    if len(acc) != len(gyro):
        raise DataError(f"acc has {len(acc)} samples but {gyro_path} has {len(gyro)}; the two "
                        "files of one experiment must have equal length", acc_path)
    codes = np.full(len(acc), UNLABELLED, dtype=np.int64)
    rows = np.flatnonzero(segments.num["exp"] == exp)
    _check_overlaps(segments, rows, exp, base)
    for i in rows:
        line = int(segments.lines[i])
        if int(segments.num["user"][i]) != user:
            raise DataError(f"experiment {exp} belongs to user {user} ({acc_path.name}), "
                            f"not user {int(segments.num['user'][i])}", segments.path, line)
        start, end = int(segments.num["a"][i]) - base, int(segments.num["b"][i]) - base
        if not 0 <= start <= end < len(acc):
            raise DataError(f"segment [{start + base}, {end + base}] (first sample = {base}) "
                            f"lies outside experiment {exp}, which has {len(acc)} samples "
                            f"({acc_path.name})", segments.path, line)
        codes[start:end + 1] = labels.code(int(segments.num["act"][i]), segments.path, line)
    return Recording(acc=acc, gyro=gyro, labels=codes, label_names=labels.names, subject=user,
                     rate_hz=RATE_HZ, acc_unit="g", gyro_unit="rad/s", gravity_included=True,
                     placement="waist", device="galaxy_s2", source=f"{acc_path} + {gyro_path}")


def _check_overlaps(segments: Table, rows: np.ndarray, exp: int, base: int) -> None:
    """A DataError when two labels.txt rows of experiment ``exp`` share a sample."""
    order = rows[np.lexsort((segments.num["b"][rows], segments.num["a"][rows]))]
    for prev, cur in zip(order[:-1], order[1:], strict=True):
        a_prev, b_prev = int(segments.num["a"][prev]), int(segments.num["b"][prev])
        a_cur, b_cur = int(segments.num["a"][cur]), int(segments.num["b"][cur])
        if a_cur <= b_prev:
            first, second = sorted((int(segments.lines[prev]), int(segments.lines[cur])))
            raise DataError(
                f"segments of experiment {exp} overlap: lines {first} and {second} "
                f"([{a_prev}, {b_prev}] and [{a_cur}, {b_cur}], first sample = {base}) both "
                f"claim samples {a_cur}-{min(b_prev, b_cur)}; a sample has one activity",
                segments.path, second)
