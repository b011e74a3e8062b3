"""Reusable training machinery: loaders, optimizer, objectives, the epoch loop.

Stage 2 (centralised), the supervised baseline and the federated clients all train through
``train_epochs``; ``local_train`` (``training/local.py``) is the one-call client update built on
these helpers.

An objective is a callable ``objective(model, batch) -> loss`` with a ``reduction`` attribute
("mean", "sum" or "none": per-example losses, as Opacus' ghost clipping requires).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from ..models.lanhar import as_tensor, unwrap
from .losses import clip_loss, per_example_infonce_public, prototype_distillation


class Objective(Protocol):
    reduction: str

    def __call__(self, model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor: ...


# ---------------------------------------------------------------------------- determinism, data


@contextlib.contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Seed torch and enable deterministic algorithms for the block (restored afterwards)."""
    previous = (torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled())
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])


def make_loader(*arrays: np.ndarray | torch.Tensor, batch_size: int, seed: int = 0,
                shuffle: bool = True) -> DataLoader:
    """A DataLoader over aligned arrays, shuffled by its own seeded generator."""
    tensors = [a if torch.is_tensor(a) else torch.from_numpy(np.ascontiguousarray(a))
               for a in arrays]
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle,
                      generator=generator)


def duplicate_groups(text_emb: np.ndarray) -> np.ndarray:
    """Group id per row: rows with bit-identical embeddings (identical texts) share an id."""
    _, inverse = np.unique(np.asarray(text_emb), axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


def stage2_loader(windows: np.ndarray, text_emb: np.ndarray, batch_size: int,
                  seed: int = 0) -> DataLoader:
    """Batches (windows (B,T,6), text embeddings (B,D), duplicate-text group ids (B,))."""
    if len(windows) != len(text_emb):
        raise ValueError(f"{len(windows)} windows but {len(text_emb)} text embeddings")
    return make_loader(np.asarray(windows, np.float32), np.asarray(text_emb, np.float32),
                       duplicate_groups(text_emb), batch_size=batch_size, seed=seed)


def split_validation(labels: np.ndarray, fraction: float, seed: int = 0,
                     groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices: stratified by label, or whole ``groups`` (e.g. subjects)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    n = len(labels)
    if fraction <= 0 or n < 2:
        return np.arange(n), np.zeros(0, np.int64)
    val: list[np.ndarray] = []
    if groups is not None:
        groups = np.asarray(groups)
        taken = 0
        for g in rng.permutation(np.unique(groups)):
            if taken >= fraction * n:
                break
            members = np.flatnonzero(groups == g)
            if taken + len(members) >= n:  # never hold out everything
                continue
            val.append(members)
            taken += len(members)
    else:
        for c in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == c))
            k = int(round(fraction * len(members)))
            if len(members) >= 2:
                val.append(members[: max(k, 1)])
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, np.int64)
    return np.setdiff1d(np.arange(n), val_idx), val_idx


