"""ONNX export of the on-device classifier (TorchScript-based exporter, opset 17, dynamic batch).

``dynamo=False``: the dynamo exporter needs ``onnxscript``, which is not a dependency; the
TorchScript-based exporter handles every op of the model (``isfinite``/``where`` for NaN gyro,
``scaled_dot_product_attention``) at opset 17. The window length is fixed at export time.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .sidecar import INPUT_NAME, OUTPUT_NAMES

OPSET = 17


def example_windows(window_samples: int, batch: int = 2) -> torch.Tensor:
    """A deterministic example batch; the last window has NaN gyro (accelerometer-only)."""
    x = torch.randn(batch, window_samples, 6, generator=torch.Generator().manual_seed(0))
    x[-1, :, 3:] = float("nan")
    return x


def export_onnx(module: nn.Module, path: str | Path, window_samples: int,
                opset: int = OPSET) -> Path:
    """Write ``module`` (window -> scores, embedding) to ``path`` as ONNX."""
    path = Path(path)
    module.eval()
    dynamic = {name: {0: "batch"} for name in (INPUT_NAME, *OUTPUT_NAMES)}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation notices of the legacy exporter
        torch.onnx.export(module, (example_windows(window_samples),), str(path), dynamo=False,
                          opset_version=opset, input_names=[INPUT_NAME],
                          output_names=list(OUTPUT_NAMES), dynamic_axes=dynamic,
                          do_constant_folding=True)
    return path


def ort_session(path: str | Path, threads: int = 1):
    """An onnxruntime CPU session limited to ``threads`` intra-op threads and 1 inter-op."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(session, windows: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(scores (N, K), embedding (N, P)) for windows (N, T, 6), in batches."""
    windows = np.asarray(windows, dtype=np.float32)
    parts = [session.run(list(OUTPUT_NAMES), {INPUT_NAME: windows[s:s + batch_size]})
             for s in range(0, len(windows), batch_size)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
