"""The one container every dataset is turned into: fixed-length, labelled IMU windows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

ACC_CHANNELS = ("acc_x", "acc_y", "acc_z")
GYRO_CHANNELS = ("gyro_x", "gyro_y", "gyro_z")
CHANNELS = ACC_CHANNELS + GYRO_CHANNELS
UNITS = {"acc": "m/s^2", "gyro": "rad/s"}


@dataclass
class Windows:
    """N windows of T samples over the six IMU channels (acc xyz, gyro xyz), SI units.

    Accelerometer-only windows have ``has_gyro[i] == False`` and NaN in the gyro channels, so
    that nothing downstream can mistake a missing gyroscope for a motionless one.
    ``gravity_removed[i]`` says whether the accelerometer of window i is linear acceleration
    (gravity removed, either by the device or by preprocessing) or total acceleration.
    """

    data: np.ndarray  # float32 (N, T, 6)
    labels: np.ndarray  # int64 (N,), indices into class_names
    class_names: tuple[str, ...]
    subjects: np.ndarray  # int64 (N,)
    dataset: str
    sampling_rate_hz: float
    has_gyro: np.ndarray  # bool (N,)
    gravity_removed: np.ndarray  # bool (N,)
    gravity_aligned: np.ndarray  # bool (N,): rotated so that gravity points along +Z
    placements: np.ndarray  # str (N,): waist, pocket, wrist, arm, ...
    devices: np.ndarray  # str (N,): device model or id
    synthetic: bool = False
    dropped: dict[str, int] = field(default_factory=dict)  # windows dropped, by reason
    # input samples masked as unusable before any filter, by reason (non_finite,
    # impossible_values): short runs interpolated, windows touching longer ones dropped
    masked: dict[str, int] = field(default_factory=dict)
    source_rates_hz: tuple[float, ...] = ()  # native sampling rates before resampling
    recordings: int = 0  # continuous recordings the windows were cut from
    channels: tuple[str, ...] = CHANNELS
    units: dict[str, str] = field(default_factory=lambda: dict(UNITS))
    # str (N,): the dataset each window came from, once windows of several were concatenated
    # (None: every window is from ``dataset``)
    origins: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.data)
        if self.data.ndim != 3 or self.data.shape[2] != len(self.channels):
            raise ValueError(f"data must be (N, T, {len(self.channels)}), got {self.data.shape}")
        for name in ("labels", "subjects", "has_gyro", "gravity_removed", "gravity_aligned",
                     "placements", "devices"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries for {n} windows")
        if self.origins is not None and len(self.origins) != n:
            raise ValueError(f"origins has {len(self.origins)} entries for {n} windows")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise ValueError("labels index outside class_names")

    def __len__(self) -> int:
        return len(self.data)

    @property
    def window_length(self) -> int:
        return int(self.data.shape[1])

    @property
    def label_names(self) -> list[str]:
        return [self.class_names[i] for i in self.labels]

    def class_counts(self) -> dict[str, int]:
        counts = Counter(self.labels.tolist())
        return {name: int(counts.get(i, 0)) for i, name in enumerate(self.class_names)}

    def dataset_of_each(self) -> np.ndarray:
        """(N,) the dataset each window came from."""
        if self.origins is not None:
            return self.origins
        return np.full(len(self), self.dataset, dtype=object)

    def subset(self, index: np.ndarray | slice | list[int]) -> Windows:
        """The windows selected by an index array, boolean mask or slice (metadata kept)."""
        if isinstance(index, list):
            index = np.asarray(index, dtype=np.int64)
        return replace(
            self,
            data=self.data[index],
            labels=self.labels[index],
            subjects=self.subjects[index],
            has_gyro=self.has_gyro[index],
            gravity_removed=self.gravity_removed[index],
            gravity_aligned=self.gravity_aligned[index],
            placements=self.placements[index],
            devices=self.devices[index],
            origins=None if self.origins is None else self.origins[index],
            dropped=dict(self.dropped),
            masked=dict(self.masked),
        )

    def relabel(self, mapping: dict[str, str | None]) -> Windows:
        """Map class names onto new names (e.g. sit, stand -> still); None drops the class.

        Names absent from ``mapping`` keep their name. The new class order is the order of first
        appearance among the old classes.
        """
        new_names: list[str] = []
        old_to_new = np.full(len(self.class_names), -1, dtype=np.int64)
        for i, name in enumerate(self.class_names):
            target = mapping.get(name, name)
            if target is None:
                continue
            if target not in new_names:
                new_names.append(target)
            old_to_new[i] = new_names.index(target)
        new_labels = old_to_new[self.labels]
        keep = new_labels >= 0
        kept = self.subset(np.flatnonzero(keep))
        return replace(kept, labels=new_labels[keep], class_names=tuple(new_names))

    def select_classes(self, names: list[str] | tuple[str, ...]) -> Windows:
        """Keep only windows of the named classes; the class list becomes ``names``, in order."""
        unknown = [n for n in names if n not in self.class_names]
        if unknown:
            raise ValueError(f"unknown classes {unknown}; have {list(self.class_names)}")
        old_to_new = np.full(len(self.class_names), -1, dtype=np.int64)
        for j, name in enumerate(names):
            old_to_new[self.class_names.index(name)] = j
        new_labels = old_to_new[self.labels]
        keep = new_labels >= 0
        kept = self.subset(np.flatnonzero(keep))
        return replace(kept, labels=new_labels[keep], class_names=tuple(names))

    @staticmethod
    def concatenate(parts: list[Windows]) -> Windows:
        """Join windows of the same dataset layout; class lists are merged by name."""
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]
        names: list[str] = []
        for p in parts:
            for n in p.class_names:
                if n not in names:
                    names.append(n)
            same_shape = p.window_length == first.window_length
            if not same_shape or p.sampling_rate_hz != first.sampling_rate_hz:
                raise ValueError("cannot concatenate windows of different length or rate")
        labels = [np.array([names.index(p.class_names[i]) for i in p.labels], dtype=np.int64)
                  for p in parts]
        dropped: Counter[str] = Counter()
        masked: Counter[str] = Counter()
        for p in parts:
            dropped.update(p.dropped)
            masked.update(p.masked)
        cat = np.concatenate
        return Windows(
            data=cat([p.data for p in parts]),
            labels=cat(labels) if labels else np.zeros(0, np.int64),
            class_names=tuple(names),
            subjects=cat([p.subjects for p in parts]),
            dataset="+".join(dict.fromkeys(p.dataset for p in parts)),
            sampling_rate_hz=first.sampling_rate_hz,
            has_gyro=cat([p.has_gyro for p in parts]),
            gravity_removed=cat([p.gravity_removed for p in parts]),
            gravity_aligned=cat([p.gravity_aligned for p in parts]),
            placements=cat([p.placements for p in parts]),
            devices=cat([p.devices for p in parts]),
            synthetic=any(p.synthetic for p in parts),
            dropped=dict(dropped),
            masked=dict(masked),
            source_rates_hz=tuple(sorted({r for p in parts for r in p.source_rates_hz})),
            recordings=sum(p.recordings for p in parts),
            origins=cat([p.dataset_of_each() for p in parts]),
        )
