"""A phone's own windows: its partition in simulation, its local files in deployment.

Deployment node config (``flower-supernode --node-config``): ``data-path`` (dataset folder on the
phone), optional ``dataset`` (loader name; default: the run's dataset), optional ``phone-id`` (an
integer that seeds this phone's local training), optional ``cache-dir`` (this phone's cache of
windows, interpretations, embeddings and received text-side artefacts; default:
``$LANHAR_FL_CACHE``, else ``~/.cache/lanhar-fl``: never a folder the server names) and optional
``policy`` (the phone's policy file, ``client/policy.py``). Labels are not needed for training
(stage 2 aligns windows with their own interpretations); they are used only when present, for
local evaluation. ``federation.max_phone_windows`` caps the windows a phone uses (interprets and
trains on): the same seeded subset every round, so the interpretation cache answers later rounds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
from omegaconf import DictConfig, OmegaConf

from lanhar_fl.config import ConfigError, config_dir
from lanhar_fl.data.registry import load_windows
from lanhar_fl.data.windows import Windows
from lanhar_fl.federated.population import phone_windows

PARTITION_ID = "partition-id"
DATA_PATH = "data-path"
DATASET = "dataset"
PHONE_ID = "phone-id"
CACHE_DIR = "cache-dir"
DEFAULT_CACHE = "~/.cache/lanhar-fl"


def node_cache_dir(cfg: DictConfig, node_config: Mapping[str, object]) -> str | None:
    """This phone's cache folder: node config ``cache-dir``; in simulation (one machine) the
    run's ``cache_dir``; in deployment the phone's own default, never the server's path."""
    if node_config.get(CACHE_DIR):
        return str(node_config[CACHE_DIR])
    if PARTITION_ID in node_config:
        value = cfg.get("cache_dir")
        return str(value) if value else None
    return os.environ.get("LANHAR_FL_CACHE") or DEFAULT_CACHE


def localize(cfg: DictConfig, node_config: Mapping[str, object]) -> str | None:
    """Replace the received config's phone-side paths with this phone's own (``cache_dir``, used
    by the windows, interpretation and embedding caches); returns the cache folder."""
    folder = node_cache_dir(cfg, node_config)
    if PARTITION_ID not in node_config:
        cfg.cache_dir = folder
    return folder


def local_windows(cfg: DictConfig, node_config: Mapping[str, object]) -> tuple[Windows, int]:
    """(this phone's windows, at most ``federation.max_phone_windows``; a stable phone index
    for seeding)."""
    if PARTITION_ID in node_config:
        pid = int(node_config[PARTITION_ID])
        return capped(cfg, phone_windows(cfg, pid), pid), pid
    if DATA_PATH in node_config:
        pid = int(node_config.get(PHONE_ID, 0))
        return capped(cfg, _deployed_windows(cfg, node_config), pid), pid
    raise ConfigError("this SuperNode has neither `partition-id` (simulation) nor `data-path` "
                      "(deployment) in its node config")


def capped(cfg: DictConfig, windows: Windows, phone_index: int) -> Windows:
    """At most ``federation.max_phone_windows`` windows (null: all): a subset seeded by the run's
    seed and the phone, identical in every round, in the windows' order."""
    cap = cfg.federation.get("max_phone_windows")
    if cap is None or len(windows) <= int(cap):  # config_checks: a count >= 1 or null
        return windows
    rng = np.random.default_rng([int(cfg.seed), phone_index])
    return windows.subset(np.sort(rng.permutation(len(windows))[: int(cap)]))


def _deployed_windows(cfg: DictConfig, node_config: Mapping[str, object]) -> Windows:
    name = str(node_config.get(DATASET) or cfg.dataset.name)
    path = config_dir() / "dataset" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"node config dataset={name!r}: no configs/dataset/{name}.yaml")
    local = cfg.copy()
    local.dataset = OmegaConf.load(path)
    local.dataset.root = str(node_config[DATA_PATH])
    local.cache_dir = node_cache_dir(cfg, node_config)
    local.data.max_windows = None
    windows = load_windows(local)
    if not len(windows):
        raise ConfigError(f"node config data-path={node_config[DATA_PATH]}: no windows")
    return windows
