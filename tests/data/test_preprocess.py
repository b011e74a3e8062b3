"""Preprocessing and Windows invariants: unit and hypothesis property tests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lanhar_fl.data.preprocess import (
    STANDARD_GRAVITY,
    PreprocessConfig,
    recording_to_windows,
    repair_nonfinite,
    resample,
    resample_nearest,
    resampled_length,
    rotation_to_z,
    segment_starts,
    to_si,
)
from lanhar_fl.data.recording import UNLABELLED, Recording
from lanhar_fl.data.windows import Windows

PROPERTY = settings(max_examples=50, deadline=None)
RATES = [10.0, 20.0, 25.0, 32.0, 50.0, 64.0, 100.0, 128.0, 200.0]


# --- resampling ---------------------------------------------------------------------------

@PROPERTY
@given(
    from_hz=st.sampled_from(RATES),
    to_hz=st.sampled_from(RATES),
    rel_freq=st.floats(0.02, 0.3),
    amplitude=st.floats(0.1, 20.0),
    phase=st.floats(0, 2 * np.pi),
)
def test_resampled_sinusoid_keeps_frequency_and_amplitude(from_hz, to_hz, rel_freq, amplitude,
                                                          phase):
    freq = rel_freq * min(from_hz, to_hz)  # well below both Nyquist frequencies
    n = int(12 * from_hz)
    x = amplitude * np.sin(2 * np.pi * freq * np.arange(n) / from_hz + phase)
    y = resample(np.stack([x, -x], axis=1), from_hz, to_hz)
    assert y.shape == (resampled_length(n, from_hz, to_hz), 2)
    if not np.isclose(from_hz, to_hz):
        assert len(y) == int(np.ceil(n * to_hz / from_hz))
    t = np.arange(len(y)) / to_hz
    inner = (t > 2.0) & (t < n / from_hz - 2.0)  # away from the filter's edge effects
    expected = amplitude * np.sin(2 * np.pi * freq * t + phase)
    assert np.max(np.abs(y[inner, 0] - expected[inner])) < 0.03 * amplitude
    assert np.allclose(y[:, 1], -y[:, 0])


@PROPERTY
@given(rate=st.sampled_from(RATES),
       x=hnp.arrays(np.float64, st.tuples(st.integers(1, 50), st.just(3)),
                    elements=st.floats(-1e3, 1e3)))
def test_resampling_to_the_same_rate_is_identity(rate, x):
    assert np.array_equal(resample(x, rate, rate), x)
    assert resampled_length(len(x), rate, rate) == len(x)
    codes = np.arange(len(x))
    assert np.array_equal(resample_nearest(codes, rate, rate), codes)


@PROPERTY
@given(from_hz=st.sampled_from(RATES), to_hz=st.sampled_from(RATES), n=st.integers(1, 400))
def test_resample_nearest_carries_codes_forward(from_hz, to_hz, n):
    codes = np.arange(n)
    out = resample_nearest(codes, from_hz, to_hz)
    assert len(out) == resampled_length(n, from_hz, to_hz)
    assert np.all(np.diff(out) >= 0) and out[0] == 0 and out[-1] <= n - 1
    # each output sample carries the latest input sample at or before its time
    t_out = np.arange(len(out)) / to_hz
    assert np.all(out / from_hz <= t_out + 1e-9)


# --- windowing ----------------------------------------------------------------------------

label_runs = st.lists(
    st.tuples(st.sampled_from([UNLABELLED, 0, 1, 2]), st.integers(1, 120)),
    min_size=1, max_size=12,
)


@PROPERTY
@given(runs=label_runs, length=st.integers(2, 64), overlap=st.sampled_from([0.0, 0.25, 0.5, 0.9]))
def test_windows_stay_inside_one_labelled_segment(runs, length, overlap):
    labels = np.concatenate([np.full(k, code, np.int64) for code, k in runs])
    step = max(1, int(round(length * (1 - overlap))))
    starts, win_labels, dropped = segment_starts(labels, np.zeros(len(labels), bool), length, step)
    assert not dropped
    for s, lab in zip(starts, win_labels, strict=True):
        assert lab != UNLABELLED
        assert np.all(labels[s: s + length] == lab)
    # count per maximal labelled run: floor((len - T) / step) + 1 when len >= T, else 0
    change = np.flatnonzero(np.diff(labels)) + 1
    bounds = np.concatenate([[0], change, [len(labels)]])
    runs_ = zip(bounds[:-1], bounds[1:], strict=True)
    expected = sum((e - s - length) // step + 1 for s, e in runs_
                   if labels[s] != UNLABELLED and e - s >= length)
    assert len(starts) == expected


@PROPERTY
@given(runs=label_runs, window_seconds=st.sampled_from([0.08, 0.2, 0.5]),
       overlap=st.sampled_from([0.0, 0.5]))
def test_recording_windows_are_exact_slices(runs, window_seconds, overlap):
    labels = np.concatenate([np.full(k, code, np.int64) for code, k in runs])
    n = len(labels)
    rng = np.random.default_rng(n)
    acc, gyro = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    rec = Recording(acc=acc, gyro=gyro, labels=labels, label_names=("a", "b", "c"), subject=1,
                    rate_hz=50.0)
    cfg = PreprocessConfig(target_rate_hz=50.0, window_seconds=window_seconds, overlap=overlap,
                           gravity_align=False, remove_gravity=False)
    data, win_labels, flags, _, _ = recording_to_windows(rec, cfg)
    length, step = cfg.window_samples, cfg.step_samples
    starts, expected_labels, _ = segment_starts(labels, np.zeros(n, bool), length, step)
    assert data.shape == (len(starts), length, 6) and data.dtype == np.float32
    assert np.array_equal(win_labels, expected_labels)
    for i, s in enumerate(starts):
        assert np.allclose(data[i], np.concatenate([acc, gyro], axis=1)[s: s + length],
                           atol=1e-5)
    assert flags == {"has_gyro": True, "gravity_removed": False, "gravity_aligned": False}


def test_windows_touching_long_gaps_are_dropped_not_invented():
    n = 400
    acc = np.tile([0.0, 0.0, STANDARD_GRAVITY], (n, 1))
    acc[200:230] = np.nan  # 0.6 s at 50 Hz, longer than max_nan_gap_seconds
    rec = Recording(acc=acc, gyro=None, labels=np.zeros(n, np.int64), label_names=("walk",),
                    subject=0, rate_hz=50.0)
    cfg = PreprocessConfig(window_seconds=1.0, overlap=0.5)
    data, labels, flags, dropped, _ = recording_to_windows(rec, cfg)
    assert dropped["non_finite_gap"] > 0
    assert np.isfinite(data[:, :, :3]).all()
    assert np.isnan(data[:, :, 3:]).all() and not flags["has_gyro"]
    assert len(data) + dropped["non_finite_gap"] == (n - 50) // 25 + 1


# --- gravity --------------------------------------------------------------------------------

vectors = hnp.arrays(np.float64, 3, elements=st.floats(-50, 50, allow_subnormal=False))


@PROPERTY
@given(g=vectors)
def test_rotation_to_z_is_a_proper_rotation_onto_plus_z(g):
    norm = np.linalg.norm(g)
    assume(norm > 1e-6)
    r = rotation_to_z(g)
    assert np.allclose(r @ r.T, np.eye(3), atol=1e-9)
    assert np.isclose(np.linalg.det(r), 1.0)
    assert np.allclose(r @ g, [0.0, 0.0, norm], atol=1e-9 * max(1.0, norm))


@pytest.mark.parametrize("g", [[0, 0, -9.8], [0, 0, 9.8], [1e-12, 0, -1], [0, 1e-9, -1],
                               [1e-7, -1e-7, -3]])
def test_rotation_to_z_antiparallel_and_aligned_edge_cases(g):
    g = np.asarray(g, float)
    r = rotation_to_z(g)
    assert np.allclose(r @ r.T, np.eye(3), atol=1e-9)
    assert np.isclose(np.linalg.det(r), 1.0)
    assert np.allclose(r @ g, [0, 0, np.linalg.norm(g)], atol=1e-6)


def test_gravity_alignment_and_removal_on_a_tilted_still_phone():
    n = 300
    g_dir = np.array([0.6, -0.48, 0.64])
    acc = np.tile(STANDARD_GRAVITY * g_dir / np.linalg.norm(g_dir), (n, 1))
    rec = Recording(acc=acc, gyro=np.zeros((n, 3)), labels=np.zeros(n, np.int64),
                    label_names=("stand",), subject=0, rate_hz=50.0)
    aligned, _, flags, _, _ = recording_to_windows(
        rec, PreprocessConfig(window_seconds=1.0, remove_gravity=False))
    assert flags["gravity_aligned"] and not flags["gravity_removed"]
    assert np.allclose(aligned[:, :, :3], [0, 0, STANDARD_GRAVITY], atol=1e-4)
    removed, _, flags, _, _ = recording_to_windows(rec, PreprocessConfig(window_seconds=1.0))
    assert flags["gravity_removed"] and np.abs(removed[:, :, :3]).max() < 1e-4


# --- non-finite repair and units ----------------------------------------------------------

@PROPERTY
@given(n=st.integers(6, 200), gap_start=st.integers(1, 190), gap=st.integers(1, 12),
       max_gap=st.integers(0, 8), kind=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_repair_nonfinite_interpolates_short_gaps_and_flags_long_ones(n, gap_start, gap, max_gap,
                                                                       kind):
    assume(gap_start + gap < n)
    t = np.arange(n, dtype=float)
    x = np.stack([2.0 * t + 1.0, -0.5 * t], axis=1)  # linear: interpolation recovers it exactly
    broken = x.copy()
    broken[gap_start: gap_start + gap, 1] = kind
    fixed, invalid = repair_nonfinite(broken, max_gap)
    gap_rows = np.zeros(n, bool)
    gap_rows[gap_start: gap_start + gap] = True
    if gap <= max_gap:
        assert not invalid.any()
        assert np.allclose(fixed, x)
    else:
        assert np.array_equal(invalid, gap_rows)
        assert np.isnan(fixed[gap_rows]).all()
        assert np.array_equal(fixed[~gap_rows], x[~gap_rows])
    assert np.array_equal(broken[gap_start - 1], x[gap_start - 1])  # input left untouched


def test_repair_nonfinite_flags_gaps_at_the_ends():
    x = np.arange(20, dtype=float).reshape(10, 2)
    x[0] = np.nan
    x[-2:] = np.nan
    fixed, invalid = repair_nonfinite(x, max_gap=5)
    assert invalid.tolist() == [True] + [False] * 7 + [True, True]
    assert np.isfinite(fixed[1:8]).all()


@PROPERTY
@given(acc=hnp.arrays(np.float64, (5, 3), elements=st.floats(-20, 20)),
       gyro=hnp.arrays(np.float64, (5, 3), elements=st.floats(-2000, 2000)))
def test_unit_conversion_to_si(acc, gyro):
    a, g = to_si(acc, "g", gyro, "deg/s")
    assert np.allclose(a, acc * 9.80665) and np.allclose(g, gyro * np.pi / 180)
    a, g = to_si(acc, "m/s^2", gyro, "rad/s")
    assert np.array_equal(a, acc) and np.array_equal(g, gyro)
    _, none = to_si(acc, "g", None, "deg/s")
    assert none is None


def test_recording_in_g_and_deg_per_s_becomes_si_windows():
    n = 200
    acc_g = np.tile([0.0, 0.0, 1.0], (n, 1))
    gyro_deg = np.tile([90.0, 0.0, -180.0], (n, 1))
    rec = Recording(acc=acc_g, gyro=gyro_deg, labels=np.zeros(n, np.int64), label_names=("sit",),
                    subject=0, rate_hz=50.0, acc_unit="g", gyro_unit="deg/s")
    data, _, _, _, _ = recording_to_windows(
        rec, PreprocessConfig(window_seconds=1.0, remove_gravity=False))
    assert np.allclose(data[:, :, 2], STANDARD_GRAVITY, atol=1e-4)
    assert np.allclose(data[:, :, 3:], [np.pi / 2, 0.0, -np.pi], atol=1e-5)


# --- Windows metadata alignment -----------------------------------------------------------

def tagged_windows(labels: list[int], names: tuple[str, ...], tag: int = 0) -> Windows:
    """Windows whose data, subjects, devices and flags all encode the window's own id."""
    n = len(labels)
    ids = np.arange(n) + 1000 * tag
    return Windows(
        data=np.broadcast_to(ids[:, None, None], (n, 3, 6)).astype(np.float32),
        labels=np.asarray(labels, np.int64),
        class_names=names,
        subjects=ids.astype(np.int64),
        dataset=f"d{tag}",
        sampling_rate_hz=50.0,
        has_gyro=ids % 2 == 0,
        gravity_removed=ids % 3 == 0,
        gravity_aligned=ids % 5 == 0,
        placements=np.array([f"p{i}" for i in ids]),
        devices=np.array([f"dev{i}" for i in ids]),
        dropped={"non_finite_gap": tag + 1},
        source_rates_hz=(50.0 + tag,),
        recordings=1,
    )


