"""Stage 1: fine-tune the text encoder so interpretations land near their class prototypes.

Per step (batch of anchor interpretations, their triplet partners, the label prototypes):

    loss = multi-positive CLIP(interpretations, own-class prototypes; tau = ``temperature``)
         + ``ce_weight`` x cross-entropy(``ce_scale`` x cos(interpretation, all prototypes))
         + ``triplet_weight`` x triplet(interp, same-class interp, other-class interp)
         + ``triplet_weight`` x triplet(interp, own-class prototype, nearest other prototype)

The first triplet is the paper's (interpretation, same-class interpretation, other-class
interpretation). The reference's second triplet repeats it on another text field; ours ties
each interpretation to the prototypes used at inference instead (anchor, its own class
prototype, the most similar wrong prototype), which needs no extra encoder passes.
Triplets come from ``losses.sample_triplets``: every interpretation is an anchor exactly once per
epoch. Prototypes are recomputed differentiably through ``bank.prototype_tensor(encoder)`` every
step (``prototype_refresh: step``, the reference behaviour) or, to save time, once per epoch
without gradient (``prototype_refresh: epoch``). Classes are matched to prototype rows BY NAME
(the reference stacked them in a different order than the labels).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .loops import deterministic
from .losses import multi_positive_clip_loss, prototype_cross_entropy, sample_triplets, triplet_loss


def _prototype_rows(bank, class_names: Sequence[str]) -> torch.Tensor:
    missing = [c for c in class_names if c not in bank.class_names]
    if missing:
        raise ValueError(f"classes {missing} have no prototype in the label bank "
                         f"({list(bank.class_names)})")
    return torch.tensor([list(bank.class_names).index(c) for c in class_names])


def _prototypes(encoder, bank, rows: torch.Tensor) -> torch.Tensor:
    return F.normalize(bank.prototype_tensor(encoder), dim=-1)[rows.to(encoder.device)]


def _nearest_other(emb: torch.Tensor, protos: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Index of the most similar prototype of another class, per row."""
    sims = (emb @ protos.T).detach()
    sims[torch.arange(len(labels)), labels] = -float("inf")
    return sims.argmax(dim=1)


def train_text_encoder(encoder, bank, texts: list[str], labels: np.ndarray,
                       class_names: Sequence[str], cfg: Mapping[str, Any],
                       progress: bool = True, seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """Fine-tune ``encoder`` in place on labelled interpretations; returns (encoder, history).

    ``labels[i]`` indexes ``class_names``; ``cfg`` is ``cfg.train.stage1``. The bank is read, not
    changed: rebuild it with the tuned encoder afterwards (``bank.rebuilt(encoder)``).
    History: per-epoch ``loss``, ``clip``, ``ce``, ``triplet``, ``train_accuracy`` (nearest
    prototype), ``epoch_seconds``.
    """
    labels = np.asarray(labels, np.int64)
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError("labels must index class_names")
    rows = _prototype_rows(bank, class_names)
    epochs, batch_size = int(cfg.get("epochs", 10)), int(cfg.get("batch_size", 10))
    tau, margin = float(cfg.get("temperature", 0.1)), float(cfg.get("triplet_margin", 1.0))
    ce_weight, ce_scale = float(cfg.get("ce_weight", 0.3)), float(cfg.get("ce_scale", 30.0))
    t_weight = float(cfg.get("triplet_weight", 0.5))
    refresh = str(cfg.get("prototype_refresh", "step"))
    if refresh not in ("step", "epoch"):
        raise ValueError(f"train.stage1.prototype_refresh must be step or epoch, got {refresh!r}")
    keys = ("loss", "clip", "ce", "triplet", "train_accuracy", "epoch_seconds")
    history: dict[str, Any] = {k: [] for k in keys}
    rng = np.random.default_rng(seed)
    params = [p for p in encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=float(cfg.get("lr", 1e-5)),
                                  weight_decay=float(cfg.get("weight_decay", 0.01)))
    with deterministic(seed):
        encoder.train()
        for epoch in range(epochs):
            start = time.perf_counter()
            anchors, positives, negatives = sample_triplets(labels, rng)
            sums = dict.fromkeys(keys[:5], 0.0)
            fixed = None
            if refresh == "epoch":
                with torch.no_grad():
                    fixed = _prototypes(encoder, bank, rows)
            starts = range(0, len(anchors), batch_size)
            for s in tqdm(starts, desc=f"stage 1 {epoch + 1}/{epochs}", disable=not progress,
                          leave=False):
                a_idx, p_idx, n_idx = (x[s:s + batch_size] for x in (anchors, positives,
                                                                     negatives))
                use_triplets = bool((n_idx >= 0).all())
                batch = [texts[i] for i in a_idx]
                if use_triplets:
                    batch += [texts[i] for i in p_idx] + [texts[i] for i in n_idx]
                emb = F.normalize(encoder(batch), dim=-1)
                anchor = emb[: len(a_idx)]
                y = torch.as_tensor(labels[a_idx], device=emb.device)
                protos = fixed if fixed is not None else _prototypes(encoder, bank, rows)
                clip = multi_positive_clip_loss(anchor, protos[y], y, tau)
                ce = prototype_cross_entropy(anchor, protos, y, ce_scale)
                trip = anchor.new_zeros(())
                if use_triplets:
                    pos, neg = emb[len(a_idx): 2 * len(a_idx)], emb[2 * len(a_idx):]
                    trip = (triplet_loss(anchor, pos, neg, margin)
                            + triplet_loss(anchor, protos[y],
                                           protos[_nearest_other(anchor, protos, y)], margin))
                loss = clip + ce_weight * ce + t_weight * trip
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                n = len(a_idx)
                correct = (anchor @ protos.T).argmax(dim=1).eq(y).sum().item()
                for k, v in (("loss", loss), ("clip", clip), ("ce", ce), ("triplet", trip)):
                    sums[k] += float(v.detach()) * n
                sums["train_accuracy"] += correct
            for k in keys[:5]:
                history[k].append(sums[k] / max(len(anchors), 1))
            history["epoch_seconds"].append(time.perf_counter() - start)
        encoder.eval()
    if hasattr(encoder, "refresh_fingerprint"):
        encoder.refresh_fingerprint()
    return encoder, history
