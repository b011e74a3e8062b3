"""``lanhar-fl export checkpoint=PATH format=onnx|torchscript [int8=true] out=PATH``."""

from __future__ import annotations

import json

from omegaconf import DictConfig

from ..config import ConfigError
from ..export.exporter import FORMATS, export_model


def export(cfg: DictConfig) -> int:
    checkpoint = cfg.get("checkpoint")
    if not checkpoint:
        raise ConfigError("export: name the trained model with checkpoint=PATH "
                          "(e.g. runs/latest/sensor_encoder)")
    fmt = str(cfg.get("format") or "onnx")
    if fmt not in FORMATS:
        raise ConfigError(f"format: expected one of {sorted(FORMATS)}, got {fmt!r}")
    window_samples = cfg.get("window_samples")
    try:
        doc = export_model(str(checkpoint), cfg.get("out"), fmt, bool(cfg.get("int8", False)),
                           bank=cfg.get("bank"),
                           window_samples=int(window_samples) if window_samples else None)
    except ConfigError:  # e.g. LabelBankError, already naming the bank
        raise
    except ValueError as exc:
        raise ConfigError(f"export: {exc}") from exc
    print(json.dumps({k: doc[k] for k in ("model_file", "bank_file", "model_format", "int8",
                                         "classes", "window_samples", "sampling_rate_hz",
                                         "checkpoint_fingerprint", "sizes")}))
    return 0
