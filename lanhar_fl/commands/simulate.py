"""``lanhar-fl simulate``."""

from __future__ import annotations

from omegaconf import DictConfig


def simulate(cfg: DictConfig) -> int:
    from simulations.simulate import run

    run(cfg)
    return 0
