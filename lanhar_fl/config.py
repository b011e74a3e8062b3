"""Hydra configuration: the ``configs/`` tree composed with command-line ``key=value`` overrides."""

from __future__ import annotations

import os
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

CONFIG_DIR_ENV = "LANHAR_FL_CONFIG_DIR"


class ConfigError(ValueError):
    """A configuration override or value is invalid; the message names the setting."""


def config_dir() -> Path:
    """The configs folder: ``$LANHAR_FL_CONFIG_DIR`` or the one beside the package."""
    env = os.environ.get(CONFIG_DIR_ENV)
    path = Path(env) if env else Path(__file__).resolve().parent.parent / "configs"
    if not (path / "config.yaml").is_file():
        raise ConfigError(
            f"no config.yaml in {path}; install lanhar-fl from a source checkout "
            f"(pip install -e .) or set {CONFIG_DIR_ENV}"
        )
    return path


def load_config(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """Compose ``configs/config.yaml`` with Hydra overrides such as ``dataset=uci_hapt``."""
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose(config_name="config", overrides=list(overrides))
    except HydraException as exc:  # unknown key, unknown group option, bad syntax
        raise ConfigError(f"{exc} {exc.__cause__ or ''}".strip()) from exc
    OmegaConf.set_struct(cfg, False)
    return cfg


def to_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg, resolve=True)
