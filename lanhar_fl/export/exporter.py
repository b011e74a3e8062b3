"""Checkpoint + label bank -> on-device model file, JSON sidecar and bank file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from .ondevice import OnDeviceClassifier, load_source
from .onnx_export import OPSET, export_onnx
from .quantize import quantize_onnx
from .sidecar import (
    SIDECAR_FORMAT,
    bank_document,
    bank_path,
    input_contract,
    outputs_contract,
    sidecar_path,
    write_json,
)
from .torchscript_export import export_torchscript

log = logging.getLogger(__name__)

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}


def default_out(checkpoint: str | Path, fmt: str, int8: bool) -> Path:
    """``<checkpoint dir>/<checkpoint stem>[_int8].onnx|.pt``."""
    path = Path(checkpoint).expanduser()
    stem = path.with_suffix("").name if path.suffix in (".safetensors", ".json") else path.name
    return path.parent / f"{stem}{'_int8' if int8 else ''}{FORMATS[fmt]}"


def write_model(module: OnDeviceClassifier, window_samples: int, out: Path, fmt: str,
                int8: bool) -> Path:
    """The model file alone (no sidecar)."""
    if fmt == "onnx":
        export_onnx(module, out, window_samples)
        return quantize_onnx(out, out) if int8 else out
    return export_torchscript(module, out, window_samples, int8=int8)


def export_model(checkpoint: str | Path, out: str | Path | None = None, fmt: str = "onnx",
                 int8: bool = False, bank: str | Path | None = None,
                 window_samples: int | None = None) -> dict[str, Any]:
    """Export; returns the sidecar dict (also written to ``<out>.json``)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}, got {fmt!r}")
    source = load_source(checkpoint, bank, window_samples)
    out = Path(out).expanduser() if out else default_out(checkpoint, fmt, int8)
    if not out.suffix:
        out = out.with_suffix(FORMATS[fmt])
    out.parent.mkdir(parents=True, exist_ok=True)
    module = source.classifier()
    write_model(module, source.window_samples, out, fmt, int8)

    prototypes = module.prototypes.numpy()
    names = list(source.bank.class_names)
    provenance = {"bank_fingerprint": source.bank.fingerprint,
                  "bank_version": source.bank.version,
                  "text_encoder_fingerprint": source.bank.encoder_fingerprint}
    bank_file = write_json(bank_path(out), bank_document(names, prototypes, provenance))
    trained_with = (source.meta.get("metadata") or {}).get("bank_fingerprint")
    if trained_with and trained_with != source.bank.fingerprint:
        log.warning("label bank %s differs from the one saved with the checkpoint (%s): fine "
                    "after adding activities, otherwise check bank=",
                    provenance["bank_fingerprint"], trained_with)
    doc = {
        "format": SIDECAR_FORMAT, "format_version": 1, "model_format": fmt,
        "model_file": out.name, "bank_file": bank_file.name, "int8": bool(int8),
        "quantization": _quantization(fmt) if int8 else None,
        "opset": OPSET if fmt == "onnx" else None,
        "classes": names,
        **input_contract(source.window_samples, source.sampling_rate_hz, source.preprocessing),
        "outputs": outputs_contract(len(names), int(prototypes.shape[1])),
        "checkpoint": str(source.checkpoint),
        "checkpoint_fingerprint": source.checkpoint_fingerprint,
        **provenance,
        "model": source.model.config.to_dict(), "text_dim": source.model.text_dim,
        "parameters": sum(p.numel() for p in module.parameters()),
        "sizes": {"model_bytes": out.stat().st_size,
                  "model_mb": round(out.stat().st_size / 1e6, 3),
                  "bank_bytes": bank_file.stat().st_size},
        "producer": {"lanhar_fl": __version__, "torch": torch.__version__},
    }
    write_json(sidecar_path(out), doc)
    return doc


def _quantization(fmt: str) -> str:
    if fmt == "onnx":
        return "dynamic: int8 weights (onnxruntime quantize_dynamic, QInt8), fp32 scores"
    return (f"dynamic: int8 nn.Linear (torch.ao quantize_dynamic, engine "
            f"{torch.backends.quantized.engine})")
