"""The on-device LanHAR classifier and what it is built from (checkpoint + label bank).

``OnDeviceClassifier`` is the part of a trained ``LanHARModel`` a phone needs: sensor encoder +
sensor projection -> L2-normalised sensor vector ``embedding`` (B, P), and the cosine ``scores``
(B, K) against the projected, normalised label prototypes baked in as a constant. The input is
the raw window (B, T, 6) in SI units (acc m/s^2, gyro rad/s) with NaN gyro channels on phones
without a gyroscope: the model's ``InputAdapter`` (isfinite/where, exportable from ONNX opset 11
on) turns them into zeros plus a gyro-present channel inside the graph.

A new activity needs no re-export: append its projected prototype (``projected_prototypes`` run
on the server, where the text encoder and ``text_proj`` live) to the exported bank file and
score ``embedding`` against it.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..models.lanhar import LanHARModel
from ..semantics.label_bank import LabelBank
from ..training.checkpoint import load_checkpoint

BANK_DIR = "label_bank"  # saved beside the checkpoint by `lanhar-fl train`
DEFAULT_RATE_HZ = 50.0
DEFAULT_WINDOW_SECONDS = 2.56


class OnDeviceClassifier(nn.Module):
    """Window (B, T, 6) -> (scores (B, K), embedding (B, P)); prototypes are a constant.

    With ``window_samples``, the encoder is copied and its positional table trimmed to that many
    rows: the exported graph otherwise carries all ``max_len`` rows (262 KB for d = 128).
    """

    def __init__(self, model: LanHARModel, prototypes: np.ndarray | torch.Tensor,
                 window_samples: int | None = None) -> None:
        super().__init__()
        self.sensor_encoder = model.sensor_encoder
        if window_samples is not None:
            self.sensor_encoder = _trimmed(model.sensor_encoder, window_samples)
        self.sensor_proj = model.sensor_proj
        protos = torch.as_tensor(np.asarray(prototypes), dtype=torch.float32)
        self.register_buffer("prototypes", protos)
        self.eval()

    def forward(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = F.normalize(self.sensor_proj(self.sensor_encoder(window)), dim=-1)
        return embedding @ self.prototypes.T, embedding


def _trimmed(encoder: nn.Module, window_samples: int) -> nn.Module:
    """A copy of ``encoder`` whose positional table (a non-persistent buffer) has T rows."""
    positions = getattr(encoder, "positions", None)
    table = getattr(positions, "table", None)
    if not isinstance(table, torch.Tensor) or table.shape[0] <= window_samples:
        return encoder
    encoder = copy.deepcopy(encoder)
    encoder.positions.table = table[:window_samples].clone()
    return encoder


@torch.no_grad()
def projected_prototypes(model: LanHARModel, prototypes: np.ndarray) -> np.ndarray:
    """Text-space prototypes (K, D) -> normalised shared-space prototypes (K, P), float32."""
    model.eval()
    protos = torch.as_tensor(np.asarray(prototypes), dtype=torch.float32)
    return model.encode_text(protos).cpu().numpy().astype(np.float32)


def file_fingerprint(path: str | Path) -> str:
    """Short sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


@dataclass
class ExportSource:
    """A loaded checkpoint and bank, with the input contract the checkpoint was trained on."""

    model: LanHARModel
    bank: LabelBank
    checkpoint: Path  # the .safetensors file
    meta: dict[str, Any]  # the checkpoint sidecar
    window_samples: int
    sampling_rate_hz: float
    preprocessing: dict[str, Any]

    def classifier(self) -> OnDeviceClassifier:
        return OnDeviceClassifier(self.model, self.prototypes(), self.window_samples)

    def prototypes(self) -> np.ndarray:
        return projected_prototypes(self.model, self.bank.prototypes)

    @property
    def checkpoint_fingerprint(self) -> str:
        return file_fingerprint(self.checkpoint)


def _data_config(meta: Mapping[str, Any]) -> dict[str, Any]:
    config = meta.get("config") or {}
    return dict(config.get("data") or {}) if isinstance(config, Mapping) else {}


def load_source(checkpoint: str | Path, bank: str | Path | None = None,
                window_samples: int | None = None) -> ExportSource:
    """Load ``checkpoint`` (path with or without suffix) and its bank (default: beside it)."""
    path = Path(checkpoint).expanduser()
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    weights = stem.with_suffix(".safetensors")  # as lanhar_fl.training.checkpoint names it
    if not weights.is_file():
        raise ValueError(f"checkpoint {weights} not found")
    model, meta = load_checkpoint(weights)
    if not isinstance(model, LanHARModel):
        raise ValueError(f"{weights}: a {type(model).__name__} checkpoint; export needs a "
                         "LanHAR (sensor encoder + projections) checkpoint")
    model.eval()
    bank_dir = Path(bank).expanduser() if bank else weights.parent / BANK_DIR
    label_bank = LabelBank.load(bank_dir)
    if label_bank.prototypes.shape[1] != model.text_dim:
        raise ValueError(f"label bank {bank_dir} has {label_bank.prototypes.shape[1]}-d "
                         f"prototypes but the checkpoint expects text_dim {model.text_dim}")
    data = _data_config(meta)
    rate = float(data.get("target_rate_hz") or DEFAULT_RATE_HZ)
    seconds = float(data.get("window_seconds") or DEFAULT_WINDOW_SECONDS)
    samples = int(window_samples or round(rate * seconds))
    if not 2 <= samples <= model.config.max_len:
        raise ValueError(f"window_samples {samples} outside [2, max_len={model.config.max_len}]")
    preprocessing = {k: data[k] for k in ("gravity_align", "remove_gravity", "gravity_cutoff_hz")
                     if k in data}
    return ExportSource(model=model, bank=label_bank, checkpoint=weights, meta=meta,
                        window_samples=samples, sampling_rate_hz=rate,
                        preprocessing=preprocessing)
