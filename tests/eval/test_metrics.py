"""Metrics against hand-computed values, and the metrics.json contract check."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from lanhar_fl.eval.metrics import (
    MetricsValidationError,
    build_metrics_json,
    classification_metrics,
    new_activity_metrics,
    validate_metrics_json,
)


def test_hand_example_matches_sklearn_formulas():
    # confusion: a=[2,1,0], b=[0,1,1], c=[0,0,1]
    m = classification_metrics([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], ["a", "b", "c"])
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    pc = m["per_class"]
    assert [pc[c]["precision"] for c in "abc"] == pytest.approx([1.0, 0.5, 0.5])
    assert [pc[c]["recall"] for c in "abc"] == pytest.approx([2 / 3, 0.5, 1.0])
    assert [pc[c]["f1"] for c in "abc"] == pytest.approx([0.8, 0.5, 2 / 3])
    assert [pc[c]["support"] for c in "abc"] == [3, 2, 1]
    # sklearn: f1_score(average="macro") = 0.655556, average="weighted" = 0.677778
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["macro_f1"] == pytest.approx(0.655556, abs=1e-6)
    assert m["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 2 / 3) / 6)
    assert m["weighted_f1"] == pytest.approx(0.677778, abs=1e-6)
    assert m["n_test_windows"] == 6 and m["classes"] == ["a", "b", "c"]


def test_class_absent_from_y_true():
    # d never occurs but is predicted once; c neither occurs nor is predicted
    m = classification_metrics([0, 0, 1, 1], [0, 3, 1, 1], ["a", "b", "c", "d"])
    pc = m["per_class"]
    assert pc["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert pc["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert pc["a"]["f1"] == pytest.approx(2 / 3) and pc["b"]["f1"] == 1.0
    # macro over classes present in y_true (a, b) = sklearn's labels=["a", "b"]; sklearn's
    # default labels (a, b, d) would give (2/3 + 1 + 0) / 3
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1) / 2)
    assert m["weighted_f1"] == pytest.approx((2 * 2 / 3 + 2 * 1) / 4)
    assert m["accuracy"] == 0.75
    assert m["confusion_matrix"][3] == [0, 0, 0, 0]


def test_perfect_and_all_wrong_and_names():
    names = ["walk", "still", "run"]
    perfect = classification_metrics(["walk", "run", "still", "run"],
                                     ["walk", "run", "still", "run"], names)
    assert perfect["accuracy"] == perfect["macro_f1"] == perfect["weighted_f1"] == 1.0
    wrong = classification_metrics([0, 1, 2, 2], [1, 2, 0, 0], names)
    assert wrong["accuracy"] == wrong["macro_f1"] == wrong["weighted_f1"] == 0.0
    assert all(r["precision"] == 0.0 for r in wrong["per_class"].values())


def test_bad_inputs():
    with pytest.raises(ValueError):
        classification_metrics([], [], ["a"])
    with pytest.raises(ValueError):
        classification_metrics([0, 1], [0], ["a", "b"])
    with pytest.raises(ValueError):
        classification_metrics([0, 2], [0, 1], ["a", "b"])
    with pytest.raises(ValueError):
        classification_metrics(["a", "zzz"], ["a", "a"], ["a", "b"])


def test_new_activity_metrics():
    names = ["walk", "still", "run", "badminton"]
    y_true = [0, 1, 2, 2, 3, 3]
    y_pred = [0, 1, 2, 0, 2, 3]
    scores = np.array([[0.9, 0, 0, 0], [0, 0.9, 0, 0], [0, 0, 0.8, 0.1],
                       [0.9, 0, 0.4, 0.3], [0, 0, 0.6, 0.5], [0, 0, 0.1, 0.7]])
    m = new_activity_metrics(y_true, y_pred, names, ["run", "badminton"], scores)
    assert m["new_activity_accuracy"] == 0.5  # rows 2..5: right, wrong, wrong, right
    assert m["new_activity_accuracy_among_new"] == 0.75  # row 3 recovers, row 4 still wrong
    assert m["seen_activity_accuracy"] == 1.0 and m["n_new_windows"] == 4
    assert m["new_classes"] == ["run", "badminton"]
    single = new_activity_metrics(y_true, y_pred, names, ["badminton"])
    assert single["new_activity_accuracy"] == 0.5 and single["new_activity_accuracy_among_new"] == 1
    with pytest.raises(ValueError, match="scores"):
        new_activity_metrics(y_true, y_pred, names, ["run", "badminton"])
    with pytest.raises(ValueError, match="no windows"):
        new_activity_metrics([0, 1], [0, 1], names, ["run"])


def _valid() -> dict:
    m = classification_metrics([0, 0, 1, 2], [0, 1, 1, 2], ["walk", "still", "run"])
    na = new_activity_metrics([0, 0, 1, 2], [0, 1, 1, 2], ["walk", "still", "run"], ["run"])
    return build_metrics_json(m, setting="new_activity", train_dataset="uci_hapt",
                              test_dataset="uci_hapt", seed=0, wall_seconds=1.5, extra=na)


def test_build_and_validate():
    d = _valid()
    validate_metrics_json(d, setting="new_activity")
    with pytest.raises(ValueError, match="overwrite"):
        build_metrics_json(classification_metrics([0], [0], ["a"]), setting="cross_user",
                           train_dataset="x", test_dataset="x", seed=0, wall_seconds=0,
                           extra={"accuracy": 0.1})


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.pop("weighted_f1"), "missing keys: weighted_f1"),
    (lambda d: d.update(accuracy=1.2), "accuracy"),
    (lambda d: d.update(macro_f1=float("nan")), "macro_f1"),
    (lambda d: d["per_class"]["walk"].update(recall=-0.1), "recall"),
    (lambda d: d.update(setting="cross_phone"), "setting"),
    (lambda d: d.update(seed="0"), "seed"),
    (lambda d: d.update(n_test_windows=5), "n_test_windows"),
    (lambda d: d["confusion_matrix"][0].append(0), "confusion_matrix"),
    (lambda d: d.pop("new_activity_accuracy_among_new"), "new_activity_accuracy_among_new"),
    (lambda d: d.update(new_classes=["bike"]), "new_classes"),
    (lambda d: d.update(num_phones=3), "missing keys: phones_per_round"),
    (lambda d: d.update(extra=np.int64(3)), "JSON"),
])
def test_validation_catches(mutate, message):
    d = copy.deepcopy(_valid())
    mutate(d)
    with pytest.raises(MetricsValidationError, match=message):
        validate_metrics_json(d)


def test_validation_of_optional_groups():
    d = _valid()
    with pytest.raises(MetricsValidationError, match="expected 'cross_user'"):
        validate_metrics_json(d, setting="cross_user")
    with pytest.raises(MetricsValidationError, match="missing keys: num_phones"):
        validate_metrics_json(d, simulate=True)
    with pytest.raises(MetricsValidationError, match="missing keys: epsilon"):
        validate_metrics_json(d, privacy=True)
    d.update(num_phones=10, phones_per_round=4, rounds=2, bytes_uploaded_per_phone_per_round=1e5,
             history=[{"round": 1, "accuracy": 0.5}, {"round": 2, "accuracy": 0.6}],
             epsilon=2.5, delta=1e-5, dp_mode="sample_level_opacus")
    validate_metrics_json(d, simulate=True, privacy=True)
    d["history"][1]["accuracy"] = 60
    d["delta"] = 1.0
    with pytest.raises(MetricsValidationError, match=r"history\[1\].*delta"):
        validate_metrics_json(d, simulate=True, privacy=True)
