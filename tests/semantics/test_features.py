"""Features of known signals: sinusoids, accelerometer-only windows, gravity handling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lanhar_fl.data.windows import Windows
from lanhar_fl.semantics.features import (
    FEATURE_NAMES,
    FEATURES,
    GROUPS,
    compute_features,
    format_number,
    window_contexts,
)

FS = 50.0
T = 128
GYRO_FEATURES = [n for n, s in FEATURES.items() if s.needs_gyro]


def make_windows(data: np.ndarray, has_gyro: bool = True, gravity_removed: bool = True,
                 gravity_aligned: bool = True, fs: float = FS) -> Windows:
    """Windows around raw (N, T, 6) data; gyro channels become NaN when ``has_gyro`` is False."""
    data = np.array(data, dtype=np.float32)
    n = len(data)
    if not has_gyro:
        data[:, :, 3:] = np.nan
    return Windows(data=data, labels=np.zeros(n, np.int64), class_names=("walk",),
                   subjects=np.arange(n, dtype=np.int64), dataset="test", sampling_rate_hz=fs,
                   has_gyro=np.full(n, has_gyro), gravity_removed=np.full(n, gravity_removed),
                   gravity_aligned=np.full(n, gravity_aligned), placements=np.full(n, "waist"),
                   devices=np.full(n, "phone"))


def sinusoids(freqs: list[float], amp: float = 2.0, gyro_amp: float = 0.5,
              gyro_delay_s: float = 0.0) -> np.ndarray:
    t = np.arange(T) / FS
    data = np.zeros((len(freqs), T, 6))
    for i, f in enumerate(freqs):
        data[i, :, 2] = amp * np.sin(2 * np.pi * f * t)
        data[i, :, 3] = gyro_amp * np.sin(2 * np.pi * f * (t - gyro_delay_s))
    return data


def test_schema_is_stable_and_complete():
    assert tuple(FEATURES) == FEATURE_NAMES
    assert {s.group for s in FEATURES.values()} == set(GROUPS)
    assert {s.unit for s in FEATURES.values()} <= {"m/s^2", "m/s^3", "rad/s", "Hz", "s", "deg",
                                                   "1"}
    table = compute_features(make_windows(sinusoids([2.0, 1.5])))
    assert table.names == FEATURE_NAMES
    assert table.values.shape == (2, len(FEATURE_NAMES)) == table.present.shape
    assert np.isfinite(table.values[table.present]).all()
    assert np.isnan(table.values[~table.present]).all()


@pytest.mark.parametrize("freq", [1.0, 1.7, 2.0, 2.5, 3.2])
def test_pure_sinusoid_gives_its_frequency(freq):
    row = compute_features(make_windows(sinusoids([freq]))).row(0)
    assert row["dominant_freq"] == pytest.approx(freq, abs=0.05)
    assert row["step_freq"] == pytest.approx(freq, rel=0.05)
    assert row["gyro_step_freq"] == pytest.approx(freq, rel=0.05)
    # not whole cycles in the window: shape statistics near a sine's (-1.5, sqrt 2)
    assert row["kurtosis"] == pytest.approx(-1.5, abs=0.2)
    assert row["crest_factor"] == pytest.approx(np.sqrt(2), rel=0.2)
    assert row["vert_p2p"] == pytest.approx(4.0, rel=0.02)
    assert row["impact_p2v_median"] == pytest.approx(4.0, rel=0.05)
    assert row["harmonic_ratio"] > 0.8
    assert row["gyro_frac_x"] == pytest.approx(1.0)


@settings(max_examples=25, deadline=None)
@given(freq=st.floats(0.8, 4.0), amp=st.floats(0.5, 20.0), phase=st.floats(0, 2 * np.pi),
       axis=st.integers(0, 2))
def test_dominant_frequency_of_any_sinusoid(freq, amp, phase, axis):
    t = np.arange(T) / FS
    data = np.zeros((1, T, 6))
    data[0, :, axis] = amp * np.sin(2 * np.pi * freq * t + phase)
    row = compute_features(make_windows(data, has_gyro=False)).row(0)
    assert row["dominant_freq"] == pytest.approx(freq, abs=max(0.06, 0.03 * freq))


def test_accelerometer_only_windows_have_no_gyro_features():
    data = sinusoids([2.0])
    with_gyro = compute_features(make_windows(data))
    acc_only = compute_features(make_windows(data, has_gyro=False))
    row = acc_only.row(0)
    assert not set(GYRO_FEATURES) & set(row)
    for name in GYRO_FEATURES:
        assert np.isnan(acc_only.column(name)[0])  # absent, never zero
    for name in row:
        assert row[name] == pytest.approx(with_gyro.row(0)[name])


def test_gravity_included_gives_the_same_dynamic_features():
    data = sinusoids([1.8])
    with_g = data.copy()
    with_g[:, :, 2] += 9.80665
    dynamic = data.copy()
    dynamic[:, :, :3] -= data[:, :, :3].mean(axis=1, keepdims=True)  # gravity: the window mean
    a = compute_features(make_windows(dynamic)).row(0)
    b = compute_features(make_windows(with_g, gravity_removed=False)).row(0)
    assert a.keys() == b.keys()
    for name in a:
        assert b[name] == pytest.approx(a[name], rel=1e-3, abs=1e-4), name


def test_vertical_unknown_without_gravity_or_alignment():
    row = compute_features(make_windows(sinusoids([2.0]), gravity_aligned=False)).row(0)
    assert "vert_rms" not in row and "vert_horiz_ratio" not in row
    assert row["step_freq"] == pytest.approx(2.0, rel=0.05)  # on the main axis instead


def test_no_motion_has_no_rhythm_or_shape():
    row = compute_features(make_windows(np.zeros((1, T, 6)))).row(0)
    assert row["acc_mag_mean"] == 0
    for name in ("dominant_freq", "step_freq", "crest_factor", "impact_p2v_median",
                 "sync_lag"):
        assert name not in row


def test_sync_lag_and_net_rotation():
    row = compute_features(make_windows(sinusoids([1.5], gyro_delay_s=0.1))).row(0)
    assert row["sync_lag"] == pytest.approx(0.1, abs=0.021)
    assert row["sync_consistency"] > 0.8
    data = np.zeros((1, T, 6))
    data[0, :, 5] = 0.5  # 0.5 rad/s about z for 2.56 s
    row = compute_features(make_windows(data)).row(0)
    assert row["net_rotation"] == pytest.approx(np.degrees(0.5 * T / FS), rel=1e-6)
    assert row["gyro_frac_z"] == pytest.approx(1.0)


def test_format_number_and_contexts():
    assert [format_number(v) for v in (0.012345, 1.2345, 12.345, 1234.5, 0.0, -0.5)] == \
        ["0.0123", "1.23", "12.3", "1234", "0", "-0.500"]
    assert format_number(0.5, 2) == "0.50"
    ctx = window_contexts(make_windows(sinusoids([1.0]), has_gyro=False))[0]
    assert ctx["has_gyro"] is False and ctx["window_seconds"] == 2.56
    assert ctx["placement"] == "waist"


def test_jerk_does_not_depend_on_the_source_rate():
    """A gait-like signal with a 12 Hz foot-strike buzz vs the same motion as a 10 Hz device
    sees it (the buzz is beyond its Nyquist), both at 50 Hz: the jerk agrees within 10 %, and a
    pure 1.8 Hz sinusoid gets the analytic jerk rms (2 pi f A / sqrt 2)."""
    t = np.arange(T) / FS
    gait = 2.0 * np.sin(2 * np.pi * 1.8 * t) + 0.8 * np.sin(2 * np.pi * 3.6 * t + 0.4)
    data = np.zeros((3, T, 6))
    data[0, :, 2] = gait + 0.8 * np.sin(2 * np.pi * 12.0 * t)  # a fast device
    data[1, :, 2] = gait  # a 10 Hz device, upsampled
    data[2, :, 2] = 2.0 * np.sin(2 * np.pi * 1.8 * t)
    table = compute_features(make_windows(data))
    fast, slow, pure = table.column("jerk_rms")
    assert fast == pytest.approx(slow, rel=0.1)
    assert pure == pytest.approx(2 * np.pi * 1.8 * 2.0 / np.sqrt(2), rel=0.05)


def test_net_rotation_is_heading_change_not_limb_swing():
    t = np.arange(T) / FS
    data = np.zeros((2, T, 6))
    data[0, :, 3] = 2.0 * np.cos(2 * np.pi * 0.95 * t)  # a thigh swinging about a horizontal axis
    data[1, :, 3] = data[0, :, 3]
    data[1, :, 5] = 0.3  # plus a turn about the vertical
    rot = compute_features(make_windows(data)).column("net_rotation")
    assert rot[0] < 1.0
    assert rot[1] == pytest.approx(np.degrees(0.3 * T / FS), rel=1e-6)
    unaligned = compute_features(make_windows(data, gravity_aligned=False)).column("net_rotation")
    assert unaligned[0] > 5.0  # vertical unknown: every axis counts


def test_periodicity_is_high_for_a_repeating_cycle_and_low_for_noise():
    rng = np.random.default_rng(0)
    cycle = sinusoids([0.8, 1.8])
    noise = np.zeros((1, T, 6))
    noise[0, :, :3] = rng.normal(0.0, 2.0, size=(T, 3))
    table = compute_features(make_windows(np.concatenate([cycle, noise])))
    periodicity = table.column("periodicity")
    assert (periodicity[:2] > 0.8).all()
    assert periodicity[2] < 0.3


def test_periodicity_does_not_depend_on_the_device_orientation():
    rng = np.random.default_rng(1)
    data = sinusoids([1.1]) + np.concatenate(
        [rng.normal(0.0, 0.5, size=(1, T, 3)), np.zeros((1, T, 3))], axis=2)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    turned = data.copy()
    turned[0, :, :3] = data[0, :, :3] @ q.T
    rows = compute_features(make_windows(np.concatenate([data, turned]), gravity_aligned=False))
    assert rows.column("periodicity")[1] == pytest.approx(rows.column("periodicity")[0],
                                                          abs=1e-6)
