"""Synthetic virtual phones: IMU streams from simple physics, no files needed.

Each phone is one person carrying one device in one placement, doing a sequence of activity
bouts. The model, per phone:

- person: cadence, intensity, gait asymmetry and a height scale (lever arms, cadence);
- device: sampling rate (e.g. 50/100/20/25 Hz), white noise, constant bias, accelerometer-only or
  not, total or linear acceleration (gravity removed, as a linear-acceleration API), units
  (m/s^2 or g; rad/s or deg/s), placement (waist, pocket, wrist, arm) mounted at a uniformly
  random rotation and shifting slightly over time;
- bouts of 20-50 s cycling through the activities, joined by ~2 s unlabelled transitions in
  which posture and gait parameters blend smoothly;
- physics: the device reads R^T (a + g z) and R^T w, with R(t) the device-to-world rotation
  (body posture x segment swing x mount x drift). Gait is a stride phase driving body
  acceleration harmonics at the step rate (vertical, forward), a lateral sway at the stride rate,
  heel-strike impact pulses with broadband shaking (linear and angular) decaying after each
  strike, stair flights that turn at landings, and a pendulum swing of the carrying segment
  (thigh, forearm, upper arm, pelvis) whose angular rate and tangential/centripetal
  acceleration follow analytically.
  Postures set the gravity direction (lying rotates the body 90 deg; sitting lifts the thigh
  to horizontal), still postures add low-frequency sway and a small physiological tremor.

Calibration: gait amplitudes, foot-strike shaking, cadence variability and stair turning were set
so that a waist phone at 50 Hz matches UCI HAPT public users 1-10 per class and grounded feature
(``lanhar-fl data compare``: mean KS 0.58 before, 0.32 after; see the README's Datasets); the
stairs' impacts and downstairs harmonic phase were then re-fitted to the footfall and rise/fall
medians of the same users.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
from scipy import ndimage

from .labels import CANONICAL_LABELS
from .preprocess import STANDARD_GRAVITY
from .recording import UNLABELLED, Recording

PLACEMENTS = ("waist", "pocket", "wrist", "arm")
RATES_HZ = (50.0, 100.0, 20.0, 25.0)
STRIKE_DECAY_S = 0.08  # decay time of the broadband shaking after a foot strike
STRIKE_SPIN = 0.5  # rad/s of angular shaking per m/s^2 of foot-strike shaking


@dataclass(frozen=True)
class Activity:
    """Physics of one activity at intensity 1 (acceleration m/s^2, angles rad, in world axes).

    Per-placement tuples follow ``PLACEMENTS`` (waist, pocket, wrist, arm).
    """

    cycle_hz: float = 0.0  # stride (two steps) or pedal revolution frequency; 0 = still
    vertical: tuple[float, float, float] = (0.0, 0.0, 0.0)  # harmonics 1-3 of the step rate
    vertical_phase: tuple[float, float, float] = (0.0, 0.0, 0.0)
    forward: tuple[float, float] = (0.0, 0.0)  # harmonics 1-2 of the step rate
    lateral: float = 0.0  # at the stride rate
    impact: float = 0.0  # heel-strike pulse peak
    impact_tau: float = 0.04  # its decay time (s)
    vibration: float = 0.0  # broadband (road) vibration
    sway: float = 0.05  # low-frequency body sway
    sway_angle: float = 0.01  # low-frequency orientation sway
    lying: bool = False  # body long axis horizontal
    swing: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # segment pitch amplitude
    flexion: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # mean segment pitch
    step_noise: float = 0.0  # broadband vibration after each foot strike (rms at its onset)
    turn_rate: float = 0.0  # rad/s of heading change (stair flights turn at landings)


ACTIVITIES: dict[str, Activity] = {
    "walk": Activity(
        cycle_hz=0.95, vertical=(2.7, 0.9, 0.3), vertical_phase=(0.0, 0.6, 1.2),
        forward=(2.0, 0.7), lateral=1.2, impact=2.5, impact_tau=0.05, sway=0.1,
        sway_angle=0.02, swing=(0.05, 0.35, 0.32, 0.32), flexion=(0.05, 0.1, 0.1, 0.05),
        step_noise=2.2),
    "upstairs": Activity(
        cycle_hz=0.84, vertical=(2.7, 1.9, 0.4), vertical_phase=(0.0, 1.8, 0.4),
        forward=(1.6, 0.8), lateral=1.3, impact=3.0, impact_tau=0.06, sway=0.1,
        sway_angle=0.02, swing=(0.05, 0.45, 0.15, 0.12), flexion=(0.15, 0.55, 0.2, 0.05),
        step_noise=1.6, turn_rate=0.35),
    "downstairs": Activity(
        cycle_hz=0.91, vertical=(3.8, 1.2, 0.7), vertical_phase=(0.0, 0.5, 2.2),
        forward=(1.6, 0.6), lateral=1.4, impact=14.0, impact_tau=0.025, sway=0.1,
        sway_angle=0.02, swing=(0.05, 0.30, 0.20, 0.15), flexion=(-0.05, 0.2, 0.2, 0.05),
        step_noise=2.4, turn_rate=0.35),
    "sit": Activity(sway=0.03, sway_angle=0.01, flexion=(-0.25, 1.45, 1.2, 0.1)),
    "stand": Activity(sway=0.06, sway_angle=0.015, flexion=(0.0, 0.0, 0.05, 0.0)),
    "lie": Activity(sway=0.02, sway_angle=0.006, lying=True, flexion=(0.0, 0.05, 0.3, 0.05)),
    "run": Activity(
        cycle_hz=1.4, vertical=(6.5, 2.5, 1.0), vertical_phase=(0.0, 0.5, 1.0),
        forward=(3.0, 1.2), lateral=1.6, impact=9.0, impact_tau=0.03, sway=0.2,
        sway_angle=0.03, swing=(0.07, 0.60, 0.55, 0.45), flexion=(0.15, 0.35, 1.4, 0.2),
        step_noise=3.0),
    "bike": Activity(
        cycle_hz=1.2, vertical=(0.35, 0.1, 0.0), forward=(0.2, 0.0), lateral=0.3,
        vibration=0.5, sway=0.1, sway_angle=0.01, swing=(0.03, 0.45, 0.02, 0.04),
        flexion=(0.4, 1.0, 1.2, 0.6)),
}


@dataclass(frozen=True)
class Placement:
    """Where the phone is carried: the segment that moves it."""

    lever_m: float  # pivot (hip, shoulder, pelvis centre) to phone
    swing_harmonic: int  # segment pitch swings at 1x (limbs: stride) or 2x (pelvis: step)
    yaw_ratio: float  # yaw oscillation amplitude relative to the pitch swing
    roll_ratio: float
    acc_gain: float  # share of the body's translational acceleration reaching the phone
    impact_gain: float
    fidget: float  # multiplier of still-posture orientation sway (hands move more)
    tremor: float  # physiological tremor gain


PLACEMENT_MODELS: dict[str, Placement] = {
    "waist": Placement(0.10, 2, 1.6, 1.0, 1.0, 1.0, 1.0, 0.5),
    "pocket": Placement(0.25, 1, 0.3, 0.15, 1.1, 1.4, 1.0, 0.5),
    "wrist": Placement(0.45, 1, 0.35, 0.6, 0.6, 0.4, 3.0, 2.0),
    "arm": Placement(0.20, 1, 0.3, 0.3, 0.75, 0.6, 1.5, 1.0),
}


@dataclass(frozen=True)
class SyntheticOptions:
    """Generator settings besides phone count, duration and seed (``configs/dataset``)."""

    acc_only_fraction: float = 0.15
    gravity_removed_fraction: float = 0.15
    placements: tuple[str, ...] = PLACEMENTS
    activities: tuple[str, ...] = CANONICAL_LABELS
    rates_hz: tuple[float, ...] = RATES_HZ
    g_unit_fraction: float = 0.25  # devices reporting acceleration in g
    deg_unit_fraction: float = 0.2  # devices reporting angular rate in deg/s
    bout_seconds: tuple[float, float] = (20.0, 50.0)
    transition_seconds: float = 2.0

    def __post_init__(self) -> None:
        for name in ("acc_only_fraction", "gravity_removed_fraction", "g_unit_fraction",
                     "deg_unit_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        _check_names("placements", self.placements, PLACEMENTS)
        _check_names("activities", self.activities, tuple(ACTIVITIES))
        if not self.rates_hz or min(self.rates_hz) <= 0:
            raise ValueError(f"rates_hz must be positive rates, got {list(self.rates_hz)}")
        if len(self.bout_seconds) != 2 or not 0 < self.bout_seconds[0] <= self.bout_seconds[1]:
            raise ValueError(f"bout_seconds must be [min, max] with 0 < min <= max, "
                             f"got {list(self.bout_seconds)}")
        if not 0 <= self.transition_seconds < self.bout_seconds[0]:
            raise ValueError("transition_seconds must be >= 0 and shorter than the shortest bout")


def _check_names(setting: str, names: tuple[str, ...], known: tuple[str, ...]) -> None:
    unknown = [n for n in names if n not in known]
    if not names or unknown or len(set(names)) != len(names):
        raise ValueError(f"{setting} must be distinct names among {list(known)}, "
                         f"got {list(names)}")


@dataclass(frozen=True)
class _Device:
    index: int
    rate_hz: float
    placement: str
    acc_only: bool
    gravity_removed: bool
    acc_unit: str
    gyro_unit: str


def generate_phones(num_phones: int, minutes_per_phone: float, seed: int,
                    only: Sequence[int] | None = None, **options) -> list[Recording]:
    """``num_phones`` synthetic recordings of ``minutes_per_phone`` each (see module docstring).

    ``options`` are the fields of :class:`SyntheticOptions`. Deterministic per ``seed``; phone
    i's signals depend only on (seed, i), its device draw on (seed, num_phones). ``only``:
    generate just these phone indices (the same recordings as in the whole population).
    """
    known = {f.name for f in fields(SyntheticOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"{unknown[0]} is not a synthetic dataset option; known: {sorted(known)}")
    for key in ("placements", "activities", "rates_hz", "bout_seconds"):
        if key in options:
            options[key] = tuple(options[key])
    opts = SyntheticOptions(**options)
    if isinstance(num_phones, bool) or int(num_phones) != num_phones or num_phones < 1:
        raise ValueError(f"num_phones must be a positive integer, got {num_phones}")
    num_phones = int(num_phones)
    if not minutes_per_phone * 60 >= opts.bout_seconds[0]:
        raise ValueError(f"minutes_per_phone must give at least one bout "
                         f"({opts.bout_seconds[0]} s), got {minutes_per_phone}")
    devices = _draw_devices(num_phones, opts, np.random.default_rng(seed))
    return [
        _phone(dev, float(minutes_per_phone), opts,
               np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(dev.index,))),
               width=max(3, len(str(num_phones - 1))))
        for dev in (devices if only is None else [devices[int(i)] for i in only])
    ]


def _draw_devices(n: int, opts: SyntheticOptions, rng: np.random.Generator) -> list[_Device]:
    """Device facts; fractions are exact counts (rounded) so small runs keep every kind."""

    def exact(fraction: float) -> np.ndarray:
        flags = np.zeros(n, bool)
        flags[rng.permutation(n)[: int(round(fraction * n))]] = True
        return flags

    rates = rng.choice(np.asarray(opts.rates_hz, float), size=n)
    placements = np.resize(np.asarray(opts.placements), n)[rng.permutation(n)]
    acc_only, grav_removed = exact(opts.acc_only_fraction), exact(opts.gravity_removed_fraction)
    in_g, in_deg = exact(opts.g_unit_fraction), exact(opts.deg_unit_fraction)
    return [
        _Device(i, float(rates[i]), str(placements[i]), bool(acc_only[i]), bool(grav_removed[i]),
                "g" if in_g[i] else "m/s^2", "deg/s" if in_deg[i] else "rad/s")
        for i in range(n)
    ]


def _schedule(rng: np.random.Generator, n: int, fs: float,
              opts: SyntheticOptions) -> tuple[np.ndarray, np.ndarray]:
    """Activity codes of consecutive bouts and their start samples (plus n at the end).

    Activities cycle through random permutations (no immediate repeats), so that every activity
    occurs once per len(activities) bouts.
    """
    k = len(opts.activities)
    acts: list[int] = []
    starts = [0]
    lo, hi = opts.bout_seconds
    while starts[-1] < n:
        if len(acts) % k == 0:
            perm = rng.permutation(k)
            if acts and perm[0] == acts[-1] and k > 1:
                perm = np.roll(perm, -1)
            order = list(perm)
        acts.append(int(order[len(acts) % k]))
        starts.append(starts[-1] + int(round(rng.uniform(lo, hi) * fs)))
    starts[-1] = n
    return np.asarray(acts), np.asarray(starts)


Turn = tuple[int, np.ndarray, np.ndarray]  # (axis, cos(angle), sin(angle)), angle per sample


def _turn(axis: int, angle: np.ndarray) -> Turn:
    return axis, np.cos(angle), np.sin(angle)


def _rotate(v: np.ndarray, chain: list[Turn], inverse: bool = False) -> np.ndarray:
    """Vectors v (S, k, 3) rotated by the product R1 R2 ... of the elementary per-sample
    rotations in ``chain``; with ``inverse``, by its transpose."""
    out = np.ascontiguousarray(np.transpose(v, (2, 1, 0)), dtype=np.float64)  # (3, k, S)
    for axis, c, s in chain if inverse else chain[::-1]:
        s = -s if inverse else s
        i, j = ((1, 2), (2, 0), (0, 1))[axis]
        vi = out[i].copy()
        out[i] = c * vi - s * out[j]
        out[j] = s * vi + c * out[j]
    return np.transpose(out, (2, 1, 0))


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly distributed rotation (from a random unit quaternion)."""
    q = rng.standard_normal(4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def _lowpass_noise(rng: np.random.Generator, n: int, fs: float, cutoff_hz: float,
                   dims: int) -> np.ndarray:
    """(n, dims) smooth zero-mean Gaussian noise of unit standard deviation, with a
    second-order low-pass spectrum, synthesised in the frequency domain (cheap, band-limited)."""
    freqs = np.fft.rfftfreq(n, 1.0 / fs)[1: max(2, int(np.ceil(3 * cutoff_hz * n / fs)))]
    gain = 1.0 / np.sqrt(1.0 + (freqs / cutoff_hz) ** 4)
    coef = np.zeros((n // 2 + 1, dims), complex)
    coef[1: 1 + len(freqs)] = gain[:, None] * (rng.standard_normal((len(freqs), dims))
                                               + 1j * rng.standard_normal((len(freqs), dims)))
    x = np.fft.irfft(coef, n, axis=0)
    return x / np.maximum(x.std(axis=0), 1e-12)


# Per-bout parameter columns, smoothed together across bout boundaries.
_COLS = ("cycle_hz", "v1", "v2", "v3", "p1", "p2", "p3", "f1", "f2", "lateral", "impact", "tau",
         "vibration", "sway", "sway_angle", "body_pitch", "body_roll", "swing", "flexion",
         "mount_yaw", "mount_roll", "mount_pitch", "step_noise", "turn_rate")


def _bout_params(rng: np.random.Generator, acts: np.ndarray, opts: SyntheticOptions,
                 place: Placement, p_index: int, fs: float) -> np.ndarray:
    """(bouts, len(_COLS)) physics parameters for this person, placement and bout."""
    cadence = rng.uniform(0.9, 1.1)
    height = rng.uniform(0.88, 1.12)
    intensity = rng.lognormal(0.0, 0.15)
    phase_offset = np.concatenate([[0.0], rng.normal(0.0, 0.3, size=2)])  # harmonic shape
    rows = []
    for code in acts:
        a = ACTIVITIES[opts.activities[code]]
        jitter_f, jitter_a = rng.uniform(0.95, 1.05), rng.uniform(0.9, 1.1)
        gain = intensity * jitter_a * place.acc_gain
        roll = rng.choice([0.0, np.pi / 2, -np.pi / 2, np.pi]) if a.lying else 0.0
        rows.append([
            a.cycle_hz * cadence * jitter_f / np.sqrt(height),
            *(gain * np.asarray(a.vertical)),
            *(np.asarray(a.vertical_phase) + phase_offset),
            *(gain * np.asarray(a.forward)),
            gain * a.lateral,
            intensity * jitter_a * place.impact_gain * a.impact,
            max(a.impact_tau, 1.0 / fs),  # the sensor's own bandwidth limits sharp impacts
            a.vibration * jitter_a,
            a.sway * jitter_a,
            a.sway_angle * place.fidget * jitter_a,
            -np.pi / 2 + rng.normal(0, 0.05) if a.lying else 0.0,
            roll + (rng.normal(0, 0.1) if a.lying else 0.0),
            a.swing[p_index] * jitter_a * np.sqrt(intensity),
            a.flexion[p_index] + rng.normal(0, 0.05),
            *rng.normal(0.0, 0.05, size=3),  # the phone settles a little differently each bout
            gain * a.step_noise,
            a.turn_rate * rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.5),
        ])
    return np.asarray(rows)


def _phone(dev: _Device, minutes: float, opts: SyntheticOptions, rng: np.random.Generator,
           width: int) -> Recording:
    fs = dev.rate_hz
    n = int(round(minutes * 60 * fs))
    place = PLACEMENT_MODELS[dev.placement]
    p_index = PLACEMENTS.index(dev.placement)
    asymmetry = rng.uniform(0.0, 0.12)
    lever = place.lever_m * rng.uniform(0.88, 1.12)
    mount = _random_rotation(rng)

    acts, starts = _schedule(rng, n, fs, opts)
    bout = np.repeat(np.arange(len(acts)), np.diff(starts))
    trans = int(round(opts.transition_seconds * fs))
    table = _bout_params(rng, acts, opts, place, p_index, fs)[bout]
    if trans > 1:  # (filtering along the contiguous axis is several times faster)
        table = ndimage.uniform_filter1d(table.T, size=trans, axis=1, mode="nearest").T
    col = {name: table[:, i] for i, name in enumerate(_COLS)}

    labels = acts[bout].astype(np.int64)
    for b in starts[1:-1]:
        labels[max(0, b - trans // 2): b + (trans + 1) // 2] = UNLABELLED

    slow = _lowpass_noise(rng, n, fs, 0.5, 7)  # body sway (3), orientation sway (3), cadence
    drift = _lowpass_noise(rng, n, fs, 0.05, 3)

    # Gait phase: stride (or pedal) cycles, steps at twice the rate.
    step_jitter = _lowpass_noise(rng, n, fs, 2.0, 1)[:, 0]  # step-to-step timing variability
    cycle_hz = col["cycle_hz"] * (1.0 + 0.04 * slow[:, 6] + 0.16 * step_jitter)
    phi = 2 * np.pi * np.cumsum(cycle_hz) / fs + rng.uniform(0, 2 * np.pi)
    dphi = 2 * np.pi * cycle_hz
    step_hz = np.maximum(2 * cycle_hz, 1e-3)
    since_step = np.mod(phi / np.pi, 1.0) / step_hz  # time since the last heel strike
    tau = col["tau"]
    pulse = np.exp(-since_step / tau) - tau * step_hz * (1 - np.exp(-1 / (tau * step_hz)))
    pulse *= col["impact"]

    # Body (centre of mass) acceleration in world axes: x forward, y left, z up.
    vertical = sum(col[f"v{k}"] * np.cos(2 * k * phi + col[f"p{k}"]) for k in (1, 2, 3))
    a_com = np.stack([
        col["f1"] * np.cos(2 * phi + np.pi / 2) + col["f2"] * np.cos(4 * phi) - 0.8 * pulse,
        col["lateral"] * np.cos(phi),
        vertical * (1.0 + asymmetry * np.cos(phi)) + pulse,
    ], axis=1)
    a_com += col["sway"][:, None] * slow[:, :3]
    # Foot strikes shake the body broadband (soft tissue, shoe, floor), decaying within ~0.1 s.
    striking = np.flatnonzero(col["step_noise"] > 0)
    envelope = col["step_noise"][striking] * np.exp(-since_step[striking] / STRIKE_DECAY_S)
    a_com[striking] += envelope[:, None] * rng.standard_normal((len(striking), 3))
    strike_spin = np.zeros((n, 3))
    strike_spin[striking] = STRIKE_SPIN * envelope[:, None] * rng.standard_normal(
        (len(striking), 3))
    shaking = np.flatnonzero(col["vibration"] > 0)
    a_com[shaking] += col["vibration"][shaking, None] * rng.standard_normal((len(shaking), 3))

    # Segment angles (yaw, roll, pitch) relative to the body, with their time derivatives.
    h = place.swing_harmonic
    swing = col["swing"]
    psi = rng.uniform(0, 2 * np.pi, size=2)
    osc = np.stack([
        place.yaw_ratio * swing * np.sin(phi + psi[0]),
        place.roll_ratio * swing * np.sin(phi + psi[1]),
        -swing * np.sin(h * phi),
    ], axis=1)
    freq = np.stack([dphi, dphi, h * dphi], axis=1)
    sway = col["sway_angle"][:, None] * slow[:, 3:6]
    angles = osc + sway
    angles[:, 2] -= col["flexion"]
    d_sway = np.gradient(sway, 1.0 / fs, axis=0)
    d_angles = np.stack([
        place.yaw_ratio * swing * np.cos(phi + psi[0]),
        place.roll_ratio * swing * np.cos(phi + psi[1]),
        -swing * np.cos(h * phi),
    ], axis=1) * freq + d_sway
    dd_angles = -osc * freq**2 + np.gradient(d_sway, 1.0 / fs, axis=0)

    # Rotations: device -> world = body posture . segment (yaw, roll, pitch) . mount . drift.
    body = [_turn(1, col["body_pitch"]), _turn(2, col["body_roll"])]
    segment = [_turn(2, angles[:, 0]), _turn(0, angles[:, 1]), _turn(1, angles[:, 2])]
    drift_angles = np.stack([col["mount_yaw"], col["mount_roll"], col["mount_pitch"]], axis=1)
    drift_angles += 0.02 * drift
    settle = [_turn(2, drift_angles[:, 0]), _turn(0, drift_angles[:, 1]),
              _turn(1, drift_angles[:, 2])]

    # Angular velocity of the segment, Euler-angle rates summed in body axes; its derivative
    # keeps the angular-acceleration terms only (products of rates are second order here).
    unit = np.broadcast_to(np.eye(3), (n, 3, 3))
    p = _rotate(np.broadcast_to([0.0, 0.0, -lever], (n, 1, 3)), [segment[2]])
    axes = _rotate(np.concatenate([unit[:, 1:2], p], axis=1), [segment[1]])  # Rx e_y, Rx Ry p
    axes = _rotate(np.concatenate([unit[:, :1], axes], axis=1), [segment[0]])
    rates = [d[:, :1] * unit[:, 2] + d[:, 1:2] * axes[:, 0] + d[:, 2:3] * axes[:, 1]
             for d in (d_angles, dd_angles)]
    omega, omega_dot, p = _rotate(np.stack([*rates, axes[:, 2]], axis=1), body).transpose(
        1, 0, 2)
    specific_force = a_com + np.cross(omega_dot, p) + np.cross(omega, np.cross(omega, p))
    if not dev.gravity_removed:
        specific_force[:, 2] += STANDARD_GRAVITY

    omega[:, 2] += col["turn_rate"]  # heading changes about the world vertical
    omega += strike_spin
    world = np.stack([specific_force, omega], axis=1)  # what the device measures, world axes
    seg = _rotate(world, body + segment, inverse=True)
    acc, gyro = _rotate(seg @ mount, settle, inverse=True).transpose(1, 0, 2)

    # Physiological tremor (8-12 Hz) and the sensor: bias and white noise.
    t = np.arange(n) / fs
    tremor = np.sin(2 * np.pi * rng.uniform(8, 12) * t + rng.uniform(0, 2 * np.pi))[:, None]
    tremor_axis = rng.standard_normal((2, 3))
    tremor_axis /= np.linalg.norm(tremor_axis, axis=1, keepdims=True)
    acc += place.tremor * tremor * (0.02 * tremor_axis[0])
    gyro += place.tremor * tremor * (0.01 * tremor_axis[1])
    for x, bias, (lo, hi) in ((acc, 0.1, (0.02, 0.12)), (gyro, 0.01, (0.003, 0.02))):
        x += rng.normal(0, bias, size=3) + rng.uniform(lo, hi) * rng.standard_normal((n, 3),
                                                                                    np.float32)

    if dev.acc_unit == "g":
        acc /= STANDARD_GRAVITY
    if dev.gyro_unit == "deg/s":
        gyro = np.rad2deg(gyro)
    return Recording(
        acc=acc.astype(np.float32),
        gyro=None if dev.acc_only else gyro.astype(np.float32),
        labels=labels,
        label_names=tuple(opts.activities),
        subject=dev.index,
        rate_hz=fs,
        acc_unit=dev.acc_unit,
        gyro_unit=dev.gyro_unit,
        gravity_included=not dev.gravity_removed,
        placement=dev.placement,
        device=f"synthetic-phone-{dev.index:0{width}d}",
        source=f"synthetic phone {dev.index}",
    )
