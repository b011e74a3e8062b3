"""Recordings -> windows: units, bad-sample masking and repair, resampling, gravity, segmentation.

The order matters and is fixed: SI units; samples a phone IMU cannot report (any axis beyond
``data.max_abs_acc`` / ``data.max_abs_gyro``, or infinite) are masked like NaN, before any
filter sees them; short masked runs are interpolated, longer ones are bridged linearly (so that
the filters below see a plausible signal) and every window touching them is dropped; then
polyphase resampling to the target rate, gravity estimate (0.3 Hz low-pass) and per-window
rotation of gravity onto +Z, optional gravity removal, and windows cut inside each contiguous
labelled segment (so no window spans two labels). Masked samples are counted by reason
(``Windows.masked``), dropped windows too (``Windows.dropped``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import DataError
from .recording import UNLABELLED, Recording
from .windows import Windows

STANDARD_GRAVITY = 9.80665
# What a phone IMU can report at its widest range: +-16 g, +-2000 deg/s (about 35 rad/s).
MAX_ABS_ACC = 16 * STANDARD_GRAVITY  # m/s^2, per axis
MAX_ABS_GYRO = 35.0  # rad/s, per axis
MASK_REASONS = ("non_finite", "impossible_values")  # NaN; beyond the limits or infinite


@dataclass(frozen=True)
class PreprocessConfig:
    """How recordings become windows (the ``data`` section of the Hydra config)."""

    target_rate_hz: float = 50.0
    window_seconds: float = 2.56
    overlap: float = 0.5
    gravity_align: bool = True
    remove_gravity: bool = True
    gravity_cutoff_hz: float = 0.3
    max_nan_gap_seconds: float = 0.1  # longer gaps are not invented: their windows are dropped
    max_abs_acc: float = MAX_ABS_ACC  # m/s^2 per axis; beyond it a sample is masked like NaN
    max_abs_gyro: float = MAX_ABS_GYRO  # rad/s per axis; likewise

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * self.target_rate_hz))

    @property
    def step_samples(self) -> int:
        return max(1, int(round(self.window_samples * (1.0 - self.overlap))))

    def __post_init__(self) -> None:
        if not self.target_rate_hz > 0:
            raise ValueError(f"data.target_rate_hz must be positive, got {self.target_rate_hz}")
        if not 0 <= self.overlap < 1:
            raise ValueError(f"data.overlap must be in [0, 1), got {self.overlap}")
        if self.window_samples < 2:
            raise ValueError("data.window_seconds x data.target_rate_hz must give >= 2 samples")
        for name in ("max_abs_acc", "max_abs_gyro"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, int | float) and 0 < value <= 1e6):
                raise DataError(f"data.{name} must be a number in (0, 1e6], got {value!r}")

    @classmethod
    def from_mapping(cls, cfg: object) -> PreprocessConfig:
        keys = cls.__dataclass_fields__
        get = cfg.get if hasattr(cfg, "get") else lambda k, d=None: getattr(cfg, k, d)
        return cls(**{k: get(k) for k in keys if get(k, None) is not None})


def to_si(acc: np.ndarray, acc_unit: str, gyro: np.ndarray | None, gyro_unit: str):
    """Acceleration in m/s^2 and angular rate in rad/s."""
    acc = acc * STANDARD_GRAVITY if acc_unit == "g" else acc
    if gyro is not None and gyro_unit == "deg/s":
        gyro = np.deg2rad(gyro)
    return acc, gyro


def repair_nonfinite(x: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate runs of NaN/Inf rows of at most ``max_gap`` samples.

    Returns the repaired array and a boolean mask of samples still invalid (longer gaps, or gaps
    at either end), which are left as NaN for the caller to drop.
    """
    x = np.array(x, dtype=np.float64, copy=True)
    bad = ~np.isfinite(x).all(axis=1)
    if not bad.any():
        return x, bad
    x[bad] = np.nan
    invalid = np.zeros(len(x), dtype=bool)
    edges = np.diff(np.concatenate([[0], bad.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    good = np.flatnonzero(~bad)
    for s, e in zip(starts, ends, strict=True):
        if e - s > max_gap or s == 0 or e == len(x) or len(good) == 0:
            invalid[s:e] = True
            continue
        for c in range(x.shape[1]):
            x[s:e, c] = np.interp(np.arange(s, e), [s - 1, e], [x[s - 1, c], x[e, c]])
    return x, invalid


def mask_impossible(x: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (float64 copy) with rows holding an infinite value, or any axis beyond ``limit``,
    set to NaN, and the boolean mask of those rows. NaN rows are left as they are."""
    x = np.array(x, dtype=np.float64, copy=True)
    with np.errstate(invalid="ignore"):
        impossible = (np.isinf(x) | (np.abs(x) > limit)).any(axis=1)
    x[impossible] = np.nan
    return x, impossible


def bridge(x: np.ndarray, invalid: np.ndarray) -> np.ndarray:
    """``x`` with the ``invalid`` rows replaced by a straight line between the nearest valid rows
    (held flat at the ends; zero when none is valid): filters run over it see no jump, and the
    windows touching these rows are dropped anyway."""
    if not invalid.any():
        return x
    x = x.copy()
    if invalid.all():
        x[:] = 0.0
        return x
    idx = np.arange(len(x))
    for c in range(x.shape[1]):
        x[invalid, c] = np.interp(idx[invalid], idx[~invalid], x[~invalid, c])
    return x


def resample(x: np.ndarray, from_hz: float, to_hz: float) -> np.ndarray:
    """Polyphase resampling along axis 0 (anti-aliased); identity when the rates match."""
    if np.isclose(from_hz, to_hz):
        return x
    from scipy import signal  # here: importing it costs a deployed phone ~0.5 s per message

    ratio = Fraction(to_hz / from_hz).limit_denominator(1000)
    return signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=0, padtype="line")


def resampled_length(n: int, from_hz: float, to_hz: float) -> int:
    if np.isclose(from_hz, to_hz):
        return n
    ratio = Fraction(to_hz / from_hz).limit_denominator(1000)
    return int(np.ceil(n * ratio.numerator / ratio.denominator))


def resample_nearest(values: np.ndarray, from_hz: float, to_hz: float) -> np.ndarray:
    """Per-sample codes (labels, masks) carried to the new rate by nearest preceding sample."""
    n_out = resampled_length(len(values), from_hz, to_hz)
    if n_out == len(values):
        return values
    idx = np.minimum((np.arange(n_out) * from_hz / to_hz).astype(np.int64), len(values) - 1)
    return values[idx]


def estimate_gravity(acc: np.ndarray, rate_hz: float, cutoff_hz: float = 0.3) -> np.ndarray:
    """Gravity as the low-passed accelerometer (zero-phase Butterworth); mean for short inputs."""
    from scipy import signal

    sos = signal.butter(2, cutoff_hz, btype="low", fs=rate_hz, output="sos")
    if len(acc) <= 3 * (2 * len(sos) + 1) * 4:
        return np.broadcast_to(acc.mean(axis=0), acc.shape).copy()
    return signal.sosfiltfilt(sos, acc, axis=0)


def rotation_to_z(g: np.ndarray) -> np.ndarray:
    """The rotation matrix (Rodrigues) taking direction ``g`` onto +Z."""
    norm = np.linalg.norm(g)
    if norm < 1e-8:
        return np.eye(3)
    a = g / norm
    z = np.array([0.0, 0.0, 1.0])
    v = np.cross(a, z)
    s, c = np.linalg.norm(v), float(np.dot(a, z))
    if s < 1e-10:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * ((1 - c) / s**2)


def segment_starts(labels: np.ndarray, invalid: np.ndarray, length: int, step: int,
                   impossible: np.ndarray | None = None):
    """Window starts cut inside each contiguous labelled run; windows touching invalid samples
    are dropped, counted as ``impossible_values`` when they touch a sample of ``impossible``,
    else as ``non_finite_gap``. Returns (starts, labels, dropped counter)."""
    starts: list[int] = []
    kept_labels: list[int] = []
    dropped: Counter[str] = Counter()
    n = len(labels)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), dropped
    change = np.flatnonzero(np.diff(labels)) + 1
    run_starts = np.concatenate([[0], change])
    run_ends = np.concatenate([change, [n]])
    bad_cum = np.concatenate([[0], np.cumsum(invalid)])
    imp_cum = None if impossible is None else np.concatenate([[0], np.cumsum(impossible)])
    for s, e in zip(run_starts, run_ends, strict=True):
        if labels[s] == UNLABELLED:
            continue
        for w in range(s, e - length + 1, step):
            if bad_cum[w + length] - bad_cum[w] > 0:
                hit = imp_cum is not None and imp_cum[w + length] - imp_cum[w] > 0
                dropped["impossible_values" if hit else "non_finite_gap"] += 1
                continue
            starts.append(w)
            kept_labels.append(int(labels[s]))
    return np.asarray(starts, np.int64), np.asarray(kept_labels, np.int64), dropped


def mask_bad_samples(rec: Recording, cfg: PreprocessConfig):
    """SI acc and gyro of ``rec`` with impossible samples masked and short gaps repaired.

    Returns (acc, gyro, invalid, impossible, masked): ``invalid`` marks samples left unrepaired
    (bridged, for the filters; their windows are dropped), ``impossible`` those of them that were
    impossible rather than NaN, ``masked`` the count of bad samples by reason.
    """
    max_gap = int(round(cfg.max_nan_gap_seconds * rec.rate_hz))
    acc, gyro = to_si(rec.acc.astype(np.float64), rec.acc_unit,
                      None if rec.gyro is None else rec.gyro.astype(np.float64), rec.gyro_unit)
    nan = np.isnan(acc).any(axis=1)
    acc, impossible = mask_impossible(acc, cfg.max_abs_acc)
    acc, invalid = repair_nonfinite(acc, max_gap)
    if gyro is not None:
        nan |= np.isnan(gyro).any(axis=1)
        gyro, gyro_impossible = mask_impossible(gyro, cfg.max_abs_gyro)
        impossible |= gyro_impossible
        gyro, gyro_invalid = repair_nonfinite(gyro, max_gap)
        invalid |= gyro_invalid
    masked = Counter({"non_finite": int((nan & ~impossible).sum()),
                      "impossible_values": int(impossible.sum())})
    # Unrepaired samples never reach a filter as they are (NaN would smear over the recording,
    # zeros would pull the gravity estimate of the windows around them): they are bridged.
    acc = bridge(acc, invalid)
    gyro = None if gyro is None else bridge(gyro, invalid)
    return acc, gyro, invalid, impossible & invalid, +masked


def recording_to_windows(rec: Recording, cfg: PreprocessConfig):
    """One recording -> (data (N,T,6) float32, labels, flags dict, dropped windows counter,
    masked samples counter)."""
    acc, gyro, invalid, impossible, masked = mask_bad_samples(rec, cfg)

    rate = cfg.target_rate_hz
    acc = resample(acc, rec.rate_hz, rate)
    gyro = None if gyro is None else resample(gyro, rec.rate_hz, rate)
    labels = resample_nearest(rec.labels, rec.rate_hz, rate)[: len(acc)]
    invalid = resample_nearest(invalid, rec.rate_hz, rate)[: len(acc)]
    impossible = resample_nearest(impossible, rec.rate_hz, rate)[: len(acc)]
    if not np.isclose(rec.rate_hz, rate) and invalid.any():
        invalid = np.convolve(invalid, np.ones(5), mode="same") > 0  # filter support
        impossible = np.convolve(impossible, np.ones(5), mode="same") > 0

    gravity = estimate_gravity(acc, rate, cfg.gravity_cutoff_hz) if rec.gravity_included else None
    length, step = cfg.window_samples, cfg.step_samples
    starts, win_labels, dropped = segment_starts(labels, invalid, length, step, impossible)
    idx = starts[:, None] + np.arange(length)[None, :]
    acc_w = acc[idx]
    gyro_w = np.full_like(acc_w, np.nan) if gyro is None else gyro[idx]
    aligned = False
    if gravity is not None:
        g_w = gravity[idx]
        if cfg.gravity_align:
            for i in range(len(idx)):
                r = rotation_to_z(g_w[i].mean(axis=0))
                acc_w[i] = acc_w[i] @ r.T
                g_w[i] = g_w[i] @ r.T
                if gyro is not None:
                    gyro_w[i] = gyro_w[i] @ r.T
            aligned = True
        if cfg.remove_gravity:
            acc_w = acc_w - g_w
    data = np.concatenate([acc_w, gyro_w], axis=2).astype(np.float32)
    flags = {
        "has_gyro": gyro is not None,
        "gravity_removed": (not rec.gravity_included) or cfg.remove_gravity,
        "gravity_aligned": aligned,
    }
    return data, win_labels, flags, dropped, masked


def recordings_to_windows(
    recordings: list[Recording], cfg: PreprocessConfig, dataset: str, synthetic: bool = False
) -> Windows:
    """Preprocess and window every recording; class names are the union, in first-seen order."""
    names: list[str] = []
    for rec in recordings:
        for n in rec.label_names:
            if n not in names:
                names.append(n)
    parts: dict[str, list] = {k: [] for k in ("data", "labels", "subjects", "has_gyro",
                                              "gravity_removed", "gravity_aligned",
                                              "placements", "devices")}
    dropped: Counter[str] = Counter()
    masked: Counter[str] = Counter()
    for rec in recordings:
        data, labels, flags, d, m = recording_to_windows(rec, cfg)
        dropped.update(d)
        masked.update(m)
        n = len(data)
        remap = np.array([names.index(x) for x in rec.label_names], dtype=np.int64)
        parts["data"].append(data)
        parts["labels"].append(remap[labels] if n else labels)
        parts["subjects"].append(np.full(n, rec.subject, np.int64))
        for key in ("has_gyro", "gravity_removed", "gravity_aligned"):
            parts[key].append(np.full(n, flags[key], bool))
        parts["placements"].append(np.full(n, rec.placement, dtype=object))
        parts["devices"].append(np.full(n, rec.device, dtype=object))
    length = cfg.window_samples
    if not recordings:
        parts["data"].append(np.zeros((0, length, 6), np.float32))
    cat = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in parts.items()}
    return Windows(
        data=cat["data"].reshape(-1, length, 6).astype(np.float32),
        labels=cat["labels"].astype(np.int64),
        class_names=tuple(names),
        subjects=cat["subjects"].astype(np.int64),
        dataset=dataset,
        sampling_rate_hz=float(cfg.target_rate_hz),
        has_gyro=cat["has_gyro"].astype(bool),
        gravity_removed=cat["gravity_removed"].astype(bool),
        gravity_aligned=cat["gravity_aligned"].astype(bool),
        placements=cat["placements"].astype(str),
        devices=cat["devices"].astype(str),
        synthetic=synthetic,
        dropped=dict(dropped),
        masked=dict(masked),
        source_rates_hz=tuple(sorted({float(r.rate_hz) for r in recordings})),
        recordings=len(recordings),
    )
