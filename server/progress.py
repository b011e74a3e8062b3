"""What the server records after each round: one line on stdout and the history so far in
``run_dir/history.json`` (rewritten atomically), so an interrupted run says how far it got."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from lanhar_fl.federated.grid import Exchange


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
