"""``lanhar-fl bench simulation``: what the Flower Simulation Engine costs on top of the phones'
own work.

For each population size in ``+bench_phones`` (default ``[10, 100]``) it runs the configured
federation (``lanhar-fl simulate`` as is: use ``preset=smoke`` for tiny models) with every phone
sampled in each of ``+bench_rounds`` rounds (default 2) and reports

- ``phone_train_seconds``: the sum over rounds and phones of each phone's own time for its train
  message (interpretation, embedding, local epochs), as the phone measured it;
- ``rounds_wall_seconds``: the server's wall time from sending each round's train messages to
  the last reply, summed over rounds;
- ``overhead_ratio`` = rounds wall / phone train time, and ``overhead_ratio_with_startup`` with
  the whole ``simulate`` call (Ray start-up, actors, text side, evaluation) as the wall time.

With ``parallel_phones`` phones running at once, a free engine would reach ``ideal_ratio`` =
1 / parallel_phones; the excess over it is the engine's overhead.

``+bench_population=[100,1000,10000]`` instead runs each population size sampling only
``phones_per_round`` phones a round: what a larger population costs when the work per round is
the same. Every row reports ``peak_rss_bytes`` (the largest sum of the resident memory of this
process and all its descendants, Ray's included, sampled every 0.5 s) and ``round_seconds`` per
round (train messages sent to last reply).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from lanhar_fl.config import ConfigError

from .memory import PeakMemory
from .simulate import run as simulate


def _one(cfg: DictConfig, phones: int, rounds: int, run_dir: Path,
         per_round: int | None = None) -> dict[str, Any]:
    c = cfg.copy()
    c.num_phones, c.phones_per_round, c.rounds = phones, per_round or phones, rounds
    c.run_dir = str(run_dir / f"phones_{phones}")
    started = time.perf_counter()
    with PeakMemory() as peak:
        metrics = simulate(c)
    wall = time.perf_counter() - started
    trained = [h for h in metrics["history"] if h["round"] > 0]
    phone_seconds = sum(h["phone_train_seconds"] for h in trained)
    rounds_wall = sum(h["round_seconds"] for h in trained)
    parallel = max(1, min(int(c.phones_per_round), math.floor((os.cpu_count() or 1)
                                             / float(cfg.federation.cpus_per_phone))))
    return {
        "phones": phones, "phones_per_round": int(c.phones_per_round), "rounds": rounds,
        "phone_replies": sum(h["phones_replied"] for h in trained),
        "phone_train_seconds": phone_seconds,
        "rounds_wall_seconds": rounds_wall,
        "simulate_wall_seconds": wall,
        "overhead_ratio": rounds_wall / phone_seconds if phone_seconds else None,
        "overhead_ratio_with_startup": wall / phone_seconds if phone_seconds else None,
        "parallel_phones": parallel,
        "ideal_ratio": 1.0 / parallel,
        "accuracy": metrics["accuracy"],
        "peak_rss_bytes": int(peak.bytes),
        "round_seconds": [float(h["round_seconds"]) for h in trained],
    }


def run(cfg: DictConfig) -> dict[str, Any]:
    population = cfg.get("bench_population")
    key = "+bench_population" if population else "+bench_phones"
    sizes = [int(n) for n in (population or cfg.get("bench_phones") or [10, 100])]
    rounds = int(2 if cfg.get("bench_rounds") is None else cfg.bench_rounds)
    if not sizes or min(sizes) < 1 or rounds < 1:
        raise ConfigError(f"{key} must be positive phone counts and +bench_rounds >= 1, "
                          f"got {sizes} and {rounds}")
    run_dir = Path(str(cfg.run_dir)).expanduser()
    per_round = int(cfg.phones_per_round) if population else None
    results = [_one(cfg, n, rounds, run_dir, per_round) for n in sizes]
    return {"model": str(cfg.model.name), "text_encoder": str(cfg.text_encoder.name),
            "dataset": str(cfg.dataset.name), "cpus": os.cpu_count(),
            "cpus_per_phone": float(cfg.federation.cpus_per_phone), "results": results}
