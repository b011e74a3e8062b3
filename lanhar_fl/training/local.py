"""One client update of stage 2 (no labels): ``local_train`` and its two settings groups.

``LocalTrainSettings`` holds the optimisation (epochs, optimizer, trained parts, FedProx, seed);
``LocalObjective`` the objective and its privacy hook (built by ``lanhar_fl.privacy.facade``
on a phone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..models.trainable import train_only
from .loops import (
    deterministic,
    make_objective,
    make_optimizer,
    snapshot_params,
    stage2_loader,
    train_epochs,
)


@dataclass(frozen=True)
class LocalTrainSettings:
    """Optimisation of one client update; ``proximal_mu > 0`` adds FedProx's proximal term.
    ``trainable``: the parts trained (``models/trainable.py``), the rest stays as received;
    ``optimizer``: ``adamw`` or ``sgd`` (with ``momentum``)."""

    epochs: int
    lr: float
    batch_size: int
    weight_decay: float = 0.01
    proximal_mu: float = 0.0
    seed: int = 0
    progress: bool = False
    trainable: str = "all"
    optimizer: str = "adamw"
    momentum: float = 0.9


def _optimizer(model: nn.Module, s: LocalTrainSettings) -> torch.optim.Optimizer:
    if s.optimizer == "sgd":
        return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=s.lr,
                               momentum=s.momentum)
    if s.optimizer != "adamw":
        raise ValueError(f"optimizer must be adamw or sgd, got {s.optimizer!r}")
    return make_optimizer(model, s.lr, s.weight_decay)


@dataclass(frozen=True, eq=False)
class LocalObjective:
    """``loss``: ``clip`` or ``dp_public`` (``make_objective``). ``privatize``, if given, is
    called as ``privatize(model, optimizer, loader, objective)`` and returns the four (e.g.
    wrapped by Opacus' ``make_private``); use ``loss="dp_public"`` with it."""

    loss: str = "clip"
    public_negatives: np.ndarray | None = None
    dedup_positives: bool = True
    num_prototypes: int = 0
    distill_weight: float = 1.0
    privatize: Callable[..., tuple] | None = None


def local_train(model: nn.Module, windows: np.ndarray, text_emb: np.ndarray,
                settings: LocalTrainSettings, objective: LocalObjective | None = None,
                global_params: dict[str, torch.Tensor] | None = None,
                on_optimizer: Callable[[torch.optim.Optimizer], None] | None = None,
                ) -> dict[str, Any]:
    """One client update: returns ``loss`` per epoch and ``num_examples`` (``objective``
    default: the non-DP ``clip`` loss).

    ``on_optimizer`` is called with the inner optimizer before any privatize wrapper, so a
    step pre-hook it registers sees the gradient Opacus has clipped and noised (the audit's
    gradient canaries: privacy/gradient_canaries.py).

    FedProx pulls towards ``global_params`` (default: the weights ``model`` holds on entry, i.e.
    the global model just received). A privatize wrapper's hooks are removed afterwards
    (``_close``); ``model`` holds the trained weights.
    """
    s, o = settings, objective or LocalObjective()
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    train_only(model, s.trainable)
    with deterministic(s.seed):
        if s.proximal_mu > 0 and global_params is None:
            global_params = snapshot_params(model)
        loader = stage2_loader(windows, text_emb, s.batch_size, s.seed)
        optimizer = _optimizer(model, s)
        if on_optimizer is not None:
            on_optimizer(optimizer)
        loss_fn = make_objective(o.loss, o.public_negatives, o.dedup_positives,
                                 o.num_prototypes, o.distill_weight)
        wrapped = model
        if o.privatize is not None:
            wrapped, optimizer, loader, loss_fn = o.privatize(model, optimizer, loader, loss_fn)
        try:
            losses = train_epochs(wrapped, loader, optimizer, loss_fn, s.epochs,
                                  proximal_mu=s.proximal_mu, global_params=global_params,
                                  progress=s.progress, desc="local")
        finally:
            if wrapped is not model and hasattr(wrapped, "_close"):
                wrapped._close()  # detach Opacus hooks so the next round can wrap again
            for name, p in model.named_parameters():
                p.requires_grad_(flags[name])
    return {"loss": losses, "num_examples": int(len(windows))}
