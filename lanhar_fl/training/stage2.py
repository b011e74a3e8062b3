"""Stage 2: train the sensor encoder against frozen, cached interpretation embeddings.

The text side is frozen: callers embed each window's interpretation ONCE (``TextEncoder.embed``
with its cache) and pass the embeddings; nothing here runs the text encoder. The reference code
re-ran it on every batch of every epoch (``simulations/bench_stage2.py`` measures the waste).

Checkpoint selection uses zero-shot accuracy on source-domain validation data only (the
reference code selected on target-domain labels). By default ``SourceValidation`` carries the
labels OF THE TRAINING WINDOWS and the split is carved out of them, so target-domain windows
cannot enter model selection at all. A protocol that already holds out source-domain subjects
(``eval.protocols``' ``split.val``) may pass those windows explicitly (``windows=``): they must
come from the training domain, which that protocol guarantees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..models.lanhar import LanHARModel, as_tensor, unwrap
from .loops import (
    ClipObjective,
    deterministic,
    eval_mode,
    fit,
    holdout,
    infer,
    make_optimizer,
    stage2_loader,
)


@dataclass
class SourceValidation:
    """Model selection data from the training domain.

    Without ``windows``: ``labels`` (N,) label the training windows themselves and
    ``val_fraction`` of them is held out (stratified, or by whole ``groups`` such as subjects).
    With ``windows``: held-out SOURCE-domain windows and their ``labels``; nothing is carved.
    ``prototypes`` (K, D): label-bank prototypes in text space; labels index their rows.
    """

    labels: np.ndarray
    prototypes: np.ndarray
    groups: np.ndarray | None = None
    windows: np.ndarray | None = None


def predict_zero_shot(model: LanHARModel, windows: np.ndarray, prototypes: np.ndarray,
                      batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class index (N,), cosine scores (N, K)) against projected prototypes."""
    net = unwrap(model)
    with eval_mode(net):
        protos = net.encode_text(as_tensor(prototypes, net))
    scores = infer(net, lambda x: net.encode_sensor(x) @ protos.T, windows, batch_size)
    return scores.argmax(axis=1), scores


def evaluate_zero_shot(model: LanHARModel, windows: np.ndarray, labels: np.ndarray,
                       prototypes: np.ndarray) -> tuple[float, np.ndarray]:
    """(accuracy, predictions) of zero-shot classification; labels index the prototype rows."""
    predictions, _ = predict_zero_shot(model, windows, prototypes)
    labels = np.asarray(labels)
    accuracy = float((predictions == labels).mean()) if len(labels) else float("nan")
    return accuracy, predictions


def zero_shot_margin(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean over windows of (score of the true class - the best other class's score): how
    clearly the windows sit at their own prototype, after accuracy has saturated."""
    labels = np.asarray(labels)
    if not len(labels) or scores.shape[1] < 2:
        return 0.0
    rows = np.arange(len(labels))
    true = scores[rows, labels]
    others = scores.copy()
    others[rows, labels] = -np.inf
    return float((true - others.max(axis=1)).mean())


def train_sensor_encoder(model: LanHARModel, train_windows: np.ndarray,
                         text_embeddings: np.ndarray, cfg: Mapping[str, Any],
                         val: SourceValidation | None = None, progress: bool = True,
                         seed: int = 0) -> dict[str, Any]:
    """Stage-2 CLIP training of ``model`` in place; returns the history (see ``loops.fit``).

    ``cfg`` is ``cfg.train.stage2`` (epochs, lr, batch_size, val_fraction, patience,
    weight_decay, dedup_positives). With ``val`` (see ``SourceValidation``) the epoch with the
    best zero-shot accuracy on the source validation set is restored (ties, the rule once a few
    seen classes are all told apart, go to the larger ``zero_shot_margin``), and training stops
    after ``patience`` epochs without gain (0: never).
    """
    train_windows = np.asarray(train_windows, np.float32)
    text_embeddings = np.asarray(text_embeddings, np.float32)
    if len(train_windows) != len(text_embeddings):
        raise ValueError(f"{len(train_windows)} windows but {len(text_embeddings)} embeddings")
    train_idx = np.arange(len(train_windows))
    validate = None
    if val is not None:
        if val.windows is None:
            train_idx, val_windows, val_labels = holdout(
                train_windows, val.labels, float(cfg.get("val_fraction", 0.1)), seed, val.groups)
        else:
            val_windows, val_labels = np.asarray(val.windows, np.float32), np.asarray(val.labels)
            if len(val_windows) != len(val_labels):
                raise ValueError(f"{len(val_windows)} validation windows, {len(val_labels)} labels")
        if len(val_labels):
            def validate() -> tuple[float, float]:
                predictions, scores = predict_zero_shot(model, val_windows, val.prototypes)
                accuracy = float((predictions == val_labels).mean())
                return accuracy, zero_shot_margin(scores, val_labels)

    with deterministic(seed):
        loader = stage2_loader(train_windows[train_idx], text_embeddings[train_idx],
                               int(cfg.get("batch_size", 256)), seed)
        optimizer = make_optimizer(model, float(cfg.get("lr", 4e-5)),
                                   float(cfg.get("weight_decay", 0.01)))
        objective = ClipObjective(bool(cfg.get("dedup_positives", True)))
        history = fit(model, loader, optimizer, objective, int(cfg.get("epochs", 50)),
                      validate=validate, patience=int(cfg.get("patience", 0)),
                      progress=progress, desc="stage 2")
    history.update(n_train=int(len(train_idx)), n_val=int(len(val_labels)) if validate else 0,
                   logit_scale=unwrap(model).logit_scale.value())
    return history
