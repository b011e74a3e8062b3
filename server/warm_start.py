"""Public warm start: the server trains the sensor encoder on its own public windows first.

Before round 1, with ``federation.warm_start_epochs > 0``, the server runs stage 2 (the phones'
own loss: each window against its interpretation's embedding, no labels) on the public windows
its stage 1 learned from (``federation.stage1_source``) and sends the result as the initial
model. No phone is involved, so it costs no privacy; round 0 of the history is its accuracy.

The result depends only on public inputs and settings, so it is cached under
``cache_dir/warm_start/`` (safetensors, keyed by everything it depends on): the cells of a
``privacy-sweep`` seed share one warm start instead of each training it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from lanhar_fl.config import ConfigError
from lanhar_fl.models.lanhar import LanHARModel, federated_state_dict, load_federated_state_dict
from lanhar_fl.pipeline.text_side import TextSide, public_stage1
from lanhar_fl.training.stage2 import train_sensor_encoder

from .text_side import SETTING, stage1_setting

log = logging.getLogger(__name__)


def warm_start(cfg: DictConfig, model: LanHARModel, text_side: TextSide,
               classes: list[str]) -> dict[str, Any] | None:
    """Train ``model`` in place on the public windows; metrics.json's ``warm_start`` entry (None
    when ``federation.warm_start_epochs`` is 0)."""
    fed = cfg.federation
    epochs = int(fed.get("warm_start_epochs") or 0)
    if epochs <= 0:
        return None
    sources = stage1_setting(cfg)
    if isinstance(sources, str):
        raise ConfigError(f"federation.warm_start_epochs={epochs} needs public windows: set "
                          f"{SETTING} to public sources (it is {sources})")
    cached = _cache_path(cfg, text_side, classes)
    if cached is not None and cached.with_suffix(".json").is_file():
        try:
            load_federated_state_dict(model, load_file(str(cached)))
            record = json.loads(cached.with_suffix(".json").read_text())
            log.info("warm start: cached %s", cached.name)
            return {**record, "cached": True}
        except (OSError, ValueError, KeyError, SafetensorError) as exc:  # damaged: train again
            log.warning("warm start cache %s unreadable (%s): training again", cached, exc)
    start = time.perf_counter()
    windows, texts, records = public_stage1(
        cfg, sources, classes, where=SETTING, phones=int(fed.get("stage1_public_phones", 24)),
        max_windows=fed.get("warm_start_max_windows") or fed.get("stage1_max_windows")
        or cfg.data.get("max_windows"), progress=False)
    embeddings = text_side.embed(list(texts), progress=False)
    log.info("warm start: stage 2 on %d public windows, %d epochs", len(windows), epochs)
    history = train_sensor_encoder(
        model, windows.data, embeddings,
        {"epochs": epochs, "lr": float(fed.lr), "batch_size": int(fed.batch_size),
         "dedup_positives": bool(cfg.train.stage2.get("dedup_positives", True))},
        progress=False, seed=int(cfg.seed))
    record = {"epochs": epochs, "windows": len(windows),
              "sources": [r.get("dataset") for r in records],
              "final_loss": round(float(history["train_loss"][-1]), 4)
              if history.get("train_loss") else None,
              "seconds": round(time.perf_counter() - start, 1)}
    if cached is not None:
        _store(cached, model, record)
    return record


def _cache_path(cfg: DictConfig, text_side: TextSide, classes: list[str]) -> Path | None:
    """Where this warm start is cached (None without ``cache_dir``): the key covers the
    public data, its interpretations and embeddings, the model and the training settings."""
    root = cfg.get("cache_dir")
    if not root:
        return None
    parts = {key: OmegaConf.to_container(cfg[key], resolve=True) if OmegaConf.is_config(
        cfg.get(key)) else cfg.get(key)
        for key in ("dataset", "data", "interpreter", "label_space", "model", "federation",
                    "seed")}
    federation = dict(parts["federation"] or {})
    parts["federation"] = {k: v for k, v in federation.items()
                           if k.startswith(("warm_start", "stage1")) or k in ("lr", "batch_size")}
    parts.update(classes=list(classes), encoder=text_side.encoder.fingerprint,
                 dedup=bool(cfg.train.stage2.get("dedup_positives", True)), version=1)
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return Path(str(root)).expanduser() / "warm_start" / f"{digest[:32]}.safetensors"


def _store(path: Path, model: LanHARModel, record: dict[str, Any]) -> None:
    """Write weights, then the record that marks the entry complete (each atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    state = {k: v.contiguous() for k, v in federated_state_dict(model).items()}
    save_file(state, str(tmp))
    os.replace(tmp, path)
    meta = path.with_suffix(".json")
    tmp_meta = meta.with_name(f"{meta.name}.{os.getpid()}.tmp")
    tmp_meta.write_text(json.dumps(record))
    os.replace(tmp_meta, meta)
