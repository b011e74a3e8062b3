"""Offline LiRA (Carlini et al. 2022, "Membership inference attacks from first principles"):
a per-example calibrated membership attack with shadow models trained on public data only.

Each target window's confidence ``phi`` is the logit of the probability the model gives its own
interpretation against the public negatives (the DP stage-2 loss, ``PublicInfoNCEObjective``).
``K`` shadow sensor encoders start from the federation's initial weights and are trained on
random halves of the server's public windows, so every target window is OUT for every shadow;
the attack statistic is ``(phi_target - mean_shadow) / std_shadow`` per window (offline,
one-sided), which removes how easy a window is from its score. The AUC of that statistic,
members vs non-members, is ``mia_auc_lira``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..models.lanhar import LanHARModel, as_tensor, unwrap
from ..training.loops import PublicInfoNCEObjective, eval_mode
from ..training.stage2 import train_sensor_encoder
from .membership import attack_auc


def confidence_logits(model: LanHARModel, windows: np.ndarray, text_emb: np.ndarray,
                      negatives: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(N,) ``log p - log(1 - p)``, p the InfoNCE probability of each window's own text."""
    net = unwrap(model)
    objective = PublicInfoNCEObjective(negatives, reduction="none")
    losses = []
    with eval_mode(net):
        for i in range(0, len(windows), batch_size):
            batch = (as_tensor(windows[i:i + batch_size], net),
                     as_tensor(text_emb[i:i + batch_size], net))
            losses.append(objective(net, batch).double().cpu())
    loss = torch.cat(losses).clamp_min(1e-12)  # -log p
    return (-loss - torch.log(-torch.expm1(-loss))).numpy()


def train_shadows(initial: Callable[[], LanHARModel], windows: np.ndarray,
                  text_emb: np.ndarray, count: int, settings: dict, seed: int = 0
                  ) -> list[LanHARModel]:
    """``count`` shadow encoders, each ``initial()`` trained (stage 2, ``settings``: epochs, lr,
    batch_size) on its own random half of the public ``windows``."""
    shadows = []
    for k in range(count):
        half = np.random.default_rng([int(seed), 3301, k]).random(len(windows)) < 0.5
        if half.sum() < 2:
            half[:] = True
        model = initial()
        train_sensor_encoder(model, windows[half], text_emb[half], settings, progress=False,
                             seed=int(seed) * 31 + k)
        shadows.append(model)
    return shadows


def lira_statistic(target: np.ndarray, shadow: np.ndarray) -> np.ndarray:
    """(N,) ``(target - mean) / std`` over the (K, N) shadow logits; the variance is floored at
    the median per-window variance (K is small, so one window's spread is a noisy estimate)."""
    shadow = np.asarray(shadow, float)
    var = shadow.var(axis=0, ddof=1) if len(shadow) > 1 else np.zeros(shadow.shape[1])
    floor = max(float(np.median(var)), 1e-6)
    return (np.asarray(target, float) - shadow.mean(axis=0)) / np.sqrt(np.maximum(var, floor))


def lira_audit(model: LanHARModel, shadows: list[LanHARModel],
               members: tuple[np.ndarray, np.ndarray], nonmembers: tuple[np.ndarray, np.ndarray],
               negatives: np.ndarray) -> dict[str, float]:
    """``mia_auc_lira`` for (windows, text embeddings) pairs of members and non-members."""
    auc = {}
    for name, (windows, texts) in (("in", members), ("out", nonmembers)):
        target = confidence_logits(model, windows, texts, negatives)
        shadow = np.stack([confidence_logits(s, windows, texts, negatives) for s in shadows])
        auc[name] = lira_statistic(target, shadow)
    return {"mia_auc_lira": attack_auc(auc["in"], auc["out"]), "lira_shadows": len(shadows)}
