"""The embedded ``synthetic`` dataset: virtual phones from ``lanhar_fl.data.synthetic``.

No files: ``root`` is ignored. Every key of ``configs/dataset/synthetic.yaml`` besides ``name``,
``root``, ``seed``, ``num_phones``, ``minutes_per_phone`` and ``phones`` (optional: generate only
these phone indices, e.g. one phone of a large simulated population) is a generator option.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ...config import ConfigError
from ..recording import Recording
from ..synthetic import generate_phones


def load(root: Path | None, cfg: DictConfig) -> list[Recording]:
    """Generate the configured phones (deterministic per ``dataset.seed``)."""
    spec = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    for key in ("name", "root"):
        spec.pop(key, None)
    only = spec.pop("phones", None)
    if only is not None and not all(0 <= int(i) < int(spec.get("num_phones", 0)) for i in only):
        raise ConfigError(f"dataset.phones={list(only)}: indices must lie in [0, num_phones)")
    try:
        return generate_phones(
            num_phones=spec.pop("num_phones"),
            minutes_per_phone=float(spec.pop("minutes_per_phone")),
            seed=int(spec.pop("seed", 0)),
            only=only,
            **spec,
        )
    except KeyError as exc:
        raise ConfigError(f"dataset.{exc.args[0]} is required for the synthetic dataset") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"synthetic dataset: setting dataset.{exc}") from exc
