"""``lanhar-fl privacy-sweep``: ``simulations.privacy_sweep.run`` (settings in its docstring)."""

from __future__ import annotations

from omegaconf import DictConfig


def privacy_sweep(cfg: DictConfig) -> int:
    from simulations.privacy_sweep import run

    run(cfg)
    return 0
