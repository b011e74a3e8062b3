"""Splits: disjoint subjects, no held-out class on the training side, sealed target labels."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from lanhar_fl.config import ConfigError, config_dir, load_config
from lanhar_fl.data.labels import apply_label_space
from lanhar_fl.data.windows import Windows
from lanhar_fl.eval.metrics import validate_metrics_json
from lanhar_fl.eval.protocols import (
    Split,
    TargetWindows,
    check_split,
    cross_dataset,
    cross_user,
    make_split,
    new_activity,
    split_metrics,
    unlabelled,
)

UCI = ("walk", "upstairs", "downstairs", "sit", "stand", "lie")


def make_windows(classes=UCI, subjects=range(1, 11), per=3, dataset="uci_hapt", seed=0):
    """``per`` windows of every class for every subject (small random arrays)."""
    rng = np.random.default_rng(seed)
    labels = np.tile(np.repeat(np.arange(len(classes)), per), len(subjects))
    subj = np.repeat(np.asarray(list(subjects)), len(classes) * per)
    n = len(labels)
    return Windows(
        data=rng.normal(size=(n, 8, 6)).astype(np.float32), labels=labels.astype(np.int64),
        class_names=tuple(classes), subjects=subj.astype(np.int64), dataset=dataset,
        sampling_rate_hz=50.0, has_gyro=np.ones(n, bool), gravity_removed=np.ones(n, bool),
        gravity_aligned=np.ones(n, bool), placements=np.full(n, "waist"),
        devices=np.full(n, "phone"))


def subjects_of(w) -> set[int]:
    return set(np.unique(w.subjects).tolist())


def test_cross_user_subject_disjoint_and_deterministic():
    w = make_windows(subjects=range(1, 31))
    split = cross_user(w, test_subjects=list(range(22, 31)), val_fraction=0.15, seed=3)
    train, val, test = (subjects_of(x) for x in (split.train, split.val, split.test))
    assert test == set(range(22, 31))
    assert len(val) == 3 and not train & val and not (train | val) & test
    assert train | val == set(range(1, 22))
    assert split.info["val_subjects"] == sorted(val)
    check_split(split)
    again = cross_user(w, test_subjects=list(range(22, 31)), val_fraction=0.15, seed=3)
    assert np.array_equal(again.val.subjects, split.val.subjects)
    assert np.array_equal(again.train.data, split.train.data)
    others = {tuple(cross_user(w, list(range(22, 31)), seed=s).info["val_subjects"])
              for s in range(5)}
    assert len(others) > 1  # the seed chooses the validation subjects


def test_cross_user_default_fraction_and_errors():
    split = cross_user(make_windows(), seed=0)
    assert len(subjects_of(split.test)) == 3 and split.bank_classes == list(UCI)
    with pytest.raises(ConfigError, match="99"):
        cross_user(make_windows(), test_subjects=[99])
    with pytest.raises(ConfigError, match="both"):
        cross_user(make_windows(), test_subjects=[1, 2], train_subjects=[2, 3])


def test_target_labels_are_sealed():
    split = cross_user(make_windows(), test_subjects=[9, 10])
    test = split.test
    assert isinstance(test, TargetWindows)
    for name in ("labels", "label_names", "class_names", "class_counts"):
        assert not hasattr(test, name)
    with pytest.raises(AttributeError, match="reveal_labels_for_evaluation"):
        _ = test.labels
    with pytest.raises(AttributeError):
        test.labels = np.zeros(len(test))
    assert test.data.shape == (len(test), 8, 6) and len(test.subjects) == len(test)
    part = test.subset(np.arange(4))
    assert isinstance(part, TargetWindows) and not hasattr(part, "labels")
    revealed = test.reveal_labels_for_evaluation()
    assert revealed.labels.tolist() == make_windows().subset(
        np.isin(make_windows().subjects, [9, 10])).labels.tolist()
    assert split.reveal_test_labels().tolist() == revealed.labels.tolist()
    blind = unlabelled(test)
    assert not blind.has_labels and np.array_equal(blind.data, test.data)
    with pytest.raises(PermissionError):
        blind.reveal_labels_for_evaluation()
    with pytest.raises(PermissionError):
        unlabelled(make_windows()).subset([0]).reveal_labels_for_evaluation()
    sealed = pickle.loads(pickle.dumps(test))
    assert not hasattr(sealed, "labels") and len(sealed.reveal_labels_for_evaluation()) == len(test)


def assert_no_leak(split: Split, held_out):
    for part in (split.train, split.val):
        assert not set(held_out) & set(part.class_names)
        assert not set(held_out) & set(part.label_names)
    test_names = set(split.test.reveal_labels_for_evaluation().label_names)
    assert set(held_out) <= test_names and test_names - set(held_out)
    assert set(held_out) <= set(split.bank_classes) and set(held_out) <= set(split.new_classes)
    check_split(split)


def test_new_activity_cross_user():
    split = new_activity(make_windows(), ["upstairs", "lie"], seed=1, test_subjects=[8, 9, 10])
    assert split.setting == "new_activity" and split.new_classes == ["upstairs", "lie"]
    assert_no_leak(split, ["upstairs", "lie"])
    assert split.seen_classes == ["walk", "downstairs", "sit", "stand"]
    with pytest.raises(ConfigError, match="bike"):
        new_activity(make_windows(), ["bike"])
    with pytest.raises(ConfigError):
        new_activity(make_windows(), [])


def test_check_split_catches_leaks():
    split = cross_user(make_windows(), test_subjects=[10])
    split.new_classes = ["walk"]
    with pytest.raises(AssertionError, match="walk"):
        check_split(split)
    split = cross_user(make_windows(), test_subjects=[10])
    split.val = make_windows(subjects=[10])
    with pytest.raises(AssertionError, match="share subjects"):
        check_split(split)


def test_cross_dataset_new_and_dropped_classes():
    source = make_windows(("walk", "still", "upstairs"))
    target = make_windows(("walk", "still", "run", "badminton"), subjects=[1, 2],
                          dataset="basicmotions")
    split = cross_dataset(source, target, describable={"walk", "still", "upstairs", "run"})
    assert split.new_classes == ["run"]
    assert split.info["dropped_target_classes"] == ["badminton"]
    assert split.bank_classes == ["walk", "still", "upstairs", "run"]
    assert set(split.test.reveal_labels_for_evaluation().label_names) == {"walk", "still", "run"}
    assert subjects_of(split.val) and not subjects_of(split.val) & subjects_of(split.train)
    check_split(split)
    drop = cross_dataset(source, target, unseen="drop", describable={"run"})
    assert drop.new_classes == [] and drop.bank_classes == ["walk", "still", "upstairs"]
    held = new_activity((source, target), ["still"], describable={"run"})
    assert_no_leak(held, ["still"])
    assert held.new_classes == ["run", "still"]
    with pytest.raises(ConfigError, match="both source and target"):
        cross_dataset(source, source)


def _compose(*overrides: str):
    """Config with a protocol, whether or not config.yaml's defaults list one yet."""
    prefix = "" if "protocol" in load_config() else "+"
    proto = [o for o in overrides if o.startswith("protocol=")]
    rest = [o for o in overrides if not o.startswith("protocol=")]
    return load_config([prefix + p for p in proto] + rest)


