"""WISDM v1.1 raw: ``WISDM_ar_v1.1_raw.txt``, records ``user,activity,timestamp,x,y,z;``.

Accelerometer only (gyro None), 20 Hz nominal, m/s^2 with gravity, phone in the front trouser
pocket. The file is messy, so records are split on ``;`` and line breaks (a line may hold several
records or lack its ``;``) and one trailing comma is tolerated. Records with a wrong field count
or an empty field are skipped and counted (logged as a warning). A field that is not a number is
a DataError naming file and line when ``dataset.strict`` (default); otherwise it is skipped and
counted too. Each user's records, in file order, are cut into Recordings where the timestamp
(``dataset.time_unit_seconds``, ns by default) goes back or jumps over ``dataset.max_gap_seconds``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from ..errors import DataError
from ..recording import Recording
from ._text import LabelMap, find_file, parse_rows, read_text, require_root, split_at_gaps

log = logging.getLogger(__name__)
RATE_HZ = 20.0
FILE = "WISDM_ar_v1.1_raw.txt"


def raw_file(root: Path | None) -> Path:
    root = require_root(root, f"the folder holding {FILE}")
    if root.is_file():
        return root
    for folder in (root, root / "WISDM_ar_v1.1"):
        if path := find_file(folder, FILE):
            return path
    raise DataError("required file is missing (also looked in WISDM_ar_v1.1/)", root / FILE)


def records(text: str, malformed: list[int]) -> Iterator[tuple[int, list[str]]]:
    """``(line, 6 fields)`` for each well-formed record; lines of malformed ones go to
    ``malformed``."""
    for n, line in enumerate(text.splitlines(), 1):
        for record in line.split(";"):
            if not record.strip():
                continue
            fields = record.split(",")
            if len(fields) == 7 and not fields[-1].strip():
                fields.pop()  # trailing comma
            if len(fields) != 6 or not all(f.strip() for f in fields):
                malformed.append(n)
                continue
            yield n, fields


def load(root: Path | None, cfg: DictConfig) -> list[Recording]:
    path = raw_file(root)
    malformed: list[int] = []
    table = parse_rows(path, records(read_text(path), malformed), text={"activity": 1},
                       numeric={"user": 0, "t": 2, "x": 3, "y": 4, "z": 5},
                       skip_bad=not cfg.get("strict", True))
    if malformed or table.skipped:
        log.warning("%s: skipped %d malformed record(s) (first at line %s) and %d with "
                    "non-numeric fields", path, len(malformed),
                    malformed[0] if malformed else "-", table.skipped)
    if not len(table):
        raise DataError("no well-formed records", path)
    labels = LabelMap(cfg.get("labels"))
    codes = labels.encode(table, "activity")
    t = table.num["t"] * float(cfg.get("time_unit_seconds", 1e-9))
    max_gap = float(cfg.get("max_gap_seconds", 1.0))
    acc = table.stack(("x", "y", "z"))
    users = table.num["user"].astype(np.int64)
    recordings = []
    for user in np.unique(users):
        rows = np.flatnonzero(users == user)
        for part in split_at_gaps(t[rows], max_gap):
            idx = rows[part]
            recordings.append(Recording(
                acc=acc[idx], gyro=None, labels=codes[idx], label_names=labels.names,
                subject=int(user), rate_hz=RATE_HZ, acc_unit="m/s^2", gravity_included=True,
                placement="front_pocket", device="android_phone",
                source=f"{path}, lines {table.lines[idx[0]]}-{table.lines[idx[-1]]}"))
    return recordings
