"""TorchScript export of the on-device classifier (``torch.jit.trace``, optional int8).

Tracing records the batch dimension symbolically (any batch size works); the window length
is fixed at export time. Load with ``torch.jit.load`` (TorchScript's own archive reader).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from .onnx_export import example_windows
from .quantize import quantize_torch


def trace(module: nn.Module, window_samples: int, int8: bool = False) -> torch.jit.ScriptModule:
    """The traced (optionally int8-quantised) module, frozen for inference."""
    module = quantize_torch(module) if int8 else module.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TracerWarning about the shape checks in the encoder
        traced = torch.jit.trace(module, (example_windows(window_samples),), check_trace=False)
    return torch.jit.freeze(traced.eval())


def export_torchscript(module: nn.Module, path: str | Path, window_samples: int,
                       int8: bool = False) -> Path:
    """Write ``module`` (window -> scores, embedding) to ``path`` as a TorchScript archive."""
    path = Path(path)
    torch.jit.save(trace(module, window_samples, int8), str(path))
    return path
