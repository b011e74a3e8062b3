"""Supervised baseline: the same sensor encoder with a linear classification head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from .presets import ModelConfig, model_config
from .sensor_encoder import SensorEncoder


class SupervisedHAR(nn.Module):
    """Windows (B, T, 6) -> class logits (B, K): sensor encoder, LayerNorm, Linear.

    The LayerNorm tames the sum-pooled features (their scale grows with the window length);
    ``d_model=None`` configs (paper) fall back to 384, the default text encoder's size.
    """

    kind = "supervised"

    def __init__(self, config: ModelConfig, num_classes: int) -> None:
        super().__init__()
        self.config = config.resolve(384)
        self.num_classes = num_classes
        self.sensor_encoder = SensorEncoder(self.config)
        self.head = nn.Sequential(nn.LayerNorm(self.config.d_model),
                                  nn.Linear(self.config.d_model, num_classes))

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | str | ModelConfig | None,
                    num_classes: int) -> SupervisedHAR:
        return cls(model_config(cfg), num_classes)

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.config.to_dict(), "num_classes": self.num_classes}

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.head(self.sensor_encoder(windows))
