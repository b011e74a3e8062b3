"""Model checkpoints as safetensors (weights) + JSON (model spec, run config, metadata).

Never pickles: ``NAME.safetensors`` holds the state dict, ``NAME.json`` what is needed to rebuild
the model (``model.spec()``: kind, ``ModelConfig``, text_dim or num_classes), the run's config
and free-form metadata (metrics, bank fingerprint, ...).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..models.lanhar import LanHARModel, unwrap
from ..models.presets import model_config
from ..models.supervised import SupervisedHAR

FORMAT = "lanhar-fl-model"


def _paths(path: str | Path) -> tuple[Path, Path]:
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def model_from_spec(spec: Mapping[str, Any]) -> nn.Module:
    """An untrained model of the architecture described by ``model.spec()``."""
    cfg = model_config(dict(spec["model"]))
    if spec.get("kind") == LanHARModel.kind:
        return LanHARModel(cfg, int(spec["text_dim"]))
    if spec.get("kind") == SupervisedHAR.kind:
        return SupervisedHAR(cfg, int(spec["num_classes"]))
    raise ValueError(f"unknown model kind {spec.get('kind')!r}")


def save_checkpoint(path: str | Path, model: nn.Module, config: Mapping[str, Any] | None = None,
                    metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``path``.safetensors and ``path``.json; returns the safetensors path."""
    weights, sidecar = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    net = unwrap(model)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(weights), metadata={"format": FORMAT})
    sidecar.write_text(json.dumps({"format": FORMAT, "format_version": 1, "spec": net.spec(),
                                   "config": dict(config or {}),
                                   "metadata": dict(metadata or {})},
                                  indent=1, default=str) + "\n")
    return weights


def load_checkpoint(path: str | Path,
                    model: nn.Module | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """(model with the saved weights, sidecar dict with ``spec``, ``config``, ``metadata``).

    Without ``model``, one is rebuilt from the saved spec.
    """
    weights, sidecar = _paths(path)
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{sidecar}: not a readable checkpoint sidecar: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise ValueError(f"{sidecar}: not a {FORMAT} file")
    model = model if model is not None else model_from_spec(meta["spec"])
    try:
        unwrap(model).load_state_dict(load_file(str(weights)))
    except (OSError, SafetensorError, RuntimeError) as exc:  # missing, truncated, wrong shapes
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{weights}: not a readable checkpoint for {sidecar.name}: "
                         f"{reason}") from exc
    return model, meta
