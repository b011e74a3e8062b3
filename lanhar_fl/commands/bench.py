"""``lanhar-fl bench NAME``: ``simulations.bench_NAME.run(cfg)`` -> ``run_dir/bench.json``."""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path

from omegaconf import DictConfig

from ..config import ConfigError


def available_benches() -> list[str]:
    """Benchmark names: the ``bench_*.py`` modules of the ``simulations`` package."""
    try:
        package = importlib.import_module("simulations")
    except ModuleNotFoundError:
        return []
    return sorted(m.name.removeprefix("bench_") for m in pkgutil.iter_modules(package.__path__)
                  if m.name.startswith("bench_"))


def check_name(cfg: DictConfig) -> str:
    """``bench_name`` if a benchmark has it, else a ConfigError listing the available ones."""
    name = str(cfg.get("bench_name") or "")
    names = available_benches()
    if name not in names:
        raise ConfigError(f"unknown benchmark {name!r}; available: {', '.join(names) or 'none'}"
                          " (simulations/bench_<NAME>.py)")
    return name


def bench(cfg: DictConfig) -> int:
    name = check_name(cfg)
    result = importlib.import_module(f"simulations.bench_{name}").run(cfg)
    run_dir = Path(str(cfg.run_dir)).expanduser()
    run_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"bench": name, **result}, indent=2, default=float)
    (run_dir / "bench.json").write_text(text + "\n")
    print(text)
    return 0
