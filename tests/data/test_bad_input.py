"""Bad input: every problem is a DataError naming the file (and line), or a counted drop."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from _layouts import (
    edit_line,
    recordings,
    windows,
    wisdm_records,
    write,
    write_basicmotions,
    write_hapt,
    write_hhar,
    write_motionsense,
    write_shoaib,
    write_uci_har,
    write_wisdm,
)

from lanhar_fl.cli import main
from lanhar_fl.data.errors import DataError


def hapt(root: Path, samples: int = 700, gz: bool = False) -> Path:
    """One experiment (user 1) with one walking segment over samples 0-639 (9 windows)."""
    return write_hapt(root, {1: (1, samples)}, [(1, 1, 1, 0, 639)], gz=gz)


def acc_file(root: Path) -> Path:
    return root / "RawData" / "acc_exp01_user01.txt"


def raises(name: str, root: Path | None, *overrides: str) -> DataError:
    with pytest.raises(DataError) as info:
        windows(name, root, *overrides)
    return info.value


# ---------------------------------------------------------------- folders and files


def test_missing_folder_cli(tmp_path, capsys):
    code = main(["data", "summary", "dataset=uci_hapt", f"dataset.root={tmp_path / 'nope'}"])
    err = capsys.readouterr().err
    assert code == 2 and "does not exist" in err and "nope" in err and "Traceback" not in err


def test_root_not_set():
    assert "dataset.root" in str(raises("uci_hapt", None))


def test_basicmotions_without_root_or_package(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    err = raises("basicmotions", None)
    assert "aeon" in str(err) and "dataset.root" in str(err)


def test_folder_without_dataset(tmp_path):
    err = raises("uci_hapt", tmp_path)
    assert err.path == tmp_path and "RawData/labels.txt" in str(err)


def _drop(path: Path) -> Path:
    path.unlink()
    return path


MISSING = {
    "uci_hapt": lambda r: _drop(write_hapt(r, {1: (1, 300)}, [(1, 1, 1, 0, 199)])
                                / "RawData" / "gyro_exp01_user01.txt"),
    "uci_har": lambda r: _drop(write_uci_har(r, {"train": [(1, 1, False)]})
                               / "UCI HAR Dataset" / "train" / "y_train.txt"),
    "hhar": lambda r: _drop(write_hhar(r, [("a", "s3", "s3_1")], [(0, 5, "walk")])
                            / "Phones_gyroscope.csv"),
    "wisdm": lambda r: r / "WISDM_ar_v1.1_raw.txt",
    "basicmotions": lambda r: _drop(write_basicmotions(r, [("Walking", 100)], [])
                                    / "BasicMotions_TEST.ts"),
}


@pytest.mark.parametrize("name", sorted(MISSING))
def test_missing_required_file(tmp_path, name):
    expected = MISSING[name](tmp_path)
    err = raises(name, tmp_path)
    assert err.path == expected and "missing" in str(err)


@pytest.mark.parametrize("name", ["motionsense", "shoaib"])
def test_empty_folder(tmp_path, name):
    err = raises(name, tmp_path)
    assert err.path == tmp_path


# ---------------------------------------------------------------- damaged files


def test_truncated_gzip(tmp_path):
    root = hapt(tmp_path, gz=True)
    path = root / "RawData" / "acc_exp01_user01.txt.gz"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    err = raises("uci_hapt", root)
    assert err.path == path and "truncated" in str(err)


def test_not_gzip(tmp_path):
    root = hapt(tmp_path, gz=True)
    path = root / "RawData" / "gyro_exp01_user01.txt.gz"
    path.write_bytes(b"not gzip at all")
    assert raises("uci_hapt", root).path == path


def test_truncated_last_line(tmp_path):
    root = hapt(tmp_path)
    edit_line(acc_file(root), 700, "9.1e-01 -1.1e-01")
    err = raises("uci_hapt", root)
    assert (err.path, err.line) == (acc_file(root), 700) and "found 2" in str(err)


def test_empty_file(tmp_path):
    root = hapt(tmp_path)
    acc_file(root).write_text("")
    err = raises("uci_hapt", root)
    assert err.path == acc_file(root) and "no data rows" in str(err)


@pytest.mark.parametrize("value", ["abc", "1.0e", "--"])
def test_non_numeric_value(tmp_path, value):
    root = hapt(tmp_path)
    edit_line(acc_file(root), 5, f"1.0 {value} 0.5")
    err = raises("uci_hapt", root)
    assert (err.path, err.line) == (acc_file(root), 5) and repr(value) in str(err)


def test_non_numeric_csv(tmp_path):
    root = write_hhar(tmp_path, [("a", "s3", "s3_1")], [(0, 5, "walk")])
    path = root / "Phones_accelerometer.csv"
    fields = path.read_text().splitlines()[9].split(",")
    fields[4] = "x1"
    edit_line(path, 10, ",".join(fields))
    err = raises("hhar", root)
    assert (err.path, err.line) == (path, 10) and "'x1'" in str(err)


def test_garbage_bytes(tmp_path):
    root = hapt(tmp_path)
    path = acc_file(root)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = b"\xff\xfe\x00 1 2\n"
    path.write_bytes(b"".join(lines))
    err = raises("uci_hapt", root)
    assert (err.path, err.line) == (path, 3)


# ---------------------------------------------------------------- NaN rows


def _summary(capsys, root: Path) -> dict:
    assert main(["data", "summary", "dataset=uci_hapt", f"dataset.root={root}",
                 "cache_dir=null"]) == 0
    return json.loads(capsys.readouterr().out)


def test_short_nan_gap_is_repaired(tmp_path, capsys):
    root = hapt(tmp_path)
    for line in (101, 102, 103):
        edit_line(acc_file(root), line, "nan nan nan")
    out = _summary(capsys, root)
    assert out["windows"] == 9 and out["dropped_windows"] == {}


def test_long_nan_gap_drops_windows(tmp_path, capsys):
    root = hapt(tmp_path)
    gyro = root / "RawData" / "gyro_exp01_user01.txt"
    for line in range(301, 351):  # samples 300-349: windows starting at 192, 256, 320
        edit_line(gyro, line, "NaN NaN NaN")
    out = _summary(capsys, root)
    assert out["windows"] == 6 and out["dropped_windows"] == {"non_finite_gap": 3}


# ---------------------------------------------------------------- labels and lengths


def test_segment_past_end(tmp_path):
    root = write_hapt(tmp_path, {1: (1, 700), 2: (2, 400)},
                      [(1, 1, 1, 0, 639), (2, 2, 4, 100, 400)])
    err = raises("uci_hapt", root)
    assert (err.path, err.line) == (root / "RawData" / "labels.txt", 2)
    assert "400 samples" in str(err)


def test_segment_of_other_user(tmp_path):
    root = write_hapt(tmp_path, {1: (1, 700)}, [(1, 3, 1, 0, 639)])
    err = raises("uci_hapt", root)
    assert (err.path.name, err.line) == ("labels.txt", 1) and "user 1" in str(err)


def test_acc_gyro_length_mismatch(tmp_path):
    root = hapt(tmp_path)
    edit_line(root / "RawData" / "gyro_exp01_user01.txt", 700, None)
    err = raises("uci_hapt", root)
    assert "acc_exp01_user01.txt" in str(err) and "gyro_exp01_user01.txt" in str(err)
    assert "700" in str(err) and "699" in str(err)


def test_uci_har_row_count_mismatch(tmp_path):
    root = write_uci_har(tmp_path, {"train": [(1, 1, False), (1, 1, True)]})
    subjects = root / "UCI HAR Dataset" / "train" / "subject_train.txt"
    subjects.write_text("1\n")
    err = raises("uci_har", root)
    assert "subject_train.txt" in str(err) and err.path.name == "total_acc_x_train.txt"


def test_unknown_hapt_activity(tmp_path):
    root = write_hapt(tmp_path, {1: (1, 700)}, [(1, 1, 1, 0, 99), (1, 1, 13, 100, 639)])
    err = raises("uci_hapt", root)
    assert (err.path.name, err.line) == ("labels.txt", 2)
    assert "'13'" in str(err) and "dataset.labels" in str(err)


def test_unknown_label_can_be_mapped(tmp_path):
    root = write_hapt(tmp_path, {1: (1, 700)}, [(1, 1, 1, 0, 99), (1, 1, 13, 100, 639)])
    w = windows("uci_hapt", root, "+dataset.labels.13=jump")
    assert w.class_counts()["jump"] == 7


def test_unknown_hhar_label(tmp_path):
    root = write_hhar(tmp_path, [("a", "s3", "s3_1")], [(0, 5, "walk"), (5, 8, "jump")])
    err = raises("hhar", root)
    assert err.path.name == "Phones_accelerometer.csv" and err.line == 502
    assert "'jump'" in str(err)


def test_unknown_basicmotions_label(tmp_path):
    root = write_basicmotions(tmp_path, [("Walking", 100), ("Standing", 100)], [])
    err = raises("basicmotions", root, "~dataset.labels.Standing", "dataset.splits=[TRAIN]")
    assert (err.path.name, err.line) == ("BasicMotions_TRAIN.ts", 12) and "'Standing'" in str(err)


def test_undeclared_ts_class(tmp_path):
    root = write_basicmotions(tmp_path, [("Walking", 100), ("Jumping", 100)], [])
    err = raises("basicmotions", root, "dataset.splits=[TRAIN]")
    assert err.line == 12 and "@classLabel" in str(err)


# ---------------------------------------------------------------- column counts


def test_wrong_column_count_whitespace(tmp_path):
    root = hapt(tmp_path)
    edit_line(acc_file(root), 1, "1.0 0.0 0.5 0.1")
    err = raises("uci_hapt", root)
    assert (err.path, err.line) == (acc_file(root), 1) and "expected 3 columns, found 4" in str(err)


def test_wrong_column_count_csv(tmp_path):
    root = write_motionsense(tmp_path, [("wlk", 7, 1, 300)])
    path = root / "A_DeviceMotion_data" / "wlk_7" / "sub_1.csv"
    edit_line(path, 4, path.read_text().splitlines()[3] + ",1.0")
    err = raises("motionsense", root)
    assert (err.path, err.line) == (path, 4) and "expected 13 columns, found 14" in str(err)


def test_missing_csv_column(tmp_path):
    root = write_motionsense(tmp_path, [("wlk", 7, 1, 300)])
    path = root / "A_DeviceMotion_data" / "wlk_7" / "sub_1.csv"
    edit_line(path, 1, path.read_text().splitlines()[0].replace("gravity.z", "gz"))
    err = raises("motionsense", root)
    assert (err.path, err.line) == (path, 1) and "gravity.z" in str(err)


def test_shoaib_unknown_position(tmp_path):
    root = write_shoaib(tmp_path, 1, [("walking", 300)])
    err = raises("shoaib", root, "dataset.positions=[Ankle]")
    assert err.line == 1 and "Ankle" in str(err)


def test_ts_wrong_dimensions(tmp_path):
    root = write_basicmotions(tmp_path, [("Walking", 100)], [("Running", 100)])
    path = root / "BasicMotions_TEST.ts"
    text = path.read_text().splitlines()
    text[-1] = text[-1].split(":", 1)[1]  # drop the first dimension
    write(path, "\n".join(text) + "\n")
    err = raises("basicmotions", root)
    assert (err.path, err.line) == (path, len(text)) and "found 5" in str(err)


# ---------------------------------------------------------------- WISDM strictness


def test_wisdm_garbage_strict_and_lenient(tmp_path):
    lines = wisdm_records(1, "Walking", 300, 0.0)
    lines[41] = "1,Walking,2050000000,abc,1.0,2.0;"
    root = write_wisdm(tmp_path, lines)
    err = raises("wisdm", root)
    assert (err.path.name, err.line) == ("WISDM_ar_v1.1_raw.txt", 42) and "'abc'" in str(err)
    recs = recordings("wisdm", root, "dataset.strict=false")
    assert sum(len(r) for r in recs) == 299


def test_wisdm_unknown_activity(tmp_path):
    root = write_wisdm(tmp_path, wisdm_records(1, "Walking", 50, 0.0)
                       + wisdm_records(1, "Dancing", 50, 2.5))
    err = raises("wisdm", root)
    assert err.line == 51 and "'Dancing'" in str(err)


def test_gzip_of_csv_reads(tmp_path):
    """Any loader file may be gzip-compressed (here HHAR's)."""
    root = write_hhar(tmp_path, [("a", "s3", "s3_1")], [(0, 5, "walk")])
    for name in ("Phones_accelerometer.csv", "Phones_gyroscope.csv"):
        path = root / name
        (root / f"{name}.gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    assert len(windows("hhar", root)) == 2
