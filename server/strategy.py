"""The aggregation strategy named by ``federation.strategy``, wrapped for client-level DP."""

from __future__ import annotations

from flwr.serverapp.strategy import FedAdam, FedAvg, FedProx, Strategy
from omegaconf import DictConfig

from lanhar_fl.config import ConfigError
from lanhar_fl.privacy.facade import Privacy
from lanhar_fl.privacy.reporting import aggregate_train_metrics

STRATEGIES = ("fedavg", "fedprox", "fedadam")


def phones_per_round(cfg: DictConfig, num_phones: int) -> int:
    return max(1, min(int(cfg.phones_per_round), num_phones))


def build_strategy(cfg: DictConfig, num_phones: int) -> Strategy:
    """FedAvg, FedProx or FedAdam sampling ``phones_per_round`` of ``num_phones`` each round;
    with ``privacy=client_level`` inside Flower's DP wrapper (unweighted average)."""
    fed = cfg.federation
    name = str(fed.strategy).lower()
    if name not in STRATEGIES:
        raise ConfigError(f"federation.strategy: expected one of {STRATEGIES}, got {name!r}")
    per_round = phones_per_round(cfg, num_phones)
    fraction_evaluate = float(fed.get("fraction_evaluate", 0.0))
    evaluate_nodes = max(1, round(fraction_evaluate * num_phones)) if fraction_evaluate else 0
    privacy = Privacy.from_config(cfg)
    min_phones = int(fed.get("min_phones") or per_round)
    common = dict(
        fraction_train=per_round / num_phones,
        # federation.min_phones alone sets the floor, so a dead phone cannot stall sampling
        min_train_nodes=min(per_round, min_phones),
        min_available_nodes=min_phones,
        fraction_evaluate=fraction_evaluate,
        min_evaluate_nodes=evaluate_nodes,
        train_metrics_aggr_fn=aggregate_train_metrics,  # epsilon: the worst phone's
        weighted_by_key=privacy.weighting_key,
    )
    if name == "fedprox":
        strategy: Strategy = FedProx(proximal_mu=float(fed.proximal_mu), **common)
    elif name == "fedadam":
        strategy = FedAdam(eta=float(fed.server_lr), **common)
    else:
        strategy = FedAvg(**common)
    return privacy.wrap_strategy(strategy, num_phones, per_round)
