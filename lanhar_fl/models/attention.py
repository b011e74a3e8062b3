"""Multi-head self-attention built from plain ``nn.Linear`` projections (Opacus-compatible).

``nn.MultiheadAttention`` keeps its q/k/v weights in one fused parameter that Opacus cannot
compute per-example gradients for; ``ModuleValidator.fix`` would swap in
``DPMultiheadAttention``, which renames the state-dict keys. This module is written once in the
DP-compatible form so that the keys (``q``, ``k``, ``v``, ``out``) are the same whether privacy is
on or off, and every Opacus grad-sample mode (hooks, functorch, ghost) sees only Linear layers.
Windows are fixed-length, so there is no key-padding mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention(nn.Module):
    """Scaled dot-product self-attention over (B, T, d) with ``n_heads`` heads."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.dropout = dropout
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, dh)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        y = F.scaled_dot_product_attention(
            self._heads(self.q(x)), self._heads(self.k(x)), self._heads(self.v(x)),
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.out(y.transpose(1, 2).reshape(b, t, d))
