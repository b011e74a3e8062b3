"""The text side of LanHAR: interpretations, the (stage-1 tuned) text encoder, the label bank.

Used by ``lanhar-fl train`` and by the federated server, which hosts exactly this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from omegaconf import DictConfig

from ..config import ConfigError
from ..data.windows import Windows
from ..runtime import resolve_device
from ..semantics.embedding_cache import EmbeddingCache
from ..semantics.interpret import interpret_windows
from ..semantics.label_bank import LabelBank
from ..semantics.text_encoder import TextEncoder
from ..training.stage1 import train_text_encoder

log = logging.getLogger(__name__)


@dataclass
class TextSide:
    """The frozen text encoder, its embedding cache and the label bank built with it."""

    encoder: TextEncoder
    bank: LabelBank
    cache: EmbeddingCache | None
    stage1_history: dict[str, Any] = field(default_factory=dict)

    def embed(self, texts: list[str], progress: bool = True) -> np.ndarray:
        """Embeddings of ``texts`` (each text embedded once, ever: content-addressed cache)."""
        return self.encoder.embed(texts, cache=self.cache, progress=progress)

    @property
    def version(self) -> str:
        """Identifies encoder + bank: phones holding this version need nothing new."""
        return f"{self.encoder.fingerprint}:{self.bank.fingerprint}"


def freeze_lower_layers(encoder: TextEncoder, trainable_layers: int | None) -> None:
    """Stage 1 on a budget: train only the top ``trainable_layers`` transformer layers (None:
    all). Frozen lower layers need no backward pass, which is most of a CPU step's cost."""
    encoder.requires_grad_(True)
    if trainable_layers is None:
        return
    layers = getattr(getattr(encoder.model, "encoder", None), "layer", None)
    if layers is None:
        raise ConfigError("train.stage1.trainable_layers: this text encoder has no "
                          "`encoder.layer` stack to freeze")
    encoder.requires_grad_(False)
    for layer in list(layers)[len(layers) - int(trainable_layers):]:
        layer.requires_grad_(True)


def build_text_side(cfg: DictConfig, bank_classes: list[str],
                    stage1_windows: Windows | None = None,
                    stage1_texts: list[str] | None = None, progress: bool = True) -> TextSide:
    """Load the configured text encoder, tune it with stage 1 on labelled source windows when
    given (and ``train.stage1.epochs > 0``), then build the label bank over ``bank_classes``.

    Stage 1 sees only the classes of ``stage1_windows``: held-out (new) activities influence
    nothing but their own prototypes, built from their descriptions afterwards.
    """
    encoder = TextEncoder.from_config(cfg.text_encoder).to(resolve_device(cfg.get("device")))
    cache = EmbeddingCache.from_config(cfg)
    history: dict[str, Any] = {}
    epochs = int(cfg.train.stage1.get("epochs", 0))
    if stage1_windows is not None and len(stage1_windows) and epochs > 0:
        seen = list(stage1_windows.class_names)
        if stage1_texts is None:
            stage1_texts = interpret_windows(stage1_windows, cfg, labels_known=True,
                                             progress=progress).texts
        seen_bank = LabelBank.from_config(cfg, encoder, class_names=seen, cache=cache)
        freeze_lower_layers(encoder, cfg.train.stage1.get("trainable_layers"))
        log.info("stage 1: tuning the text encoder on %d interpretations, %d classes",
                 len(stage1_texts), len(seen))
        encoder.train()
        _, history = train_text_encoder(encoder, seen_bank, list(stage1_texts),
                                        stage1_windows.labels, seen, cfg.train.stage1,
                                        progress=progress, seed=int(cfg.seed))
        encoder.eval()
        encoder.requires_grad_(False)
        encoder.refresh_fingerprint()
    bank = LabelBank.from_config(cfg, encoder, class_names=list(bank_classes), cache=cache)
    return TextSide(encoder=encoder, bank=bank, cache=cache, stage1_history=history)