def assert_aligned(w: Windows, source_names: list[str]) -> None:
    """Every metadata field of each window still matches the id in its data."""
    ids = w.data[:, 0, 0].astype(np.int64)
    assert np.array_equal(w.subjects, ids)
    assert np.array_equal(w.has_gyro, ids % 2 == 0)
    assert np.array_equal(w.gravity_removed, ids % 3 == 0)
    assert np.array_equal(w.gravity_aligned, ids % 5 == 0)
    assert w.placements.tolist() == [f"p{i}" for i in ids]
    assert w.devices.tolist() == [f"dev{i}" for i in ids]
    assert w.label_names == [source_names[i] for i in ids]


NAMES = ("sit", "stand", "walk", "lie")
labels_st = st.lists(st.integers(0, len(NAMES) - 1), min_size=0, max_size=40)


@PROPERTY
@given(labels=labels_st, data=st.data())
def test_subset_keeps_metadata_aligned(labels, data):
    w = tagged_windows(labels, NAMES)
    truth = [NAMES[c] for c in labels]
    idx = data.draw(st.lists(st.integers(0, max(0, len(labels) - 1)), max_size=20)
                    if labels else st.just([]))
    sub = w.subset(idx)
    assert len(sub) == len(idx)
    assert_aligned(sub, truth)
    mask = np.array([i % 2 == 0 for i in range(len(labels))], bool)
    assert_aligned(w.subset(mask), truth)
    assert_aligned(w.subset(slice(1, None, 3)), truth)


