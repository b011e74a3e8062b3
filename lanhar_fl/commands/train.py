"""``lanhar-fl train``."""

from __future__ import annotations

from omegaconf import DictConfig

from ..pipeline.centralized import run_centralized


def train(cfg: DictConfig) -> int:
    run_centralized(cfg)
    return 0
