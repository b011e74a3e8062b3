"""Supervised baseline: sensor encoder + linear head trained with cross-entropy on labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..models.lanhar import unwrap
from ..models.supervised import SupervisedHAR
from .loops import (
    CrossEntropyObjective,
    deterministic,
    fit,
    holdout,
    infer,
    make_loader,
    make_optimizer,
)


def predict(model: SupervisedHAR, windows: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Predicted class index per window (N,)."""
    net = unwrap(model)
    return infer(net, net, np.asarray(windows, np.float32), batch_size).argmax(axis=1)


def train_supervised(model: SupervisedHAR, windows: np.ndarray, labels: np.ndarray,
                     cfg: Mapping[str, Any], val: tuple[np.ndarray, np.ndarray] | None = None,
                     groups: np.ndarray | None = None, progress: bool = True,
                     seed: int = 0) -> dict[str, Any]:
    """Train in place on labelled windows; returns the history (see ``loops.fit``).

    ``cfg`` is ``cfg.train.supervised`` (epochs, lr, batch_size, weight_decay, val_fraction,
    patience). ``val`` = (windows, labels) held out of the SOURCE domain; without it
    ``val_fraction`` of these windows is held out (by label, or by whole ``groups``).
    """
    windows = np.asarray(windows, np.float32)
    labels = np.asarray(labels, np.int64)
    if len(windows) != len(labels):
        raise ValueError(f"{len(windows)} windows but {len(labels)} labels")
    if val is None:
        train_idx, val_windows, val_labels = holdout(
            windows, labels, float(cfg.get("val_fraction", 0.1)), seed, groups)
    else:
        train_idx = np.arange(len(windows))
        val_windows, val_labels = np.asarray(val[0], np.float32), np.asarray(val[1], np.int64)
    validate = None
    if len(val_labels):
        def validate() -> float:
            return float((predict(model, val_windows) == val_labels).mean())

    with deterministic(seed):
        loader = make_loader(windows[train_idx], labels[train_idx],
                             batch_size=int(cfg.get("batch_size", 64)), seed=seed)
        optimizer = make_optimizer(model, float(cfg.get("lr", 5e-4)),
                                   float(cfg.get("weight_decay", 0.01)))
        history = fit(model, loader, optimizer, CrossEntropyObjective(),
                      int(cfg.get("epochs", 30)), validate=validate,
                      patience=int(cfg.get("patience", 0)), progress=progress,
                      desc="supervised")
    history.update(n_train=int(len(train_idx)), n_val=int(len(val_labels)))
    return history
