"""Values no phone can report, overlapping labels, short cases and stale caches (issue 12.3).

A sample beyond the physical limits (or infinite) is masked exactly like NaN, before any filter:
short runs interpolated, windows touching longer ones dropped, both counted; it never reaches
another window. Overlapping labels.txt rows and .ts cases shorter than their header are errors.
The windows cache is keyed by file contents.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from _layouts import edit_line, windows, write, write_basicmotions, write_hapt

from lanhar_fl.cli import main
from lanhar_fl.config import load_config
from lanhar_fl.data.errors import DataError
from lanhar_fl.data.preprocess import MAX_ABS_ACC, MAX_ABS_GYRO
from lanhar_fl.data.registry import load_dataset_windows
from lanhar_fl.data.windows import Windows
from lanhar_fl.semantics.features import compute_features

SAMPLES = 3000  # 60 s: walk over samples 0-1499 (22 windows), stand over 1500-2999 (22)
SEGMENTS = [(1, 1, 1, 0, 1499), (1, 1, 5, 1500, 2999)]
BAD = 1000  # the sample made impossible; windows 14 and 15 (starts 896, 960) hold it
HOLDING = [14, 15]


def hapt(root: Path, rows: range | list[int] = (), value: str = "", sensor: str = "acc") -> Path:
    """A one-experiment HAPT folder; ``rows`` (0-based samples) of ``sensor`` set to ``value``
    on all three axes."""
    write_hapt(root, {1: (1, SAMPLES)}, SEGMENTS)
    path = root / "RawData" / f"{sensor}_exp01_user01.txt"
    for row in rows:
        edit_line(path, row + 1, f"{value} {value} {value}")
    return root


def assert_physical(w: Windows, max_acc: float = MAX_ABS_ACC,
                    max_gyro: float = MAX_ABS_GYRO) -> None:
    """Every value finite (gyro where present) and inside the limits."""
    acc, gyro = w.data[:, :, :3], w.data[:, :, 3:][w.has_gyro]
    assert np.isfinite(acc).all() and np.isfinite(gyro).all()
    assert np.abs(acc).max() <= max_acc and np.abs(gyro).max() <= max_gyro


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Windows:
    return windows("uci_hapt", hapt(tmp_path_factory.mktemp("clean")))


@pytest.mark.parametrize("value", ["1e30", "-1e30", "1e39", "inf", "1e400"])
def test_one_impossible_row_is_repaired_counted_and_not_spread(tmp_path, clean, value):
    bad = windows("uci_hapt", hapt(tmp_path / "bad", [BAD], value))
    nan = windows("uci_hapt", hapt(tmp_path / "nan", [BAD], "nan"))
    assert bad.masked == {"impossible_values": 1} and bad.dropped == {}
    assert len(bad) == len(clean) == 44 and bad.class_counts() == clean.class_counts()
    assert_physical(bad)
    assert np.array_equal(bad.data, nan.data)  # masked exactly like a NaN
    # Only the windows holding the sample change, by the interpolation error; the others,
    # a gravity low-pass away or not, are the clean windows
    others = np.setdiff1d(np.arange(len(bad)), HOLDING)
    assert np.allclose(bad.data[others], clean.data[others], atol=1e-4)
    assert np.allclose(bad.data[HOLDING], clean.data[HOLDING], atol=0.01)


def test_long_impossible_run_drops_its_windows_and_bridges_the_filters(tmp_path, clean):
    rows = range(BAD, BAD + 50)  # 1 s, longer than data.max_nan_gap_seconds
    bad = windows("uci_hapt", hapt(tmp_path / "bad", rows, "1e30"))
    nan = windows("uci_hapt", hapt(tmp_path / "nan", rows, "nan"))
    assert bad.masked == {"impossible_values": 50}
    assert bad.dropped == {"impossible_values": 3}  # starts 896, 960, 1024
    assert nan.masked == {"non_finite": 50} and nan.dropped == {"non_finite_gap": 3}
    assert np.array_equal(bad.data, nan.data)
    assert_physical(bad)
    kept = clean.data[[i for i in range(len(clean)) if i not in (14, 15, 16)]]
    # Bridged, not zeroed: the gravity estimate of the neighbours moves by the lost wiggle
    # only (a zero fill moved them by 1.2 m/s^2), and windows 10 s away do not move
    assert np.abs(bad.data - kept).max() < 0.1
    far = np.r_[0:6, 22:41]
    assert np.allclose(bad.data[far], kept[far], atol=1e-4)


def test_summary_counts_an_impossible_row(tmp_path, capsys):
    root = hapt(tmp_path, [BAD], "1e30")
    assert main(["data", "summary", "dataset=uci_hapt", f"dataset.root={root}",
                 "cache_dir=null"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["masked_samples"] == {"impossible_values": 1} and out["dropped_windows"] == {}
    assert out["windows"] == 44


def test_limits_apply_after_unit_conversion(tmp_path):
    """HAPT acceleration is in g: 16.5 g is beyond 16 g although 16.5 < 156.9."""
    root = hapt(tmp_path)
    acc = root / "RawData" / "acc_exp01_user01.txt"
    edit_line(acc, BAD + 1, "0 0 16.5")
    edit_line(acc, 2001, "0 0 15.5")  # possible: kept as it is
    w = windows("uci_hapt", root, "data.remove_gravity=false", "data.gravity_align=false")
    assert w.masked == {"impossible_values": 1}
    assert np.abs(w.data[:, :, 2]).max() == pytest.approx(15.5 * 9.80665, rel=1e-5)


def test_gyro_limit_is_configurable(tmp_path):
    root = hapt(tmp_path, [BAD], "36", sensor="gyro")
    assert windows("uci_hapt", root).masked == {"impossible_values": 1}
    w = windows("uci_hapt", root, "data.max_abs_gyro=40", "data.gravity_align=false")
    assert w.masked == {} and np.abs(w.data[:, :, 3:]).max() == pytest.approx(36.0)
    assert_physical(w, max_gyro=40.0)


@pytest.mark.parametrize("setting", ["data.max_abs_acc=-1", "data.max_abs_gyro=0",
                                     "data.max_abs_acc=abc", "data.max_abs_gyro=1e9",
                                     "data.max_abs_acc=true"])
def test_bad_limit_settings(tmp_path, setting):
    with pytest.raises(DataError, match=setting.split("=")[0]):
        windows("uci_hapt", hapt(tmp_path), setting)


def test_features_of_constant_huge_and_broken_windows():
    def make(data: np.ndarray) -> Windows:
        n = len(data)
        return Windows(data=data.astype(np.float32), labels=np.zeros(n, np.int64),
                       class_names=("stand",), subjects=np.zeros(n, np.int64), dataset="t",
                       sampling_rate_hz=50.0, has_gyro=np.ones(n, bool),
                       gravity_removed=np.ones(n, bool), gravity_aligned=np.ones(n, bool),
                       placements=np.array(["waist"] * n), devices=np.array(["d"] * n))

    rng = np.random.default_rng(0)
    fine = np.stack([np.zeros((128, 6)), np.full((128, 6), 3.0), np.full((128, 6), 3e38),
                     rng.normal(0, 1e37, (128, 6))])
    table = compute_features(make(fine))
    assert table.present[:, table.names.index("acc_mag_mean")].all()
    for bad in (np.nan, np.inf):
        broken = fine.copy()
        broken[2, 5, 0] = bad
        with pytest.raises(DataError, match="index 2"):
            compute_features(make(broken))


# ---------------------------------------------------------------- labels and lengths


@pytest.mark.parametrize("rows", [
    [(1, 1, 1, 0, 1499), (1, 1, 5, 1400, 2999)],
    [(1, 1, 5, 1400, 2999), (1, 1, 1, 0, 1499)],  # out of order in the file
])
def test_overlapping_hapt_segments(tmp_path, rows):
    root = write_hapt(tmp_path, {1: (1, SAMPLES)}, rows)
    with pytest.raises(DataError) as info:
        windows("uci_hapt", root)
    err = info.value
    assert (err.path, err.line) == (root / "RawData" / "labels.txt", 2)
    assert "lines 1 and 2" in str(err) and "1400-1499" in str(err)


def test_touching_hapt_segments_are_fine(tmp_path):
    root = write_hapt(tmp_path, {1: (1, SAMPLES)}, SEGMENTS)
    assert windows("uci_hapt", root).class_counts() == {
        "walk": 22, "upstairs": 0, "downstairs": 0, "sit": 0, "stand": 22, "lie": 0}


def test_overlap_cli_is_one_error_line(tmp_path, capsys):
    root = write_hapt(tmp_path, {1: (1, SAMPLES)}, [(1, 1, 1, 0, 1499), (1, 1, 5, 1499, 2999)])
    code = main(["data", "summary", "dataset=uci_hapt", f"dataset.root={root}", "cache_dir=null"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("lanhar-fl: error:") and "Traceback" not in err
    assert "labels.txt, line 2" in err


def test_short_basicmotions_case(tmp_path):
    root = write_basicmotions(tmp_path, [("Walking", 100), ("Standing", 10)], [])
    with pytest.raises(DataError) as info:
        windows("basicmotions", root, "dataset.splits=[TRAIN]")
    err = info.value
    assert (err.path.name, err.line) == ("BasicMotions_TRAIN.ts", 12)
    assert "10 samples" in str(err) and "@seriesLength says 100" in str(err)


def test_unequal_case_without_series_length(tmp_path):
    root = write_basicmotions(tmp_path, [("Walking", 100), ("Standing", 90)], [])
    path = root / "BasicMotions_TRAIN.ts"
    write(path, path.read_text().replace("@seriesLength 100\n", ""))
    with pytest.raises(DataError) as info:
        windows("basicmotions", root, "dataset.splits=[TRAIN]")
    assert info.value.line == 11 and "first case (line 10)" in str(info.value)


# ---------------------------------------------------------------- windows cache


def test_cache_misses_on_a_same_size_edit_with_restored_mtime(tmp_path):
    root = hapt(tmp_path / "data", [BAD], "1e30")
    cache = tmp_path / "cache"
    cfg = load_config(["dataset=uci_hapt", f"dataset.root={root}", f"cache_dir={cache}"])
    first = load_dataset_windows(cfg)
    again = load_dataset_windows(cfg)  # from the cache: counters survive it
    assert len(list((cache / "windows").glob("*.npz"))) == 1
    assert again.masked == {"impossible_values": 1} and np.array_equal(again.data, first.data)
    assert first.class_counts()["stand"] == 22 and first.class_counts()["sit"] == 0

    labels = root / "RawData" / "labels.txt"
    stat = labels.stat()
    text = labels.read_text()
    labels.write_text(text.replace("1 1 5 1500", "1 1 4 1500"))  # stand -> sit, same size
    os.utime(labels, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert labels.stat().st_size == stat.st_size and labels.stat().st_mtime_ns == stat.st_mtime_ns
    edited = load_dataset_windows(cfg)
    assert edited.class_counts()["sit"] == 22 and edited.class_counts()["stand"] == 0