def fake_loader(calls: list):
    """Stands in for registry.load_windows: raw classes per dataset, then the label space."""
    raw = {"uci_hapt": make_windows(UCI, range(1, 31)),
           "basicmotions": make_windows(("walk", "stand", "run", "badminton"), [1, 2, 3, 4],
                                        dataset="basicmotions")}

    def load(cfg):
        calls.append((cfg.dataset.name, cfg.dataset.get("root")))
        return apply_label_space(raw[cfg.dataset.name], cfg.label_space)
    return load


def test_make_split_cross_user_uses_standard_uci_split():
    calls: list = []
    cfg = _compose("protocol=cross_user", "dataset=uci_hapt", "dataset.root=/data/uci")
    split = make_split(cfg, fake_loader(calls))
    assert calls == [("uci_hapt", "/data/uci")]
    assert subjects_of(split.test) == set(range(22, 31))
    assert subjects_of(split.train) | subjects_of(split.val) == set(range(1, 22))
    assert split.setting == "cross_user" and split.train_dataset == "uci_hapt"


def test_make_split_uci_hapt_to_basicmotions():
    calls: list = []
    cfg = _compose("protocol=cross_dataset", "dataset=uci_hapt", "dataset.root=/data/uci",
                   "label_space=four_class", "label_space.keep=[walk,still]",
                   "protocol.target=basicmotions", "protocol.roots.basicmotions=/data/bm")
    split = make_split(cfg, fake_loader(calls),
                       describable={"walk", "still", "run", "badminton"})
    assert calls == [("uci_hapt", "/data/uci"), ("basicmotions", "/data/bm")]
    assert list(split.train.class_names) == ["walk", "still"]
    assert split.bank_classes == ["walk", "still", "run", "badminton"]
    assert split.new_classes == ["run", "badminton"]
    revealed = split.test.reveal_labels_for_evaluation()
    assert set(revealed.label_names) == {"walk", "still", "run", "badminton"}  # stand -> still
    assert (split.train_dataset, split.test_dataset) == ("uci_hapt", "basicmotions")
    y = split.reveal_test_labels()
    scores = np.eye(len(split.bank_classes))[y]
    metrics = split_metrics(split, y, seed=0, wall_seconds=1.0, scores=scores)
    validate_metrics_json(metrics, setting="cross_dataset")
    assert metrics["accuracy"] == 1.0 and metrics["new_activity_accuracy_among_new"] == 1.0


