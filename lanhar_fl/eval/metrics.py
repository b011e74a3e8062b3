"""Classification metrics (numpy only) and the ``metrics.json`` contract (docs: CONTRACT.md).

Conventions, checked against hand-computed values in ``tests/eval/test_metrics.py``:

- ``y_true`` / ``y_pred`` are indices into ``class_names`` (or the names themselves).
- Per class: precision = TP / predicted, recall = TP / support, F1 = 2PR / (P + R); a zero
  denominator gives 0 (scikit-learn's ``zero_division=0``).
- ``macro_f1`` averages F1 over the classes *present in y_true* (support > 0). A bank class
  that never occurs in the test set (e.g. a source-only class in cross-dataset runs) would
  otherwise add a 0 to the mean for every false alarm and a meaningless 0 when never predicted.
  This equals scikit-learn's ``f1_score(average="macro", labels=<classes in y_true>)``; sklearn's
  default (``labels`` = union of y_true and y_pred) differs only when absent classes are predicted.
- ``weighted_f1`` weights each class's F1 by its support: identical to scikit-learn's.
- ``confusion_matrix[i][j]`` counts windows of true class i predicted as class j.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

SETTINGS = ("cross_user", "cross_dataset", "new_activity")
BASE_KEYS = ("accuracy", "macro_f1", "weighted_f1", "n_test_windows", "classes", "per_class",
             "confusion_matrix", "setting", "train_dataset", "test_dataset", "seed",
             "wall_seconds")
SIMULATE_KEYS = ("num_phones", "phones_per_round", "rounds", "history",
                 "bytes_uploaded_per_phone_per_round")
PRIVACY_KEYS = ("epsilon", "delta", "dp_mode")
NEW_ACTIVITY_KEYS = ("new_classes", "new_activity_accuracy", "new_activity_accuracy_among_new")
_CLASSIFICATION_KEYS = ("accuracy", "macro_f1", "weighted_f1", "n_test_windows", "classes",
                        "per_class", "confusion_matrix")
_REFERENCE_KEYS = ("chance_accuracy", "majority_accuracy")


class MetricsValidationError(ValueError):
    """A metrics dictionary breaks the metrics.json contract; the message lists every problem."""


def as_indices(y: Sequence | np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    """Labels as int64 indices into ``class_names`` (accepts indices or class names)."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind in "USO":
        lookup = {name: i for i, name in enumerate(class_names)}
        unknown = sorted({str(v) for v in arr.tolist() if v not in lookup})
        if unknown:
            raise ValueError(f"labels {unknown} are not among classes {list(class_names)}")
        return np.array([lookup[v] for v in arr.tolist()], dtype=np.int64)
    if arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"labels must be integer indices or class names, got {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= len(class_names)):
        raise ValueError(f"label index outside 0..{len(class_names) - 1}")
    return arr


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(K, K) int64 counts, rows = true class, columns = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(num.shape, dtype=np.float64), where=den > 0)


