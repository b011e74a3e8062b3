"""One federated stage-2 run: text side, initial model, strategy, rounds, results."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from flwr.app import ArrayRecord, ConfigRecord
from flwr.serverapp import Grid
from omegaconf import DictConfig

from lanhar_fl.config import to_yaml
from lanhar_fl.eval.plots import history_plot
from lanhar_fl.eval.protocols import split_metrics
from lanhar_fl.eval.report import format_results_table, write_report
from lanhar_fl.federated import schema
from lanhar_fl.federated.artifacts import pack_saved, text_version
from lanhar_fl.federated.population import phone_count, split_for
from lanhar_fl.federated.runconfig import config_to_json
from lanhar_fl.logs import summarised_in_flower_logs
from lanhar_fl.models.lanhar import LanHARModel, federated_state_dict
from lanhar_fl.pipeline.text_side import TextSide
from lanhar_fl.privacy.canaries import INITIAL_CHECKPOINT, canary_count
from lanhar_fl.privacy.client_level import privacy_spent
from lanhar_fl.privacy.facade import Privacy
from lanhar_fl.privacy.settings import SecAgg
from lanhar_fl.training.checkpoint import save_checkpoint

from .checkpoint import RoundKeeper
from .distribution import ArtifactGrid
from .evaluation import ServerEvaluator
from .progress import full_history, round_done
from .strategy import build_strategy, phones_per_round
from .text_side import public_windows, server_text_side
from .warm_start import warm_start

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
    warm = warm_start(cfg, model, text_side, split.seen_classes)
    initial = {k: v.contiguous() for k, v in federated_state_dict(model).items()}
    if canary_count(cfg):  # the audit scores canaries by how far training moved them
        save_checkpoint(run_dir / INITIAL_CHECKPOINT, model)
    shapes = {k: tuple(v.shape) for k, v in initial.items()}

    artifact_grid = ArtifactGrid(grid, shapes, strict_audit=bool(cfg.federation.audit_replies))
    records = artifact_records(text_side)
    config_json = config_to_json(cfg)
    (run_dir / "config.yaml").write_text(to_yaml(cfg))
    log.info("configuration: %s", run_dir / "config.yaml")
    train_config = ConfigRecord({schema.RUN_CONFIG: config_json,
                                 schema.ARTIFACT_VERSION: text_version(records)})
    privacy = Privacy.from_config(cfg)
    shipped = privacy.phone_artifacts(lambda: public_windows(cfg, split.seen_classes),
                                      lambda texts: text_side.embed(texts, progress=False),
                                      text_side.encoder.dim)
    if shipped is not None:
        records.update(shipped[0])
        train_config[schema.PUBLIC_NEGATIVES_VERSION] = shipped[1]
    artifact_grid.set_artifacts(records, str(train_config[schema.ARTIFACT_VERSION]))
    evaluator = ServerEvaluator(cfg, split, text_side.bank, text_side.encoder.dim)
    round_privacy: dict[int, tuple[float, float]] = {}
    run = _run_secagg if privacy.secure_aggregation else _run_strategy
    with summarised_in_flower_logs(config_json, f"<configuration: {run_dir / 'config.yaml'}>"):
        rounds = run(cfg, grid, artifact_grid, num_phones, ArrayRecord(initial), train_config,
                     evaluator, round_privacy)
    history = full_history(evaluator.history, rounds.exchanges, rounds.train_metrics,
                           round_privacy)
    per_round = phones_per_round(cfg, num_phones)
    extra = {
        "model": "LanHAR-federated",
        "num_phones": int(num_phones),
        "phones_per_round": per_round,
        "rounds": int(cfg.rounds),
        "history": history,
        "bytes_uploaded_per_phone_per_round": _mean([h["bytes_uploaded_per_phone"]
                                                     for h in history[1:]]),
        "strategy": str(cfg.federation.strategy),
        "phone_failures": sum(h["phones_failed"] for h in history),
        "phone_refusals": sum(h["phones_refused"] for h in history),
        "privacy_audit_violations": len(artifact_grid.violations),
        **text_side.metrics(split, cfg),
        **({"warm_start": warm} if warm else {}),
        **rounds.extra,
        **privacy.report(history, num_phones, per_round),
    }
    metrics = split_metrics(split, evaluator.predicted, scores=evaluator.scores,
                            seed=int(cfg.seed), wall_seconds=time.perf_counter() - start,
                            extra=extra)
    _save(run_dir, cfg, model, rounds.arrays, text_side, history)
    write_report(run_dir, {"LanHAR-federated": metrics}, simulate=True,
                 privacy="epsilon" in metrics, title=f"lanhar-fl simulate: {split.setting}")
    print(format_results_table({"LanHAR-federated": metrics}), flush=True)
    return metrics


class Rounds:
    """What a federation's rounds left: final arrays, one train exchange and the aggregated
    phone metrics per round, and extra metrics.json keys."""

    def __init__(self, arrays: ArrayRecord | None, exchanges: list,
                 train_metrics: dict[int, Any], extra: dict[str, Any] | None = None) -> None:
        self.arrays, self.exchanges, self.train_metrics = arrays, exchanges, train_metrics
        self.extra = extra or {}


def _evaluate_fn(cfg: DictConfig, evaluator: ServerEvaluator, exchanges: Callable[[], list],
                 on_round: Callable[[int, ArrayRecord], None] | None = None):
    def evaluate_fn(server_round: int, arrays: ArrayRecord):
        metrics = evaluator(server_round, arrays)
        if server_round:
            round_done(cfg, server_round, evaluator.history, exchanges())
            if on_round is not None:
                on_round(server_round, arrays)
        return metrics

    return evaluate_fn


def _run_strategy(cfg: DictConfig, grid: Grid, artifact_grid: ArtifactGrid, num_phones: int,
                  initial: ArrayRecord, train_config: ConfigRecord, evaluator: ServerEvaluator,
                  round_privacy: dict[int, tuple[float, float]]) -> Rounds:
    """The Message API: our strategy (maybe in a DP wrapper) through the artefact grid,
    checkpointed after every round (and resumed from ``cfg.resume``: server/checkpoint.py)."""
    keeper = RoundKeeper(cfg, json.loads(str(train_config[schema.RUN_CONFIG])))
    strategy = keeper.wrap(build_strategy(cfg, num_phones))
    keeper.restore(evaluator.history, round_privacy)

    def train_exchanges() -> list:
        return keeper.prior + [e for e in artifact_grid.exchanges if e.message_type == "train"]

    def on_round(server_round: int, arrays: ArrayRecord) -> None:
        spent = privacy_spent(strategy)
        if spent is not None:
            round_privacy[server_round] = spent
        keeper.after_round(server_round, arrays, evaluator.history, train_exchanges(),
                           round_privacy)

    result = strategy.start(grid=artifact_grid, initial_arrays=keeper.initial(initial),
                            num_rounds=keeper.rounds_left(),
                            timeout=float(cfg.federation.round_timeout_s),
                            train_config=train_config,
                            evaluate_config=ConfigRecord(dict(train_config)),
                            evaluate_fn=strategy.evaluate_fn(
                                _evaluate_fn(cfg, evaluator, train_exchanges, on_round)))
    return Rounds(result.arrays or keeper.initial(initial), train_exchanges(),
                  strategy.train_metrics)


def _run_secagg(cfg: DictConfig, grid: Grid, artifact_grid: ArtifactGrid, num_phones: int,
                initial: ArrayRecord, train_config: ConfigRecord, evaluator: ServerEvaluator,
                round_privacy: dict[int, tuple[float, float]]) -> Rounds:
    """SecAgg+ on Flower's legacy path: artefacts first (one query per phone), then the rounds
    on the plain grid (only the protocol's messages travel)."""
    from lanhar_fl.privacy.secagg import provision, run_secagg

    timeout = float(cfg.federation.round_timeout_s)
    provision(artifact_grid, train_config, timeout)
    recorder = None

    def exchanges() -> list:
        return list(recorder.training_stages()) if recorder else []

    def fit_config(server_round: int) -> dict[str, Any]:
        return {**dict(train_config), schema.SERVER_ROUND: server_round}

    result = run_secagg(grid, SecAgg.from_cfg(cfg), initial=initial, rounds=int(cfg.rounds),
                        per_round=phones_per_round(cfg, num_phones), num_phones=num_phones,
                        evaluate=_evaluate_fn(cfg, evaluator, exchanges), fit_config=fit_config,
                        timeout=timeout)
    recorder = result.grid
    stages = recorder.stages
    extra = {"secure_aggregation": {
        "protocol": "secagg+",
        "plain_model_arrays_received": sum(s.plain_arrays for s in stages),
        "masked_uploads": sum(len(s.replied) for s in recorder.training_stages()),
    }}
    return Rounds(result.arrays, exchanges(), result.train_metrics, extra)


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
