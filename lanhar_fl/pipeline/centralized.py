"""``lanhar-fl train``: centralized two-stage LanHAR plus the supervised baseline, evaluated
under the configured protocol, with reports and checkpoints in ``run_dir``."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from ..data.registry import load_windows
from ..eval.fusion import fuse, reader_encoder, sensor_votes, text_weight, voting_classes
from ..eval.plots import history_plot
from ..eval.protocols import Split, make_split, split_metrics
from ..eval.report import format_results_table, write_report
from ..models.lanhar import LanHARModel
from ..models.presets import model_config
from ..models.supervised import SupervisedHAR
from ..runtime import resolve_device
from ..semantics.attribute_reader import AttributeReader
from ..semantics.descriptions import descriptions_from_config
from ..semantics.embedding_cache import EmbeddingCache
from ..semantics.interpret import interpret_windows
from ..semantics.text_encoder import TextEncoder
from ..training.checkpoint import save_checkpoint
from ..training.loops import infer
from ..training.stage2 import SourceValidation, predict_zero_shot, train_sensor_encoder
from ..training.supervised import train_supervised
from .text_side import centralized_text_side

log = logging.getLogger(__name__)


def seen_labels(windows, classes: list[str]) -> np.ndarray:
    """Labels of source ``windows`` re-indexed into ``classes``."""
    lookup = np.array([classes.index(c) for c in windows.class_names], dtype=np.int64)
    return lookup[windows.labels]


def run_centralized(cfg: DictConfig) -> dict[str, dict[str, Any]]:
    """Train and evaluate; returns {model name: metrics.json dict}."""
    start = time.perf_counter()
    run_dir = Path(str(cfg.run_dir)).expanduser()
    run_dir.mkdir(parents=True, exist_ok=True)
    split = make_split(cfg, load_windows)
    log.info("split: %s", json.dumps(split.summary(), default=str))
    seen = split.seen_classes

    interpretations = interpret_windows(split.train, cfg, labels_known=True)
    text_side = centralized_text_side(cfg, split, interpretations.texts)
    train_emb = text_side.embed(interpretations.texts)

    device = resolve_device(cfg.get("device"))
    model = LanHARModel.from_config(cfg.model, text_dim=text_side.encoder.dim).to(device)
    seen_prototypes = text_side.bank.subset(seen).prototypes
    validation = _validation(split, seen, seen_prototypes)
    stage2 = train_sensor_encoder(model, split.train.data, train_emb, cfg.train.stage2,
                                  val=validation, seed=int(cfg.seed))
    predicted, scores = predict_zero_shot(model, split.test.data, text_side.bank.prototypes)
    lanhar = split_metrics(split, predicted, scores=scores, seed=int(cfg.seed),
                           wall_seconds=time.perf_counter() - start,
                           extra={"model": "LanHAR",
                                  "interpretation_stats": interpretations.stats,
                                  **text_side.metrics(split, cfg)})

    results = {"LanHAR": lanhar}
    weight = text_weight(cfg)
    if weight > 0:
        results["LanHAR+interpretation"] = _interpretation_assisted(cfg, split, scores,
                                                                    text_side, weight, start)
    if cfg.train.supervised.get("enabled", True):
        results["supervised"] = _supervised_baseline(cfg, split, seen, start)

    _save_artifacts(run_dir, cfg, model, text_side, stage2)
    for name, metrics in results.items():
        metrics["wall_seconds"] = round(time.perf_counter() - start, 2)
        results[name] = metrics
    write_report(run_dir, results, title=f"lanhar-fl train: {split.setting}")
    print(format_results_table(results))
    return results


def _validation(split: Split, seen: list[str], prototypes: np.ndarray) -> SourceValidation:
    """Checkpoint selection on the source-domain validation subjects only."""
    return SourceValidation(labels=seen_labels(split.val, seen), prototypes=prototypes,
                            windows=split.val.data)


def _interpretation_assisted(cfg: DictConfig, split: Split, sensor_scores: np.ndarray,
                             text_side, weight: float, start: float) -> dict[str, Any]:
    """The sensor scores fused with each test window's own interpretation, read attribute by
    attribute against the bank's sensor patterns (``eval.fusion``)."""
    reads_with = reader_encoder(cfg)
    votes = sensor_votes(cfg)
    fused = fuse(sensor_scores, reading_scores(cfg, split, text_side.encoder, reads_with),
                 weight, voting_classes(votes, split.bank_classes, split.seen_classes))
    return split_metrics(split, fused.argmax(axis=1), scores=fused, seed=int(cfg.seed),
                         wall_seconds=time.perf_counter() - start,
                         extra={"model": "LanHAR+interpretation", "text_weight": weight,
                                "sensor_votes": votes, "reader_encoder": reads_with,
                                **text_side.metrics(split, cfg)})


