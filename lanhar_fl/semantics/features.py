"""Per-window feature summary in LanHAR's seven groups (NOTES section 1), vectorised over windows.

Definitions (all per window, T samples at ``fs`` Hz):

- *Dynamic acceleration* ``a``: the accelerometer as given when ``gravity_removed``, otherwise the
  accelerometer minus its window mean (the mean of a 2.56 s window is the gravity estimate).
- *Vertical* ``v``: ``a`` along +Z when ``gravity_aligned``; along the window's mean acceleration
  (gravity) when gravity is present but not aligned; unknown otherwise (vertical features absent).
  *Horizontal*: ``a`` minus its vertical part.
- *Jerk*: the time derivative of ``a`` low-passed to 4 Hz (cosine taper to 5 Hz), so that a
  window upsampled from a 10 Hz device and one from a 100 Hz device of the same motion agree.
- *Primary signal* ``s``: ``v`` when the vertical is known, else ``a`` projected on its first
  principal axis (sign chosen so that the largest excursion is positive). Step, shape and
  impact features are computed on ``s``.
- *Dominant frequency*: peak of the summed x/y/z power spectrum of ``a`` (Hann window, 4x zero
  padding, parabolic interpolation) within 0.3-8 Hz; *harmonic ratio*: the share of power
  within one bin of its first four harmonics.
- *Periodicity*: the highest peak of the window's autocorrelation at lags of 0.3-1.5 s (a step
  or a stride; at most half the window), from the autocovariance summed over x/y/z of ``a``.
  The sum is unchanged by any rotation of the device, so a cycle repeats alike at the waist, in
  a pocket and on a wrist.
- *Sync*: FFT cross-correlation of standardised ``s`` and the gyroscope's first principal axis
  within +-0.5 s; lag > 0 means the gyroscope follows the accelerometer.
- *Peaks* (steps): samples of ``s`` (smoothed over 0.1 s) that are the maximum within +-0.2 s,
  above mean + 0.5 std, and at least 0.2 s from the window edges; none when ``s`` moves less than
  ``MOTION_FLOOR``. The gyroscope's peaks are found the same way on its first principal axis.

A feature is *absent* (NaN in ``FeatureTable.values``, False in ``present``, left out of
``row(i)``) when it cannot be measured: gyroscope features of accelerometer-only windows, vertical
features when the vertical is unknown, the dominant frequency and harmonic ratio when the dynamic
acceleration's rms (all axes) is below ``MOTION_FLOOR``, shape, step and sync features when the
primary signal's std is below it, step features with too few peaks. Absent never means zero,
and interpreters never mention it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..data.errors import DataError
from ..data.windows import Windows

GROUPS = ("strength", "axis", "rhythm", "shape", "posture", "sync", "impact")
SECTION_TITLES = {
    "strength": "Strength",
    "axis": "Axis dominance",
    "rhythm": "Rhythm",
    "shape": "Shape",
    "posture": "Posture/drift",
    "sync": "Gyro-acc sync",
    "impact": "Vertical impact",
}

MOTION_FLOOR = 0.2  # m/s^2: motion below which rhythm/shape/steps are not measured
GYRO_FLOOR = 0.05  # rad/s: gyro principal-axis std below which gyro rhythm/sync is not measured
BAND_HZ = (0.3, 8.0)  # frequency band searched for the dominant frequency
PEAK_HALF_WIDTH_S = 0.2  # a peak is the maximum within +-0.2 s (so at most 5 peaks per second)
VALLEY_HALF_WIDTH_S = 0.5  # peak-to-valley: the valley is the minimum within +-0.5 s
HARMONICS = 4  # harmonics of the dominant frequency counted by the harmonic ratio
MAX_LAG_S = 0.5  # gyro-acc lag searched within +-0.5 s
PERIOD_LAGS_S = (0.3, 1.5)  # autocorrelation lags searched for a repeating step or stride
# Jerk is measured on the acceleration band-limited below the Nyquist frequency of the slowest
# source the loaders take (10 Hz, e.g. BasicMotions): content above it exists only on faster
# devices, so an unlimited jerk mostly measures the source rate (HAPT walk 94 vs 25 m/s^3).
JERK_BAND_HZ = (4.0, 5.0)  # full gain below 4 Hz, a cosine taper to zero at 5 Hz


@dataclass(frozen=True)
class FeatureSpec:
    """Schema entry: the feature's group (section), unit and meaning."""

    group: str
    unit: str  # "m/s^2", "m/s^3", "rad/s", "Hz", "s", "deg" or "1" (dimensionless)
    description: str
    needs_gyro: bool = False


