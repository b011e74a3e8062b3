"""One source of truth for both federated paths: the composed Hydra config.

``lanhar-fl simulate`` composes it from the command line; ``flwr run .`` composes it from the
``overrides`` string in ``[tool.flwr.app.config]`` (or ``--run-config``). The server then sends
it to every phone as JSON inside each round's ConfigRecord, so server and phones always agree.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping

from omegaconf import DictConfig, OmegaConf

from ..config import load_config

OVERRIDES_KEY = "overrides"


def config_to_json(cfg: DictConfig) -> str:
    return json.dumps(OmegaConf.to_container(cfg, resolve=True), sort_keys=True)


def config_from_json(text: str) -> DictConfig:
    cfg = OmegaConf.create(json.loads(text))
    OmegaConf.set_struct(cfg, False)
    return cfg


def config_from_run_config(run_config: Mapping[str, object]) -> DictConfig:
    """Compose the Hydra config from a Flower run config's ``overrides`` string."""
    overrides = shlex.split(str(run_config.get(OVERRIDES_KEY, "") or ""))
    return load_config(overrides)
