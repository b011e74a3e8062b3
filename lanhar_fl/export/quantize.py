"""Dynamic int8 quantisation: int8 weights, activations quantised on the fly.

- ONNX: ``onnxruntime.quantization.quantize_dynamic`` (QInt8 weights) on the exported fp32
  model. The final ``scores`` MatMul (embedding x prototypes) stays fp32, so the baked-in
  scores equal the embedding scored against the exported bank file.
- TorchScript: ``torch.ao.quantization.quantize_dynamic`` on every ``nn.Linear`` before tracing.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from .sidecar import OUTPUT_NAMES


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """onnxruntime.quantization logs per-tensor notes on the root logger; keep errors only."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_onnx(src: str | Path, dst: str | Path) -> Path:
    """Quantise the fp32 ONNX model ``src`` into ``dst`` (may equal ``src``)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(src), load_external_data=False).graph
    keep_fp32 = [n.name for n in graph.node if OUTPUT_NAMES[0] in n.output]
    tmp = Path(dst).with_name(Path(dst).name + ".tmp")
    with _quiet_root_logger():
        quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8,
                         nodes_to_exclude=keep_fp32)
    tmp.replace(dst)
    return Path(dst)


def quantize_torch(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with int8 dynamic-quantised ``nn.Linear`` layers (CPU, eval)."""
    module = copy.deepcopy(module).cpu().eval()
    return torch.ao.quantization.quantize_dynamic(module, {nn.Linear}, dtype=torch.qint8)
