"""The empirical privacy audit of one finished simulated run (a ``privacy-sweep`` cell).

Three attacks on the final global sensor encoder: the threshold membership attack
(``membership.py``: members are the phones' trained windows, non-members their audit hold-out),
offline LiRA with shadow encoders trained on the server's public windows (``lira.py``), and the
one-run canary audit's epsilon lower bound (when ``privacy.audit_canaries``: window canaries,
``canaries.py``, or gradient canaries, ``gradient_canaries.py``, scored against the initial model
the federation saved as ``canaries.INITIAL_CHECKPOINT``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from ..federated.population import phone_count, phone_windows
from ..models.lanhar import LanHARModel
from ..semantics.interpret import interpret_windows
from ..training.checkpoint import load_checkpoint
from . import canaries, gradient_canaries
from .lira import lira_audit, train_shadows
from .membership import audit_mask, membership_audit
from .public_negatives import dp_negatives, public_embeddings


def _pools(cfg: DictConfig, limit: int) -> tuple[list, Any]:
    """(members, non-members) windows, at most ``limit`` each (seeded), and phone 0's windows."""
    fraction = float(cfg.privacy.audit_holdout)
    members, nonmembers = [], []
    for pid in range(phone_count(cfg)):
        windows = phone_windows(cfg, pid)
        held = audit_mask(len(windows), pid, int(cfg.seed), fraction)
        members.append(windows.subset(np.flatnonzero(~held)))
        nonmembers.append(windows.subset(np.flatnonzero(held)))
    rng = np.random.default_rng(int(cfg.seed))
    pools = []
    for parts in (members, nonmembers):
        pool = type(parts[0]).concatenate(parts)
        pools.append(pool.subset(np.sort(rng.permutation(len(pool))[:limit])))
    return pools, members[0]


def shadow_encoders(cfg: DictConfig, side: Any, public: Any, count: int,
                    epochs: int) -> list[LanHARModel]:
    """``count`` shadows from the federation's seeded initialisation, on public windows."""
    def initial() -> LanHARModel:
        torch.manual_seed(int(cfg.seed))  # as server/federation.py builds the initial model
        return LanHARModel.from_config(cfg.model, text_dim=side.encoder.dim)

    texts = interpret_windows(public, cfg, labels_known=False, progress=False).texts
    fed = cfg.federation
    settings = {"epochs": epochs, "lr": float(fed.lr), "batch_size": int(fed.batch_size),
                "dedup_positives": bool(cfg.train.stage2.get("dedup_positives", True))}
    return train_shadows(initial, public.data, side.embed(list(texts), progress=False), count,
                         settings, seed=int(cfg.seed))


def audit_run(cfg: DictConfig, settings: dict[str, Any], side: Any, public: Any,
              shadows: list[LanHARModel] | None) -> dict[str, Any]:
    """Membership AUCs (threshold, LiRA when ``shadows``) and the canary epsilon lower bound
    of the model in ``cfg.run_dir``; ``public`` holds the server's public windows."""
    pools, phone0 = _pools(cfg, int(settings["audit_windows"]))
    pairs = []
    for pool in pools:
        texts = interpret_windows(pool, cfg, labels_known=False, progress=False).texts
        pairs.append((pool.data, side.embed(list(texts), progress=False)))
    negatives = dp_negatives(side.bank.prototypes, public_embeddings(
        cfg, public, lambda t: side.embed(t, progress=False), 64, seed=int(cfg.seed)))
    run_dir = Path(str(cfg.run_dir))
    model, _ = load_checkpoint(run_dir / "sensor_encoder")
    out = membership_audit(model, pairs[0], pairs[1], negatives)
    if shadows:
        out.update(lira_audit(model, shadows, pairs[0], pairs[1], negatives))
    delta = float(settings["canary_delta"])
    if canaries.canary_count(cfg) and canaries.canary_kind(cfg) == "gradients":
        initial, _ = load_checkpoint(run_dir / canaries.INITIAL_CHECKPOINT)
        out.update(gradient_canaries.audit(cfg, initial, model, delta))
    else:
        out.update(canaries.audit(cfg, model, side.bank.prototypes, phone0.window_length,
                                  not bool(phone0.gravity_removed[0]), delta))
    return out

