"""A continuous recording as a loader reads it, before preprocessing turns it into windows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACC_UNITS = ("g", "m/s^2")
GYRO_UNITS = ("rad/s", "deg/s")
UNLABELLED = -1


@dataclass
class Recording:
    """One subject's continuous IMU stream at a fixed rate, with a label code per sample.

    ``labels`` index into ``label_names`` (canonical names); ``UNLABELLED`` (-1) marks samples
    that belong to no kept activity (transitions, unknown, excluded classes).
    """

    acc: np.ndarray  # (S, 3), in acc_unit
    gyro: np.ndarray | None  # (S, 3), in gyro_unit; None for accelerometer-only devices
    labels: np.ndarray  # int (S,)
    label_names: tuple[str, ...]
    subject: int
    rate_hz: float
    acc_unit: str = "m/s^2"
    gyro_unit: str = "rad/s"
    gravity_included: bool = True
    placement: str = "unknown"
    device: str = "unknown"
    source: str = ""  # the file(s) it came from, for error messages

    def __post_init__(self) -> None:
        where = self.source or "recording"
        if self.acc.ndim != 2 or self.acc.shape[1] != 3:
            raise ValueError(f"{where}: acc must be (samples, 3), got {self.acc.shape}")
        if self.gyro is not None and self.gyro.shape != self.acc.shape:
            raise ValueError(
                f"{where}: acc has {len(self.acc)} samples but gyro has {len(self.gyro)}"
            )
        if len(self.labels) != len(self.acc):
            raise ValueError(f"{where}: {len(self.labels)} labels for {len(self.acc)} samples")
        if self.acc_unit not in ACC_UNITS:
            raise ValueError(f"{where}: acc_unit must be one of {ACC_UNITS}, got {self.acc_unit!r}")
        if self.gyro_unit not in GYRO_UNITS:
            raise ValueError(f"{where}: gyro_unit must be one of {GYRO_UNITS}")
        if not self.rate_hz > 0:
            raise ValueError(f"{where}: sampling rate must be positive, got {self.rate_hz}")

    def __len__(self) -> int:
        return len(self.acc)
