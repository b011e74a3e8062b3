"""Client-level (central) DP with Flower's strategy wrappers and Flower's RDP accountant.

The server adds Gaussian noise to the average of the sampled phones' updates, each clipped to an
L2 norm (fixed, or adapted towards a quantile of the update norms): the released global model is
(epsilon, delta)-DP with respect to adding or removing one PHONE's whole dataset. The server
itself sees the individual (clipped) updates; pair with SecAgg for that.

- ``side=server``: ``DifferentialPrivacyServerSide{Fixed,Adaptive}Clipping`` clips on the server.
- ``side=client``: ``DifferentialPrivacyClientSide{Fixed,Adaptive}Clipping``; the phone clips
  with Flower's own clipping functions (``clip_on_phone``) instead of Flower's
  ``fixedclipping_mod``/``adaptiveclipping_mod``, which require exactly one ArrayRecord and one
  ConfigRecord per message, while our first message to a phone also carries the text-side
  artefacts.

Accounting: Flower's ``RdpAccountant`` with no amplification by phone sampling (what its
fixed-clipping wrappers support: plain FedAvg aggregation, equal phone weights, exactly the
sampled replies; a round with a failed phone is not aggregated). Flower's adaptive wrappers take
no accountant; ``Accounted*AdaptiveClipping`` composes the same Gaussian event per released
round (the update and clipped-count noise together make a Gaussian mechanism of the configured
multiplier, Andrew et al. 2021).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch
from flwr.app import ArrayRecord, Message, MetricRecord
from flwr.serverapp.strategy import (
    DifferentialPrivacyClientSideAdaptiveClipping,
    DifferentialPrivacyClientSideFixedClipping,
    DifferentialPrivacyServerSideAdaptiveClipping,
    DifferentialPrivacyServerSideFixedClipping,
    FedAvg,
    Strategy,
)
from flwr.supercore.differential_privacy import (
    KEY_CLIPPING_NORM,
    compute_adaptive_clip_model_update,
    compute_clip_model_update,
)
from omegaconf import DictConfig

from ..config import ConfigError
from ..federated import schema
from .settings import ClientLevel


def make_accountant(num_phones: int, delta: float):
    """Flower's RDP accountant for add/remove-one-phone DP, no sampling amplification."""
    from flwr.serverapp import (
        NeighboringRelation,
        PrivacyConfig,
        RdpAccountant,
        SamplingMethod,
    )

    config = PrivacyConfig(target_delta=delta, population_size=int(num_phones),
                           neighboring_relation=NeighboringRelation.ADD_OR_REMOVE_ONE,
                           sampling_method=SamplingMethod.NO_AMPLIFICATION)
    return RdpAccountant(config)


def _release(noise_multiplier: float, per_round: int, num_phones: int):
    from flwr.serverapp import GaussianPrivacyEvent

    return GaussianPrivacyEvent(noise_multiplier=noise_multiplier, sample_size=per_round,
                                population_size=num_phones)


def epsilon_after(noise_multiplier: float, rounds: int, per_round: int, num_phones: int,
                  delta: float) -> float:
    """Epsilon after ``rounds`` released rounds at ``noise_multiplier``."""
    accountant = make_accountant(num_phones, delta)
    accountant.compose(_release(noise_multiplier, per_round, num_phones), count=rounds)
    return accountant.get_epsilon(delta)


def noise_for_epsilon(target_epsilon: float, rounds: int, per_round: int, num_phones: int,
                      delta: float, tolerance: float = 1e-3) -> float:
    """Smallest noise multiplier whose epsilon after ``rounds`` rounds is <= the target."""
    low, high = 0.0, 1.0
    while epsilon_after(high, rounds, per_round, num_phones, delta) > target_epsilon:
        low, high = high, 2 * high
        if high > 1e6:
            raise ConfigError(f"privacy.target_epsilon={target_epsilon} is out of reach")
    while high - low > tolerance * high:
        mid = 0.5 * (low + high)
        if mid > 0 and epsilon_after(mid, rounds, per_round, num_phones, delta) <= target_epsilon:
            high = mid
        else:
            low = mid
    return high


