"""Many phones on one machine: the Flower Simulation Engine (Ray) running our ServerApp and
ClientApp, driven by the composed Hydra config (``lanhar-fl simulate``)."""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from lanhar_fl.config import ConfigError
from lanhar_fl.federated.population import phone_count, split_for
from lanhar_fl.processes import stop_children_on_interrupt

from .engine_polling import sampled_only_polling
from .node_ids import deterministic_node_ids

log = logging.getLogger(__name__)


def backend_config(cfg: DictConfig) -> dict[str, Any]:
    """Flower's Ray backend settings: a local Ray with this machine's CPUs, or, with
    ``federation.ray_address``, an existing Ray cluster (whose nodes declare their own CPUs)."""
    cpus = float(cfg.federation.get("cpus_per_phone", 1))
    if cpus <= 0:
        raise ConfigError(f"federation.cpus_per_phone must be positive, got {cpus}")
    verbose = bool(cfg.get("verbose", False))
    # quiet: the phones' (actors') output stays in Ray's log files; Flower reports their errors
    init_args: dict[str, Any] = {"include_dashboard": False, "log_to_driver": verbose,
                                 "logging_level": "INFO" if verbose else "ERROR"}
    address = cfg.federation.get("ray_address")
    if address:
        init_args["address"] = str(address)  # ray.init refuses num_cpus when attaching
    else:  # "local": a Ray of its own, never a cluster someone else started on this machine
        init_args.update(address="local", num_cpus=os.cpu_count() or 1)
    return {"client_resources": {"num_cpus": cpus, "num_gpus": 0.0}, "init_args": init_args}


def size_synthetic_population(cfg: DictConfig) -> DictConfig:
    """For ``synthetic`` partitioned by subject, generate exactly ``num_phones`` training phones
    plus held-out test phones (``test_phones``; null: 20%, at least 4, at most 200) whose windows
    only the server evaluates on, each whole (``data.max_windows`` does not apply)."""
    if (cfg.dataset.name != "synthetic" or not cfg.get("num_phones")
            or str(cfg.federation.partition).removeprefix("by_") != "subject"
            or cfg.protocol.name != "cross_user" or cfg.protocol.get("test_subjects")):
        return cfg
    cfg = cfg.copy()
    phones = int(cfg.num_phones)
    test = (int(cfg.test_phones) if cfg.get("test_phones")
            else min(200, max(4, round(0.2 * phones))))
    cfg.dataset.num_phones = phones + test
    cfg.protocol.test_subjects = list(range(phones, phones + test))
    cfg.protocol.val_fraction = 0.0
    # the population is sized by phones x minutes; a windows cap would drop whole phones
    cfg.data.max_windows = None
    return cfg


def _check_resume(cfg: DictConfig) -> None:
    """A clear error before anything starts when ``resume=`` cannot continue that run."""
    if not cfg.get("resume"):
        return
    from lanhar_fl.federated.runconfig import config_to_json
    from lanhar_fl.privacy.facade import Privacy
    from server.checkpoint import open_resume

    refusal = Privacy.from_config(cfg).simulation_resume_refusal()
    if refusal is not None:
        raise ConfigError(refusal)
    open_resume(str(cfg.resume), json.loads(config_to_json(cfg)), int(cfg.rounds))


def run(cfg: DictConfig, client_app=None) -> dict[str, Any]:
    """Simulate ``num_phones`` phones (``phones_per_round`` a round); returns metrics.json.

    ``client_app``: the phones' ClientApp (default: ``client.client_app.app``).
    """
    cfg = size_synthetic_population(cfg)
    from flwr.simulation import run_simulation

    from client.client_app import app as default_client_app
    from server.server_app import make_server_app
    from server.text_side import server_text_side

    _check_resume(cfg)
    num_phones = phone_count(cfg)
    if cfg.get("num_phones") and int(cfg.num_phones) != num_phones:
        raise ConfigError(f"num_phones={cfg.num_phones} but the partition gave {num_phones}")
    log.info("simulating %d phones, %d per round, %d rounds", num_phones,
             min(int(cfg.phones_per_round), num_phones), int(cfg.rounds))
    split = split_for(cfg)
    text_side = server_text_side(cfg, split.bank_classes, split.seen_classes)
    os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")  # nothing leaves this machine
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # Ray's FutureWarning tip
    with warnings.catch_warnings(), stop_children_on_interrupt(), \
            deterministic_node_ids(int(cfg.seed)), sampled_only_polling():
        warnings.simplefilter("ignore", DeprecationWarning)
        run_simulation(server_app=make_server_app(cfg, num_phones, text_side),
                       client_app=client_app or default_client_app,
                       num_supernodes=num_phones, backend_config=backend_config(cfg))
    metrics_path = Path(str(cfg.run_dir)).expanduser() / "metrics.json"
    if not metrics_path.is_file():
        raise RuntimeError(f"the federation ended without writing {metrics_path}; see the log "
                           "above for the ServerApp's error")
    return json.loads(metrics_path.read_text())
