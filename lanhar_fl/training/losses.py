"""Losses of both LanHAR stages and the per-example (DP-safe) stage-2 loss.

Inputs are L2-normalised vectors. ``temperature`` is either a float tau (logits / tau) or a
callable mapping cosine logits (B, ...) to scaled logits, e.g. ``LanHARModel.logit_scale``
(learnable, and visible to Opacus because it is applied as a module on per-example rows).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

Temperature = float | Callable[[torch.Tensor], torch.Tensor]


def scale_logits(logits: torch.Tensor, temperature: Temperature) -> torch.Tensor:
    """Apply a float temperature or a logit-scale module to cosine logits."""
    return temperature(logits) if callable(temperature) else logits / float(temperature)


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be mean, sum or none, got {reduction!r}")


def soft_target_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-row cross-entropy against target rows normalised to sum 1 (all-zero rows: loss 0)."""
    weights = targets / targets.sum(dim=1, keepdim=True).clamp(min=1e-12)
    return -(weights * F.log_softmax(logits, dim=1)).sum(dim=1)


def clip_loss(a: torch.Tensor, b: torch.Tensor, temperature: Temperature,
              positive_mask: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """Symmetric InfoNCE between paired rows of ``a`` (B, P) and ``b`` (B, P).

    ``positive_mask`` (B, B, bool, symmetric) marks extra positives (e.g. duplicate texts) that
    must not be pushed apart; by default only the diagonal is positive. With ``reduction="none"``
    row i's value is the mean of its a->b and b->a terms.
    """
    n = a.shape[0]
    mask = torch.eye(n, dtype=torch.bool, device=a.device)
    if positive_mask is not None:
        mask = mask | positive_mask
    logits = scale_logits(a @ b.T, temperature)
    targets = mask.to(logits.dtype)
    per_row = 0.5 * (soft_target_cross_entropy(logits, targets)
                     + soft_target_cross_entropy(logits.T, targets.T))
    return _reduce(per_row, reduction)


def multi_positive_clip_loss(a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor,
                             temperature: Temperature) -> torch.Tensor:
    """Symmetric CLIP where every pair of items sharing a label is a positive (stage 1)."""
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    return clip_loss(a, b, temperature, positive_mask=same)


def prototype_cross_entropy(emb: torch.Tensor, prototypes: torch.Tensor, labels: torch.Tensor,
                            scale: float = 30.0) -> torch.Tensor:
    """Cross-entropy of ``scale`` x cosine(emb, prototypes (K, P)) against class labels."""
    return F.cross_entropy(scale * emb @ prototypes.T, labels)


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                 margin: float = 1.0) -> torch.Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with Euclidean distances, averaged."""
    return F.triplet_margin_loss(anchor, positive, negative, margin=margin, p=2)


def sample_triplets(labels: np.ndarray,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(anchor, positive, negative) indices for one epoch.

    Every item is an anchor exactly once, in a random order. The positive is another item of
    the anchor's class (the anchor itself only when its class has one item); the negative is
    a random item of a different class (-1 when there is only one class).
    """
    labels = np.asarray(labels)
    anchors = rng.permutation(len(labels))
    members = {c: np.flatnonzero(labels == c) for c in np.unique(labels)}
    others = {c: np.flatnonzero(labels != c) for c in members}
    positives = np.empty_like(anchors)
    negatives = np.full_like(anchors, -1)
    for j, i in enumerate(anchors):
        same = members[labels[i]]
        if len(same) > 1:
            k = rng.integers(len(same) - 1)
            positives[j] = same[k] if same[k] < i else same[k + 1]  # skip i (same is sorted)
        else:
            positives[j] = i
        if len(members) > 1:
            negatives[j] = rng.choice(others[labels[i]])
    return anchors, positives, negatives


def per_example_infonce_public(sensor_vecs: torch.Tensor, positive_text_vecs: torch.Tensor,
                               public_negatives: torch.Tensor, temperature: Temperature,
                               reduction: str = "mean") -> torch.Tensor:
    """InfoNCE of each sensor vector against its own text and PUBLIC negatives only.

    ``sensor_vecs`` (B, P), ``positive_text_vecs`` (B, P), ``public_negatives`` (M, P) or
    (B, M, P) (label-bank prototypes and public interpretation embeddings, projected). Loss i
    depends on example i and public data only, so per-example clipping in DP-SGD bounds each
    example's influence (unlike ``clip_loss``, whose in-batch negatives are other private
    examples). Negatives identical to example i's positive (cosine > 1 - 1e-6) are ignored.
    """
    pos = (sensor_vecs * positive_text_vecs).sum(dim=-1, keepdim=True)  # (B, 1)
    if public_negatives.dim() == 2:
        neg = sensor_vecs @ public_negatives.T  # (B, M)
        dup = positive_text_vecs @ public_negatives.T
    else:
        neg = torch.einsum("bp,bmp->bm", sensor_vecs, public_negatives)
        dup = torch.einsum("bp,bmp->bm", positive_text_vecs, public_negatives)
    logits = scale_logits(torch.cat([pos, neg], dim=1), temperature)
    ignore = torch.cat([torch.zeros_like(pos, dtype=torch.bool), dup.detach() > 1 - 1e-6], dim=1)
    logits = logits.masked_fill(ignore, float("-inf"))
    return _reduce(-F.log_softmax(logits, dim=1)[:, 0], reduction)


def prototype_distillation(sensor_vecs: torch.Tensor, prototype_vecs: torch.Tensor,
                           raw_text: torch.Tensor, raw_prototypes: torch.Tensor,
                           temperature: Temperature, teacher_temperature: float = 0.05,
                           reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy from the text side's zero-shot distribution to the sensor side's.

    Teacher: softmax over classes of cos(window's interpretation, prototype) / τ_t in the frozen
    text space (``raw_text`` (B, D), ``raw_prototypes`` (K, D)); student: the model's zero-shot
    logits, ``sensor_vecs`` (B, P) against projected ``prototype_vecs`` (B, K, P). Per example
    and label-free; public prototypes are the only other input. In-batch CLIP needs other
    windows as negatives; against public negatives alone InfoNCE separates a phone's windows from
    public text but not its classes from each other, which this term supplies.
    """
    teacher = F.softmax(F.normalize(raw_text, dim=-1) @ F.normalize(raw_prototypes, dim=-1).T
                        / teacher_temperature, dim=-1).detach()
    logits = scale_logits(torch.einsum("bp,bkp->bk", sensor_vecs, prototype_vecs), temperature)
    return _reduce(-(teacher * F.log_softmax(logits, dim=-1)).sum(dim=-1), reduction)