def classification_metrics(y_true: Sequence | np.ndarray, y_pred: Sequence | np.ndarray,
                           class_names: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro/weighted F1, per-class precision/recall/F1/support, confusion matrix."""
    names = [str(c) for c in class_names]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate class names in {names}")
    t = as_indices(y_true, names)
    p = as_indices(y_pred, names)
    if len(t) != len(p):
        raise ValueError(f"{len(t)} true labels but {len(p)} predictions")
    if len(t) == 0:
        raise ValueError("no test windows to evaluate")
    cm = confusion_matrix(t, p, len(names))
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    precision = _safe_div(tp, cm.sum(axis=0).astype(np.float64))
    recall = _safe_div(tp, support.astype(np.float64))
    f1 = _safe_div(2 * precision * recall, precision + recall)
    present = support > 0
    return {
        "accuracy": float(tp.sum() / len(t)),
        "macro_f1": float(f1[present].mean()),
        "weighted_f1": float((f1 * support).sum() / support.sum()),
        "n_test_windows": int(len(t)),
        "classes": names,
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]),
                   "f1": float(f1[i]), "support": int(support[i])}
            for i, name in enumerate(names)
        },
        "confusion_matrix": cm.tolist(),
        # reference levels: a uniform guess over the classes present, always the largest class
        "chance_accuracy": float(1.0 / present.sum()),
        "majority_accuracy": float(support.max() / len(t)),
    }


def new_activity_metrics(y_true: Sequence | np.ndarray, y_pred: Sequence | np.ndarray,
                         class_names: Sequence[str], new_classes: Sequence[str],
                         scores: np.ndarray | None = None) -> dict[str, Any]:
    """Accuracy on windows of the unseen classes.

    ``new_activity_accuracy``: predictions chosen among all ``class_names`` (the whole bank).
    ``new_activity_accuracy_among_new``: argmax of ``scores`` (N, K) restricted to the new
    classes' columns; without scores it is defined only for a single new class (trivially 1.0).
    ``seen_activity_accuracy`` (extra): accuracy on the other windows, or None if there are none.
    """
    names = [str(c) for c in class_names]
    missing = [c for c in new_classes if c not in names]
    if missing:
        raise ValueError(f"new classes {missing} are not among classes {names}")
    if not new_classes:
        raise ValueError("no new classes given")
    t = as_indices(y_true, names)
    p = as_indices(y_pred, names)
    if len(t) != len(p):
        raise ValueError(f"{len(t)} true labels but {len(p)} predictions")
    new_idx = np.array([names.index(c) for c in new_classes], dtype=np.int64)
    is_new = np.isin(t, new_idx)
    if not is_new.any():
        raise ValueError(f"the test set has no windows of the new classes {list(new_classes)}")
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (len(t), len(names)):
            raise ValueError(f"scores must be ({len(t)}, {len(names)}), got {scores.shape}")
        among = new_idx[np.argmax(scores[is_new][:, new_idx], axis=1)]
        among_new = float(np.mean(among == t[is_new]))
    elif len(new_idx) == 1:
        among_new = 1.0
    else:
        raise ValueError("new_activity_accuracy_among_new needs the (N, K) scores matrix")
    seen = ~is_new
    return {
        "new_classes": list(new_classes),
        "new_activity_accuracy": float(np.mean(p[is_new] == t[is_new])),
        "new_activity_accuracy_among_new": among_new,
        "n_new_windows": int(is_new.sum()),
        "seen_activity_accuracy": float(np.mean(p[seen] == t[seen])) if seen.any() else None,
        # weighted F1 over the windows of the shared (seen) classes, predictions among all
        "seen_activity_weighted_f1": (
            classification_metrics(t[seen], p[seen], names)["weighted_f1"] if seen.any()
            else None),
    }


def build_metrics_json(metrics: dict[str, Any], *, setting: str, train_dataset: str,
                       test_dataset: str, seed: int, wall_seconds: float,
                       extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The metrics.json object: ``classification_metrics`` output + run facts + ``extra``.

    ``extra`` holds the optional groups (simulate's, privacy's, new_activity's keys, anything
    else); it may not overwrite a key set here.
    """
    missing = [k for k in _CLASSIFICATION_KEYS if k not in metrics]
    if missing:
        raise ValueError(f"metrics lack {missing}; pass classification_metrics(...) output")
    out: dict[str, Any] = {k: metrics[k] for k in _CLASSIFICATION_KEYS}
    out.update({k: metrics[k] for k in _REFERENCE_KEYS if k in metrics})
    out.update(setting=setting, train_dataset=str(train_dataset), test_dataset=str(test_dataset),
               seed=int(seed), wall_seconds=float(wall_seconds))
    for key, value in (extra or {}).items():
        if key in out:
            raise ValueError(f"extra key {key!r} would overwrite a metrics.json key")
        out[key] = value
    return out


# ---- validation -----------------------------------------------------------------------------

def _is_int(v: Any) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))


def _is_prob(v: Any) -> bool:
    return _is_num(v) and 0.0 <= float(v) <= 1.0


def _check(errors: list[str], ok: bool, message: str) -> bool:
    if not ok:
        errors.append(message)
    return ok


def _check_classification(d: dict[str, Any], errors: list[str]) -> None:
    for key in ("accuracy", "macro_f1", "weighted_f1"):
        _check(errors, _is_prob(d[key]), f"{key} must be a float in [0, 1], got {d[key]!r}")
    n = d["n_test_windows"]
    _check(errors, _is_int(n) and n > 0, f"n_test_windows must be a positive int, got {n!r}")
    classes = d["classes"]
    if not _check(errors, isinstance(classes, list) and bool(classes)
                  and all(isinstance(c, str) for c in classes)
                  and len(set(classes)) == len(classes),
                  "classes must be a non-empty list of distinct strings"):
        return
    per_class = d["per_class"]
    if _check(errors, isinstance(per_class, dict) and set(per_class) == set(classes),
              "per_class must map exactly the names in classes"):
        for name, row in per_class.items():
            if not _check(errors, isinstance(row, dict), f"per_class[{name!r}] must be an object"):
                continue
            for key in ("precision", "recall", "f1"):
                _check(errors, _is_prob(row.get(key)),
                       f"per_class[{name!r}].{key} must be a float in [0, 1]")
            _check(errors, _is_int(row.get("support")) and row["support"] >= 0,
                   f"per_class[{name!r}].support must be a non-negative int")
    cm = d["confusion_matrix"]
    k = len(classes)
    if not _check(errors, isinstance(cm, list) and len(cm) == k
                  and all(isinstance(r, list) and len(r) == k for r in cm)
                  and all(_is_int(v) and v >= 0 for r in cm for v in r),
                  f"confusion_matrix must be a {k}x{k} list of lists of non-negative ints"):
        return
    total = sum(sum(r) for r in cm)
    _check(errors, total == n, f"confusion_matrix sums to {total}, n_test_windows is {n}")
    if _is_prob(d["accuracy"]) and total:
        trace = sum(cm[i][i] for i in range(k))
        _check(errors, abs(trace / total - d["accuracy"]) < 1e-6,
               "accuracy disagrees with the confusion matrix")
    if isinstance(per_class, dict) and set(per_class) == set(classes):
        for i, name in enumerate(classes):
            support = per_class[name].get("support") if isinstance(per_class[name], dict) else None
            _check(errors, support == sum(cm[i]),
                   f"per_class[{name!r}].support disagrees with confusion_matrix row {i}")


