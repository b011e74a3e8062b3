"""HHAR phones: ``Phones_accelerometer.csv`` + ``Phones_gyroscope.csv``.

Columns ``Index,Arrival_Time,Creation_Time,x,y,z,User,Model,Device,gt``. Phones sampled at their
own, irregular rates, so per (User, Device) both streams are put on one uniform time grid:
the rate is the lower of the two streams' median rates (rounded to 1 Hz; resampling above the
slower sensor would invent samples), values are linearly interpolated, the label is the
accelerometer's ``gt`` at the nearest earlier sample. Streams are cut where either sensor has a
gap over ``dataset.max_gap_seconds``; only stretches covered by both become Recordings.
Acceleration is in m/s^2 with gravity, phones in a waist pouch. Users a..i become subjects 1..9.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from ..errors import DataError
from ..recording import Recording
from ._text import (
    LabelMap,
    Table,
    column_positions,
    read_header,
    read_table,
    require_file,
    require_root,
    split_at_gaps,
)

log = logging.getLogger(__name__)
COLUMNS = ("Index", "Arrival_Time", "Creation_Time", "x", "y", "z", "User", "Model", "Device",
           "gt")
XYZ = ("x", "y", "z")
MIN_SECONDS = 1.0  # shorter joint stretches cannot hold a window; not worth a Recording


def read_stream(path: Path) -> Table:
    pos = column_positions(path, read_header(path), COLUMNS)
    return read_table(path, ncols=len(COLUMNS), header_lines=1,
                      numeric={"t": pos["Creation_Time"], "x": pos["x"], "y": pos["y"],
                               "z": pos["z"]},
                      text={"user": pos["User"], "model": pos["Model"],
                            "device": pos["Device"], "gt": pos["gt"]})


def subject_id(user: str, path: Path, line: int) -> int:
    """HHAR users are letters a..i -> 1..9; numeric ids are kept."""
    if user.isdigit():
        return int(user)
    if len(user) == 1 and user.isalpha():
        return ord(user.lower()) - ord("a") + 1
    raise DataError(f"unexpected User {user!r} (expected a letter a-i)", path, line)


def load(root: Path | None, cfg: DictConfig) -> list[Recording]:
    root = require_root(root, "the folder holding Phones_accelerometer.csv")
    acc = read_stream(require_file(root, "Phones_accelerometer.csv"))
    gyro = read_stream(require_file(root, "Phones_gyroscope.csv"))
    labels = LabelMap(cfg.get("labels"))
    acc_codes = labels.encode(acc, "gt")
    unit = float(cfg.get("time_unit_seconds", 1e-9))
    acc_t, acc_xyz = acc.num["t"] * unit, acc.stack(XYZ)
    gyro_t, gyro_xyz = gyro.num["t"] * unit, gyro.stack(XYZ)
    wanted = {str(d) for d in cfg.get("devices") or ()}
    gyro_rows = _groups(gyro)
    recordings = []
    for (user, device), rows in sorted(_groups(acc).items()):
        model = acc.text["model"].values[acc.text["model"].codes[rows[0]]]
        if wanted and device not in wanted and model not in wanted:
            continue
        g_rows = gyro_rows.get((user, device), rows[:0])
        if len(rows) < 2 or len(g_rows) < 2:
            log.warning("HHAR: too few accelerometer or gyroscope rows for user %s, device %s: "
                        "skipped", user, device)
            continue
        a_t, a_xyz, a_lab = _sorted(acc_t[rows], acc_xyz[rows], acc_codes[rows])
        g_t, g_xyz, _ = _sorted(gyro_t[g_rows], gyro_xyz[g_rows], None)
        rate = float(round(min(_median_rate(a_t), _median_rate(g_t))))
        if rate < 1:
            raise DataError(f"user {user}, device {device}: timestamps give a rate of {rate} Hz; "
                            "check dataset.time_unit_seconds", acc.path)
        subject = subject_id(user, acc.path, int(acc.lines[rows[0]]))
        source = f"{acc.path} + {gyro.path} (user {user}, {device})"
        for start, end in _joint_spans(a_t, g_t, float(cfg.get("max_gap_seconds", 1.0))):
            grid = np.arange(start, end, 1.0 / rate)
            prev = np.clip(np.searchsorted(a_t, grid, side="right") - 1, 0, len(a_t) - 1)
            recordings.append(Recording(
                acc=_interp(grid, a_t, a_xyz), gyro=_interp(grid, g_t, g_xyz),
                labels=a_lab[prev], label_names=labels.names, subject=subject, rate_hz=rate,
                acc_unit="m/s^2", gyro_unit="rad/s", gravity_included=True, placement="waist",
                device=device, source=source))
    return recordings


def _groups(table: Table) -> dict[tuple[str, str], np.ndarray]:
    """Row indices of each (User, Device) pair, in file order."""
    users, devices = table.text["user"], table.text["device"]
    key = users.codes * len(devices.values) + devices.codes
    order = np.argsort(key, kind="stable")
    uniq, starts = np.unique(key[order], return_index=True)
    groups = {}
    for k, rows in zip(uniq.tolist(), np.split(order, starts[1:]), strict=True):
        u, d = divmod(k, len(devices.values))
        groups[(users.values[u], devices.values[d])] = rows
    return groups


def _sorted(t: np.ndarray, xyz: np.ndarray, lab: np.ndarray | None):
    """Rows in time order, repeated timestamps dropped (first kept)."""
    order = np.argsort(t, kind="stable")
    t = t[order]
    keep = np.concatenate([[True], np.diff(t) > 0]) if len(t) else np.zeros(0, bool)
    return t[keep], xyz[order][keep], None if lab is None else lab[order][keep]


def _median_rate(t: np.ndarray) -> float:
    dt = np.diff(t)
    return 1.0 / float(np.median(dt)) if len(dt) else 0.0


def _spans(t: np.ndarray, max_gap: float) -> list[tuple[float, float]]:
    return [(float(t[s][0]), float(t[s][-1])) for s in split_at_gaps(t, max_gap)]


def _joint_spans(a_t: np.ndarray, g_t: np.ndarray, max_gap: float) -> list[tuple[float, float]]:
    """Time intervals covered, without gaps, by both streams (at least MIN_SECONDS long)."""
    out = []
    for a0, a1 in _spans(a_t, max_gap):
        for g0, g1 in _spans(g_t, max_gap):
            lo, hi = max(a0, g0), min(a1, g1)
            if hi - lo >= MIN_SECONDS:
                out.append((lo, hi))
    return out


def _interp(grid: np.ndarray, t: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    return np.column_stack([np.interp(grid, t, xyz[:, c]) for c in range(3)])
