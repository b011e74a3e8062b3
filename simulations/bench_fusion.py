"""``lanhar-fl bench fusion +bench.run=RUN_DIR``: the seen/new trade-off of a finished
``lanhar-fl train`` run, re-scored without training.

A generalised zero-shot recogniser trades the seen classes against the new ones: the sensor
encoder knows only the seen activities, the reading (``semantics.attribute_reader``) reaches
every described one. This re-scores the run's test windows with its saved sensor encoder, text
side and label bank, over a grid of ``bench.text_weights`` (``inference.text_weight``),
``bench.seen_offsets`` (calibrated stacking, Chao et al. 2016: added to the seen classes' fused
scores, so negative favours new activities) and ``bench.readers`` (``inference.reader_encoder``);
the sensor path votes as the run's ``inference.sensor_votes`` says. Each row holds accuracy,
seen-class weighted F1, new-activity accuracy and their harmonic mean; ``fusion.png`` plots
seen-class F1 against new-activity accuracy.

An analysis of one run's test set, like a privacy sweep: a setting picked from it has seen the
target's labels. Pick settings on a development task, then read the target here.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from lanhar_fl.config import ConfigError
from lanhar_fl.data.registry import load_windows
from lanhar_fl.eval.fusion import (
    fuse,
    reader_encoder,
    sensor_votes,
    text_weight,
    voting_classes,
)
from lanhar_fl.eval.plots import tradeoff_plot
from lanhar_fl.eval.protocols import make_split, split_metrics
from lanhar_fl.pipeline.centralized import reading_scores
from lanhar_fl.run_folder import final_path
from lanhar_fl.semantics.label_bank import LabelBank
from lanhar_fl.semantics.text_encoder import TextEncoder
from lanhar_fl.training.checkpoint import load_checkpoint
from lanhar_fl.training.stage2 import predict_zero_shot

DEFAULTS = {"run": None, "text_weights": [0.0, 0.25, 0.5, 0.75, 1.0],
            "seen_offsets": [-0.5, -0.25, 0.0, 0.25, 0.5], "readers": ["stage1", "pretrained"]}
KEYS = ("accuracy", "seen_activity_weighted_f1", "new_activity_accuracy")


def settings(cfg: DictConfig) -> dict[str, Any]:
    bench = cfg.get("bench") or {}
    if OmegaConf.is_config(bench):
        bench = OmegaConf.to_container(bench, resolve=True)
    unknown = sorted(set(dict(bench)) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"bench: unknown settings {unknown} for bench fusion "
                          f"(settings: {sorted(DEFAULTS)})")
    out = {**DEFAULTS, **dict(bench)}
    if not out["run"]:
        raise ConfigError("bench.run: give a finished `lanhar-fl train` run folder "
                          "(+bench.run=runs/latest)")
    for key in ("text_weights", "seen_offsets", "readers"):
        value = out[key]
        out[key] = [value] if isinstance(value, str | int | float) else list(value)
    for key in ("text_weights", "seen_offsets"):
        bad = [v for v in out[key] if isinstance(v, bool) or not isinstance(v, int | float)]
        if bad:
            raise ConfigError(f"bench.{key}: {bad} are not numbers")
    bad = [w for w in out["text_weights"] if not 0.0 <= float(w) <= 1.0]
    if bad:
        raise ConfigError(f"bench.text_weights: {bad} outside [0, 1]")
    bad = [r for r in out["readers"] if r not in ("stage1", "pretrained")]
    if bad:
        raise ConfigError(f"bench.readers: {bad}; expected stage1 and/or pretrained")
    return out


def load_run(folder: Path) -> tuple[Any, DictConfig, TextEncoder, LabelBank]:
    """(sensor model, the run's own config, its stage-1 text encoder, its label bank)."""
    for need in ("sensor_encoder.json", "text_encoder", "label_bank"):
        if not (folder / need).exists():
            raise ConfigError(f"bench.run: {folder} has no {need} (not a finished "
                              "`lanhar-fl train` run)")
    model, sidecar = load_checkpoint(folder / "sensor_encoder")
    run_cfg = OmegaConf.create(sidecar.get("config") or {})
    if not run_cfg.get("protocol"):
        raise ConfigError(f"bench.run: {folder}/sensor_encoder.json holds no run config")
    return (model, run_cfg, TextEncoder.from_pretrained(folder / "text_encoder"),
            LabelBank.load(folder / "label_bank"))


def run(cfg: DictConfig) -> dict[str, Any]:
    opts = settings(cfg)
    folder = Path(str(opts["run"])).expanduser()
    if final_path(folder).resolve() == final_path(str(cfg.run_dir)).resolve():
        raise ConfigError(f"bench.run={folder} is also this bench's run_dir, which its result "
                          "would replace: give another run_dir")
    model, run_cfg, stage1_encoder, bank = load_run(folder)
    split = make_split(run_cfg, load_windows)
    if not split.new_classes:
        raise ConfigError(f"bench.run: {folder} has no new activities: nothing to trade off")
    seen = np.isin(split.bank_classes, split.seen_classes)
    if not seen[split.reveal_test_labels()].any():
        raise ConfigError(f"bench.run: {folder}'s test windows hold no seen activity: nothing "
                          "to trade off")
    _, sensor = predict_zero_shot(model, split.test.data, bank.prototypes)
    votes = sensor_votes(run_cfg)
    voting = voting_classes(votes, split.bank_classes, split.seen_classes)
    rows = []
    for reader in opts["readers"]:
        text = reading_scores(run_cfg, split, stage1_encoder, reader)
        for weight, offset in itertools.product(opts["text_weights"], opts["seen_offsets"]):
            scores = fuse(sensor, text, float(weight), voting) + float(offset) * seen
            m = split_metrics(split, scores.argmax(axis=1), scores=scores,
                              seed=int(run_cfg.seed), wall_seconds=0.0)
            row = {"reader": reader, "text_weight": float(weight),
                   "seen_offset": float(offset), **{k: round(float(m[k]), 4) for k in KEYS}}
            f1, new = row["seen_activity_weighted_f1"], row["new_activity_accuracy"]
            row["harmonic_mean"] = round(2 * f1 * new / (f1 + new), 4) if f1 + new else 0.0
            rows.append(row)
    plot = _plot(rows, run_cfg, Path(str(cfg.run_dir)).expanduser() / "fusion.png")
    return {"run": str(folder), "seen_classes": list(split.seen_classes),
            "new_classes": list(split.new_classes), "n_test_windows": len(split.test),
            "run_setting": {"text_weight": text_weight(run_cfg),
                            "reader_encoder": reader_encoder(run_cfg), "sensor_votes": votes},
            "note": "analysis of the run's test labels: pick settings on a development task",
            "rows": rows, "plot": plot.name}


def _plot(rows: list[dict[str, Any]], run_cfg: DictConfig, path: Path) -> Path:
    """Seen-class F1 vs new-activity accuracy: one curve per reader and text weight (points
    along the curve: the seen offsets)."""
    curves: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        curves.setdefault(f"{r['reader']}, text weight {r['text_weight']:g}", []).append(
            (r["seen_activity_weighted_f1"], r["new_activity_accuracy"]))
    mark = next(((r["seen_activity_weighted_f1"], r["new_activity_accuracy"]) for r in rows
                 if r["reader"] == reader_encoder(run_cfg)
                 and r["text_weight"] == text_weight(run_cfg) and r["seen_offset"] == 0.0), None)
    return tradeoff_plot(curves, path, "seen-class weighted F1", "new-activity accuracy",
                         mark=mark, title="seen vs new activities (offsets along each curve)")
