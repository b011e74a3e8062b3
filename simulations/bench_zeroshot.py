"""``lanhar-fl bench zeroshot``: the zero-training baseline of the language route.

Grounded interpretations of the configured dataset's windows, embedded by the configured text
encoder with no training at all, classified by the nearest label-bank prototype. Every later
stage must beat this. Example (LanHAR's 4-class setting on UCI HAPT):

    lanhar-fl bench zeroshot dataset=uci_hapt dataset.root=../shared/data/uci_hapt \
        label_space=four_class data.max_windows=2000
"""

from __future__ import annotations

import time

import numpy as np
from omegaconf import DictConfig

from lanhar_fl.data.registry import load_windows
from lanhar_fl.eval.metrics import classification_metrics
from lanhar_fl.semantics.embedding_cache import EmbeddingCache
from lanhar_fl.semantics.interpret import interpret_windows
from lanhar_fl.semantics.label_bank import LabelBank, nearest_prototype
from lanhar_fl.semantics.text_encoder import TextEncoder


def run(cfg: DictConfig) -> dict:
    t0 = time.perf_counter()
    windows = load_windows(cfg)
    texts = interpret_windows(windows, cfg).texts
    encoder = TextEncoder.from_config(cfg.text_encoder)
    cache = EmbeddingCache.from_config(cfg)
    bank = LabelBank.from_config(cfg, encoder, class_names=list(windows.class_names), cache=cache)
    embeddings = encoder.embed(texts, cache=cache, progress=True)
    predicted = nearest_prototype(embeddings, bank)
    metrics = classification_metrics(windows.labels, predicted, windows.class_names)
    counts = np.bincount(windows.labels, minlength=len(windows.class_names))
    return {
        "dataset": windows.dataset,
        "text_encoder": str(cfg.text_encoder.name),
        "windows": len(windows),
        "classes": list(windows.class_names),
        "accuracy": round(metrics["accuracy"], 4),
        "macro_f1": round(metrics["macro_f1"], 4),
        "weighted_f1": round(metrics["weighted_f1"], 4),
        "majority_class_accuracy": round(float(counts.max() / counts.sum()), 4),
        "confusion_matrix": metrics["confusion_matrix"],
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }
