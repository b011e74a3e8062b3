"""The aggregation strategy named by ``federation.strategy``."""

from __future__ import annotations

from flwr.serverapp.strategy import FedAdam, FedAvg, FedProx, Strategy
from omegaconf import DictConfig

from lanhar_fl.config import ConfigError

STRATEGIES = ("fedavg", "fedprox", "fedadam")


def build_strategy(cfg: DictConfig, num_phones: int) -> Strategy:
    """FedAvg, FedProx or FedAdam sampling ``phones_per_round`` of ``num_phones`` each round."""
    fed = cfg.federation
    name = str(fed.strategy).lower()
    if name not in STRATEGIES:
        raise ConfigError(f"federation.strategy: expected one of {STRATEGIES}, got {name!r}")
    per_round = max(1, min(int(cfg.phones_per_round), num_phones))
    fraction_evaluate = float(fed.get("fraction_evaluate", 0.0))
    evaluate_nodes = max(1, round(fraction_evaluate * num_phones)) if fraction_evaluate else 0
    common = dict(
        fraction_train=per_round / num_phones,
        min_train_nodes=per_round,
        min_available_nodes=int(fed.get("min_phones") or per_round),
        fraction_evaluate=fraction_evaluate,
        min_evaluate_nodes=evaluate_nodes,
    )
    if name == "fedprox":
        return FedProx(proximal_mu=float(fed.proximal_mu), **common)
    if name == "fedadam":
        return FedAdam(eta=float(fed.server_lr), **common)
    return FedAvg(**common)
