"""Public warm start: the server trains the sensor encoder on its own public windows first.

Before round 1, with ``federation.warm_start_epochs > 0``, the server runs stage 2 (the phones'
own loss: each window against its interpretation's embedding, no labels) on the public windows
its stage 1 learned from (``federation.stage1_source``) and sends the result as the initial
model. No phone is involved, so it costs no privacy; round 0 of the history is its accuracy.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from omegaconf import DictConfig

from lanhar_fl.config import ConfigError
from lanhar_fl.models.lanhar import LanHARModel
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
    return {"epochs": epochs, "windows": len(windows),
            "sources": [r.get("dataset") for r in records],
            "final_loss": round(float(history["train_loss"][-1]), 4)
            if history.get("train_loss") else None,
            "seconds": round(time.perf_counter() - start, 1)}
