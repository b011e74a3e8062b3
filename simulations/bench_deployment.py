"""``lanhar-fl bench deployment``: a real deployment on loopback under load, and its floor.

Starts a SuperLink with TLS and SuperNode authentication, registers ``+bench_supernodes``
keys (default 10) and starts that many SuperNodes, each with its own synthetic phone in the UCI
HAPT layout (``lanhar_fl.deploy``). On that one deployment it runs, ``+bench_rounds`` rounds each
(default 3), every SuperNode sampled every round:

1. the floor: ``simulations/bare_flower_app`` (each round sends every SuperNode a 10-float
   array, the ClientApp echoes it; no torch, no data), and
2. this app: ``flwr run .`` with ``+bench_overrides`` (default ``preset=smoke
   federation.stage1_source=none``).

It reports per-round wall time (train messages sent to the last reply) for both, each round's
phones' own train time (the sum over phones, as each phone measured its handler), and the
import cost that every ``flwr-clientapp`` process pays (Flower starts one per message): a fresh
interpreter importing ``flwr.clientapp`` alone vs this app's ``client.client_app``.
Every process it starts is ended by PID, also on error. Linux only.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from lanhar_fl.config import ConfigError
from lanhar_fl.deploy.certs import CertsPlan, generate
from lanhar_fl.deploy.loopback import (
    REPO_ROOT,
    Deployment,
    flower_env,
    free_ports,
    register,
    start_superlink,
    supernode_args,
    wait_online,
    wait_until,
)
from lanhar_fl.deploy.node_data import write_synthetic_nodes

BARE_APP = Path(__file__).resolve().parent / "bare_flower_app"
DEFAULT_OVERRIDES = "preset=smoke federation.stage1_source=none"
RUN_TIMEOUT_S = 1800


def _flwr_run(dep: Deployment, name: str, app: Path, run_config: str) -> str:
    """``flwr run APP --stream`` to its end; the run's final status."""
    proc = dep.start(name, "flwr", "run", str(app), dep.connection, "--stream",
                     "--run-config", run_config)
    wait_until(lambda: proc.poll() is not None, RUN_TIMEOUT_S, f"flwr run ({name})", every=1.0)
    match = re.search(r"Successfully started run (\d+)", dep.text(name))
    if not match:
        raise RuntimeError(f"flwr run ({name}) did not start: {dep.text(name)[-2000:]}")
    return dep.run_status(match.group(1))


def _import_seconds(module: str, env: dict[str, str], repeats: int = 3) -> float:
    """The least wall time of a fresh interpreter importing ``module`` (from this checkout)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], cwd=REPO_ROOT, env=env,
                       check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return min(times)


def _deploy(dep: Deployment, work: Path, nodes: int) -> float:
    """SuperLink, keys, SuperNodes online; seconds it took."""
    started = time.perf_counter()
    certs = work / "certs"
    generate(certs, CertsPlan(hosts=("localhost", "127.0.0.1"), supernodes=nodes, days=2))
    data = write_synthetic_nodes(work / "data", nodes, minutes=2.0)
    link_port, *node_ports = free_ports(nodes + 1)
    start_superlink(dep, certs, link_port)
    register(dep, [certs / f"supernode_{i}.pub" for i in range(1, nodes + 1)])
    for i in range(1, nodes + 1):
        config = (f'data-path="{data[i - 1]}" dataset="uci_hapt" phone-id={i} '
                  f'cache-dir="{work / f"node_{i}-cache"}"')
        dep.start(f"supernode_{i}", *supernode_args(node_ports[i - 1], link_port, certs,
                                                    certs / f"supernode_{i}", config))
    wait_online(dep, nodes, timeout=300)
    return time.perf_counter() - started


def _setting(cfg: DictConfig, key: str, default: int) -> object:
    value = cfg.get(key)
    return default if value is None else value


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def run(cfg: DictConfig) -> dict[str, Any]:
    nodes = int(_setting(cfg, "bench_supernodes", 10))
    rounds = int(_setting(cfg, "bench_rounds", 3))
    overrides = str(cfg.get("bench_overrides") or DEFAULT_OVERRIDES)
    if nodes < 1 or rounds < 1:
        raise ConfigError(f"+bench_supernodes and +bench_rounds must be >= 1, got {nodes} "
                          f"and {rounds}")
    work = Path(str(cfg.run_dir)).expanduser().resolve() / "deployment"
    work.mkdir(parents=True, exist_ok=True)
    dep = Deployment(work, flower_env(work), "bench")
    try:
        setup_s = _deploy(dep, work, nodes)
        bare_out = work / "bare.json"
        bare_status = _flwr_run(dep, "bare", BARE_APP, f'rounds={rounds} out="{bare_out}"')
        bare = json.loads(bare_out.read_text()) if bare_out.is_file() else {}
        run_dir = work / "run"
        app_overrides = (f"{overrides} rounds={rounds} phones_per_round={nodes} "
                         f"federation.min_phones={nodes} run_dir={run_dir}")
        ours_status = _flwr_run(dep, "lanhar", REPO_ROOT, f'overrides="{app_overrides}"')
    finally:
        leftovers = dep.stop()
    metrics = json.loads((run_dir / "metrics.json").read_text()) \
        if (run_dir / "metrics.json").is_file() else {"history": []}
    trained = [h for h in metrics["history"] if h["round"] > 0]
    ours_rounds = [float(h["round_seconds"]) for h in trained]
    bare_rounds = [float(s) for s in bare.get("round_seconds", [])]
    env = flower_env(work)
    flwr_import = _import_seconds("flwr.clientapp", env)
    ours_import = _import_seconds("client.client_app", env)
    cores = os.cpu_count() or 1
    later = slice(1, None) if rounds > 1 else slice(None)  # round 1 also ships the text side
    return {
        "supernodes": nodes, "rounds": rounds, "cores": cores, "tls": True,
        "supernode_auth": True, "overrides": overrides,
        "setup_seconds": setup_s,
        "bare_status": bare_status, "ours_status": ours_status,
        "bare_round_seconds": bare_rounds,
        "bare_clientapp_age_seconds": [_mean(a) for a in bare.get("clientapp_age_seconds", [])],
        "ours_round_seconds": ours_rounds,
        "ours_phones_replied": [int(h["phones_replied"]) for h in trained],
        "ours_phone_train_seconds": [float(h["phone_train_seconds"]) for h in trained],
        "ours_over_floor_seconds": [o - b for o, b in zip(ours_rounds, bare_rounds,
                                                          strict=False)],
        "import_seconds": {"flwr.clientapp": flwr_import, "client.client_app": ours_import},
        # the import excess of every ClientApp process of a round, spread over the cores
        "import_excess_per_round_seconds": (ours_import - flwr_import) * nodes / min(cores,
                                                                                     nodes),
        # rounds 2.. (1 when there is only one): means per round
        "breakdown": {
            "floor_round_seconds": _mean(bare_rounds[later]),
            "ours_round_seconds": _mean(ours_rounds[later]),
            "phone_train_seconds_per_phone": _mean(
                [float(h["phone_train_seconds"]) / max(1, int(h["phones_replied"]))
                 for h in trained[later]]),
            "clientapp_import_cpu_seconds_per_round": ours_import * nodes,
            "flwr_import_cpu_seconds_per_round": flwr_import * nodes,
        },
        "accuracy": metrics.get("accuracy"),
        "processes_left": leftovers,
    }
