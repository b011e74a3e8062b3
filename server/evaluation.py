"""Zero-shot evaluation of the global sensor encoder on the server-held test windows, each round.

The test labels are revealed here for evaluation only; nothing selects a checkpoint with them
(the federation reports the last round's model).
"""

from __future__ import annotations

import numpy as np
from flwr.app import ArrayRecord, MetricRecord
from omegaconf import DictConfig

from lanhar_fl.eval.metrics import classification_metrics
from lanhar_fl.eval.protocols import Split
from lanhar_fl.models.lanhar import LanHARModel, load_federated_state_dict
from lanhar_fl.semantics.label_bank import LabelBank
from lanhar_fl.training.stage2 import predict_zero_shot


class ServerEvaluator:
    """``evaluate_fn`` for ``Strategy.start``: keeps the per-round history and last scores."""

    def __init__(self, cfg: DictConfig, split: Split, bank: LabelBank, text_dim: int) -> None:
        self.split = split
        self.bank = bank
        self.model = LanHARModel.from_config(cfg.model, text_dim=text_dim)
        self.y_true = split.reveal_test_labels()
        self.history: list[dict] = []
        self.predicted = np.zeros(0, np.int64)
        self.scores = np.zeros((0, len(bank.class_names)), np.float32)

    def __call__(self, server_round: int, arrays: ArrayRecord) -> MetricRecord:
        load_federated_state_dict(self.model, arrays.to_torch_state_dict())
        self.predicted, self.scores = predict_zero_shot(self.model, self.split.test.data,
                                                        self.bank.prototypes)
        m = classification_metrics(self.y_true, self.predicted, self.split.bank_classes)
        row = {"round": server_round, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
               "weighted_f1": m["weighted_f1"]}
        self.history.append(row)
        return MetricRecord({k: float(v) for k, v in row.items()})
