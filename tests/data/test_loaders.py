"""Dataset loaders: the real shared data (HAPT, BasicMotions) and tiny files in every official
layout (windows, labels, units, gyro and gravity flags)."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from _layouts import (
    RAW,
    G,
    config,
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
from conftest import shared_dataset

from lanhar_fl.cli import main
from lanhar_fl.data.recording import UNLABELLED
from lanhar_fl.data.registry import load_windows

SIX = ["walk", "upstairs", "downstairs", "sit", "stand", "lie"]


def summary(capsys, *args: str) -> dict:
    assert main(["data", "summary", *args]) == 0
    return json.loads(capsys.readouterr().out)


# ---------------------------------------------------------------- real data


@pytest.fixture(scope="session")
def hapt(tmp_path_factory):
    """(root, cache overrides): HAPT is parsed once per session, into a session-wide cache."""
    root = shared_dataset("uci_hapt")
    args = ["dataset=uci_hapt", f"dataset.root={root}",
            f"cache_dir={tmp_path_factory.mktemp('hapt-cache')}"]
    from lanhar_fl.config import load_config

    return root, args, load_windows(load_config(args))


@pytest.mark.slow
def test_real_hapt_windows(hapt):
    _, _, w = hapt
    assert len(w) == 10_411
    assert len(set(w.subjects.tolist())) == 30
    assert list(w.class_names) == SIX
    assert w.sampling_rate_hz == 50.0 and w.source_rates_hz == (50.0,)
    assert w.recordings == 61 and w.has_gyro.all() and set(w.placements) == {"waist"}


@pytest.mark.slow
def test_real_hapt_summary_cli(hapt, capsys):
    _, args, _ = hapt
    out = summary(capsys, *args)  # same settings: read back from the session cache
    assert out["windows"] == 10_411 and out["subjects"] == 30
    assert out["sampling_rate_hz"] == 50.0
    assert out["classes"] == {"walk": 1722, "upstairs": 1544, "downstairs": 1407, "sit": 1801,
                              "stand": 1979, "lie": 1958}
    assert out["dropped_windows"] == {}


def test_real_hapt_recording_units(tmp_path):
    raw = shared_dataset("uci_hapt") / "RawData"
    for name in ("acc_exp01_user01.txt.gz", "gyro_exp01_user01.txt.gz"):  # experiment 1 only
        (tmp_path / name).symlink_to(raw / name)
    rows = [r for r in (raw / "labels.txt").read_text().splitlines() if r.startswith("1 ")]
    write(tmp_path / "labels.txt", "\n".join(rows) + "\n")
    rec = recordings("uci_hapt", tmp_path)[0]  # RawData itself as root works too
    assert (rec.acc_unit, rec.gyro_unit, rec.rate_hz, rec.subject) == ("g", "rad/s", 50.0, 1)
    np.testing.assert_allclose(rec.acc[0], [0.91805559, -0.1125, 0.50972225], rtol=1e-7)
    np.testing.assert_allclose(rec.gyro[0], [-0.05497787, -0.06963864, -0.03084869], rtol=1e-6)
    # labels.txt's first row is `1 1 5 250 1232`, read 0-based and inclusive
    assert rec.labels[249] == UNLABELLED and rec.labels[1233] != rec.labels[1232]
    assert {rec.label_names[c] for c in rec.labels[250:1233]} == {"stand"}


def test_real_basicmotions_summary(capsys):
    root = shared_dataset("basicmotions_uea")
    out = summary(capsys, "dataset=basicmotions", f"dataset.root={root}")
    assert out["classes"] == {"walk": 120, "stand": 120, "run": 120, "badminton": 120}
    assert out["recordings"] == 80 and out["subjects"] == 80 and out["windows"] == 480
    assert out["source_sampling_rates_hz"] == [10.0] and out["sampling_rate_hz"] == 50.0
    assert out["gravity_removed_windows"] == 480 and out["placements"] == ["wrist"]


# ---------------------------------------------------------------- UCI HAPT (tiny)

HAPT_EXPERIMENTS = {1: (1, 800), 2: (2, 700)}
HAPT_SEGMENTS = [(1, 1, 1, 0, 299), (1, 1, 7, 300, 399), (1, 1, 4, 400, 655),
                 (2, 2, 6, 100, 483), (2, 2, 2, 484, 699)]


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("raw_root", [False, True])
def test_hapt_layout(tmp_path, gz, raw_root):
    root = write_hapt(tmp_path, HAPT_EXPERIMENTS, HAPT_SEGMENTS, gz=gz)
    w = windows("uci_hapt", root / "RawData" if raw_root else root)
    assert w.class_counts() == {"walk": 3, "upstairs": 2, "downstairs": 0, "sit": 3,
                                "stand": 0, "lie": 5}
    assert sorted(set(w.subjects.tolist())) == [1, 2]
    assert w.has_gyro.all() and w.gravity_removed.all() and w.gravity_aligned.all()


def test_hapt_units_and_transitions(tmp_path):
    root = write_hapt(tmp_path, HAPT_EXPERIMENTS, HAPT_SEGMENTS)
    w = windows("uci_hapt", root, *RAW)
    assert not w.gravity_removed.any()
    np.testing.assert_allclose(w.data[:, :, 2].mean(axis=1), G, atol=0.3)  # 1 g -> m/s^2
    assert np.abs(w.data[:, :, 3:]).max() < 0.11  # rad/s kept as they are
    rec = recordings("uci_hapt", root)[0]
    assert (rec.labels[300:400] == UNLABELLED).all() and rec.gravity_included
    rec = recordings("uci_hapt", root, "dataset.include_transitions=true")[0]
    assert {rec.label_names[c] for c in rec.labels[300:400]} == {"stand_to_sit"}


def test_hapt_one_based_labels(tmp_path):
    root = write_hapt(tmp_path, {1: (1, 300)}, [(1, 1, 1, 1, 300)])
    rec = recordings("uci_hapt", root, "dataset.label_index_base=1")[0]
    assert (rec.labels == 0).all()


# ---------------------------------------------------------------- UCI-HAR (windowed)

HAR_SPLITS = {
    "train": [(1, 1, False), (1, 1, True), (1, 1, True), (1, 4, False), (3, 4, True)],
    "test": [(2, 6, False), (2, 6, True)],
}


def test_uci_har_stitched(tmp_path):
    root = write_uci_har(tmp_path, HAR_SPLITS)
    recs = recordings("uci_har", root)
    assert [len(r) for r in recs] == [256, 128, 128, 192]  # 3 rows joined; subject 3 apart
    w = windows("uci_har", root, *RAW)
    assert len(w) == 7 and w.recordings == 4  # one window per released row, none duplicated
    assert w.class_counts() == {"walk": 3, "upstairs": 0, "downstairs": 0, "sit": 2,
                                "stand": 0, "lie": 2}
    assert sorted(set(w.subjects.tolist())) == [1, 2, 3]
    rows = np.loadtxt(root / "UCI HAR Dataset/train/Inertial Signals/total_acc_x_train.txt")
    np.testing.assert_allclose(w.data[:3, :, 0], rows[:3] * G, rtol=1e-6)


def test_uci_har_unstitched(tmp_path):
    root = write_uci_har(tmp_path, HAR_SPLITS)
    w = windows("uci_har", root / "UCI HAR Dataset", "dataset.stitch=false")
    assert len(w) == 7 and w.recordings == 7 and w.has_gyro.all()


# ---------------------------------------------------------------- HHAR

PHONES = [("a", "nexus4", "nexus4_1"), ("b", "s3", "s3_1")]
SPANS = [(0.0, 10.0, "walk"), (10.0, 12.0, "null"), (14.0, 20.0, "sit")]


def test_hhar_layout(tmp_path):
    root = write_hhar(tmp_path, PHONES, SPANS)
    w = windows("hhar", root, *RAW)
    assert w.class_counts()["walk"] == 12 and w.class_counts()["sit"] == 6 and len(w) == 18
    assert w.recordings == 4  # the 2 s gap cuts each phone's stream
    assert sorted(set(w.subjects.tolist())) == [1, 2]
    assert set(w.devices) == {"nexus4_1", "s3_1"} and w.source_rates_hz == (100.0,)
    assert w.has_gyro.all() and not w.gravity_removed.any()
    np.testing.assert_allclose(w.data[:, :, 2].mean(axis=1), G, atol=0.3)  # m/s^2 as read


def test_hhar_rate_and_device_filter(tmp_path):
    root = write_hhar(tmp_path, PHONES, SPANS, gyro_rate=50.0)
    w = windows("hhar", root, "dataset.devices=[s3]")
    assert w.source_rates_hz == (50.0,)  # the slower sensor sets the grid
    assert set(w.subjects.tolist()) == {2} and len(w) == 9


# ---------------------------------------------------------------- MotionSense


def test_motionsense_layout(tmp_path):
    root = write_motionsense(tmp_path, [("wlk", 7, 1, 400), ("wlk", 7, 2, 300),
                                        ("std", 6, 1, 256)])
    w = windows("motionsense", root, *RAW)
    assert w.class_counts()["walk"] == 8 and w.class_counts()["stand"] == 3 and len(w) == 11
    assert sorted(set(w.subjects.tolist())) == [1, 2] and set(w.placements) == {"front_pocket"}
    # iOS gravity (0, 0, -1) g + userAcceleration, negated to Android's sign, in m/s^2
    np.testing.assert_allclose(w.data[:, :, 2].mean(axis=1), G, atol=0.3)
    assert w.has_gyro.all() and not w.gravity_removed.any()
    rec = recordings("motionsense", root / "A_DeviceMotion_data", "dataset.android_sign=false")[0]
    assert rec.acc[:, 2].mean() == pytest.approx(-1.0, abs=0.05) and rec.acc_unit == "g"


# ---------------------------------------------------------------- Shoaib


def test_shoaib_layout(tmp_path):
    root = write_shoaib(tmp_path, 3, [("walking", 300), ("upsatirs", 200)])
    w = windows("shoaib", root, *RAW)
    assert w.recordings == 5 and len(w) == 25
    assert w.class_counts()["walk"] == 15 and w.class_counts()["upstairs"] == 10
    assert set(w.placements) == {"left_pocket", "right_pocket", "wrist", "upper_arm", "belt"}
    assert set(w.subjects.tolist()) == {3} and w.has_gyro.all()
    np.testing.assert_allclose(w.data[:, :, 2].mean(axis=1), G, atol=0.3)
    w = windows("shoaib", root, "dataset.positions=[Wrist]")
    assert w.recordings == 1 and set(w.placements) == {"wrist"}


# ---------------------------------------------------------------- WISDM


def wisdm_lines() -> list[str]:
    walk = wisdm_records(1, "Walking", 300, 100.0)
    jog = wisdm_records(1, "Jogging", 200, 115.0)  # continues the walk: one recording
    sit = wisdm_records(2, "Sitting", 260, 1000.0)
    jog[5] = jog[5][:-1] + ",;"  # trailing comma
    sit[7] = sit[7][:-1]  # no ';'
    return [*walk[:10], walk[10] + walk[11], *walk[12:], *jog, *sit,
            "", "2,Sitting,123,1.0,2.0,;", "2,Sitting;", ",,,,"]  # last three: malformed


def test_wisdm_layout(tmp_path, caplog):
    root = write_wisdm(tmp_path, wisdm_lines())
    w = windows("wisdm", root, *RAW)
    assert w.class_counts() == {"walk": 10, "run": 6, "upstairs": 0, "downstairs": 0,
                                "sit": 9, "stand": 0}
    assert w.recordings == 2 and w.source_rates_hz == (20.0,)
    assert not w.has_gyro.any() and np.isnan(w.data[:, :, 3:]).all()
    np.testing.assert_allclose(w.data[:, :, 2].mean(axis=1), G, atol=0.3)
    assert "skipped 3 malformed" in caplog.text


def test_wisdm_splits_at_gaps(tmp_path):
    lines = wisdm_records(1, "Walking", 200, 0.0) + wisdm_records(1, "Walking", 200, 30.0)
    recs = recordings("wisdm", write_wisdm(tmp_path, lines))
    assert [len(r) for r in recs] == [200, 200] and all(r.gyro is None for r in recs)


# ---------------------------------------------------------------- BasicMotions


def test_basicmotions_layout(tmp_path):
    root = write_basicmotions(tmp_path, [("Walking", 100), ("Standing", 100)],
                              [("Running", 100), ("Badminton", 100)])
    w = windows("basicmotions", root)
    assert len(w) == 24 and w.recordings == 4 and sorted(set(w.subjects.tolist())) == [1, 2, 3, 4]
    assert w.class_counts() == {"walk": 6, "stand": 6, "run": 6, "badminton": 6}
    assert w.gravity_removed.all() and not w.gravity_aligned.any()  # never had gravity
    assert w.source_rates_hz == (10.0,)


def test_basicmotions_from_installed_package(tmp_path, monkeypatch):
    site = tmp_path / "site"
    write(site / "aeon" / "__init__.py", "")
    write_basicmotions(site / "aeon" / "datasets" / "data" / "BasicMotions",
                       [("Walking", 100)], [("Running", 100)])
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    recs = recordings("basicmotions", None)
    assert len(recs) == 2 and recs[0].rate_hz == 10.0 and not recs[0].gravity_included


def test_dataset_configs_compose():
    for name in ("uci_hapt", "uci_har", "hhar", "motionsense", "shoaib", "wisdm",
                 "basicmotions"):
        cfg = config(name, None).dataset
        assert cfg.name == name and cfg.labels
        assert set(v for v in cfg.labels.values() if v) <= set(SIX) | {"run", "bike",
                                                                       "badminton"}
