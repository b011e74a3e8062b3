"""Sensor encoder (DP-compatible attention), projection heads, presets, LanHAR and baseline."""

from torch import nn

from .heads import LogitScale, ProjectionHead
from .lanhar import (
    FEDERATED_PREFIXES,
    LanHARModel,
    federated_state_dict,
    load_federated_state_dict,
    unwrap,
)
from .presets import PRESETS, ModelConfig, model_config
from .sensor_encoder import InputAdapter, SensorEncoder
from .supervised import SupervisedHAR


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "FEDERATED_PREFIXES", "PRESETS", "InputAdapter", "LanHARModel", "LogitScale", "ModelConfig",
    "ProjectionHead", "SensorEncoder", "SupervisedHAR", "count_parameters",
    "federated_state_dict", "load_federated_state_dict", "model_config", "unwrap",
]
