"""One entry point to the configured privacy (as Opacus' ``PrivacyEngine`` is one): ``Privacy``
gives the server its hooks (strategy wrapper, SecAgg+ path, public-negative artefacts, reported
metrics) and the phone its (``PhoneRound``: the DP-SGD objective and accountant, reply
post-processing). The mechanisms stay in their modules; only this one branches on
``privacy.mode``. The phone's own policy floor (client/policy.py) reads the settings itself.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from omegaconf import DictConfig

from ..federated import schema
from ..training.local import LocalObjective, LocalTrainSettings
from . import client_level, public_negatives
from .opacus_engine import PhoneDP
from .reporting import privacy_metrics
from .settings import PhoneTraining, SampleLevel, privacy_mode

if TYPE_CHECKING:
    import torch
    from flwr.app import ArrayRecord, RecordDict
    from flwr.serverapp.strategy import Strategy

    from ..data.windows import Windows

log = logging.getLogger(__name__)


class Privacy:
    """The privacy of one run, built from its config (``Privacy.from_config``)."""

    def __init__(self, cfg: DictConfig, mode: str) -> None:
        self.cfg, self.mode = cfg, mode

    @classmethod
    def from_config(cls, cfg: DictConfig) -> Privacy:
        """Raises ``ConfigError`` naming ``privacy.mode`` for an unknown mode."""
        return cls(cfg, privacy_mode(cfg))

    # ------------------------------------------------------------------------------- server

    @property
    def secure_aggregation(self) -> bool:
        """Rounds run on Flower's legacy SecAgg+ path (privacy/secagg.py)."""
        return self.mode == "secagg"

    @property
    def phones_weigh_equally(self) -> bool:
        """Client-level DP averages phones unweighted (Flower's accountant assumes it)."""
        return self.mode == "client_level"

    @property
    def ships_public_negatives(self) -> bool:
        """Sample-level DP: phones need public negatives beside the text side."""
        return self.mode == "sample_level"

    @property
    def weighting_key(self) -> str:
        """The reply metric the strategy weights phones by."""
        return schema.UNIT_WEIGHT if self.phones_weigh_equally else schema.NUM_EXAMPLES

    def wrap_strategy(self, strategy: Strategy, num_phones: int, per_round: int) -> Strategy:
        """Client-level DP: ``strategy`` in Flower's DP wrapper; else ``strategy`` itself."""
        if not self.phones_weigh_equally:
            return strategy
        return client_level.wrap_strategy(strategy, self.cfg, num_phones, per_round)

    def phone_artifacts(self, public: Callable[[], Windows],
                        embed: Callable[[list[str]], np.ndarray],
                        dim: int) -> tuple[dict, str] | None:
        """Extra artefact records for the phones and their fingerprint (None when none):
        sample-level DP ships embeddings of ``public()`` windows' interpretations."""
        if not self.ships_public_negatives:
            return None
        count = SampleLevel.from_cfg(self.cfg).public_negatives
        embeddings = public_negatives.public_embeddings(self.cfg, public(), embed, count,
                                                        seed=int(self.cfg.seed))
        if not embeddings.size:
            embeddings = np.zeros((0, dim), np.float32)
        arrays, meta, fingerprint = public_negatives.pack(embeddings)
        log.info("public negatives: %d embeddings of public windows", len(embeddings))
        return {schema.PUBLIC_NEGATIVES: arrays, schema.PUBLIC_NEGATIVES_META: meta}, fingerprint

    def report(self, history: list[dict[str, Any]], num_phones: int,
               per_round: int) -> dict[str, Any]:
        """metrics.json keys: ``epsilon``, ``delta``, ``dp_mode``, ``privacy`` and, client-level,
        the noise over ``num_phones`` phones, ``per_round`` a round (reporting.py)."""
        return privacy_metrics(self.cfg, history, num_phones, per_round)

    def simulation_resume_refusal(self) -> str | None:
        """Why ``resume=`` cannot continue a simulated run under this mode (None: it can)."""
        if self.mode == "secagg":
            return ("resume= is not supported with privacy=secagg (its rounds run on "
                    "Flower's legacy path, which keeps no checkpoint)")
        if self.mode == "sample_level":
            return ("resume= is not supported with privacy=sample_level in simulation: "
                    "each phone's accountant lives in its Flower node state, which a new "
                    "Simulation Engine starts empty, so the reported epsilon would restart "
                    "(a deployed phone keeps its state across a server restart)")
        return None

    # -------------------------------------------------------------------------------- phone

    def phone_round(self, n_examples: int, prototypes: np.ndarray,
                    public: np.ndarray | None, state: RecordDict | None) -> PhoneRound:
        """A phone's privacy for one training round over ``n_examples`` windows; ``state`` is
        its ``context.state`` (the sample-level accountant history lives there)."""
        if self.mode != "sample_level":
            return PhoneRound(self.cfg, self.mode)
        fed = self.cfg.federation
        settings = SampleLevel.from_cfg(self.cfg)
        dp = PhoneDP(settings, n_examples, int(fed.batch_size), int(fed.local_epochs),
                     int(self.cfg.rounds), state)
        objective = LocalObjective(loss="dp_public",
                                   public_negatives=public_negatives.dp_negatives(prototypes,
                                                                                  public),
                                   privatize=dp.privatize, num_prototypes=len(prototypes),
                                   distill_weight=settings.prototype_distillation)
        return PhoneRound(self.cfg, self.mode, dp, objective)


class PhoneRound:
    """One phone's privacy in one round: the objective to train with, whether it may train,
    and the reply post-processing (``finish``)."""

    def __init__(self, cfg: DictConfig, mode: str, dp: PhoneDP | None = None,
                 objective: LocalObjective | None = None) -> None:
        self.cfg, self.mode, self.dp = cfg, mode, dp
        self.objective = objective or LocalObjective()

    def train_settings(self, base: LocalTrainSettings) -> LocalTrainSettings:
        """``base`` with this mode's trained parts, optimizer and learning rate
        (``PhoneTraining``)."""
        chosen = dataclasses.asdict(PhoneTraining.from_cfg(self.cfg))
        if chosen["lr"] is None:
            chosen["lr"] = base.lr
        return dataclasses.replace(base, **chosen)

    @property
    def may_train(self) -> bool:
        """False when training would take the phone past its sample-level epsilon target."""
        return self.dp is None or not self.dp.exhausted

    def finish(self, trained: bool, round_config: Mapping[str, object], sent: ArrayRecord,
               state_dict: dict[str, torch.Tensor]) -> dict[str, float | int]:
        """Scalar reply metrics; saves the accountant history, and under client-level DP with
        phone-side clipping clips ``state_dict``'s update in place."""
        metrics: dict[str, float | int] = {}
        if self.dp is not None:
            self.dp.save()
            metrics.update({schema.EPSILON: self.dp.epsilon, schema.DELTA: self.dp.delta,
                            schema.DP_NOISE_MULTIPLIER: self.dp.noise_multiplier,
                            schema.DP_SKIPPED: int(not trained)})
        if self.mode == "client_level":
            metrics.update(client_level.clip_on_phone(self.cfg, round_config, sent, state_dict))
        return metrics
