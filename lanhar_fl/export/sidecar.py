"""The files written beside an exported model: a JSON sidecar and the on-device label bank.

For ``har.onnx`` (or ``har.pt``):

- ``har.onnx.json``: what a phone must know to feed and read the model (format, int8, classes,
  window length, sampling rate, channel order and units, input layout, preprocessing, outputs),
  where it came from (checkpoint and bank fingerprints) and sizes.
- ``har.onnx.bank.json``: ``class_names`` and the projected, L2-normalised ``prototypes``
  (K x P). ``scores = embedding @ prototypes.T`` reproduces the model's ``scores`` output;
  appending a class name and its projected prototype adds an activity without re-exporting.

``standalone_infer.py`` reads both with the standard library only (the names are repeated
there; a test keeps them equal).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..data.windows import CHANNELS, UNITS

SIDECAR_FORMAT = "lanhar-fl-ondevice"
BANK_FORMAT = "lanhar-fl-ondevice-bank"
SIDECAR_SUFFIX = ".json"
BANK_SUFFIX = ".bank.json"
INPUT_NAME = "window"
OUTPUT_NAMES = ("scores", "embedding")


def sidecar_path(model_path: str | Path) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + SIDECAR_SUFFIX)


def bank_path(model_path: str | Path) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + BANK_SUFFIX)


def bank_document(class_names: list[str], prototypes: np.ndarray,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The on-device bank as a JSON-ready dict (prototypes as nested lists, exact floats)."""
    p = np.asarray(prototypes, dtype=np.float32)
    if p.ndim != 2 or p.shape[0] != len(class_names):
        raise ValueError(f"prototypes of shape {p.shape} for {len(class_names)} classes")
    return {"format": BANK_FORMAT, "format_version": 1, "class_names": list(class_names),
            "dim": int(p.shape[1]), "normalised": True,
            "scoring": "cosine: scores = embedding @ prototypes.T (both L2-normalised)",
            **(extra or {}), "prototypes": p.astype(np.float64).tolist()}


def read_bank(path: str | Path) -> tuple[list[str], np.ndarray]:
    """(class names, prototypes (K, P) float32) from an on-device bank file."""
    doc = json.loads(Path(path).read_text())
    if doc.get("format") != BANK_FORMAT:
        raise ValueError(f"{path}: not a {BANK_FORMAT} file")
    protos = np.asarray(doc["prototypes"], dtype=np.float32)
    return [str(c) for c in doc["class_names"]], protos


def input_contract(window_samples: int, sampling_rate_hz: float,
                   preprocessing: dict[str, Any]) -> dict[str, Any]:
    """How to build the model's input from a phone's IMU stream."""
    return {
        "window_samples": int(window_samples),
        "sampling_rate_hz": float(sampling_rate_hz),
        "window_seconds": round(window_samples / sampling_rate_hz, 6),
        "channels": list(CHANNELS),
        "units": dict(UNITS),
        "input": {"name": INPUT_NAME, "shape": ["batch", int(window_samples), len(CHANNELS)],
                  "dtype": "float32", "layout": "batch x time x channel (channels as listed)",
                  "missing_gyro": "NaN in the three gyro channels (no gyroscope)"},
        "preprocessing": dict(preprocessing),
    }


def outputs_contract(num_classes: int, dim: int) -> dict[str, Any]:
    return {"scores": {"shape": ["batch", num_classes],
                       "meaning": "cosine similarity to each class prototype; argmax = class"},
            "embedding": {"shape": ["batch", dim],
                          "meaning": "L2-normalised sensor vector; score it against the bank"}}


def write_json(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def read_sidecar(model_path: str | Path) -> dict[str, Any]:
    doc = json.loads(sidecar_path(model_path).read_text())
    if doc.get("format") != SIDECAR_FORMAT:
        raise ValueError(f"{sidecar_path(model_path)}: not a {SIDECAR_FORMAT} file")
    return doc
