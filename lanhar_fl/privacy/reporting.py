"""Privacy in the server's results: per-round epsilon (the worst phone's) and metrics.json keys.

Sample-level DP: each phone reports its cumulative (epsilon, delta); every window lives on one
phone, so the model's guarantee for any window is the largest epsilon any phone reported so far
(a phone's epsilon never decreases). Client-level DP: the server's accountant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flwr.app import MetricRecord, RecordDict
from omegaconf import DictConfig, OmegaConf

from ..federated import schema
from .settings import privacy_mode, privacy_section

MAX_KEYS = (schema.EPSILON, schema.DELTA, schema.DP_SKIPPED)
DP_MODES = {"sample_level": "sample_level_opacus", "client_level": "client_level_central"}


def aggregate_train_metrics(records: list[RecordDict], weighting_key: str) -> MetricRecord:
    """FedAvg's weighted mean of the reply metrics, except the maximum for ``MAX_KEYS``."""
    from flwr.serverapp.strategy.strategy_utils import aggregate_metricrecords

    aggregated = aggregate_metricrecords(records, weighting_key)
    for key in MAX_KEYS:
        values = [float(m[key]) for r in records for m in r.metric_records.values() if key in m]
        if values:
            aggregated[key] = max(values)
    return aggregated


def aggregate_fit_metrics(results: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """The same for the legacy (SecAgg+) path: ``(num_examples, metrics)`` per phone."""
    total = sum(n for n, _ in results) or 1
    out: dict[str, Any] = {}
    for key in {k for _, m in results for k in m}:
        values = [(n, float(m[key])) for n, m in results if key in m]
        out[key] = (max(v for _, v in values) if key in MAX_KEYS
                    else sum(n * v for n, v in values) / total)
    return out


def running_max(values: Sequence[float | None]) -> list[float | None]:
    """Cumulative maximum, skipping rounds without a value."""
    out: list[float | None] = []
    best: float | None = None
    for v in values:
        if v is not None:
            best = v if best is None else max(best, v)
        out.append(best)
    return out


def privacy_metrics(cfg: DictConfig, history: list[dict[str, Any]], num_phones: int,
                    per_round: int) -> dict[str, Any]:
    """``epsilon``, ``delta``, ``dp_mode`` (CONTRACT) and ``privacy`` (the settings) for
    metrics.json, plus the client-level noise of a run over ``num_phones`` phones with
    ``per_round`` sampled per round; for SecAgg (no DP) only ``privacy``; empty without
    privacy."""
    mode = privacy_mode(cfg)
    if mode == "none":
        return {}
    settings = OmegaConf.to_container(privacy_section(cfg), resolve=True)
    out: dict[str, Any] = {"privacy": settings}
    rows = [h for h in history if h.get("epsilon") is not None]
    if mode in DP_MODES and rows:
        out.update(epsilon=float(rows[-1]["epsilon"]), delta=float(rows[-1]["delta"]),
                   dp_mode=DP_MODES[mode])
    if mode == "client_level":
        out.update(client_level_noise(cfg, num_phones, per_round))
    return out


def client_level_noise(cfg: DictConfig, num_phones: int, per_round: int) -> dict[str, float]:
    """The server's noise multiplier and the noise it leaves on each coordinate of the averaged
    update, in units of the clipping norm (multiplier / phones per round): with no sampling
    amplification the epsilon fixes the multiplier, so only more phones per round shrink it."""
    from .client_level import resolve_noise
    from .settings import ClientLevel

    noise = resolve_noise(ClientLevel.from_cfg(cfg), cfg, per_round, num_phones)
    return {"dp_noise_multiplier": float(noise),
            "dp_noise_std_per_clip": float(noise / per_round)}
