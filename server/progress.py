"""What the server records after each round: one line on stdout and the history so far in
``run_dir/history.json`` (rewritten atomically), so an interrupted run says how far it got; and
the final history, each round's evaluation joined with its train exchange and privacy spent."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from lanhar_fl.federated import schema
from lanhar_fl.federated.grid import Exchange
from lanhar_fl.privacy.reporting import running_max


def round_done(cfg: DictConfig, server_round: int, history: list[dict],
               train: list[Exchange]) -> None:
    log_round(server_round, int(cfg.rounds), history[-1], train)
    write_history(Path(str(cfg.run_dir)).expanduser(), history)


def write_history(run_dir: Path, history: list[dict]) -> None:
    path = run_dir / "history.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(history, indent=1, default=float) + "\n")
    os.replace(tmp, path)


def log_round(server_round: int, rounds: int, row: dict, train: list[Exchange]) -> None:
    last = train[-1] if train else None
    up = float(np.mean(list(last.bytes_uploaded.values()))) if last and last.bytes_uploaded \
        else 0.0
    print(f"round {server_round}/{rounds}: accuracy {row['accuracy']:.3f}, weighted F1 "
          f"{row['weighted_f1']:.3f} | phones {len(last.replied) if last else 0} ok, "
          f"{len(last.failed) if last else 0} failed | {up / 1e6:.2f} MB up per phone",
          flush=True)


def full_history(rows: list[dict], train: list, train_metrics: dict[int, Any],
                 round_privacy: dict[int, tuple[float, float]]) -> list[dict]:
    """The evaluator's rows joined with each round's train exchange (one per round, in order),
    the phones' aggregated metrics and the privacy spent."""
    history = []
    for row in rows:
        r = int(row["round"])
        entry = dict(row)
        exchange = train[r - 1] if 0 < r <= len(train) else Exchange("", "", [])
        entry.update(exchange.summary())
        client = train_metrics.get(r)
        if client is not None and schema.TRAIN_LOSS in client:
            entry["train_loss"] = float(client[schema.TRAIN_LOSS])
        if r in round_privacy:
            entry["epsilon"], entry["delta"] = round_privacy[r]
        elif client is not None and schema.EPSILON in client:
            entry["epsilon"] = float(client[schema.EPSILON])
            entry["delta"] = float(client[schema.DELTA])
        history.append(entry)
    _cumulative_epsilon(history)
    return history


def _cumulative_epsilon(history: list[dict]) -> None:
    """A phone's epsilon never decreases: the round's value is the worst seen so far (phones
    not sampled this round keep theirs)."""
    for key in ("epsilon", "delta"):
        for entry, value in zip(history, running_max([h.get(key) for h in history]),
                                strict=True):
            if value is not None:
                entry[key] = value
