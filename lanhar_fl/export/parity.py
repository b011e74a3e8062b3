"""Exported vs torch scores, and the accuracy cost of int8 on labelled windows."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .exporter import write_model
from .ondevice import load_source
from .onnx_export import ort_session, run_onnx
from .torchscript_export import trace


@torch.no_grad()
def torch_outputs(module: nn.Module, windows: np.ndarray,
                  batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(scores, embedding) of a torch or TorchScript module, in batches."""
    x = torch.as_tensor(np.asarray(windows, dtype=np.float32))
    parts = [module(x[s:s + batch_size]) for s in range(0, len(x), batch_size)]
    return (torch.cat([p[0] for p in parts]).numpy(), torch.cat([p[1] for p in parts]).numpy())


def compare(reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Max absolute score difference and argmax agreement of two (N, K) score arrays."""
    return {"max_abs_diff": float(np.abs(reference - other).max()),
            "argmax_agreement": float((reference.argmax(1) == other.argmax(1)).mean())}


def _label_indices(labels: Sequence[Any] | np.ndarray, class_names: list[str]) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.dtype.kind in "US":
        unknown = sorted(set(labels.tolist()) - set(class_names))
        if unknown:
            raise ValueError(f"labels {unknown} are not classes of the bank {class_names}")
        return np.array([class_names.index(str(c)) for c in labels], dtype=np.int64)
    return labels.astype(np.int64)


def int8_accuracy_drop(checkpoint: str | Path, windows: np.ndarray,
                       labels: Sequence[Any] | np.ndarray, bank: str | Path | None = None,
                       fmt: str = "onnx", batch_size: int = 1) -> dict[str, Any]:
    """fp32 vs int8 accuracy of the exported model on labelled windows (N, T, 6).

    ``labels``: class names or indices into the bank's classes. ``fmt``: ``onnx`` (both models
    exported and run with onnxruntime) or ``torchscript`` (traced in memory). Dynamic int8
    quantises activations per batch, so the default ``batch_size`` 1 scores windows one at a
    time, as a phone does.
    """
    source = load_source(checkpoint, bank, window_samples=np.asarray(windows).shape[1])
    y = _label_indices(labels, source.bank.class_names)
    if fmt == "onnx":
        with tempfile.TemporaryDirectory() as tmp:
            paths = [write_model(source.classifier(), source.window_samples,
                                 Path(tmp) / f"{q}.onnx", "onnx", q == "int8")
                     for q in ("fp32", "int8")]
            scores = [run_onnx(ort_session(p), windows, batch_size)[0] for p in paths]
    elif fmt == "torchscript":
        module = source.classifier()
        scores = [torch_outputs(trace(module, source.window_samples, int8), windows,
                                batch_size)[0] for int8 in (False, True)]
    else:
        raise ValueError(f"fmt must be onnx or torchscript, got {fmt!r}")
    fp32_acc, int8_acc = (float((s.argmax(1) == y).mean()) for s in scores)
    return {"format": fmt, "n": len(y), "batch_size": batch_size, "fp32_accuracy": fp32_acc,
            "int8_accuracy": int8_acc, "accuracy_drop": fp32_acc - int8_acc, **compare(*scores)}
