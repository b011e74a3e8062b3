"""``lanhar-fl privacy-sweep``: ``simulate`` over a grid of DP mode x privacy level x seed.

Settings (none is in config.yaml, so add them with ``+`` on the command line, or ``++`` which
works either way): ``sweep.modes`` (default ``[sample_level]``; ``sample_level``,
``client_level``), ``sweep.levels`` (target epsilons over the whole run, default
``[inf, 8, 4, 2, 1]``; ``inf`` is one no-DP cell per seed), ``sweep.noise_multipliers`` (extra
cells at fixed noise, default none), ``sweep.seeds`` (default ``[0, 1, 2]``), ``sweep.audit``
(the empirical audit per cell, default true), ``sweep.audit_holdout`` (fraction of each
phone's windows kept out of training as non-members, default 0.2), ``sweep.audit_windows`` (at
most this many members and non-members scored, default 1000), ``sweep.shadow_models`` and
``sweep.shadow_epochs`` (LiRA's shadow encoders, trained on the server's public windows only,
default 4 and 10), ``sweep.canaries`` (canaries for the one-run epsilon audit, default 1000; 0:
none), ``sweep.canary_kind`` (``gradients``, the default: one-coordinate gradients added to the
phones' steps, the white-box audit; ``windows``: out-of-distribution windows, the black-box one)
and ``sweep.canary_delta`` (the delta the bound is stated at, default 1e-5). A
preset may change these defaults with ``sweep_defaults`` (``preset=smoke``: one seed, levels
``[inf, 4]``, a smaller audit). Each mode starts from ``configs/privacy/<mode>.yaml``, or from
``privacy.*`` as given when that is the selected mode.

The audit (``lanhar_fl/privacy/audit.py``) reports per cell the threshold membership attack's
AUC (``mia_auc``), offline LiRA's AUC (``mia_auc_lira``: per-window confidence calibrated by
the shadows) and the canary audit of Steinke et al. 2023 (``canary_epsilon_lb``: the largest
epsilon that ``canary_correct`` right of ``canary_guesses`` membership guesses on the canaries
reject at 95 %). The bound is a lower bound at ``canary_delta``, not an estimate: 0 means the
attack found nothing, not that the model is private; it can exceed the accountant's epsilon only
through chance (5 %) or because the accountant's delta (1/n per phone) is larger than
``canary_delta``. Canaries are part of the phones' training (``privacy.audit_canaries``,
``privacy.audit_canary_kind``), so a cell's accuracy is measured with them in training.

The text side (stage 1 on public data) is built once per seed and shared by that seed's cells.
Writes ``run_dir/tradeoff.csv`` (one row per cell), ``run_dir/tradeoff.png``,
``run_dir/metrics.json`` (a representative DP cell, epsilon nearest 8, with the whole grid in
``sweep`` and ``sweep_summary``) and every cell's own run under ``run_dir/cells/`` (a row's
``run_dir``, relative to the sweep's).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from lanhar_fl.config import ConfigError
from lanhar_fl.eval.report import write_metrics_json
from lanhar_fl.federated.population import split_for
from lanhar_fl.pipeline.text_side import TextSide
from lanhar_fl.privacy import tradeoff
from lanhar_fl.privacy.audit import audit_run, shadow_encoders
from lanhar_fl.privacy.canaries import CANARY_KINDS
from lanhar_fl.privacy.settings import load_privacy_group, privacy_section

from .simulate import run as simulate
from .simulate import size_synthetic_population

log = logging.getLogger(__name__)
DP_MODES = ("sample_level", "client_level")
DEFAULTS: dict[str, Any] = {"modes": ["sample_level"], "levels": [math.inf, 8, 4, 2, 1],
                            "noise_multipliers": [], "seeds": [0, 1, 2], "audit": True,
                            "audit_holdout": 0.2, "audit_windows": 1000, "canaries": 1000,
                            "canary_kind": "gradients", "canary_delta": 1e-5,
                            "shadow_models": 4, "shadow_epochs": 10}
REPRESENTATIVE_EPSILON = 8.0


@dataclass(frozen=True)
class Cell:
    mode: str  # none | sample_level | client_level
    level_kind: str  # epsilon (inf, no DP) | target_epsilon | noise_multiplier
    level: float
    seed: int

    @property
    def name(self) -> str:
        level = "inf" if math.isinf(self.level) else f"{self.level:g}"
        return f"{self.mode}_{self.level_kind}-{level}_seed{self.seed}"


def sweep_settings(cfg: DictConfig) -> dict[str, Any]:
    preset, given = (OmegaConf.to_container(cfg.get(key) or OmegaConf.create({}), resolve=True)
                     for key in ("sweep_defaults", "sweep"))
    for key, values in (("sweep_defaults", preset), ("sweep", given)):
        unknown = sorted(set(values) - set(DEFAULTS))
        if unknown:
            raise ConfigError(f"unknown {key} settings {unknown}; known: {sorted(DEFAULTS)}")
    settings = {**DEFAULTS, **preset, **given}
    bad = [m for m in settings["modes"] if m not in DP_MODES]
    if bad:
        raise ConfigError(f"sweep.modes: {bad} are not DP modes {DP_MODES}")
    if settings["canary_kind"] not in CANARY_KINDS:
        raise ConfigError(f"sweep.canary_kind: expected one of {CANARY_KINDS}, got "
                          f"{settings['canary_kind']!r}")
    return settings


def grid(settings: dict[str, Any]) -> list[Cell]:
    """The cells, level by level over the seeds (the no-DP cells first), so that a sweep cut
    short still holds whole levels to compare."""
    levels = [float(x) for x in settings["levels"]]
    if any(x <= 0 for x in levels) or any(float(z) <= 0 for z in settings["noise_multipliers"]):
        raise ConfigError("sweep.levels and sweep.noise_multipliers must be positive")
    seeds = [int(seed) for seed in settings["seeds"]]
    cells = []
    if any(math.isinf(x) for x in levels):
        cells += [Cell("none", "epsilon", math.inf, seed) for seed in seeds]
    for mode in settings["modes"]:
        cells += [Cell(mode, "target_epsilon", x, seed) for x in levels if not math.isinf(x)
                  for seed in seeds]
        cells += [Cell(mode, "noise_multiplier", float(z), seed)
                  for z in settings["noise_multipliers"] for seed in seeds]
    return cells


def cell_config(cfg: DictConfig, cell: Cell, run_dir: Path, holdout: float,
                text_side_path: Path | None, canaries: int = 0,
                canary_kind: str = "gradients") -> DictConfig:
    """The run's config with the cell's privacy settings, seed and run_dir."""
    out = cfg.copy()
    selected = cfg.get("privacy")
    same = selected is not None and str(selected.get("mode")) == cell.mode
    out.privacy = privacy_section(cfg).copy() if same else load_privacy_group(cell.mode)
    if cell.mode != "none":
        out.privacy.target_epsilon = cell.level if cell.level_kind == "target_epsilon" else None
        if cell.level_kind == "noise_multiplier":
            out.privacy.noise_multiplier = cell.level
    out.privacy.audit_holdout = holdout
    out.privacy.audit_canaries = canaries
    out.privacy.audit_canary_kind = canary_kind
    out.seed = cell.seed
    out.run_dir = str(run_dir / "cells" / cell.name)
    if text_side_path is not None:
        out.federation.text_side_path = str(text_side_path)
    return size_synthetic_population(out)


def shared_text_side(cfg: DictConfig, folder: Path) -> Path:
    """Stage 1 once for a seed: the tuned encoder saved where ``text_side_path`` expects it."""
    from server.text_side import server_text_side

    if not (folder / "text_encoder").is_dir():
        split = split_for(cfg)
        side = server_text_side(cfg, split.bank_classes, split.seen_classes)
        side.save(folder)  # text_encoder/ + text_side.json (provenance)
    return folder


def audit_cell(cfg: DictConfig, settings: dict[str, Any],
               shadows: dict[int, list]) -> dict[str, Any]:
    """The cell's audit (lanhar_fl/privacy/audit.py); ``shadows`` caches LiRA's shadow
    encoders by seed (they see public windows only, so every cell of a seed shares them)."""
    from server.text_side import public_windows, server_text_side

    split = split_for(cfg)
    side: TextSide = server_text_side(cfg, split.bank_classes, split.seen_classes)
    public = public_windows(cfg, split.seen_classes)
    count = int(settings["shadow_models"])
    if count and int(cfg.seed) not in shadows:
        shadows[int(cfg.seed)] = shadow_encoders(cfg, side, public, count,
                                                 int(settings["shadow_epochs"]))
    return audit_run(cfg, settings, side, public, shadows.get(int(cfg.seed)))


def _row(cell: Cell, metrics: dict[str, Any], audit: dict[str, Any],
         cell_dir: str) -> dict[str, Any]:
    start = [h for h in metrics.get("history") or [] if h.get("round") == 0]
    return {"mode": cell.mode, "dp_mode": metrics.get("dp_mode", "none"),
            "level_kind": cell.level_kind, "level": cell.level, "seed": cell.seed,
            "epsilon": metrics.get("epsilon", math.inf), "delta": metrics.get("delta"),
            "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
            "weighted_f1": metrics["weighted_f1"],
            "round0_accuracy": start[0].get("accuracy") if start else None,
            "dp_noise_std_per_clip": metrics.get("dp_noise_std_per_clip"), **audit,
            "wall_seconds": metrics["wall_seconds"], "run_dir": cell_dir}


def representative(rows: list[dict[str, Any]]) -> int:
    """Index of the DP cell whose epsilon is nearest 8 (first seed), else the first cell."""
    dp = [i for i, r in enumerate(rows) if r["mode"] != "none"]
    if not dp:
        return 0
    return min(dp, key=lambda i: (abs(math.log(max(rows[i]["epsilon"], 1e-9)
                                               / REPRESENTATIVE_EPSILON)), rows[i]["seed"]))


def _json_safe(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in row.items()}


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run every cell; write the trade-off table, plot and metrics.json; returns metrics.json."""
    settings = sweep_settings(cfg)
    cells = grid(settings)
    if not cells:
        raise ConfigError("the sweep has no cells: set sweep.levels or sweep.noise_multipliers")
    run_dir = Path(str(cfg.run_dir)).expanduser()
    run_dir.mkdir(parents=True, exist_ok=True)
    holdout = float(settings["audit_holdout"]) if settings["audit"] else 0.0
    canaries = int(settings["canaries"]) if settings["audit"] else 0
    shadows: dict[int, list] = {}
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    cell_metrics: list[dict[str, Any]] = []
    for cell in tqdm(cells, desc="privacy sweep", unit="cell"):
        shared = None
        if not cfg.federation.get("text_side_path"):  # stage 1 once per seed
            no_dp = cell_config(cfg, Cell("none", "epsilon", math.inf, cell.seed), run_dir,
                                holdout, None)
            shared = shared_text_side(no_dp, run_dir / f"text_side_seed{cell.seed}")
        cell_cfg = cell_config(cfg, cell, run_dir, holdout, shared, canaries,
                               str(settings["canary_kind"]))
        log.info("privacy sweep cell %s", cell.name)
        metrics = simulate(cell_cfg)
        audit = audit_cell(cell_cfg, settings, shadows) if settings["audit"] else {}
        # relative: the sweep runs in a partial folder that is renamed when it finishes
        rows.append(_row(cell, metrics, audit, f"cells/{cell.name}"))
        cell_metrics.append(metrics)
        tradeoff.write_csv(rows, run_dir / "tradeoff.csv")
    tradeoff.tradeoff_plot(rows, run_dir / "tradeoff.png", title="privacy / accuracy trade-off")
    pick = representative(rows)
    best = dict(cell_metrics[pick])
    best.update({"sweep": [_json_safe(r) for r in rows],
                 "sweep_summary": [_json_safe(g) for g in tradeoff.summarise(rows)],
                 "sweep_representative": _json_safe(rows[pick]),
                 "sweep_wall_seconds": time.perf_counter() - start})
    write_metrics_json(run_dir, best, simulate=True, privacy="epsilon" in best)
    return best
