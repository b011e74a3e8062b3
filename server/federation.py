"""One federated stage-2 run: text side, initial model, strategy, rounds, results."""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from flwr.app import ArrayRecord, ConfigRecord
from flwr.serverapp import Grid
from omegaconf import DictConfig

from lanhar_fl.eval.plots import history_plot
from lanhar_fl.eval.protocols import split_metrics
from lanhar_fl.eval.report import format_results_table, write_report
from lanhar_fl.federated import schema
from lanhar_fl.federated.artifacts import pack_saved
from lanhar_fl.federated.population import phone_count, split_for
from lanhar_fl.federated.runconfig import config_to_json
from lanhar_fl.models.lanhar import LanHARModel, federated_state_dict
from lanhar_fl.pipeline.text_side import TextSide
from lanhar_fl.training.checkpoint import save_checkpoint

from .distribution import ArtifactGrid
from .evaluation import ServerEvaluator
from .strategy import build_strategy
from .text_side import server_text_side

log = logging.getLogger(__name__)


def artifact_records(text_side: TextSide) -> dict:
    """The text side as message records (sent once to each phone, per version)."""
    encoder_arrays, encoder_meta = pack_saved(text_side.encoder.save_pretrained,
                                              text_side.encoder.fingerprint)
    bank_arrays, bank_meta = pack_saved(text_side.bank.save, text_side.bank.fingerprint)
    return {schema.TEXT_ENCODER: encoder_arrays, schema.TEXT_ENCODER_META: encoder_meta,
            schema.LABEL_BANK: bank_arrays, schema.LABEL_BANK_META: bank_meta}


def run_federation(grid: Grid, cfg: DictConfig, num_phones: int | None = None,
                   text_side: TextSide | None = None) -> dict[str, Any]:
    """Run ``cfg.rounds`` rounds over the phones of ``grid``; write results to ``cfg.run_dir``.

    ``text_side``: the hosted encoder and bank if already prepared (else built here).
    """
    start = time.perf_counter()
    random.seed(int(cfg.seed))  # Flower samples phones with the `random` module
    torch.manual_seed(int(cfg.seed))
    run_dir = Path(str(cfg.run_dir)).expanduser()
    run_dir.mkdir(parents=True, exist_ok=True)

    split = split_for(cfg)
    num_phones = num_phones or len(list(grid.get_node_ids())) or phone_count(cfg)
    if text_side is None:
        text_side = server_text_side(cfg, split.bank_classes, split.seen_classes)
    model = LanHARModel.from_config(cfg.model, text_dim=text_side.encoder.dim)
    initial = {k: v.contiguous() for k, v in federated_state_dict(model).items()}
    shapes = {k: tuple(v.shape) for k, v in initial.items()}

    artifact_grid = ArtifactGrid(grid, shapes, strict_audit=bool(cfg.federation.audit_replies))
    artifact_grid.set_artifacts(artifact_records(text_side), text_side.version)
    evaluator = ServerEvaluator(cfg, split, text_side.bank, text_side.encoder.dim)
    strategy = build_strategy(cfg, num_phones)
    train_config = ConfigRecord({schema.RUN_CONFIG: config_to_json(cfg),
                                 schema.ARTIFACT_VERSION: text_side.version})

    def evaluate_fn(server_round: int, arrays: ArrayRecord):
        metrics = evaluator(server_round, arrays)
        if server_round:
            _log_round(server_round, int(cfg.rounds), evaluator.history[-1], artifact_grid)
        return metrics

    result = strategy.start(grid=artifact_grid, initial_arrays=ArrayRecord(initial),
                            num_rounds=int(cfg.rounds),
                            timeout=float(cfg.federation.round_timeout_s),
                            train_config=train_config,
                            evaluate_config=ConfigRecord(dict(train_config)),
                            evaluate_fn=evaluate_fn)
    history = _history(evaluator.history, artifact_grid, result)
    extra = {
        "model": "LanHAR-federated",
        "num_phones": int(num_phones),
        "phones_per_round": int(min(int(cfg.phones_per_round), num_phones)),
        "rounds": int(cfg.rounds),
        "history": history,
        "bytes_uploaded_per_phone_per_round": _mean([h["bytes_uploaded_per_phone"]
                                                     for h in history[1:]]),
        "strategy": str(cfg.federation.strategy),
        "phone_failures": sum(h["phones_failed"] for h in history),
        "privacy_audit_violations": len(artifact_grid.violations),
    }
    metrics = split_metrics(split, evaluator.predicted, scores=evaluator.scores,
                            seed=int(cfg.seed), wall_seconds=time.perf_counter() - start,
                            extra=extra)
    _save(run_dir, cfg, model, result.arrays, text_side, history)
    write_report(run_dir, {"LanHAR-federated": metrics}, simulate=True,
                 title=f"lanhar-fl simulate: {split.setting}")
    print(format_results_table({"LanHAR-federated": metrics}), flush=True)
    return metrics


def _log_round(server_round: int, rounds: int, row: dict, grid: ArtifactGrid) -> None:
    train = [e for e in grid.exchanges if e.message_type == "train"]
    last = train[-1] if train else None
    up = _mean(list(last.bytes_uploaded.values())) if last else 0.0
    print(f"round {server_round}/{rounds}: accuracy {row['accuracy']:.3f}, weighted F1 "
          f"{row['weighted_f1']:.3f} | phones {len(last.replied) if last else 0} ok, "
          f"{len(last.failed) if last else 0} failed | {up / 1e6:.2f} MB up per phone",
          flush=True)


def _history(rows: list[dict], grid: ArtifactGrid, result) -> list[dict]:
    train = [e for e in grid.exchanges if e.message_type == "train"]  # one per round, in order
    history = []
    for row in rows:
        r = int(row["round"])
        entry = dict(row)
        exchange = train[r - 1] if 0 < r <= len(train) else None
        entry["phones_sampled"] = len(exchange.sent_to) if exchange else 0
        entry["phones_replied"] = len(exchange.replied) if exchange else 0
        entry["phones_failed"] = len(exchange.failed) if exchange else 0
        entry["artifacts_sent"] = len(exchange.artifacts_sent_to) if exchange else 0
        entry["bytes_uploaded_per_phone"] = (
            _mean(list(exchange.bytes_uploaded.values())) if exchange else 0.0)
        client = result.train_metrics_clientapp.get(r)
        if client is not None and "train-loss" in client:
            entry["train_loss"] = float(client["train-loss"])
        history.append(entry)
    return history


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def _save(run_dir: Path, cfg: DictConfig, model: LanHARModel, arrays: ArrayRecord | None,
          text_side: TextSide, history: list[dict]) -> None:
    if arrays is not None:
        model.load_state_dict(arrays.to_torch_state_dict(), strict=False)
    save_checkpoint(run_dir / "sensor_encoder", model, config=json.loads(config_to_json(cfg)),
                    metadata={"text_encoder_fingerprint": text_side.encoder.fingerprint,
                              "bank_fingerprint": text_side.bank.fingerprint})
    text_side.bank.save(run_dir / "label_bank")
    (run_dir / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    history_plot(history, run_dir / "rounds.png",
                 title="federated stage 2: zero-shot accuracy on held-out users per round")
