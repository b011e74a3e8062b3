"""The simulated phone population: which training windows each virtual phone holds.

Server and phones compute the same split and partition from the same config, so a phone needs
only its partition id. Phones hold the source-domain training users (validation users included:
federated training selects no checkpoint); the server holds only the held-out test windows.

A sized synthetic population (``simulations/simulate.py``: phone i is synthetic subject i, the
test phones follow the training phones) is never materialised: phone i's windows are generated
on demand, when it is sampled, from its own seed; the server generates only the held-out test
phones (at most 200) and ``PROBE_PHONES`` training phones, for the classes phones hold.

Other populations (real datasets) are split once, where the partition is first computed (the
driver), into one shard per phone under ``cache_dir/shards/``: a phone (a Ray actor) then reads
its own shard alone instead of loading and partitioning the whole dataset again.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, open_dict

from ..config import ConfigError
from ..data.partition import partition
from ..data.registry import _load as read_shard
from ..data.registry import _save as write_shard
from ..data.registry import load_windows
from ..data.windows import Windows
from ..eval.protocols import Split, make_split
from .runconfig import config_from_json, config_to_json

PROBE_PHONES = 64  # training phones the server generates for its class list (on demand)


def on_demand_phones(cfg: DictConfig) -> int | None:
    """The number of training phones when ``cfg`` is a sized synthetic population (training
    phones 0..n-1, test phones n..), else None."""
    n = cfg.get("num_phones")
    tests = list(cfg.protocol.get("test_subjects") or [])
    if (cfg.dataset.name != "synthetic" or not n or cfg.protocol.name != "cross_user"
            or str(cfg.federation.partition).removeprefix("by_") != "subject"
            or cfg.data.get("max_windows") or cfg.protocol.get("val_fraction")
            or tests != list(range(int(n), int(cfg.dataset.num_phones)))):
        return None
    return int(n)


def _only(cfg: DictConfig, phones: list[int]) -> DictConfig:
    local = cfg.copy()
    with open_dict(local):
        local.dataset.phones = phones
    return local


@functools.lru_cache(maxsize=2)
def _split(cfg_json: str) -> Split:
    cfg = config_from_json(cfg_json)
    n = on_demand_phones(cfg)
    if n is not None:  # the test phones and a probe of training phones only
        cfg = _only(cfg, [*range(min(n, PROBE_PHONES)), *range(n, int(cfg.dataset.num_phones))])
    return make_split(cfg, load_windows)


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
    folder = _shards(cfg, cfg_json)
    if folder is not None and not (folder / "count").is_file():
        for i, part in enumerate(parts):
            write_shard(folder / f"phone-{i}.npz", pool.subset(part))
        (folder / "count").write_text(f"{len(parts)}\n")  # last: the shards are complete
    return pool, tuple(parts)


def _shards(cfg: DictConfig, cfg_json: str) -> Path | None:
    """The folder of this population's per-phone shards (None without a cache)."""
    if not cfg.get("cache_dir"):
        return None
    key = hashlib.sha256(cfg_json.encode()).hexdigest()[:20]
    return Path(str(cfg.cache_dir)).expanduser() / "shards" / f"{cfg.dataset.name}-{key}"


def data_key(cfg: DictConfig) -> str:
    """The part of the config that decides the data (cache key for the functions above)."""
    keys = ("dataset", "data", "label_space", "protocol", "label_bank", "seed", "num_phones",
            "federation", "cache_dir")
    return json.dumps({k: json.loads(config_to_json(cfg)).get(k) for k in keys}, sort_keys=True)


def split_for(cfg: DictConfig) -> Split:
    return _split(data_key(cfg))


def phone_count(cfg: DictConfig) -> int:
    n = on_demand_phones(cfg)
    return n if n is not None else len(_population(data_key(cfg))[1])


def phone_windows(cfg: DictConfig, partition_id: int) -> Windows:
    """The training windows held by simulated phone ``partition_id``."""
    n = on_demand_phones(cfg)
    if n is not None:
        if not 0 <= partition_id < n:
            raise ConfigError(f"partition id {partition_id} outside the {n} phones")
        return load_windows(_only(cfg, [partition_id]))
    key = data_key(cfg)
    folder = _shards(cfg, key)
    if folder is not None and (folder / "count").is_file():
        count = int((folder / "count").read_text())
        if not 0 <= partition_id < count:
            raise ConfigError(f"partition id {partition_id} outside the {count} phones")
        return read_shard(folder / f"phone-{partition_id}.npz")
    pool, parts = _population(key)
    if not 0 <= partition_id < len(parts):
        raise ConfigError(f"partition id {partition_id} outside the {len(parts)} phones")
    return pool.subset(parts[partition_id])
