"""Empirical privacy audit: a membership-inference attack on the trained sensor encoder.

Members are windows the phones trained on; non-members are windows of the same phones held out
of training (``privacy.audit_holdout``, chosen by ``audit_mask``), so both come from the same
users and devices and the attack measures memorisation, not a shift between users. The attack
thresholds a per-window score (the DP stage-2 loss against its own interpretation and the public
negatives, or the cosine similarity of window and interpretation); its AUC is the probability
that a random member scores as more member-like than a random non-member (0.5: no leakage).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from ..data.windows import Windows
from ..models.lanhar import LanHARModel, as_tensor, unwrap
from ..training.loops import PublicInfoNCEObjective, eval_mode
from .settings import audit_holdout

AUDIT_SEED = 7919


def audit_mask(n: int, phone_index: int, seed: int, fraction: float) -> np.ndarray:
    """Boolean (n,): True for the windows phone ``phone_index`` keeps out of training."""
    mask = np.zeros(n, bool)
    k = int(round(fraction * n))
    if k and n > 1:
        rng = np.random.default_rng([int(seed), int(phone_index), AUDIT_SEED])
        mask[rng.choice(n, size=min(k, n - 1), replace=False)] = True
    return mask


def training_windows(cfg: DictConfig, windows: Windows, phone_index: int) -> Windows:
    """The phone's windows minus its audit hold-out (all of them when the audit is off)."""
    fraction = audit_holdout(cfg)
    if not fraction:
        return windows
    keep = ~audit_mask(len(windows), phone_index, int(cfg.seed), fraction)
    return windows.subset(np.flatnonzero(keep))


def attack_auc(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> float:
    """P(member score > non-member score) + 0.5 P(tie): the threshold attack's ROC AUC."""
    m, n = np.asarray(member_scores, float), np.asarray(nonmember_scores, float)
    if not len(m) or not len(n):
        raise ValueError("the attack needs members and non-members")
    both = np.concatenate([m, n])
    order = both.argsort(kind="mergesort")
    ranks = np.empty(len(both))
    sorted_scores = both[order]
    # average ranks for ties
    unique, start, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = start + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    u = ranks[: len(m)].sum() - len(m) * (len(m) + 1) / 2.0
    return float(u / (len(m) * len(n)))


def attack_scores(model: LanHARModel, windows: np.ndarray, text_emb: np.ndarray,
                  negatives: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Per-window member-likeness: ``loss`` (minus the DP loss) and ``similarity``."""
    net = unwrap(model)
    objective = PublicInfoNCEObjective(negatives, reduction="none")
    losses, sims = [], []
    with eval_mode(net):
        for i in range(0, len(windows), batch_size):
            w = as_tensor(windows[i:i + batch_size], net)
            t = as_tensor(text_emb[i:i + batch_size], net)
            losses.append(objective(net, (w, t)).cpu())
            sensor, text = net(w, t)
            sims.append((sensor * text).sum(-1).cpu())
    return {"loss": -torch.cat(losses).numpy(), "similarity": torch.cat(sims).numpy()}


def membership_audit(model: LanHARModel, members: tuple[np.ndarray, np.ndarray],
                     nonmembers: tuple[np.ndarray, np.ndarray],
                     negatives: np.ndarray) -> dict[str, Any]:
    """Attack AUCs (loss and similarity thresholds) for (windows, text embeddings) pairs."""
    scores_in = attack_scores(model, *members, negatives)
    scores_out = attack_scores(model, *nonmembers, negatives)
    aucs = {k: attack_auc(scores_in[k], scores_out[k]) for k in scores_in}
    return {"mia_auc": max(aucs.values()), "mia_auc_loss": aucs["loss"],
            "mia_auc_similarity": aucs["similarity"], "mia_members": int(len(members[0])),
            "mia_nonmembers": int(len(nonmembers[0]))}
