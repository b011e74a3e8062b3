"""One source of truth for both federated paths: the composed Hydra config.

``lanhar-fl simulate`` composes it from the command line; ``flwr run .`` composes it from the
``overrides`` string in ``[tool.flwr.app.config]`` (or ``--run-config``). The server then sends
it to every phone as JSON inside each round's ConfigRecord, so server and phones always agree.

What a phone receives is data: ``config_from_json`` escapes every ``${`` so that no interpolation
or resolver (``${oc.env:...}``) is ever evaluated on the phone. The server sends resolved
configs, so a legitimate one carries none; the phone reads such a string back literally.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping

from omegaconf import DictConfig, OmegaConf

from ..config import ConfigError, load_config

OVERRIDES_KEY = "overrides"


def config_to_json(cfg: DictConfig) -> str:
    return json.dumps(OmegaConf.to_container(cfg, resolve=True), sort_keys=True)


def config_from_json(text: str) -> DictConfig:
    """A received config as a DictConfig whose strings all read back literally."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"received run config is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"received run config is a JSON {type(data).__name__}, not an object")
    cfg = OmegaConf.create(_literal(data))
    OmegaConf.set_struct(cfg, False)
    return cfg


_INTERPOLATION = re.compile(r"(\\*)\$\{")


def _escape(text: str) -> str:
    """``text`` escaped for OmegaConf: each ``${`` (and the backslashes before it, which OmegaConf
    would read as escapes) renders literally instead of being interpolated."""
    return _INTERPOLATION.sub(lambda m: m.group(1) * 2 + "\\${", text)


def _literal(value: object) -> object:
    """Every string inside ``value`` (nested dicts and lists) escaped with ``_escape``."""
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, dict):
        return {k: _literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal(v) for v in value]
    return value


def config_from_run_config(run_config: Mapping[str, object]) -> DictConfig:
    """Compose the Hydra config from a Flower run config's ``overrides`` string."""
    overrides = shlex.split(str(run_config.get(OVERRIDES_KEY, "") or ""))
    return load_config(overrides)