def reading_scores(cfg: DictConfig, split: Split, stage1_encoder: TextEncoder,
                   reads_with: str) -> np.ndarray:
    """(N test windows, bank classes): each test window's interpretation, written without its
    label, read by ``stage1_encoder`` or, for ``pretrained``, the shipped ``cfg.text_encoder``."""
    texts = interpret_windows(split.test, cfg, labels_known=False, progress=False).texts
    encoder = stage1_encoder if reads_with == "stage1" else TextEncoder.from_config(
        cfg.text_encoder)
    cache = EmbeddingCache.from_config(cfg)  # content-addressed by the encoder's fingerprint
    reader = AttributeReader(lambda t: encoder.embed(t, cache=cache, progress=False),
                             descriptions_from_config(cfg.get("label_bank")), split.bank_classes)
    return reader.scores(texts)


def _supervised_baseline(cfg: DictConfig, split: Split, seen: list[str],
                         start: float) -> dict[str, Any]:
    """The same sensor encoder with a linear head: it can only answer with seen classes.

    It has no score for a new class; for ``new_activity_accuracy_among_new`` its new-class
    scores are random (a chance-level guess among the new classes), stated in the report.
    """
    model = SupervisedHAR(model_config(cfg.model), num_classes=len(seen))
    model.to(resolve_device(cfg.get("device")))
    train_supervised(model, split.train.data, seen_labels(split.train, seen),
                     cfg.train.supervised, val=(split.val.data, seen_labels(split.val, seen)),
                     seed=int(cfg.seed))
    logits = infer(model, model, split.test.data)
    to_bank = np.array([split.bank_classes.index(c) for c in seen], dtype=np.int64)
    scores = np.random.default_rng(int(cfg.seed)).random((len(logits), len(split.bank_classes)))
    scores[:, to_bank] = logits + 10.0  # seen classes always outrank the random new ones
    return split_metrics(split, scores.argmax(axis=1), scores=scores, seed=int(cfg.seed),
                         wall_seconds=time.perf_counter() - start,
                         extra={"model": "supervised",
                                "note": "no new-class scores: among-new accuracy is chance"})


def _save_artifacts(run_dir: Path, cfg: DictConfig, model: LanHARModel, text_side,
                    stage2_history: dict[str, Any]) -> None:
    config = OmegaConf.to_container(cfg, resolve=True)
    save_checkpoint(run_dir / "sensor_encoder", model, config=config,
                    metadata={"text_encoder_fingerprint": text_side.encoder.fingerprint,
                              "bank_fingerprint": text_side.bank.fingerprint})
    text_side.save(run_dir)  # text_encoder/ + text_side.json (federation.text_side_path)
    text_side.bank.save(run_dir / "label_bank")
    history = {"stage1": text_side.stage1_history, "stage2": stage2_history}
    (run_dir / "history.json").write_text(json.dumps(history, indent=1, default=float) + "\n")
    margins = stage2_history.get("val_tiebreak", [])
    epochs = [{"epoch": i + 1, "accuracy": acc, **({"margin": margins[i]} if margins else {})}
              for i, acc in enumerate(stage2_history.get("val_accuracy", []))]
    if epochs:
        history_plot(epochs, run_dir / "stage2_validation.png", keys=("accuracy", "margin"),
                     title="stage 2: source-validation zero-shot accuracy (ties: margin)")
