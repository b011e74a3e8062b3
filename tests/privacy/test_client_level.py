"""Client-level DP: Flower's wrappers and accountant, phone-side clipping, metric aggregation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from flwr.app import ArrayRecord, MetricRecord, RecordDict
from flwr.serverapp.strategy import (
    DifferentialPrivacyClientSideFixedClipping,
    DifferentialPrivacyServerSideFixedClipping,
)
from flwr.supercore.differential_privacy import KEY_CLIPPING_NORM

from lanhar_fl.config import ConfigError, load_config
from lanhar_fl.federated import schema
from lanhar_fl.privacy.client_level import (
    AccountedServerSideAdaptiveClipping,
    clip_on_phone,
    epsilon_after,
    noise_for_epsilon,
    privacy_spent,
)
from lanhar_fl.privacy.reporting import aggregate_fit_metrics, aggregate_train_metrics
from lanhar_fl.privacy.settings import load_privacy_group
from server.strategy import build_strategy


def _cfg(*overrides: str, **privacy):
    cfg = load_config(["preset=smoke", "train.stage1.epochs=1", "rounds=3", "phones_per_round=4",
                       *overrides])
    cfg.privacy = load_privacy_group("client_level")
    for k, v in privacy.items():
        cfg.privacy[k] = v
    return cfg


def test_noise_for_epsilon_meets_the_target_over_the_run():
    z = noise_for_epsilon(4.0, rounds=10, per_round=5, num_phones=20, delta=1e-3)
    assert epsilon_after(z, 10, 5, 20, 1e-3) <= 4.0
    assert epsilon_after(0.97 * z, 10, 5, 20, 1e-3) > 4.0
    assert noise_for_epsilon(2.0, 10, 5, 20, 1e-3) > z


@pytest.mark.parametrize(("side", "cls"), [("server", DifferentialPrivacyServerSideFixedClipping),
                                           ("client", DifferentialPrivacyClientSideFixedClipping)])
def test_build_strategy_wraps_fedavg_with_an_accountant(side, cls):
    strategy = build_strategy(_cfg(side=side), num_phones=8)
    assert isinstance(strategy, cls) and strategy.accountant is not None
    assert strategy.strategy.weighted_by_key == schema.UNIT_WEIGHT
    assert privacy_spent(strategy) == (0.0, pytest.approx(1 / 8))


def test_target_epsilon_sets_the_noise_and_adaptive_is_accounted():
    strategy = build_strategy(_cfg(clipping="adaptive", target_epsilon=8.0,
                                   clipped_count_stddev=2.0), num_phones=8)
    assert isinstance(strategy, AccountedServerSideAdaptiveClipping)
    assert epsilon_after(strategy.requested_noise, 3, 4, 8, 1 / 8) <= 8.0


def test_client_level_needs_fedavg_aggregation():
    with pytest.raises(ConfigError, match="fedavg or fedprox"):
        build_strategy(_cfg("federation.strategy=fedadam"), num_phones=8)
    build_strategy(_cfg("federation.strategy=fedprox"), num_phones=8)


@pytest.mark.parametrize("clipping", ["fixed", "adaptive"])
def test_phone_clips_its_update_when_the_server_asks(clipping):
    cfg = _cfg(clipping=clipping)
    sent = ArrayRecord({"w": torch.zeros(3, 4), "b": torch.zeros(4)})
    state = {"w": torch.full((3, 4), 2.0), "b": torch.full((4,), 2.0)}
    metrics = clip_on_phone(cfg, {KEY_CLIPPING_NORM: 0.5}, sent, state)
    norm = torch.cat([v.flatten() for v in state.values()]).norm()
    assert norm == pytest.approx(0.5, rel=1e-5) and metrics[schema.UNIT_WEIGHT] == 1
    assert (schema.NORM_BIT in metrics) == (clipping == "adaptive")
    untouched = {"w": torch.ones(3, 4), "b": torch.ones(4)}
    assert clip_on_phone(cfg, {}, sent, untouched) == {schema.UNIT_WEIGHT: 1}
    assert untouched["w"].sum() == 12


def test_epsilon_aggregates_as_the_worst_phone():
    def reply(n, eps, loss):
        return RecordDict({"metrics": MetricRecord({schema.NUM_EXAMPLES: n, "epsilon": eps,
                                                    "delta": 1 / n, "train-loss": loss})})

    out = aggregate_train_metrics([reply(10, 1.0, 1.0), reply(30, 3.0, 2.0)],
                                  schema.NUM_EXAMPLES)
    assert out["epsilon"] == 3.0 and out["delta"] == 0.1
    assert out["train-loss"] == pytest.approx(1.75)
    legacy = aggregate_fit_metrics([(10, {"epsilon": 1.0, "train-loss": 1.0}),
                                    (30, {"epsilon": 2.5, "train-loss": 2.0})])
    assert legacy["epsilon"] == 2.5 and np.isclose(legacy["train-loss"], 1.75)
