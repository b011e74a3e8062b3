"""Where computation runs: ``device=auto|cpu|cuda|cuda:N`` (auto: a GPU when there is one)."""

from __future__ import annotations

import torch

from .config import ConfigError


def resolve_device(name: str | None = "auto") -> torch.device:
    name = str(name or "auto")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name}: no CUDA device is available (use device=cpu)")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"device={name}: {exc}") from exc