def holdout(windows: np.ndarray, labels: np.ndarray, fraction: float, seed: int = 0,
            groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train indices, validation windows, validation labels) carved out of ``windows``."""
    labels = np.asarray(labels)
    if len(labels) != len(windows):
        raise ValueError(f"{len(labels)} validation labels for {len(windows)} training windows "
                         "(labels must label the training windows, or pass validation windows)")
    train_idx, val_idx = split_validation(labels, fraction, seed, groups)
    return train_idx, windows[val_idx], labels[val_idx]


# ------------------------------------------------------------------------------ optimisation


def make_optimizer(model: nn.Module, lr: float, weight_decay: float = 0.01) -> torch.optim.AdamW:
    """AdamW; no weight decay on biases, norms and the logit scale (as in CLIP)."""
    decay, no_decay = [], []
    for name, p in unwrap(model).named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "logit_scale" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr)


def snapshot_params(model: nn.Module) -> dict[str, torch.Tensor]:
    """Detached copies of the trainable parameters (FedProx's global model)."""
    return {n: p.detach().clone() for n, p in unwrap(model).named_parameters() if p.requires_grad}


@torch.no_grad()
def proximal_step(model: nn.Module, global_params: dict[str, torch.Tensor], mu: float,
                  lr: float) -> None:
    """FedProx proximal term, applied decoupled: w <- w - lr * mu * (w - w_global).

    With SGD this is exactly the gradient step of mu/2 ||w - w_global||^2; applied after the
    optimizer step (like AdamW's weight decay) it never passes through DP clipping or noise and
    costs no privacy (it does not touch the data).
    """
    for name, p in unwrap(model).named_parameters():
        if name in global_params:
            p.sub_(p - global_params[name], alpha=lr * mu)


def train_epochs(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer,
                 objective: Objective | Callable, epochs: int, *, proximal_mu: float = 0.0,
                 global_params: dict[str, torch.Tensor] | None = None,
                 on_epoch_end: Callable[[int, float], bool] | None = None,
                 progress: bool = False, desc: str = "train") -> list[float]:
    """Run ``epochs`` epochs; returns the mean training loss per epoch.

    ``on_epoch_end(epoch, mean_loss)`` may return True to stop early. Empty batches (possible
    under Opacus' Poisson sampling) are skipped.
    """
    if proximal_mu > 0 and global_params is None:
        raise ValueError("proximal_mu > 0 needs global_params")
    losses: list[float] = []
    device = next(unwrap(model).parameters()).device
    for epoch in range(epochs):
        model.train()
        total, count = 0.0, 0
        bar = tqdm(loader, desc=f"{desc} {epoch + 1}/{epochs}", disable=not progress,
                   leave=False)
        for batch in bar:
            n = len(batch[0])
            if n == 0:
                continue
            batch = [b.to(device, non_blocking=True) for b in batch]
            optimizer.zero_grad(set_to_none=True)
            loss = objective(model, batch)
            loss.backward()
            optimizer.step()
            if proximal_mu > 0:
                proximal_step(model, global_params, proximal_mu, optimizer.param_groups[0]["lr"])
            total += float(loss.item()) * n
            count += n
        losses.append(total / max(count, 1))
        if on_epoch_end is not None and on_epoch_end(epoch, losses[-1]):
            break
    return losses


# -------------------------------------------------------------------------------- objectives


class ClipObjective:
    """Stage 2: symmetric CLIP between each window and its own interpretation embedding.

    Batches are ``stage2_loader`` batches. No labels are used (as in the paper); with
    ``dedup_positives`` items whose interpretation embeddings are identical are positives of
    each other instead of false negatives. In-batch negatives: NOT for DP-SGD.
    """

    def __init__(self, dedup_positives: bool = True, reduction: str = "mean") -> None:
        self.dedup_positives = dedup_positives
        self.reduction = reduction

    def __call__(self, model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        windows, text, groups = batch[:3]
        sensor, texts = model(windows, text)
        mask = groups[:, None] == groups[None, :] if self.dedup_positives else None
        return clip_loss(sensor, texts, unwrap(model).logit_scale, mask, self.reduction)


class PublicInfoNCEObjective:
    """Stage 2 for DP-SGD: each window against its own text and PUBLIC negatives only.

    ``public_negatives`` (M, D) are text-space embeddings (label-bank prototypes, public
    interpretation embeddings). They go through the text projection per example as a
    (B, 1 + M, D) block, so example i's loss and gradient depend only on example i. When the
    first ``num_prototypes`` rows are the label prototypes, ``distill_weight`` x
    ``prototype_distillation`` is added (see there why InfoNCE alone is not enough).
    """

    def __init__(self, public_negatives: np.ndarray | torch.Tensor, num_prototypes: int = 0,
                 distill_weight: float = 1.0, teacher_temperature: float = 0.05,
                 reduction: str = "mean") -> None:
        self.public_negatives = torch.as_tensor(public_negatives, dtype=torch.float32)
        if self.public_negatives.dim() != 2 or len(self.public_negatives) == 0:
            raise ValueError("public_negatives must be a non-empty (M, D) array")
        if not 0 <= num_prototypes <= len(self.public_negatives):
            raise ValueError(f"num_prototypes must be in 0..{len(self.public_negatives)}")
        self.num_prototypes = int(num_prototypes)
        self.distill_weight = float(distill_weight) if num_prototypes else 0.0
        self.teacher_temperature = float(teacher_temperature)
        self.reduction = reduction

    def __call__(self, model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        windows, text = batch[:2]
        negatives = self.public_negatives.to(text.device)
        block = torch.cat([text[:, None], negatives.expand(len(text), -1, -1)], dim=1)
        sensor, texts = model(windows, block)
        scale = unwrap(model).logit_scale.for_rows(sensor)  # one scale for both terms
        loss = per_example_infonce_public(sensor, texts[:, 0], texts[:, 1:], scale,
                                          self.reduction)
        if self.distill_weight:  # reductions are linear: the sum of reduced terms is exact
            k = self.num_prototypes
            loss = loss + self.distill_weight * prototype_distillation(
                sensor, texts[:, 1:1 + k], text, negatives[:k], scale,
                self.teacher_temperature, self.reduction)
        return loss


class CrossEntropyObjective:
    """Supervised baseline: batches (windows, labels)."""

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = reduction

    def __call__(self, model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        windows, labels = batch[:2]
        return F.cross_entropy(model(windows), labels, reduction=self.reduction)


def make_objective(loss: str = "clip", public_negatives: np.ndarray | None = None,
                   dedup_positives: bool = True, num_prototypes: int = 0,
                   distill_weight: float = 1.0) -> Objective:
    """``clip`` (in-batch, non-DP) or ``dp_public`` (per-example, public negatives whose first
    ``num_prototypes`` rows are the label prototypes)."""
    if loss == "clip":
        return ClipObjective(dedup_positives)
    if loss == "dp_public":
        if public_negatives is None:
            raise ValueError("loss='dp_public' needs public_negatives")
        return PublicInfoNCEObjective(public_negatives, num_prototypes, distill_weight)
    raise ValueError(f"loss must be 'clip' or 'dp_public', got {loss!r}")


# ---------------------------------------------------------------------- validation, inference


class BestState:
    """Keeps the best-scoring weights seen so far and says when patience has run out."""

    def __init__(self, model: nn.Module, patience: int) -> None:
        self.model = unwrap(model)
        self.patience = patience
        self.best_score: tuple[float, ...] | None = None
        self.best_epoch: int | None = None
        self._gain_epoch: int | None = None  # the last epoch that raised the first entry
        self._state: dict[str, torch.Tensor] | None = None

    def update(self, epoch: int, score: tuple[float, ...]) -> bool:
        """Record ``score`` of ``epoch``: the best is compared in order (later entries break
        ties); True when ``patience`` epochs passed without a gain in the first entry (a
        tie-breaker alone, which keeps rising once accuracy saturates, never extends them)."""
        score = tuple(v if math.isfinite(v) else -math.inf for v in score)
        if self.best_score is None or score[0] > self.best_score[0]:
            self._gain_epoch = epoch
        if self.best_score is None or score > self.best_score:
            self.best_score, self.best_epoch = score, epoch
            self._state = copy.deepcopy(self.model.state_dict())
        return self.patience > 0 and epoch - self._gain_epoch >= self.patience

    def restore(self) -> None:
        if self._state is not None:
            self.model.load_state_dict(self._state)


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode and no autograd for the block; the training flag is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def infer(model: nn.Module, fn: Callable[[torch.Tensor], torch.Tensor], windows: np.ndarray,
          batch_size: int = 512) -> np.ndarray:
    """``fn`` over windows in batches, in eval mode without autograd, as numpy."""
    with eval_mode(model):
        outs = [fn(as_tensor(windows[i:i + batch_size], model)).cpu()
                for i in range(0, len(windows), batch_size)]
    return torch.cat(outs).numpy() if outs else np.zeros((0,), np.float32)


def fit(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer,
        objective: Objective | Callable, epochs: int, *,
        validate: Callable[[], float | tuple[float, ...]] | None = None, patience: int = 0,
        progress: bool = False, desc: str = "train") -> dict[str, Any]:
    """Train with per-epoch validation, early stopping and best-checkpoint restore.

    ``validate`` returns the validation accuracy, or a pair (accuracy, tie-breaker) when
    accuracy alone saturates (every epoch at 1.0 would keep the first). Returns a JSON-able
    history: ``train_loss``, ``val_accuracy``, ``epoch_seconds``, ``best_epoch`` (0-based, None
    without validation), ``stopped_early``, and ``val_tiebreak`` when ``validate`` gives one.
    """
    history: dict[str, Any] = {"train_loss": [], "val_accuracy": [], "epoch_seconds": [],
                               "best_epoch": None, "stopped_early": False}
    best = BestState(model, patience)
    start = time.perf_counter()

    def end_of_epoch(epoch: int, loss: float) -> bool:
        nonlocal start
        history["epoch_seconds"].append(time.perf_counter() - start)
        history["train_loss"].append(loss)
        stop = False
        if validate is not None:
            result = validate()
            score = tuple(map(float, result)) if isinstance(result, tuple) else (float(result),)
            history["val_accuracy"].append(score[0])
            if len(score) > 1:
                history.setdefault("val_tiebreak", []).append(score[1])
            stop = best.update(epoch, score)
            history["stopped_early"] = stop and epoch + 1 < epochs
        start = time.perf_counter()
        return stop

    train_epochs(model, loader, optimizer, objective, epochs, on_epoch_end=end_of_epoch,
                 progress=progress, desc=desc)
    if validate is not None:
        best.restore()
        history["best_epoch"] = best.best_epoch
    return history
