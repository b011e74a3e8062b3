"""White-box gradient canaries for the one-run audit (Steinke, Nasr, Jagielski 2023, section 6:
"Dirac canaries"), with ``privacy.audit_canary_kind=gradients``.

Canary ``i`` is a gradient: ``-sign_i * C`` on one coordinate of the projection heads (the part
every privacy mode trains; ``C`` = ``privacy.max_grad_norm``, 1 when the mode has no clipping)
and 0 elsewhere, i.e. the gradient of an example that spends its whole clipping budget on
pushing one weight towards ``sign_i``. It belongs to phone ``i mod phones`` and is included with
probability 1/2 (as window canaries, ``canaries.py``). An included canary joins each of its
phone's optimizer steps with the Poisson rate of a real window (``batch / windows``) as one more
example: ``-sign_i * C / batch`` is added to the step's gradient after Opacus has clipped,
summed, noised and averaged the real ones (an optimizer step pre-hook), so DP noise covers it
exactly as it covers a window.

Score: ``sign_i * (final_i - initial_i)``, the movement of the canary's coordinate from the
federation's initial model to the final one. This audits the mechanism against the strongest
adversary DP allows (one who controls an example's gradient), where window canaries audit what
a data poisoner could see; both feed ``canaries.epsilon_lower_bound``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from .canaries import (
    CANARY_SEED,
    canary_count,
    canary_kind,
    epsilon_lower_bound,
    included,
    phone_canaries,
)
from .settings import privacy_section

HEAD_WEIGHTS = ("sensor_proj.", "text_proj.")


def head_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The projection heads' weight parameters, in name order (the canaries' coordinates)."""
    chosen = [(name, p) for name, p in model.named_parameters()
              if name.startswith(HEAD_WEIGHTS) and p.dim() >= 2]
    return sorted(chosen, key=lambda item: item[0])


def coordinates(model: nn.Module, seed: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(m,) distinct flat indices into the concatenated head weights, and (m,) signs +-1."""
    size = sum(p.numel() for _, p in head_parameters(model))
    if m > size:
        raise ValueError(f"privacy.audit_canaries={m}: gradient canaries need distinct "
                         f"coordinates and the heads have only {size}")
    rng = np.random.default_rng([int(seed), CANARY_SEED, 3])
    return rng.choice(size, m, replace=False), rng.choice([-1.0, 1.0], m)


def canary_norm(cfg: DictConfig) -> float:
    """``C``: the per-example clipping norm of sample-level DP (1 without it)."""
    return float(privacy_section(cfg).get("max_grad_norm", 1.0) or 1.0)


def flat_values(model: nn.Module) -> np.ndarray:
    """The concatenated head weights of ``model`` (float64)."""
    return np.concatenate([p.detach().double().reshape(-1).cpu().numpy()
                           for _, p in head_parameters(model)])


class GradientCanaries:
    """One phone's included gradient canaries for one local update; ``attach`` registers the
    step pre-hook on the (inner) optimizer."""

    def __init__(self, model: nn.Module, ids: np.ndarray, flat: np.ndarray, signs: np.ndarray,
                 scale: float, rate: float, seed: int) -> None:
        params = head_parameters(model)
        bounds = np.cumsum([0] + [p.numel() for _, p in params])
        which = np.searchsorted(bounds, flat[ids], side="right") - 1
        self.entries = [(params[w][1], int(flat[i] - bounds[w]), -float(signs[i]) * scale)
                        for i, w in zip(ids, which, strict=True)]
        self.rate = min(1.0, rate)
        self.rng = np.random.default_rng([int(seed), CANARY_SEED, 4])
        self.injected = 0

    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        optimizer.register_step_pre_hook(self._before_step)

    def _before_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        drawn = self.rng.random(len(self.entries)) < self.rate
        with torch.no_grad():
            for (param, index, value), take in zip(self.entries, drawn, strict=True):
                if take and param.grad is not None:
                    param.grad.view(-1)[index] += value
                    self.injected += 1


def for_phone(cfg: DictConfig, model: nn.Module, phone_index: int, n_examples: int,
              batch_size: int, seed: int) -> GradientCanaries | None:
    """This phone's gradient canaries (None unless ``audit_canary_kind=gradients`` and the
    phone holds an included one); ``seed`` varies per round and phone."""
    from ..federated.population import phone_count

    m = canary_count(cfg)
    if not m or canary_kind(cfg) != "gradients" or n_examples <= 0:
        return None
    ids = phone_canaries(int(cfg.seed), m, phone_count(cfg), phone_index)
    if not len(ids):
        return None
    flat, signs = coordinates(model, int(cfg.seed), m)
    return GradientCanaries(model, ids, flat, signs, canary_norm(cfg) / batch_size,
                            batch_size / n_examples, seed)


def audit(cfg: DictConfig, initial: nn.Module, final: nn.Module,
          delta: float = 1e-5) -> dict[str, Any]:
    """Score every gradient canary by its coordinate's signed movement from ``initial`` to
    ``final`` and return the epsilon lower bound."""
    m, seed = canary_count(cfg), int(cfg.seed)
    flat, signs = coordinates(final, seed, m)
    moved = (flat_values(final) - flat_values(initial))[flat] * signs
    return epsilon_lower_bound(moved, included(seed, m), delta)
