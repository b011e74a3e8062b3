"""Tiny dataset files written in each dataset's official layout (no real data in the repo).

Signals are a resting phone (gravity along +z in the dataset's own unit, Android sign) plus a
small deterministic wiggle, so unit conversion and gravity handling are easy to check.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

G = 9.80665


def imu(n: int, seed: int = 0, gravity: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(acc, gyro), each (n, 3): ``gravity`` on +z plus a wiggle; gyro a small oscillation."""
    t = np.arange(n) / 50.0 + seed
    acc = np.column_stack([0.05 * np.sin(6 * t), 0.05 * np.cos(5 * t),
                           gravity + 0.05 * np.sin(4 * t)])
    gyro = np.column_stack([0.1 * np.sin(3 * t), 0.1 * np.cos(2 * t), 0.1 * np.sin(t)])
    return acc, gyro


def write(path: Path, text: str) -> Path:
    """Write ``text`` (gzip-compressed when the name ends in .gz), creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def matrix_text(arr: np.ndarray) -> str:
    return "".join(" ".join(f"{v:.8e}" for v in row) + "\n" for row in arr)


def edit_line(path: Path, line: int, text: str | None) -> None:
    """Replace 1-based ``line`` of a plain text file (None deletes it)."""
    lines = path.read_text().splitlines()
    if text is None:
        del lines[line - 1]
    else:
        lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------- UCI HAPT


def write_hapt(root: Path, experiments: dict[int, tuple[int, int]],
               segments: list[tuple[int, int, int, int, int]], gz: bool = False) -> Path:
    """``root/RawData`` with ``experiments`` {exp: (user, samples)} and labels.txt rows
    ``(exp, user, activity, start, end)`` (0-based, inclusive). Returns ``root``."""
    raw = root / "RawData"
    ext = ".txt.gz" if gz else ".txt"
    for exp, (user, n) in experiments.items():
        acc, gyro = imu(n, seed=exp)
        write(raw / f"acc_exp{exp:02d}_user{user:02d}{ext}", matrix_text(acc))
        write(raw / f"gyro_exp{exp:02d}_user{user:02d}{ext}", matrix_text(gyro))
    write(raw / "labels.txt", "".join(" ".join(map(str, s)) + "\n" for s in segments))
    return root


# ---------------------------------------------------------------- UCI-HAR (windowed)

HAR_SIGNALS = ("total_acc_x", "total_acc_y", "total_acc_z",
               "body_gyro_x", "body_gyro_y", "body_gyro_z")


def write_uci_har(root: Path, splits: dict[str, list[tuple[int, int, bool]]]) -> Path:
    """``root/UCI HAR Dataset/<split>/...``; each row is ``(subject, label, continues)`` where
    ``continues`` makes the row overlap the previous one by half (50% overlap, as released)."""
    base = root / "UCI HAR Dataset"
    for split, rows in splits.items():
        windows, stream_pos = [], 0
        for i, (_, _, continues) in enumerate(rows):
            start = stream_pos + 64 if continues and i else stream_pos + 1000
            acc, gyro = imu(start + 128)
            windows.append(np.concatenate([acc, gyro], axis=1)[start:start + 128])
            stream_pos = start
        data = np.stack(windows) if windows else np.zeros((0, 128, 6))
        for c, name in enumerate(HAR_SIGNALS):
            write(base / split / "Inertial Signals" / f"{name}_{split}.txt",
                  matrix_text(data[:, :, c]))
        write(base / split / f"subject_{split}.txt", "".join(f"{s}\n" for s, _, _ in rows))
        write(base / split / f"y_{split}.txt", "".join(f"{y}\n" for _, y, _ in rows))
    return root


# ---------------------------------------------------------------- HHAR

HHAR_HEADER = "Index,Arrival_Time,Creation_Time,x,y,z,User,Model,Device,gt\n"


def hhar_rows(user: str, model: str, device: str, spans: list[tuple[float, float, str]],
              rate: float, offset: float, gravity: float) -> list[str]:
    """CSV rows for ``spans`` (start s, end s, gt) at about ``rate`` Hz with timing jitter."""
    rows = []
    for start, end, gt in spans:
        t = np.arange(start, end, 1.0 / rate) + offset
        t = t + 0.0002 * np.sin(np.arange(len(t)))  # jitter: real phones are irregular
        xyz, _ = imu(len(t), gravity=gravity)
        for ti, (x, y, z) in zip(t, xyz, strict=True):
            ns = int(round(ti * 1e9)) + 1_000_000_000_000
            rows.append(f"{ns // 1_000_000},{ns},{x:.6f},{y:.6f},{z:.6f},{user},{model},"
                        f"{device},{gt}")
    return rows


def write_hhar(root: Path, phones: list[tuple[str, str, str]],
               spans: list[tuple[float, float, str]], acc_rate: float = 100.0,
               gyro_rate: float = 100.0) -> Path:
    """Phones_accelerometer.csv and Phones_gyroscope.csv for ``phones`` (user, model, device),
    each recording ``spans``; acceleration in m/s^2 with gravity."""
    for name, rate, offset, gravity in (("accelerometer", acc_rate, 0.0, G),
                                        ("gyroscope", gyro_rate, 0.003, 0.0)):
        rows = [r for user, model, device in phones
                for r in hhar_rows(user, model, device, spans, rate, offset, gravity)]
        write(root / f"Phones_{name}.csv",
              HHAR_HEADER + "".join(f"{i},{r}\n" for i, r in enumerate(rows)))
    return root


# ---------------------------------------------------------------- MotionSense

MOTIONSENSE_HEADER = (",attitude.roll,attitude.pitch,attitude.yaw,gravity.x,gravity.y,gravity.z,"
                      "rotationRate.x,rotationRate.y,rotationRate.z,userAcceleration.x,"
                      "userAcceleration.y,userAcceleration.z\n")


def write_motionsense(root: Path, files: list[tuple[str, int, int, int]]) -> Path:
    """``root/A_DeviceMotion_data/<act>_<trial>/sub_<subject>.csv`` for each
    ``(act, trial, subject, samples)``: a phone lying face up (iOS gravity z = -1 g)."""
    for act, trial, subject, n in files:
        acc, gyro = imu(n, seed=subject)
        user = acc - [0.0, 0.0, 1.0]
        lines = [f"{i},0.1,0.2,0.3,0.0,0.0,-1.0,{gx:.6f},{gy:.6f},{gz:.6f},"
                 f"{-ux:.6f},{-uy:.6f},{-uz:.6f}"
                 for i, ((gx, gy, gz), (ux, uy, uz)) in enumerate(zip(gyro, user, strict=True))]
        write(root / "A_DeviceMotion_data" / f"{act}_{trial}" / f"sub_{subject}.csv",
              MOTIONSENSE_HEADER + "\n".join(lines) + "\n")
    return root


# ---------------------------------------------------------------- Shoaib

SHOAIB_POSITIONS = ("Left_pocket", "Right_pocket", "Wrist", "Upper_arm", "Belt")
SHOAIB_COLUMNS = ("time_stamp", "Ax", "Ay", "Az", "Lx", "Ly", "Lz", "Gx", "Gy", "Gz",
                  "Mx", "My", "Mz")


def write_shoaib(root: Path, participant: int, activities: list[tuple[str, int]]) -> Path:
    """``root/Participant_<n>.csv``: five 14-column position blocks (13 values and a spacer;
    the last block's 14th column is the activity), for each ``(activity, samples)``."""
    top = [f for p in SHOAIB_POSITIONS for f in (p, *[""] * 13)]
    names = [f for _ in SHOAIB_POSITIONS for f in (*SHOAIB_COLUMNS, "")]
    lines = [",".join(top), ",".join(names)]
    k = 0
    for activity, n in activities:
        acc, gyro = imu(n, seed=k, gravity=G)
        for a, g in zip(acc, gyro, strict=True):
            block = [f"{1.3e12 + 20 * k:.0f}", *(f"{v:.5f}" for v in a), "0.1", "0.2", "0.3",
                     *(f"{v:.5f}" for v in g), "10", "20", "30"]
            fields = [f for _ in SHOAIB_POSITIONS for f in (*block, "")]
            fields[-1] = activity
            lines.append(",".join(fields))
            k += 1
    return write(root / f"Participant_{participant}.csv", "\n".join(lines) + "\n").parent


# ---------------------------------------------------------------- WISDM


def wisdm_records(user: int, activity: str, n: int, t0_s: float) -> list[str]:
    """``n`` records ``user,activity,timestamp,x,y,z;`` at 20 Hz from ``t0_s`` (ns stamps)."""
    acc, _ = imu(n, seed=user, gravity=G)
    return [f"{user},{activity},{int((t0_s + i / 20.0) * 1e9)},{x:.4f},{y:.4f},{z:.4f};"
            for i, (x, y, z) in enumerate(acc)]


def write_wisdm(root: Path, lines: list[str]) -> Path:
    return write(root / "WISDM_ar_v1.1_raw.txt", "\n".join(lines) + "\n").parent


# ---------------------------------------------------------------- UEA BasicMotions


def ts_text(cases: list[tuple[str, int]], classes: str = "Standing Running Walking Badminton",
            dimensions: int = 6) -> str:
    head = ("#A tiny BasicMotions-like file\n@problemName BasicMotions\n@timeStamps false\n"
            "@missing false\n@univariate false\n@dimensions 6\n@equalLength true\n"
            f"@seriesLength 100\n@classLabel true {classes}\n@data\n")
    body = []
    for i, (label, n) in enumerate(cases):
        acc, gyro = imu(n, seed=i, gravity=0.0)
        dims = np.concatenate([acc, gyro], axis=1).T[:dimensions]
        body.append(":".join(",".join(f"{v:.6f}" for v in d) for d in dims) + f":{label}")
    return head + "\n".join(body) + "\n"


def write_basicmotions(root: Path, train: list[tuple[str, int]],
                       test: list[tuple[str, int]]) -> Path:
    write(root / "BasicMotions_TRAIN.ts", ts_text(train))
    write(root / "BasicMotions_TEST.ts", ts_text(test))
    return root


# ---------------------------------------------------------------- loading


def config(name: str, root: Path | None, *overrides: str):
    """The composed config for dataset ``name`` at ``root``, windows cache off."""
    from lanhar_fl.config import load_config

    root_arg = "null" if root is None else str(root)
    return load_config([f"dataset={name}", f"dataset.root={root_arg}", "cache_dir=null",
                        *overrides])


def windows(name: str, root: Path | None, *overrides: str):
    """Windows of dataset ``name`` at ``root`` (native labels, no subsampling)."""
    from lanhar_fl.data.registry import load_dataset_windows

    return load_dataset_windows(config(name, root, *overrides))


def recordings(name: str, root: Path | None, *overrides: str):
    """The loader's Recordings of dataset ``name`` at ``root``."""
    from lanhar_fl.data.registry import get_loader

    cfg = config(name, root, *overrides)
    return get_loader(name)(root, cfg.dataset)


RAW = ("data.remove_gravity=false", "data.gravity_align=false")  # windows keep total acc as read
