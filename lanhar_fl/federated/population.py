"""The simulated phone population: which training windows each virtual phone holds.

Server and phones compute the same split and partition from the same config, so a phone needs
only its partition id. Phones hold the source-domain training users (validation users included:
federated training selects no checkpoint); the server holds only the held-out test windows.
"""

from __future__ import annotations

import functools
import json

import numpy as np
from omegaconf import DictConfig

from ..config import ConfigError
from ..data.partition import partition
from ..data.registry import load_windows
from ..data.windows import Windows
from ..eval.protocols import Split, make_split
from .runconfig import config_from_json, config_to_json


@functools.lru_cache(maxsize=2)
def _split(cfg_json: str) -> Split:
    return make_split(config_from_json(cfg_json), load_windows)


@functools.lru_cache(maxsize=2)
def _population(cfg_json: str) -> tuple[Windows, tuple[np.ndarray, ...]]:
    cfg = config_from_json(cfg_json)
    split = _split(cfg_json)
    pool = Windows.concatenate([split.train, split.val]) if len(split.val) else split.train
    fed = cfg.federation
    try:
        parts = partition(pool, str(fed.partition), cfg.get("num_phones"),
                          alpha=float(fed.get("alpha", 0.5)), seed=int(cfg.seed))
    except ValueError as exc:
        raise ConfigError(f"federation.partition / num_phones: {exc}") from exc
    return pool, tuple(parts)


def data_key(cfg: DictConfig) -> str:
    """The part of the config that decides the data (cache key for the functions above)."""
    keys = ("dataset", "data", "label_space", "protocol", "label_bank", "seed", "num_phones",
            "federation", "cache_dir")
    return json.dumps({k: json.loads(config_to_json(cfg)).get(k) for k in keys}, sort_keys=True)


def split_for(cfg: DictConfig) -> Split:
    return _split(data_key(cfg))


def phone_count(cfg: DictConfig) -> int:
    return len(_population(data_key(cfg))[1])


def phone_windows(cfg: DictConfig, partition_id: int) -> Windows:
    """The training windows held by simulated phone ``partition_id``."""
    pool, parts = _population(data_key(cfg))
    if not 0 <= partition_id < len(parts):
        raise ConfigError(f"partition id {partition_id} outside the {len(parts)} phones")
    return pool.subset(parts[partition_id])
