"""``lanhar-fl bench smoke``: wall time of every command under ``preset=smoke``.

CONTRACT.md promises that with ``preset=smoke`` every command finishes in under 3 minutes on 2
CPU cores. This runs each one as a user would (a fresh ``lanhar-fl`` process, on ``synthetic``,
each into its own folder under ``run_dir``) and reports its wall time and exit code;
``+bench_commands=[simulate,export]`` runs a subset (names as in ``COMMANDS``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from lanhar_fl.config import ConfigError

LIMIT_SECONDS = 180.0
SMOKE = ["preset=smoke", "dataset=synthetic"]


def commands(run_dir: Path) -> dict[str, list[str]]:
    """Name -> ``lanhar-fl`` arguments; ``export`` uses the checkpoint ``simulate`` wrote."""
    benches = ("interpret", "zeroshot", "stage2", "dp", "ondevice", "simulation")
    return {
        "data summary": ["data", "summary", *SMOKE],
        "interpret": ["interpret", *SMOKE, "index=0"],
        "train": ["train", *SMOKE, f"run_dir={run_dir / 'train'}"],
        "simulate": ["simulate", *SMOKE, f"run_dir={run_dir / 'simulate'}"],
        "privacy-sweep": ["privacy-sweep", *SMOKE, f"run_dir={run_dir / 'privacy_sweep'}"],
        "certs": ["certs", f"out={run_dir / 'certs'}"],
        "export": ["export", *SMOKE, f"checkpoint={run_dir / 'simulate' / 'sensor_encoder'}",
                   "format=onnx", f"out={run_dir / 'export' / 'sensor_encoder.onnx'}"],
        **{f"bench {name}": ["bench", name, *SMOKE, f"run_dir={run_dir / f'bench_{name}'}"]
           for name in benches},
    }


def _timed(args: list[str], log: Path) -> dict[str, Any]:
    started = time.perf_counter()
    with log.open("w") as out:
        code = subprocess.run([sys.executable, "-m", "lanhar_fl.cli", *args], stdout=out,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
    seconds = time.perf_counter() - started
    return {"command": "lanhar-fl " + " ".join(args), "seconds": round(seconds, 1),
            "exit_code": code, "within_limit": code == 0 and seconds < LIMIT_SECONDS,
            "log": str(log)}


def run(cfg: DictConfig) -> dict[str, Any]:
    run_dir = Path(str(cfg.run_dir)).expanduser()
    run_dir.mkdir(parents=True, exist_ok=True)
    table = commands(run_dir)
    chosen = list(cfg.get("bench_commands") or table)
    unknown = [c for c in chosen if c not in table]
    if unknown:
        raise ConfigError(f"bench_commands: unknown {unknown}; known: {list(table)}")
    results = {}
    for name in chosen:
        print(f"smoke: {name} ...", file=sys.stderr, flush=True)
        results[name] = _timed(table[name], run_dir / f"{name.replace(' ', '_')}.log")
        print(f"smoke: {name}: {results[name]['seconds']} s, exit {results[name]['exit_code']}",
              file=sys.stderr, flush=True)
    return {"limit_seconds": LIMIT_SECONDS, "commands": results,
            "all_within_limit": all(r["within_limit"] for r in results.values())}