def _spec(group: str, unit: str, description: str, gyro: bool = False) -> FeatureSpec:
    return FeatureSpec(group, unit, description, gyro)


FEATURES: dict[str, FeatureSpec] = {
    "acc_mag_mean": _spec("strength", "m/s^2", "mean dynamic acceleration magnitude"),
    "acc_mag_std": _spec("strength", "m/s^2", "std of dynamic acceleration magnitude"),
    "acc_mag_p2p": _spec("strength", "m/s^2", "peak-to-peak dynamic acceleration magnitude"),
    "jerk_rms": _spec("strength", "m/s^3", "rms of the jerk magnitude (motion below 5 Hz)"),
    "jerk_p95": _spec("strength", "m/s^3", "95th percentile of the jerk magnitude (below 5 Hz)"),
    "gyro_mag_rms": _spec("strength", "rad/s", "rms angular-rate magnitude", True),
    "gyro_mag_p2p": _spec("strength", "rad/s", "peak-to-peak angular-rate magnitude", True),
    "vert_rms": _spec("axis", "m/s^2", "rms of vertical acceleration"),
    "horiz_rms": _spec("axis", "m/s^2", "rms of horizontal acceleration"),
    "vert_p2p": _spec("axis", "m/s^2", "peak-to-peak vertical acceleration"),
    "horiz_p2p": _spec("axis", "m/s^2", "peak-to-peak horizontal acceleration (main axis)"),
    "vert_horiz_ratio": _spec("axis", "1", "vertical rms / horizontal rms"),
    "gyro_frac_x": _spec("axis", "1", "fraction of angular-rate energy about x", True),
    "gyro_frac_y": _spec("axis", "1", "fraction of angular-rate energy about y", True),
    "gyro_frac_z": _spec("axis", "1", "fraction of angular-rate energy about z (vertical)", True),
    "dominant_freq": _spec("rhythm", "Hz", "dominant frequency of the acceleration spectrum"),
    "step_freq": _spec("rhythm", "Hz", "step frequency: 1 / mean interval between peaks"),
    "ibi_cv": _spec("rhythm", "1", "coefficient of variation of inter-peak intervals"),
    "harmonic_ratio": _spec("rhythm", "1", "fraction of power at the dominant frequency and "
                            f"its first {HARMONICS} harmonics"),
    "periodicity": _spec("rhythm", "1", "peak autocorrelation at a 0.3-1.5 s lag (how well "
                         "the motion repeats; rotation-invariant)"),
    "crest_factor": _spec("shape", "1", "max |primary| / rms primary"),
    "kurtosis": _spec("shape", "1", "excess kurtosis of the primary signal (sine -1.5)"),
    "rise_fall_ratio": _spec("shape", "1", "time rising / time falling of the primary signal"),
    "gyro_mean_x": _spec("posture", "rad/s", "mean angular rate about x", True),
    "gyro_mean_y": _spec("posture", "rad/s", "mean angular rate about y", True),
    "gyro_mean_z": _spec("posture", "rad/s", "mean angular rate about z", True),
    "net_rotation": _spec("posture", "deg", "heading change: |integral of the angular rate "
                          "about the vertical| (all axes when the vertical is unknown)", True),
    "gyro_step_freq": _spec("sync", "Hz", "step frequency from gyroscope peaks", True),
    "sync_lag": _spec("sync", "s", "lag of gyro behind acc at the best cross-correlation", True),
    "sync_consistency": _spec("sync", "1", "peak |normalised cross-correlation| gyro vs acc "
                              "(phase consistency, 0-1)", True),
    "impact_p2v_median": _spec("impact", "m/s^2", "median per-step peak-to-valley"),
    "impact_p2v_p95": _spec("impact", "m/s^2", "95th percentile per-step peak-to-valley"),
}
FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)
_INDEX = {name: j for j, name in enumerate(FEATURE_NAMES)}