def _check_run(d: dict[str, Any], errors: list[str], setting: str | None) -> None:
    _check(errors, d["setting"] in SETTINGS, f"setting must be one of {SETTINGS}")
    if setting is not None:
        _check(errors, d["setting"] == setting,
               f"setting is {d['setting']!r}, expected {setting!r}")
    for key in ("train_dataset", "test_dataset"):
        _check(errors, isinstance(d[key], str) and bool(d[key]), f"{key} must be a dataset name")
    _check(errors, _is_int(d["seed"]), "seed must be an int")
    _check(errors, _is_num(d["wall_seconds"]) and d["wall_seconds"] >= 0,
           "wall_seconds must be a non-negative number")


def _check_simulate(d: dict[str, Any], errors: list[str]) -> None:
    for key in ("num_phones", "phones_per_round", "rounds"):
        _check(errors, _is_int(d[key]) and d[key] >= 1, f"{key} must be a positive int")
    if _is_int(d["num_phones"]) and _is_int(d["phones_per_round"]):
        _check(errors, d["phones_per_round"] <= d["num_phones"],
               "phones_per_round exceeds num_phones")
    bytes_up = d["bytes_uploaded_per_phone_per_round"]
    _check(errors, _is_num(bytes_up) and bytes_up >= 0,
           "bytes_uploaded_per_phone_per_round must be a non-negative number")
    history = d["history"]
    if _check(errors, isinstance(history, list) and bool(history),
              "history must be a non-empty list of per-round objects"):
        for i, row in enumerate(history):
            _check(errors, isinstance(row, dict) and _is_int(row.get("round"))
                   and _is_prob(row.get("accuracy")),
                   f"history[{i}] needs an int round and an accuracy in [0, 1]")


def _check_privacy(d: dict[str, Any], errors: list[str]) -> None:
    _check(errors, _is_num(d["epsilon"]) and d["epsilon"] >= 0,
           "epsilon must be a finite non-negative number")
    _check(errors, _is_num(d["delta"]) and 0 <= d["delta"] < 1, "delta must be in [0, 1)")
    _check(errors, isinstance(d["dp_mode"], str) and bool(d["dp_mode"]),
           "dp_mode must be a non-empty string")


def _check_new_activity(d: dict[str, Any], errors: list[str]) -> None:
    new = d["new_classes"]
    classes = d["classes"] if isinstance(d["classes"], list) else []
    _check(errors, isinstance(new, list) and bool(new) and all(c in classes for c in new),
           "new_classes must be a non-empty list of names from classes")
    for key in ("new_activity_accuracy", "new_activity_accuracy_among_new"):
        _check(errors, _is_prob(d[key]), f"{key} must be a float in [0, 1], got {d[key]!r}")


def validate_metrics_json(d: dict[str, Any], setting: str | None = None, simulate: bool = False,
                          privacy: bool = False) -> None:
    """Raise MetricsValidationError unless ``d`` meets the metrics.json contract.

    Required: the base keys; simulate's keys if ``simulate``; privacy's if ``privacy``;
    new_activity's if ``d["setting"] == "new_activity"``. A group that is present anyway (its
    first key: ``num_phones``, ``epsilon``, ``new_classes``) must be complete and valid.
    ``setting``, if given, must equal ``d["setting"]``.
    """
    if not isinstance(d, dict):
        raise MetricsValidationError("metrics must be a JSON object")
    # optional group -> (its keys, required?, check); a group is present when its first key is
    groups = [
        (SIMULATE_KEYS, simulate, _check_simulate),
        (PRIVACY_KEYS, privacy, _check_privacy),
        (NEW_ACTIVITY_KEYS, d.get("setting") == "new_activity", _check_new_activity),
    ]
    errors: list[str] = []
    base_missing = [k for k in BASE_KEYS if k not in d]
    if base_missing:
        errors.append(f"missing keys: {', '.join(base_missing)}")
    else:
        _check_classification(d, errors)
        _check_run(d, errors, setting)
    for keys, required, check in groups:
        if not (required or keys[0] in d):
            continue
        missing = [k for k in keys if k not in d]
        if missing:
            errors.append(f"missing keys: {', '.join(missing)}")
        elif not base_missing:
            check(d, errors)
    try:
        json.dumps(d, allow_nan=False)
    except (TypeError, ValueError) as exc:
        errors.append(f"not JSON-serialisable: {exc}")
    if errors:
        raise MetricsValidationError("metrics.json: " + "; ".join(errors))
