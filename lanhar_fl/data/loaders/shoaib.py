"""Shoaib et al. 2014 ("Fusion of smartphone motion sensors"): ``Participant_<n>.csv``.

Two header rows: the first names the body position at the start of each block (Left_pocket,
Right_pocket, Wrist, Upper_arm, Belt), the second the block's columns (time_stamp, Ax, Ay, Az,
Lx, Ly, Lz, Gx, Gy, Gz, Mx, My, Mz); the activity label is the last column (or the one headed
``Activity...``). One Recording per participant and position (``dataset.positions``): 50 Hz,
acceleration in m/s^2 with gravity, gyroscope in rad/s, Galaxy S II phones. Rows are taken as
consecutive samples at the nominal rate.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from ..errors import DataError
from ..recording import Recording
from ._text import LabelMap, read_header, read_table, require_root

RATE_HZ = 50.0
POSITIONS = ("Left_pocket", "Right_pocket", "Wrist", "Upper_arm", "Belt")
PARTICIPANT = re.compile(r"^Participant_(\d+)\.csv(\.gz)?$")
ACC, GYRO = ("Ax", "Ay", "Az"), ("Gx", "Gy", "Gz")


def load(root: Path | None, cfg: DictConfig) -> list[Recording]:
    root = require_root(root, "the folder holding Participant_<n>.csv")
    files = sorted((p for p in root.iterdir() if PARTICIPANT.match(p.name)),
                   key=lambda p: int(PARTICIPANT.match(p.name).group(1)))
    if not files:
        raise DataError("no Participant_<n>.csv files", root)
    positions = [str(p) for p in cfg.get("positions") or POSITIONS]
    labels = LabelMap(cfg.get("labels"))
    recordings = []
    for path in files:
        recordings += _participant(path, positions, labels)
    return recordings


def column_layout(path: Path, positions: list[str]) -> tuple[dict[str, int], int]:
    """Column of each ``<position>.<Ax..Gz>`` and of the activity label, from the two headers."""
    top = [h.strip().casefold() for h in read_header(path, 1).split(",")]
    names = [h.strip().casefold() for h in read_header(path, 2).split(",")]
    starts = {name: i for i, name in enumerate(top) if name}
    cols: dict[str, int] = {}
    for position in positions:
        start = starts.get(position.casefold())
        if start is None:
            raise DataError(f"no {position!r} block in the first header row (found "
                            f"{', '.join(n for n in top if n)}); check dataset.positions",
                            path, 1)
        end = min([s for s in starts.values() if s > start], default=len(names))
        block = names[start:end]
        for axis in ACC + GYRO:
            if axis.casefold() not in block:
                raise DataError(f"the {position} block has no {axis} column", path, 2)
            cols[f"{position}.{axis}"] = start + block.index(axis.casefold())
    label = next((i for i, n in enumerate(names) if n.startswith("activit")), len(names) - 1)
    return cols, label


def _participant(path: Path, positions: list[str], labels: LabelMap) -> list[Recording]:
    cols, label_col = column_layout(path, positions)
    table = read_table(path, numeric=cols, text={"activity": label_col}, header_lines=2)
    codes = labels.encode(table, "activity")
    subject = int(PARTICIPANT.match(path.name).group(1))
    return [Recording(
        acc=table.stack([f"{p}.{a}" for a in ACC]), gyro=table.stack([f"{p}.{a}" for a in GYRO]),
        labels=codes.astype(np.int64), label_names=labels.names, subject=subject,
        rate_hz=RATE_HZ, acc_unit="m/s^2", gyro_unit="rad/s", gravity_included=True,
        placement=p.casefold(), device="galaxy_s2", source=f"{path} ({p})") for p in positions]