@dataclass
class FeatureTable:
    """Features of N windows: ``values`` (N x F, NaN where absent), ``names`` and ``present``."""

    values: np.ndarray
    names: tuple[str, ...]
    present: np.ndarray

    def __len__(self) -> int:
        return len(self.values)

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name)]

    def row(self, i: int) -> dict[str, float]:
        """The measured features of window i (absent features are left out)."""
        vals, mask = self.values[i], self.present[i]
        return {n: float(vals[j]) for j, n in enumerate(self.names) if mask[j]}


def format_number(value: float, significant: int = 3) -> str:
    """``significant`` digits without exponent (3: 0.0123, 1.23, 12.3, 123, 1230)."""
    if value == 0 or not math.isfinite(value):
        return "0"
    digits = max(0, significant - 1 - int(math.floor(math.log10(abs(value)))))
    text = f"{value:.{digits}f}"
    return "0" if float(text) == 0 else text


def window_contexts(windows: Windows) -> list[dict]:
    """Per-window facts an interpreter may state (placement, device, rate, flags)."""
    seconds = windows.window_length / windows.sampling_rate_hz
    return [
        {
            "placement": str(windows.placements[i]),
            "device": str(windows.devices[i]),
            "dataset": windows.dataset,
            "sampling_rate_hz": float(windows.sampling_rate_hz),
            "window_seconds": round(float(seconds), 3),
            "has_gyro": bool(windows.has_gyro[i]),
            "gravity_removed": bool(windows.gravity_removed[i]),
            "gravity_aligned": bool(windows.gravity_aligned[i]),
        }
        for i in range(len(windows))
    ]


# ----------------------------------------------------------------------------- helpers


def _row_quantile(values: np.ndarray, q: float) -> np.ndarray:
    """Per-row quantile of the finite entries (NaN for rows with none), linear interpolation."""
    s = np.sort(values, axis=1)  # NaN sort last
    k = np.isfinite(s).sum(axis=1)
    pos = q * np.maximum(k - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(k - 1, 0))
    rows = np.arange(len(s))
    out = s[rows, lo] + (s[rows, hi] - s[rows, lo]) * (pos - lo)
    return np.where(k > 0, out, np.nan)


def _principal_axis(x: np.ndarray) -> np.ndarray:
    """Unit first principal axis (N x 3) of zero-mean signals x (N x T x 3)."""
    cov = np.einsum("nti,ntj->nij", x, x)
    _, vecs = np.linalg.eigh(cov)
    return vecs[:, :, -1]


