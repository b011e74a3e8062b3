"""Projection heads and the learnable logit scale of the shared sensor-text space."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn


class ProjectionHead(nn.Sequential):
    """Linear, GELU, LayerNorm (the reference LanHAR projection); callers L2-normalise."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__(nn.Linear(in_dim, out_dim), nn.GELU(), nn.LayerNorm(out_dim))


class LogitScale(nn.Module):
    """Multiplies cosine logits (B, ...) by ``exp(w)``, clamped at ``max_scale`` (CLIP).

    ``w`` (the log-scale) is the weight of a bias-free ``Linear(1, 1)`` applied to a column of
    ones, one row per example. A bare ``nn.Parameter`` has no Opacus grad sampler; written this
    way every Opacus mode (hooks, functorch, ghost) treats it as an ordinary Linear layer and its
    per-example gradient is exact: row i of the logits belongs to example i. State-dict key:
    ``<name>.log_scale.weight``, shape (1, 1).
    """

    def __init__(self, init: float = 1.0 / 0.07, max_scale: float = 100.0) -> None:
        super().__init__()
        self.max_scale = max_scale
        self.log_scale = nn.Linear(1, 1, bias=False)
        with torch.no_grad():
            self.log_scale.weight.fill_(math.log(init))

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return self.for_rows(logits)(logits)

    def for_rows(self, like: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """The scaling for ``like.shape[0]`` examples, computed once, to apply to several logit
        tensors of one forward pass (Opacus' ghost clipping rejects a module that runs twice in
        one pass as parameter tying)."""
        ones = like.new_ones(like.shape[0], 1)
        scale = self.log_scale(ones).exp().clamp(max=self.max_scale)  # (B, 1)
        return lambda logits: logits * scale.view(-1, *([1] * (logits.dim() - 1)))

    def value(self) -> float:
        """The current multiplicative scale (1 / temperature)."""
        return float(self.log_scale.weight.detach().exp().clamp(max=self.max_scale))