@PROPERTY
@given(labels=labels_st,
       mapping=st.dictionaries(st.sampled_from(NAMES),
                               st.one_of(st.none(), st.sampled_from(["still", "walk", "lie"]))))
def test_relabel_merges_and_drops_keeping_metadata(labels, mapping):
    w = tagged_windows(labels, NAMES)
    out = w.relabel(mapping)
    expected = [mapping.get(NAMES[c], NAMES[c]) for c in labels]
    kept = [(i, name) for i, name in enumerate(expected) if name is not None]
    assert out.data[:, 0, 0].astype(int).tolist() == [i for i, _ in kept]
    assert out.label_names == [name for _, name in kept]
    assert len(set(out.class_names)) == len(out.class_names)
    assert_aligned(out, [e if e is not None else "" for e in expected])


@PROPERTY
@given(labels=labels_st,
       keep=st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
def test_select_classes_keeps_named_classes_in_order(labels, keep):
    w = tagged_windows(labels, NAMES)
    out = w.select_classes(keep)
    assert out.class_names == tuple(keep)
    assert out.data[:, 0, 0].astype(int).tolist() == [i for i, c in enumerate(labels)
                                                      if NAMES[c] in keep]
    assert_aligned(out, [NAMES[c] for c in labels])
    with pytest.raises(ValueError, match="unknown classes"):
        w.select_classes(["swim"])


@PROPERTY
@given(a=labels_st, b=labels_st)
def test_concatenate_merges_class_lists_by_name(a, b):
    first = tagged_windows([c % 2 for c in a], ("sit", "walk"), tag=0)
    second = tagged_windows([c % 3 for c in b], ("walk", "run", "sit"), tag=1)
    cat = Windows.concatenate([first, second])
    assert len(cat) == len(a) + len(b)
    assert cat.class_names == ("sit", "walk", "run")
    assert cat.label_names == first.label_names + second.label_names
    assert np.array_equal(cat.subjects, np.concatenate([first.subjects, second.subjects]))
    assert np.array_equal(cat.data, np.concatenate([first.data, second.data]))
    for field in ("has_gyro", "gravity_removed", "gravity_aligned", "placements", "devices"):
        assert np.array_equal(getattr(cat, field),
                              np.concatenate([getattr(first, field), getattr(second, field)]))
    assert cat.dropped == {"non_finite_gap": 3}
    assert cat.recordings == 2 and cat.source_rates_hz == (50.0, 51.0)
    assert cat.dataset == "d0+d1"
    origins = ["d0"] * len(a) + ["d1"] * len(b)
    assert cat.dataset_of_each().tolist() == origins
    assert cat.subset(slice(len(a), None)).dataset_of_each().tolist() == ["d1"] * len(b)


def test_concatenate_refuses_mismatched_layouts():
    w = tagged_windows([0, 1], ("a", "b"))
    other = tagged_windows([0], ("a", "b"))
    other.sampling_rate_hz = 25.0
    with pytest.raises(ValueError, match="different length or rate"):
        Windows.concatenate([w, other])
    with pytest.raises(ValueError, match="nothing"):
        Windows.concatenate([])
