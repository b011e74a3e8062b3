"""``LanHARModel``: sensor encoder + sensor/text projections + logit scale (the stage-2 model).

The text encoder itself is not part of this module: stage 2 and the federated clients receive
text *embeddings* (computed once and cached), so only the arrays below are trained and travel.

Federated state (``federated_state_dict``): every parameter of this module, i.e. the keys under
``sensor_encoder.``, ``sensor_proj.``, ``text_proj.`` and ``logit_scale.``. Buffers (positional
table, input scales) are non-persistent and rebuilt from the config, so they never travel. The
keys are identical with and without differential privacy (no ``nn.MultiheadAttention`` to be
swapped by Opacus), and a model wrapped by Opacus (``_module.`` prefix) is unwrapped first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .heads import LogitScale, ProjectionHead
from .presets import ModelConfig, model_config
from .sensor_encoder import SensorEncoder

FEDERATED_PREFIXES = ("sensor_encoder.", "sensor_proj.", "text_proj.", "logit_scale.")


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside Opacus ``GradSampleModule`` (or similar ``_module``) wrappers."""
    while hasattr(model, "_module") and isinstance(model._module, nn.Module):
        model = model._module
    return model


def as_tensor(x: np.ndarray | torch.Tensor, like: nn.Module | None = None) -> torch.Tensor:
    """float32 tensor on the device of ``like``'s parameters (no copy when already there)."""
    device = next(like.parameters()).device if like is not None else None
    return torch.as_tensor(x, dtype=torch.float32, device=device)


class LanHARModel(nn.Module):
    """Sensor windows and text embeddings -> one L2-normalised space of dimension ``proj_dim``."""

    kind = "lanhar"

    def __init__(self, config: ModelConfig, text_dim: int) -> None:
        super().__init__()
        self.config = config.resolve(text_dim)
        self.text_dim = text_dim
        self.sensor_encoder = SensorEncoder(self.config)
        self.sensor_proj = ProjectionHead(self.config.d_model, self.config.proj_dim)
        self.text_proj = ProjectionHead(text_dim, self.config.proj_dim)
        self.logit_scale = LogitScale(self.config.logit_scale_init, self.config.logit_scale_max)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | str | ModelConfig | None,
                    text_dim: int) -> LanHARModel:
        """Build from ``cfg.model`` (or a preset name) for a text encoder of ``text_dim``."""
        return cls(model_config(cfg), text_dim)

    def spec(self) -> dict[str, Any]:
        """What ``lanhar_fl.training.checkpoint`` needs to rebuild this model."""
        return {"kind": self.kind, "model": self.config.to_dict(), "text_dim": self.text_dim}

    def encode_sensor(self, windows: torch.Tensor) -> torch.Tensor:
        """Windows (B, T, 6) -> normalised sensor vectors (B, P)."""
        return F.normalize(self.sensor_proj(self.sensor_encoder(windows)), dim=-1)

    def encode_text(self, text_emb: torch.Tensor) -> torch.Tensor:
        """Text embeddings (..., D) -> normalised vectors (..., P)."""
        return F.normalize(self.text_proj(text_emb), dim=-1)

    def forward(self, windows: torch.Tensor,
                text_emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(sensor vectors (B, P), text vectors (B, P) or (B, M, P) for (B, M, D) input)."""
        return self.encode_sensor(windows), self.encode_text(text_emb)

    def classify(self, windows: torch.Tensor,
                 prototypes: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Cosine similarity (B, K) of each window to each projected label prototype (K, D).

        Argmax is the zero-shot prediction; ``self.logit_scale`` turns it into softmax logits.
        """
        protos = self.encode_text(as_tensor(prototypes, self))
        return self.encode_sensor(windows) @ protos.T


def federated_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The arrays that travel in FL: detached copies, same keys with and without DP."""
    state = unwrap(model).state_dict()
    return {k: v.detach().clone() for k, v in state.items() if k.startswith(FEDERATED_PREFIXES)}


def load_federated_state_dict(model: nn.Module, state: Mapping[str, Any]) -> None:
    """Load arrays received from the server (tensors or numpy) into ``model``, strictly."""
    target = unwrap(model)
    expected = set(federated_state_dict(target))
    missing, extra = expected - set(state), set(state) - expected
    if missing or extra:
        raise KeyError(f"federated state mismatch: missing {sorted(missing)[:5]}, "
                       f"unexpected {sorted(extra)[:5]}")
    tensors = {k: v if torch.is_tensor(v) else torch.tensor(np.asarray(v))
               for k, v in state.items()}
    target.load_state_dict(tensors, strict=False)
