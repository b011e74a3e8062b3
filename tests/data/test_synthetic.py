"""The embedded synthetic dataset: determinism, metadata, physics, config and CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import shared_dataset

from lanhar_fl.cli import main
from lanhar_fl.config import ConfigError, load_config
from lanhar_fl.data.labels import CANONICAL_LABELS
from lanhar_fl.data.loaders.synthetic import load
from lanhar_fl.data.preprocess import (
    STANDARD_GRAVITY,
    PreprocessConfig,
    recordings_to_windows,
    to_si,
)
from lanhar_fl.data.recording import UNLABELLED, Recording
from lanhar_fl.data.registry import load_windows
from lanhar_fl.data.synthetic import PLACEMENTS, _rotate, _turn, generate_phones
from lanhar_fl.semantics.features import compute_features


@pytest.fixture(scope="module")
def phones() -> list[Recording]:
    return generate_phones(24, 6.0, seed=21)


def si(rec: Recording) -> tuple[np.ndarray, np.ndarray | None]:
    gyro = None if rec.gyro is None else rec.gyro.astype(np.float64)
    return to_si(rec.acc.astype(np.float64), rec.acc_unit, gyro, rec.gyro_unit)


def bouts(rec: Recording, activity: str) -> list[tuple[int, int]]:
    """(start, end) of each labelled run of ``activity``."""
    mask = np.concatenate([[0], (rec.labels == rec.label_names.index(activity)), [0]])
    edges = np.diff(mask.astype(np.int8))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def dominant_hz(x: np.ndarray, rate_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1.0 / rate_hz)
    spectrum[freqs < 0.5] = 0.0
    return float(freqs[spectrum.argmax()])


def gravity_direction(acc: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    v = np.concatenate([acc[s:e] for s, e in spans]).mean(axis=0)
    return v / np.linalg.norm(v)


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b, -1.0, 1.0))))


# --- determinism and metadata -------------------------------------------------------------

def test_deterministic_per_seed():
    a, b, c = (generate_phones(5, 1.0, seed=s) for s in (11, 11, 12))
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.acc, y.acc) and np.array_equal(x.labels, y.labels)
        assert (x.gyro is None and y.gyro is None) or np.array_equal(x.gyro, y.gyro)
        assert (x.device, x.placement, x.rate_hz, x.acc_unit) == \
            (y.device, y.placement, y.rate_hz, y.acc_unit)
    assert any(len(x.acc) != len(z.acc) or not np.array_equal(x.acc, z.acc)
               for x, z in zip(a, c, strict=True))


def test_metadata_says_synthetic_and_mixes_devices(phones):
    n = len(phones)
    assert [r.subject for r in phones] == list(range(n))
    assert [r.device for r in phones] == [f"synthetic-phone-{i:03d}" for i in range(n)]
    assert {r.placement for r in phones} == set(PLACEMENTS)
    assert {r.rate_hz for r in phones} <= {50.0, 100.0, 20.0, 25.0}
    assert len({r.rate_hz for r in phones}) >= 3
    assert sum(r.gyro is None for r in phones) == round(0.15 * n)
    assert sum(not r.gravity_included for r in phones) == round(0.15 * n)
    assert {r.acc_unit for r in phones} == {"g", "m/s^2"}
    assert {r.gyro_unit for r in phones} == {"deg/s", "rad/s"}
    for r in phones:
        assert r.label_names == CANONICAL_LABELS
        assert len(r) == round(6 * 60 * r.rate_hz)
        assert r.labels.min() >= UNLABELLED and r.labels.max() < len(r.label_names)
        assert np.isfinite(r.acc).all() and (r.gyro is None or np.isfinite(r.gyro).all())
        assert 0 < np.mean(r.labels == UNLABELLED) < 0.15  # short transitions only
        assert "synthetic" in r.source
    # 6 minutes of 20-50 s bouts cycle through every activity on every phone
    assert all(set(np.unique(r.labels[r.labels >= 0])) == set(range(8)) for r in phones)


def test_options_restrict_activities_placements_and_devices():
    recs = generate_phones(6, 1.0, seed=3, activities=["walk", "sit"], placements=["wrist"],
                           rates_hz=[25], acc_only_fraction=1.0, gravity_removed_fraction=0.0,
                           g_unit_fraction=0.0)
    for r in recs:
        assert r.label_names == ("walk", "sit") and r.placement == "wrist" and r.rate_hz == 25
        assert r.gyro is None and r.gravity_included and r.acc_unit == "m/s^2"
        assert set(np.unique(r.labels)) == {UNLABELLED, 0, 1}


@pytest.mark.parametrize("kwargs, match", [
    ({"activities": ["walk", "swim"]}, "activities"),
    ({"placements": []}, "placements"),
    ({"acc_only_fraction": 1.5}, "acc_only_fraction"),
    ({"rates_hz": [0]}, "rates_hz"),
    ({"colour": "red"}, "colour"),
    ({"num_phones": 0}, "num_phones"),
    ({"minutes_per_phone": 0.1}, "minutes_per_phone"),
])
def test_bad_options_name_the_setting(kwargs, match):
    args = {"num_phones": 2, "minutes_per_phone": 1.0, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        generate_phones(**args)


# --- physics ------------------------------------------------------------------------------

def test_rotation_chains_match_matrix_products():
    rng = np.random.default_rng(1)
    n = 7

    def matrices(axis: int, angle: np.ndarray) -> np.ndarray:
        c, s = np.cos(angle), np.sin(angle)
        i, j = ((1, 2), (2, 0), (0, 1))[axis]
        m = np.zeros((len(angle), 3, 3))
        m[:, axis, axis], m[:, i, i], m[:, j, j], m[:, i, j], m[:, j, i] = 1, c, c, -s, s
        return m

    turns = [(axis, rng.normal(size=n)) for axis in (1, 2, 0, 2)]
    product = np.broadcast_to(np.eye(3), (n, 3, 3))
    for axis, angle in turns:
        product = product @ matrices(axis, angle)
    v = rng.normal(size=(n, 4, 3))
    chain = [_turn(axis, angle) for axis, angle in turns]
    assert np.allclose(_rotate(v, chain), np.einsum("sij,skj->ski", product, v))
    assert np.allclose(_rotate(v, chain, inverse=True), np.einsum("sji,skj->ski", product, v))


def test_gravity_magnitude_and_linear_acceleration(phones):
    for r in phones:
        acc, _ = si(r)
        still = [span for act in ("sit", "stand", "lie") for span in bouts(r, act)]
        mag = np.linalg.norm(np.concatenate([acc[s:e] for s, e in still]), axis=1).mean()
        if r.gravity_included:
            assert abs(mag - STANDARD_GRAVITY) < 0.6
        else:
            assert mag < 0.8


def test_postures_rotate_gravity(phones):
    with_gravity = [r for r in phones if r.gravity_included]
    for r in with_gravity:
        acc, _ = si(r)
        stand = gravity_direction(acc, bouts(r, "stand"))
        assert angle_deg(stand, gravity_direction(acc, bouts(r, "lie"))) > 60  # lying: ~90 deg
        sit = angle_deg(stand, gravity_direction(acc, bouts(r, "sit")))
        if r.placement == "pocket":
            assert sit > 60  # the thigh is horizontal when sitting
        if r.placement == "waist":
            assert 3 < sit < 40  # the pelvis tilts back a little


def test_gait_rhythm_and_intensity(phones):
    step_hz: dict[str, list[float]] = {"walk": [], "run": [], "upstairs": []}
    for r in phones:
        acc, _ = si(r)
        mag = np.linalg.norm(acc, axis=1)
        for act, found in step_hz.items():
            found += [dominant_hz(mag[s:e], r.rate_hz) for s, e in bouts(r, act)
                      if r.placement == "waist"]
        walk_std = np.mean([mag[s:e].std() for s, e in bouts(r, "walk")])
        run_std = np.mean([mag[s:e].std() for s, e in bouts(r, "run")])
        still_std = np.mean([mag[s:e].std() for s, e in bouts(r, "sit")])
        assert run_std > 1.5 * walk_std > 5 * still_std
    assert 1.6 < np.median(step_hz["walk"]) < 2.3
    assert 2.4 < np.median(step_hz["run"]) < 3.3
    assert np.median(step_hz["upstairs"]) < np.median(step_hz["walk"])


def test_downstairs_has_sharper_impacts_than_upstairs(phones):
    def jerk_p99(r: Recording, act: str) -> float:
        mag = np.linalg.norm(si(r)[0], axis=1)
        return float(np.mean([np.percentile(np.abs(np.diff(mag[s:e])) * r.rate_hz, 99)
                              for s, e in bouts(r, act)]))

    body = [r for r in phones if r.placement in ("waist", "pocket")]
    assert body and all(jerk_p99(r, "downstairs") > jerk_p99(r, "upstairs") for r in body)


def test_rotation_rates_follow_limb_swing(phones):
    def gyro_rms(placement: str, act: str) -> float:
        vals = []
        for r in phones:
            if r.placement == placement and r.gyro is not None:
                g = si(r)[1]
                vals += [np.sqrt(np.mean(np.sum((g[s:e] - g[s:e].mean(0)) ** 2, axis=1)))
                         for s, e in bouts(r, act)]
        return float(np.median(vals))

    for limb in ("pocket", "wrist", "arm"):
        assert gyro_rms(limb, "walk") > 1.5 * gyro_rms("waist", "walk")
    assert gyro_rms("pocket", "bike") > 1.0 > 5 * gyro_rms("pocket", "sit")
    assert gyro_rms("pocket", "bike") > 5 * gyro_rms("wrist", "bike")
    assert gyro_rms("pocket", "run") > gyro_rms("pocket", "walk")


def test_activities_are_separable_but_not_trivially():
    """A linear classifier on a few window features, trained on other phones."""
    recs = generate_phones(40, 2.0, seed=5)
    w = recordings_to_windows(recs, PreprocessConfig(), "synthetic", synthetic=True)
    acc = w.data[:, :, :3].astype(np.float64)
    mag = np.linalg.norm(acc, axis=2)
    horiz = np.linalg.norm(acc[:, :, :2], axis=2)
    spectrum = np.abs(np.fft.rfft(acc[:, :, 2] - acc[:, :, 2].mean(1, keepdims=True), axis=1))
    feats = np.stack([
        np.log(mag.std(1) + 1e-3), np.log(acc[:, :, 2].std(1) + 1e-3),
        np.log(horiz.std(1) + 1e-3), spectrum[:, 1:].argmax(1).astype(float),
        np.log(np.abs(np.diff(acc, axis=1)).mean((1, 2)) + 1e-3),
        np.log(np.abs(acc).max((1, 2)) + 1e-3), mag.mean(1)], axis=1)
    train = w.subjects < 28
    feats = (feats - feats[train].mean(0)) / (feats[train].std(0) + 1e-9)
    x = np.hstack([feats, np.ones((len(feats), 1))])
    onehot = np.eye(len(w.class_names))[w.labels]
    weights = np.zeros((x.shape[1], len(w.class_names)))
    for _ in range(600):  # softmax regression, plain gradient descent
        z = x[train] @ weights
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        weights -= 0.5 * x[train].T @ (p - onehot[train]) / train.sum()
    accuracy = np.mean((x[~train] @ weights).argmax(1) == w.labels[~train])
    assert 0.45 < accuracy < 0.97


WAIST_50HZ = ["label_space=four_class", "dataset.placements=[waist]", "dataset.rates_hz=[50]",
              "dataset.acc_only_fraction=0", "dataset.gravity_removed_fraction=0"]


def test_waist_gait_features_are_in_the_range_of_real_waist_phones():
    """Medians of UCI HAPT users 1-10 (waist, 50 Hz; `lanhar-fl data compare`): walk jerk rms
    38 m/s^3 (below 5 Hz), horizontal rms 2.2 m/s^2, heading change 4 deg, step interval CV
    0.075; stairs heading change 52-56 deg."""
    w = load_windows(load_config([*WAIST_50HZ, "dataset.num_phones=6",
                                  "dataset.minutes_per_phone=3"]))
    table = compute_features(w)

    def median(cls: str, feature: str) -> float:
        col = table.column(feature)[w.labels == w.class_names.index(cls)]
        return float(np.nanmedian(col))

    assert 25 < median("walk", "jerk_rms") < 60
    assert 0.04 < median("walk", "ibi_cv") < 0.12
    assert 1.6 < median("walk", "horiz_rms") < 3.0
    assert median("walk", "net_rotation") < 20 < median("upstairs", "net_rotation")
    assert median("downstairs", "net_rotation") > 20
    assert median("walk", "harmonic_ratio") < 0.85


def test_waist_phones_resemble_uci_hapt_public_users():
    from lanhar_fl.data.compare import Side, compare_windows

    root = shared_dataset("uci_hapt")
    real = load_windows(load_config(["dataset=uci_hapt", f"dataset.root={root}",
                                     "label_space=four_class"]))
    real = real.subset(np.flatnonzero(real.subjects <= 10))
    synthetic = load_windows(load_config(WAIST_50HZ))
    result = compare_windows(Side("synthetic", synthetic), Side("uci_hapt", real))
    assert result["classes"] == ["walk", "still", "upstairs", "downstairs"]
    assert result["mean_ks"] < 0.40  # 0.58 before calibration, 0.32 after


# --- config, registry, CLI ----------------------------------------------------------------

def test_loader_takes_the_top_level_seed_and_options():
    small = ["dataset.num_phones=3", "dataset.minutes_per_phone=1"]
    cfg = load_config([*small, "seed=4"])
    assert cfg.dataset.seed == 4
    recs = load(None, cfg.dataset)
    direct = generate_phones(3, 1.0, seed=4)
    assert all(np.array_equal(a.acc, b.acc) for a, b in zip(recs, direct, strict=True))
    explicit = load(None, load_config([*small, "seed=9", "dataset.seed=4"]).dataset)
    assert all(np.array_equal(a.acc, b.acc) for a, b in zip(recs, explicit, strict=True))
    other = load(None, load_config([*small, "seed=5"]).dataset)
    assert not np.array_equal(recs[0].acc[:100], other[0].acc[:100])
    with pytest.raises(ConfigError, match="dataset.activities"):
        load(None, load_config([*small, "dataset.activities=[walk,swim]"]).dataset)


def test_registry_marks_windows_synthetic():
    cfg = load_config(["dataset.num_phones=5", "dataset.minutes_per_phone=1"])
    w = load_windows(cfg)
    assert w.synthetic and w.dataset == "synthetic"
    assert sorted(set(w.subjects.tolist())) == [0, 1, 2, 3, 4]
    assert all(d.startswith("synthetic-phone-") for d in w.devices)
    assert set(w.placements) <= set(PLACEMENTS)
    assert np.isfinite(w.data[w.has_gyro]).all()
    assert np.isnan(w.data[~w.has_gyro][:, :, 3:]).all()


def test_data_summary_cli_needs_no_files(capsys):
    code = main(["data", "summary", "dataset=synthetic", "dataset.num_phones=4",
                 "dataset.minutes_per_phone=1.5"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["dataset"] == "synthetic" and summary["synthetic"] is True
    assert summary["subjects"] == 4 and summary["windows"] > 0
    assert set(summary["classes"]) == set(CANONICAL_LABELS)
    assert summary["windows"] == sum(summary["classes"].values())
    assert summary["sampling_rate_hz"] == 50.0
    assert summary["channels"] == ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
