"""What a phone does in a round: interpret its windows on the device, embed them with the
server's frozen text encoder (each text once, ever), and train or evaluate the sensor encoder.

Nothing derived from the windows leaves this module except model arrays and scalar metrics.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import torch
from flwr.app import ArrayRecord, MetricRecord, RecordDict
from omegaconf import DictConfig

from lanhar_fl.data.windows import Windows
from lanhar_fl.federated import schema
from lanhar_fl.models.lanhar import LanHARModel, federated_state_dict, load_federated_state_dict
from lanhar_fl.privacy import canaries, gradient_canaries
from lanhar_fl.privacy.facade import Privacy
from lanhar_fl.privacy.membership import training_windows
from lanhar_fl.semantics.embedding_cache import EmbeddingCache
from lanhar_fl.semantics.interpret import interpret_windows
from lanhar_fl.training.local import LocalTrainSettings, local_train
from lanhar_fl.training.stage2 import predict_zero_shot

from .artifacts import TextArtifacts


class InjectedFailure(RuntimeError):
    """Raised on purpose (federation.fail_phones) to test that rounds survive a lost phone."""


def phone_embeddings(cfg: DictConfig, windows: Windows, text: TextArtifacts) -> np.ndarray:
    """Interpret on the device, then embed with the frozen encoder through the local cache
    (audit canaries, if any, get their target prototype instead: privacy/canaries.py)."""
    def embed(real: Windows) -> np.ndarray:
        texts = list(interpret_windows(real, cfg, labels_known=False, progress=False).texts)
        return text.encoder.embed(texts, cache=EmbeddingCache.from_config(cfg))

    return canaries.embed(cfg, windows, embed, text.bank.prototypes)


def _model(cfg: DictConfig, text: TextArtifacts, arrays: ArrayRecord) -> LanHARModel:
    model = LanHARModel.from_config(cfg.model, text_dim=text.encoder.dim)
    load_federated_state_dict(model, arrays.to_torch_state_dict())
    return model


def train(cfg: DictConfig, round_config: Mapping[str, object], arrays: ArrayRecord,
          windows: Windows, text: TextArtifacts, phone_index: int,
          state: RecordDict | None = None) -> RecordDict:
    """Local stage-2 training; the reply holds arrays and scalar metrics only.

    ``state`` is the phone's ``context.state``: with sample-level DP it carries the accountant
    history across rounds, so the reported epsilon is cumulative.
    """
    server_round = int(round_config.get(schema.SERVER_ROUND, 0))
    if phone_index in set(cfg.federation.get("fail_phones") or []) and server_round == 2:
        raise InjectedFailure(f"phone {phone_index} fails in round 2 (federation.fail_phones)")
    start = time.perf_counter()
    windows = training_windows(cfg, windows, phone_index)
    windows = canaries.include(cfg, windows, phone_index)  # simulation-only audit (default off)
    model = _model(cfg, text, arrays)
    fed = cfg.federation
    privacy = Privacy.from_config(cfg).phone_round(len(windows), text.bank.prototypes,
                                                   text.public_negatives, state)
    losses: list[float] = []
    if privacy.may_train:
        embeddings = phone_embeddings(cfg, windows, text)
        settings = privacy.train_settings(LocalTrainSettings(
            epochs=int(fed.local_epochs), lr=float(fed.lr), batch_size=int(fed.batch_size),
            proximal_mu=float(round_config.get("proximal-mu", 0.0)),
            seed=int(cfg.seed) * 100_003 + server_round * 1_009 + phone_index))
        injected = gradient_canaries.for_phone(cfg, model, phone_index, len(windows),
                                               settings.batch_size, settings.seed)
        losses = local_train(model, windows.data, embeddings, settings, privacy.objective,
                             on_optimizer=injected.attach if injected else None)["loss"]
    metrics: dict[str, float | int] = {
        schema.NUM_EXAMPLES: int(len(windows)),
        schema.TRAIN_SECONDS: float(time.perf_counter() - start),
        schema.LOCAL_EPOCHS: int(fed.local_epochs),
        schema.ACC_ONLY: float(np.mean(~windows.has_gyro)),
    }
    if losses:
        metrics[schema.TRAIN_LOSS] = float(losses[-1])
    state_dict = {k: v.contiguous() for k, v in federated_state_dict(model).items()}
    metrics.update(privacy.finish(bool(losses), round_config, arrays, state_dict))
    return RecordDict({schema.ARRAYS: ArrayRecord(state_dict),
                       schema.METRICS: MetricRecord(metrics)})


def evaluate(cfg: DictConfig, arrays: ArrayRecord, windows: Windows,
             text: TextArtifacts) -> RecordDict:
    """Local zero-shot accuracy against the bank (windows of classes the bank lacks skipped)."""
    model = _model(cfg, text, arrays)
    names = list(text.bank.class_names)
    known = np.array([c in names for c in windows.class_names])
    keep = known[windows.labels]
    local = windows.subset(np.flatnonzero(keep))
    if not len(local):
        return RecordDict({schema.METRICS: MetricRecord({schema.NUM_EXAMPLES: 0,
                                                         schema.ACCURACY: 0.0})})
    lookup = np.array([names.index(c) if c in names else -1 for c in local.class_names])
    with torch.no_grad():
        predicted, _ = predict_zero_shot(model, local.data, text.bank.prototypes)
    accuracy = float((predicted == lookup[local.labels]).mean())
    return RecordDict({schema.METRICS: MetricRecord({schema.NUM_EXAMPLES: int(len(local)),
                                                     schema.ACCURACY: accuracy})})
