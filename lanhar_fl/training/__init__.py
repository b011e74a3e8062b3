"""Losses, the reusable training loop, stage 1 (text encoder), stage 2 (sensor encoder),
the supervised baseline and checkpoints."""

from .checkpoint import load_checkpoint, model_from_spec, save_checkpoint
from .local import LocalObjective, LocalTrainSettings, local_train
from .loops import train_epochs
from .stage1 import train_text_encoder
from .stage2 import SourceValidation, evaluate_zero_shot, predict_zero_shot, train_sensor_encoder
from .supervised import predict, train_supervised

__all__ = [
    "LocalObjective", "LocalTrainSettings", "SourceValidation", "evaluate_zero_shot",
    "load_checkpoint", "local_train", "model_from_spec", "predict", "predict_zero_shot",
    "save_checkpoint", "train_epochs", "train_sensor_encoder", "train_supervised",
    "train_text_encoder",
]
