"""The LanHAR sensor encoder: a small Transformer over IMU windows, sum-pooled over time.

Input: windows (B, T, 6) in SI units (acc m/s^2, gyro rad/s), gravity-aligned (+Z up), with NaN
gyro channels when the device has no gyroscope (see ``lanhar_fl.data.windows``).
``InputAdapter`` replaces NaN by 0, divides by fixed constants (``ACC_SCALE``, ``GYRO_SCALE``: no
data-dependent statistics, so nothing has to travel or be re-estimated per phone) and appends a
gyro-present indicator channel (1 where all three gyro values of a sample are finite).

Gravity alignment fixes the vertical but not the heading: where X and Y point depends on how the
phone sits in a pocket or on a wrist. ``model.inputs=axes`` (the default) keeps X, Y, Z (7
channels); ``heading_invariant`` keeps, per sensor, the vertical component and the horizontal
magnitude, which no turn about the vertical changes (5 channels); ``magnitude`` keeps only each
sensor's norm (3 channels), unchanged by any rotation: for devices whose vertical is unknown
(linear acceleration without gravity, e.g. BasicMotions). On the demo's mixed
placements the public warm start alone reads 0.85 with them against 0.74 with the axes, and
the federation ends alike (0.82 vs 0.83; README, *Quick start*).

Then Linear(channels -> d) + fixed sinusoidal positions + N encoder layers (attention from plain
Linear layers, see ``attention.py``) + sum pooling over time -> (B, d). The projection heads live
in ``heads.py``. Only Linear and LayerNorm layers carry parameters: Opacus accepts the model in
every grad-sample mode. Buffers (positions, scales) are non-persistent: they are not in the
state dict and never travel.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .attention import SelfAttention
from .presets import ModelConfig

# Gravity-removed acceleration must stay comparable to the unit-amplitude positional table: in g
# (/9.81) it is ~0.05, every window then embeds alike at initialisation and the CLIP loss sits at
# log(batch) for many steps; a phone's few local steps never leave that plateau.
ACC_SCALE = 1.0  # m/s^2
GYRO_SCALE = 1.0  # rad/s
IN_CHANNELS = {"axes": 7,  # acc xyz, gyro xyz, gyro-present indicator
               "heading_invariant": 5,  # acc z, |acc xy|, gyro z, |gyro xy|, indicator
               "magnitude": 3}  # |acc|, |gyro|, indicator


class InputAdapter(nn.Module):
    """(B, T, 6) SI windows with NaN gyro -> (B, T, C) scaled, finite, gyro-present flag."""

    def __init__(self, inputs: str = "axes") -> None:
        super().__init__()
        if inputs not in IN_CHANNELS:
            raise ValueError(f"model.inputs must be one of {list(IN_CHANNELS)}, got {inputs!r}")
        self.inputs = inputs
        self.channels = IN_CHANNELS[inputs]
        scale = torch.tensor([ACC_SCALE] * 3 + [GYRO_SCALE] * 3, dtype=torch.float32)
        self.register_buffer("scale", scale, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != 6:
            raise ValueError(f"expected windows (B, T, 6), got {tuple(x.shape)}")
        present = torch.isfinite(x[..., 3:6]).all(dim=-1, keepdim=True).to(x.dtype)
        clean = torch.where(torch.isfinite(x), x, torch.zeros_like(x)) / self.scale
        if self.inputs == "axes":
            return torch.cat([clean, present], dim=-1)
        acc, gyro = clean[..., 0:3], clean[..., 3:6]
        if self.inputs == "magnitude":
            return torch.cat([_norm(acc), _norm(gyro), present], dim=-1)
        return torch.cat([acc[..., 2:3], _horizontal(acc), gyro[..., 2:3], _horizontal(gyro),
                          present], dim=-1)


def _norm(v: torch.Tensor) -> torch.Tensor:
    """|v| of (..., 3) vectors, (..., 1): unchanged by any rotation of the device."""
    return torch.sqrt((v ** 2).sum(dim=-1, keepdim=True))


def _horizontal(v: torch.Tensor) -> torch.Tensor:
    """|(x, y)| of (..., 3) vectors, (..., 1): unchanged by any turn about the vertical."""
    return torch.sqrt(v[..., 0:1] ** 2 + v[..., 1:2] ** 2)


class SinusoidalPositions(nn.Module):
    """Adds the fixed sine/cosine table of "Attention is all you need" (a buffer)."""

    def __init__(self, d_model: int, max_len: int) -> None:
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32)
                        * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(position * div)
        table[:, 1::2] = torch.cos(position * div[: d_model // 2])
        self.register_buffer("table", table, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.table.shape[0]:
            raise ValueError(f"window of {x.shape[1]} samples exceeds max_len "
                             f"{self.table.shape[0]}; raise model.max_len")
        return x + self.table[: x.shape[1]]


class EncoderLayer(nn.Module):
    """One Transformer encoder layer, pre-LN (``norm_first``) or post-LN (the reference)."""

    def __init__(self, d_model: int, n_heads: int, ff_dim: int, dropout: float,
                 norm_first: bool, activation: str, attn_dropout: float = 0.0) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.attn = SelfAttention(d_model, n_heads, attn_dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        act = nn.GELU() if activation == "gelu" else nn.ReLU()
        self.ff = nn.Sequential(nn.Linear(d_model, ff_dim), act, nn.Dropout(dropout),
                                nn.Linear(ff_dim, d_model))
        self.drop1 = nn.Dropout(dropout)
        self.drop2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm_first:
            x = x + self.drop1(self.attn(self.norm1(x)))
            return x + self.drop2(self.ff(self.norm2(x)))
        x = self.norm1(x + self.drop1(self.attn(x)))
        return self.norm2(x + self.drop2(self.ff(x)))


class SensorEncoder(nn.Module):
    """Windows (B, T, 6) -> sum-pooled features (B, d_model)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.d_model is None:
            raise ValueError("resolve the ModelConfig (cfg.resolve(text_dim)) before building")
        d = cfg.d_model
        self.out_dim = d
        self.inputs = InputAdapter(cfg.inputs)
        self.embed = nn.Linear(self.inputs.channels, d)
        self.positions = SinusoidalPositions(d, cfg.max_len)
        self.dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(
            EncoderLayer(d, cfg.n_heads, cfg.ff_dim, cfg.dropout, cfg.norm_first, cfg.activation,
                         cfg.attn_dropout)
            for _ in range(cfg.n_layers)
        )
        self.final_norm = nn.LayerNorm(d) if cfg.norm_first else nn.Identity()

    def sequence(self, windows: torch.Tensor) -> torch.Tensor:
        """Per-sample features (B, T, d)."""
        x = self.dropout(self.positions(self.embed(self.inputs(windows))))
        for layer in self.layers:
            x = layer(x)
        return self.final_norm(x)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.sequence(windows).sum(dim=1)