def test_target_settings_change_the_target_dataset_only():
    """A development pair: a synthetic target of watches reporting linear acceleration."""
    loaded = {}
    raw = {"uci_hapt": make_windows(UCI, range(1, 31)),
           "synthetic": make_windows(("walk", "sit", "stand", "run", "bike"), [1, 2, 3],
                                     dataset="synthetic")}

    def load(cfg):
        loaded[cfg.dataset.name] = cfg.dataset
        return apply_label_space(raw[cfg.dataset.name], cfg.label_space)

    base = ("protocol=cross_dataset", "dataset=uci_hapt", "dataset.root=/d",
            "label_space=four_class", "label_space.keep=[walk,still]", "protocol.target=synthetic")
    cfg = _compose(*base, "protocol.target_settings={placements: [wrist], "
                          "gravity_removed_fraction: 1.0}")
    split = make_split(cfg, load, describable={"walk", "still", "run", "bike"})
    assert list(loaded["synthetic"].placements) == ["wrist"]
    assert loaded["synthetic"].gravity_removed_fraction == 1.0
    shipped = OmegaConf.load(Path(config_dir()) / "dataset" / "synthetic.yaml")
    assert loaded["synthetic"].num_phones == shipped.num_phones  # the rest as shipped
    assert "placements" not in loaded["uci_hapt"]
    assert split.new_classes == ["run", "bike"]
    def refusing(cfg):
        if cfg.dataset.name == "synthetic":
            raise ValueError("synthetic dataset: setting dataset.placements must be ...")
        return load(cfg)

    with pytest.raises(ConfigError, match=r"protocol.target_settings \(synthetic\): synthetic"):
        make_split(cfg, refusing, describable={"walk", "still", "run", "bike"})
    for bad in ("{placement: [wrist]}", "{name: uci_har}", "{root: /x}", "[wrist]"):
        with pytest.raises(ConfigError, match="protocol.target_settings"):
            make_split(_compose(*base, f"protocol.target_settings={bad}"), load,
                       describable={"walk", "still", "run", "bike"})


def test_make_split_new_activity_is_deterministic():
    cfg = _compose("protocol=new_activity", "dataset=uci_hapt", "dataset.root=/d",
                   "protocol.held_out=[lie]", "seed=4")
    a = make_split(cfg, fake_loader([]))
    b = make_split(cfg, fake_loader([]))
    assert_no_leak(a, ["lie"])
    assert a.info == b.info and np.array_equal(a.train.data, b.train.data)
    m = split_metrics(a, a.reveal_test_labels(), seed=4, wall_seconds=0.1)
    validate_metrics_json(m, setting="new_activity")
    with pytest.raises(ConfigError, match="nosuch"):
        make_split(_compose("protocol=cross_dataset", "dataset=uci_hapt",
                            "protocol.target=nosuch"), fake_loader([]))