def _project_signed(x: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """x projected on ``axis``, signed so that the largest excursion is positive."""
    s = np.einsum("nti,ni->nt", x, axis)
    flip = np.abs(s.min(axis=1)) > np.abs(s.max(axis=1))
    s[flip] *= -1
    return s


def _peaks(s: np.ndarray, fs: float, floor: float) -> np.ndarray:
    """Boolean N x T mask of step peaks (see the module docstring)."""
    sm = ndimage.uniform_filter1d(s, size=max(1, int(round(0.1 * fs))), axis=1, mode="nearest")
    r = max(1, int(round(PEAK_HALF_WIDTH_S * fs)))
    local_max = sm == ndimage.maximum_filter1d(sm, size=2 * r + 1, axis=1, mode="nearest")
    rising = np.zeros_like(local_max)
    rising[:, 1:] = sm[:, 1:] > sm[:, :-1]
    mean, std = sm.mean(axis=1, keepdims=True), sm.std(axis=1, keepdims=True)
    peaks = local_max & rising & (sm > mean + 0.5 * std) & (s.std(axis=1, keepdims=True) >= floor)
    peaks[:, :r] = False
    peaks[:, s.shape[1] - r:] = False
    return peaks


def _interval_stats(peaks: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """(frequency 1/mean interval, CV of intervals) per row; NaN with < 2 (CV: < 3) peaks."""
    n = len(peaks)
    rows, cols = np.nonzero(peaks)
    same = rows[1:] == rows[:-1]
    ibi = (np.diff(cols) / fs)[same]
    owner = rows[1:][same]
    count = np.bincount(owner, minlength=n).astype(float)
    total = np.bincount(owner, weights=ibi, minlength=n)
    sq = np.bincount(owner, weights=ibi**2, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        var = np.maximum(sq / count - mean**2, 0.0)
        freq = np.where(count >= 1, 1.0 / mean, np.nan)
        cv = np.where(count >= 2, np.sqrt(var) / mean, np.nan)
    return freq, cv


def _band_limited(x: np.ndarray, fs: float, band: tuple[float, float]) -> np.ndarray:
    """x (N x T x C) low-passed along T: gain 1 below band[0] Hz, cosine taper to 0 at band[1]."""
    t = x.shape[1]
    pad = t // 2  # odd mirror padding (value and slope continue) keeps the edges from ringing
    xp = np.concatenate([2 * x[:, :1] - x[:, pad:0:-1], x,
                         2 * x[:, -1:] - x[:, -2:-pad - 2:-1]], axis=1)
    freqs = np.fft.rfftfreq(xp.shape[1], 1.0 / fs)
    lo, hi = band
    gain = np.clip((hi - freqs) / (hi - lo), 0.0, 1.0)
    gain = 0.5 - 0.5 * np.cos(np.pi * gain)
    y = np.fft.irfft(np.fft.rfft(xp, axis=1) * gain[None, :, None], n=xp.shape[1], axis=1)
    return y[:, pad:pad + t]


def _spectrum_features(a: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """(dominant frequency in Hz, harmonic ratio) from the summed per-axis power spectrum."""
    t = a.shape[1]
    pad = 4
    nfft = pad * t
    x = (a - a.mean(axis=1, keepdims=True)) * np.hanning(t)[None, :, None]
    power = (np.abs(np.fft.rfft(x, n=nfft, axis=1)) ** 2).sum(axis=2)  # N x F
    freqs = np.fft.rfftfreq(nfft, 1.0 / fs)
    hi = min(BAND_HZ[1], 0.45 * fs)
    band = (freqs >= BAND_HZ[0]) & (freqs <= hi)
    idx = np.flatnonzero(band)
    k = idx[np.argmax(power[:, band], axis=1)]
    rows = np.arange(len(a))
    left, mid = power[rows, np.maximum(k - 1, 0)], power[rows, k]
    right = power[rows, np.minimum(k + 1, power.shape[1] - 1)]
    denom = left - 2 * mid + right
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = np.where(np.abs(denom) > 0, 0.5 * (left - right) / denom, 0.0)
    f0 = (k + np.clip(delta, -0.5, 0.5)) * fs / nfft
    width = pad * fs / nfft * 1.0  # one native frequency bin either side
    h = np.rint(freqs[None, :] / f0[:, None])
    near = (h >= 1) & (h <= HARMONICS) & (np.abs(freqs[None, :] - h * f0[:, None]) <= width)
    usable = freqs >= BAND_HZ[0]
    total = (power * usable).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (power * (near & usable)).sum(axis=1) / total
    return f0, ratio


def _periodicity(a: np.ndarray, fs: float) -> np.ndarray:
    """Highest normalised autocorrelation of ``a`` (N x T x 3) at lags in ``PERIOD_LAGS_S``.

    The autocovariance is summed over axes (the trace of the lagged covariance matrix), so any
    rotation of the device leaves it unchanged; lag L is normalised by the T - L overlapping
    samples (unbiased), then by lag 0."""
    t = a.shape[1]
    x = a - a.mean(axis=1, keepdims=True)
    n = 2 * t
    spec = np.fft.rfft(x, n, axis=1)
    acov = np.fft.irfft((np.abs(spec) ** 2).sum(axis=2), n, axis=1)[:, :t]
    acov = acov / (t - np.arange(t))[None, :]
    lo = max(1, int(round(PERIOD_LAGS_S[0] * fs)))
    hi = min(t // 2, int(round(PERIOD_LAGS_S[1] * fs)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (acov[:, lo:hi + 1] / acov[:, :1]).max(axis=1)


def _cross_sync(sa: np.ndarray, sg: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """(lag of gyro behind acc in s, peak |normalised cross-correlation|) via FFT."""
    t = sa.shape[1]
    za = (sa - sa.mean(axis=1, keepdims=True)) / (sa.std(axis=1, keepdims=True) + 1e-12)
    zg = (sg - sg.mean(axis=1, keepdims=True)) / (sg.std(axis=1, keepdims=True) + 1e-12)
    n = 2 * t
    xc = np.fft.irfft(np.fft.rfft(zg, n, axis=1) * np.conj(np.fft.rfft(za, n, axis=1)), n,
                      axis=1) / t
    max_lag = min(t - 1, int(round(MAX_LAG_S * fs)))
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    window = xc[:, lags]  # index lag L lives at position L mod n
    best = np.argmax(np.abs(window), axis=1)
    rows = np.arange(len(sa))
    return lags[best] / fs, np.abs(window[rows, best])


# ----------------------------------------------------------------------------- main


def compute_features(windows: Windows) -> FeatureTable:
    """The feature table of every window (vectorised; float64)."""
    n = len(windows)
    fs = float(windows.sampling_rate_hz)
    out = np.full((n, len(FEATURE_NAMES)), np.nan)
    if n == 0:
        return FeatureTable(out, FEATURE_NAMES, np.zeros_like(out, dtype=bool))
    data = windows.data.astype(np.float64)
    acc = data[:, :, :3]
    broken = np.flatnonzero(~np.isfinite(acc).all(axis=(1, 2)))
    if len(broken):  # preprocessing never makes these; an eigen-solver would choke on them
        shown = ", ".join(map(str, broken[:5].tolist())) + (", ..." if len(broken) > 5 else "")
        raise DataError(f"{len(broken)} window(s) of {windows.dataset!r} hold NaN or infinite "
                        f"acceleration (index {shown}); features need finite accelerometer data")
    has_gyro = np.asarray(windows.has_gyro, bool) & np.isfinite(data[:, :, 3:]).all(axis=(1, 2))
    gyro = np.where(has_gyro[:, None, None], np.nan_to_num(data[:, :, 3:]), 0.0)
    removed = np.asarray(windows.gravity_removed, bool)
    aligned = np.asarray(windows.gravity_aligned, bool)

    def put(name: str, value: np.ndarray, valid: np.ndarray | None = None) -> None:
        col = np.asarray(value, dtype=np.float64)
        if valid is not None:
            col = np.where(valid, col, np.nan)
        out[:, _INDEX[name]] = col

    # strength
    acc_mean = acc.mean(axis=1, keepdims=True)
    a = np.where(removed[:, None, None], acc, acc - acc_mean)
    mag = np.linalg.norm(a, axis=2)
    put("acc_mag_mean", mag.mean(axis=1))
    put("acc_mag_std", mag.std(axis=1))
    put("acc_mag_p2p", np.ptp(mag, axis=1))
    jerk = np.linalg.norm(np.diff(_band_limited(a, fs, JERK_BAND_HZ), axis=1), axis=2) * fs
    put("jerk_rms", np.sqrt((jerk**2).mean(axis=1)))
    put("jerk_p95", np.percentile(jerk, 95, axis=1))
    gmag = np.linalg.norm(gyro, axis=2)
    put("gyro_mag_rms", np.sqrt((gmag**2).mean(axis=1)), has_gyro)
    put("gyro_mag_p2p", np.ptp(gmag, axis=1), has_gyro)

    # axis dominance
    g_dir = acc_mean[:, 0, :] / (np.linalg.norm(acc_mean[:, 0, :], axis=1, keepdims=True) + 1e-12)
    up = np.where(aligned[:, None], np.array([0.0, 0.0, 1.0])[None, :], g_dir)
    vertical_known = aligned | ~removed
    v = np.einsum("nti,ni->nt", a, up)
    h = a - v[:, :, None] * up[:, None, :]
    vert_rms = np.sqrt((v**2).mean(axis=1))
    horiz_rms = np.sqrt((h**2).sum(axis=2).mean(axis=1))
    put("vert_rms", vert_rms, vertical_known)
    put("horiz_rms", horiz_rms, vertical_known)
    put("vert_p2p", np.ptp(v, axis=1), vertical_known)
    put("horiz_p2p", np.ptp(np.einsum("nti,ni->nt", h, _principal_axis(h)), axis=1),
        vertical_known)
    with np.errstate(invalid="ignore", divide="ignore"):
        put("vert_horiz_ratio", vert_rms / horiz_rms, vertical_known & (horiz_rms > 1e-9))
    energy = (gyro**2).sum(axis=1)  # N x 3
    total = energy.sum(axis=1, keepdims=True)
    frac = np.divide(energy, total, out=np.full_like(energy, 1 / 3), where=total > 0)
    for j, axis in enumerate("xyz"):
        put(f"gyro_frac_{axis}", frac[:, j], has_gyro)

    # rhythm and shape on the primary signal
    s_pc = _project_signed(a, _principal_axis(a))
    s = np.where(vertical_known[:, None], v, s_pc)
    moving = s.std(axis=1) >= MOTION_FLOOR
    f0, harmonic = _spectrum_features(a, fs)
    centred = a - a.mean(axis=1, keepdims=True)
    any_motion = np.sqrt((centred**2).sum(axis=2).mean(axis=1)) >= MOTION_FLOOR
    put("dominant_freq", f0, any_motion)
    put("harmonic_ratio", harmonic, any_motion)
    put("periodicity", np.clip(_periodicity(a, fs), -1.0, 1.0), any_motion)
    peaks = _peaks(s, fs, MOTION_FLOOR)
    step_freq, ibi_cv = _interval_stats(peaks, fs)
    put("step_freq", step_freq)
    put("ibi_cv", ibi_cv)
    sc = s - s.mean(axis=1, keepdims=True)
    rms = np.sqrt((sc**2).mean(axis=1)) + 1e-12
    put("crest_factor", np.abs(sc).max(axis=1) / rms, moving)
    put("kurtosis", (sc**4).mean(axis=1) / rms**4 - 3.0, moving)
    ds = np.diff(s, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        put("rise_fall_ratio", (ds > 0).sum(axis=1) / (ds < 0).sum(axis=1), moving)

    # posture / drift
    gmean = gyro.mean(axis=1)
    for j, axis in enumerate("xyz"):
        put(f"gyro_mean_{axis}", gmean[:, j], has_gyro)
    # Heading change: limb swing (pitch about a horizontal axis) integrates to a placement-
    # dependent angle over a part cycle; turning about the vertical is what any placement shares.
    turn = np.where(vertical_known, np.abs(np.einsum("ni,ni->n", gyro.sum(axis=1), up)),
                    np.linalg.norm(gyro.sum(axis=1), axis=1))
    put("net_rotation", np.degrees(turn / fs), has_gyro)

    # gyro-acc sync
    gc = gyro - gmean[:, None, :]
    sg = _project_signed(gc, _principal_axis(gc))
    gyro_moving = has_gyro & (sg.std(axis=1) >= GYRO_FLOOR)
    gyro_step, _ = _interval_stats(_peaks(sg, fs, GYRO_FLOOR), fs)
    put("gyro_step_freq", gyro_step, gyro_moving)
    lag, consistency = _cross_sync(s, sg, fs)
    put("sync_lag", lag, gyro_moving & moving)
    put("sync_consistency", consistency, gyro_moving & moving)

    # vertical impact: per-peak peak-to-valley
    valley = ndimage.minimum_filter1d(s, size=2 * int(round(VALLEY_HALF_WIDTH_S * fs)) + 1,
                                      axis=1, mode="nearest")
    p2v = np.where(peaks, s - valley, np.nan)
    put("impact_p2v_median", _row_quantile(p2v, 0.5))
    put("impact_p2v_p95", _row_quantile(p2v, 0.95))

    present = np.isfinite(out)
    return FeatureTable(out, FEATURE_NAMES, present)