class _AccountedAdaptive:
    """Mixin for Flower's adaptive wrappers: compose one Gaussian release per aggregated round."""

    accountant = None
    requested_noise: float = 0.0
    num_phones: int = 1

    def aggregate_train(self, server_round: int, replies: Iterable[Message]
                        ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        replies = list(replies)
        arrays, metrics = super().aggregate_train(server_round, replies)
        if arrays is not None:
            sampled = self.num_sampled_clients
            self.accountant.compose(_release(self.requested_noise, sampled, self.num_phones))
        return arrays, metrics

    def privacy_spent(self):
        return self.accountant.get_privacy_spent()


class AccountedServerSideAdaptiveClipping(_AccountedAdaptive,
                                          DifferentialPrivacyServerSideAdaptiveClipping):
    """Flower's server-side adaptive clipping, with Flower's RDP accountant."""


class AccountedClientSideAdaptiveClipping(_AccountedAdaptive,
                                          DifferentialPrivacyClientSideAdaptiveClipping):
    """Flower's client-side adaptive clipping, with Flower's RDP accountant."""


def default_delta(settings: ClientLevel, num_phones: int) -> float:
    return settings.delta if settings.delta is not None else min(0.5, 1.0 / num_phones)


def resolve_noise(settings: ClientLevel, cfg: DictConfig, per_round: int,
                  num_phones: int) -> float:
    """The configured noise multiplier, or the one meeting ``target_epsilon`` after the run."""
    if settings.target_epsilon is None:
        return float(settings.noise_multiplier)
    return noise_for_epsilon(settings.target_epsilon, int(cfg.rounds), per_round, num_phones,
                             default_delta(settings, num_phones))


def wrap_strategy(strategy: Strategy, cfg: DictConfig, num_phones: int,
                  per_round: int) -> Strategy:
    """``strategy`` (FedAvg or FedProx, weighted by ``schema.UNIT_WEIGHT``) in Flower's wrapper."""
    if type(strategy).aggregate_train is not FedAvg.aggregate_train:
        raise ConfigError("privacy=client_level needs federation.strategy fedavg or fedprox "
                          "(Flower's accountant requires FedAvg aggregation)")
    settings = ClientLevel.from_cfg(cfg)
    delta = default_delta(settings, num_phones)
    noise = resolve_noise(settings, cfg, per_round, num_phones)
    accountant = make_accountant(num_phones, delta)
    if settings.clipping == "fixed":
        cls = (DifferentialPrivacyServerSideFixedClipping if settings.side == "server"
               else DifferentialPrivacyClientSideFixedClipping)
        return cls(strategy, noise, settings.clipping_norm, per_round, accountant=accountant)
    cls = (AccountedServerSideAdaptiveClipping if settings.side == "server"
           else AccountedClientSideAdaptiveClipping)
    try:
        wrapped = cls(strategy, noise, per_round, initial_clipping_norm=settings.clipping_norm,
                      target_clipped_quantile=settings.target_quantile,
                      clip_norm_lr=settings.clip_norm_lr,
                      clipped_count_stddev=cfg.privacy.get("clipped_count_stddev"))
    except ValueError as exc:  # the clipped-count noise cannot carry this noise multiplier
        raise ConfigError(f"privacy.clipping=adaptive: {exc} (privacy.clipped_count_stddev)") \
            from exc
    wrapped.accountant, wrapped.requested_noise, wrapped.num_phones = accountant, noise, num_phones
    return wrapped


def privacy_spent(strategy: Strategy) -> tuple[float, float] | None:
    """(epsilon, delta) spent so far by a wrapped strategy (None for other strategies)."""
    spent_fn = getattr(strategy, "privacy_spent", None)
    spent = spent_fn() if callable(spent_fn) else None
    if spent is None:
        return None
    return float(spent.epsilon), float(spent.delta)


def clip_on_phone(cfg: DictConfig, round_config: Mapping[str, object], sent: ArrayRecord,
                  state: dict[str, torch.Tensor]) -> dict[str, float | int]:
    """Client-side clipping of the update ``state - sent`` in place (when the server's wrapper
    asked for it with a clipping norm); returns the reply metrics the wrapper expects."""
    metrics: dict[str, float | int] = {schema.UNIT_WEIGHT: 1}
    if KEY_CLIPPING_NORM not in round_config:
        return metrics
    keys = list(sent.keys())
    received = sent.to_numpy_ndarrays()
    local = [state[k].detach().cpu().numpy().copy() for k in keys]
    norm = float(round_config[KEY_CLIPPING_NORM])
    if ClientLevel.from_cfg(cfg).clipping == "adaptive":
        metrics[schema.NORM_BIT] = int(compute_adaptive_clip_model_update(local, received, norm))
    else:
        compute_clip_model_update(local, received, norm)
    for k, v in zip(keys, local, strict=True):
        state[k] = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))
    return metrics
