"""The privacy/accuracy trade-off table and plot of ``lanhar-fl privacy-sweep``.

One row per (mode, privacy level, seed) cell; ``summarise`` groups rows over seeds; the plot draws
accuracy, the membership-attack AUCs and the canary audit's epsilon lower bound against the
accountant's epsilon with error bars across seeds, the no-DP cells as horizontal bands.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..eval.plots import _figure, _save

COLUMNS = ("mode", "dp_mode", "level_kind", "level", "seed", "epsilon", "delta", "accuracy",
           "macro_f1", "weighted_f1", "round0_accuracy", "dp_noise_std_per_clip", "mia_auc",
           "mia_auc_loss", "mia_auc_similarity", "mia_auc_lira", "canary_epsilon_lb",
           "canary_guesses", "canary_correct", "wall_seconds", "run_dir")
SUMMARISED = ("accuracy", "weighted_f1", "round0_accuracy", "epsilon", "mia_auc",
              "mia_auc_lira", "canary_epsilon_lb")


def write_csv(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in COLUMNS})
    return path


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.6g}"
    return "" if value is None else value


def summarise(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation over seeds of each (mode, level_kind, level) group."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["mode"], row["level_kind"], row["level"]), []).append(row)
    out = []
    for (mode, kind, level), members in groups.items():
        entry: dict[str, Any] = {"mode": mode, "level_kind": kind, "level": level,
                                 "seeds": len(members)}
        for key in SUMMARISED:
            values = [float(m[key]) for m in members
                      if m.get(key) is not None and math.isfinite(float(m[key]))]
            entry[f"{key}_mean"] = float(np.mean(values)) if values else None
            entry[f"{key}_std"] = float(np.std(values)) if values else None
        out.append(entry)
    return out


def tradeoff_plot(rows: Sequence[dict[str, Any]], path: Path, title: str | None = None) -> Path:
    """Accuracy, attack AUCs and the canary epsilon lower bound against epsilon (log axis),
    error bars across seeds; the last panel has the y = x line the bound must stay under."""
    groups = summarise(rows)
    panels = [(keys, label) for keys, label in (
        (("accuracy",), "zero-shot accuracy"),
        (("mia_auc", "mia_auc_lira"), "membership attack AUC"),
        (("canary_epsilon_lb",), "canary epsilon lower bound"))
        if any(g[f"{key}_mean"] is not None for g in groups for key in keys)]
    fig = _figure(5 * len(panels), 3.8)
    for i, (keys, label) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for key in keys:
            _curves(ax, groups, key, f" {key}" if len(keys) > 1 else "")
        if keys[0] == "accuracy":
            _warm_start_line(ax, groups)
        if keys[0] == "mia_auc":
            ax.axhline(0.5, color="black", linewidth=0.5)
        eps = [g["epsilon_mean"] for g in groups if g["epsilon_mean"]]
        if keys[0] == "canary_epsilon_lb" and eps:
            line = np.geomspace(min(eps) / 3, max(eps) * 3, 20)
            ax.plot(line, line, color="black", linewidth=0.8, label="y = x (accountant)")
        if eps:
            ax.set_xscale("log")
        ax.set_xlabel("epsilon (cumulative, worst phone)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _warm_start_line(ax: Any, groups: list[dict[str, Any]]) -> None:
    """Round 0 (the public warm start, before any phone) as a dotted line, when recorded."""
    starts = [g["round0_accuracy_mean"] for g in groups
              if g["mode"] == "none" and g["round0_accuracy_mean"] is not None]
    if starts:
        ax.axhline(starts[0], color="tab:green", linestyle=":",
                   label="round 0: public warm start")


def _curves(ax: Any, groups: list[dict[str, Any]], key: str, suffix: str) -> None:
    """One error-bar curve per DP mode; the no-DP cells as a dashed line and band."""
    for mode in sorted({g["mode"] for g in groups if g["mode"] != "none"}):
        points = sorted((g for g in groups if g["mode"] == mode
                         and g["epsilon_mean"] is not None and g[f"{key}_mean"] is not None),
                        key=lambda g: g["epsilon_mean"])
        if points:
            ax.errorbar([g["epsilon_mean"] for g in points], [g[f"{key}_mean"] for g in points],
                        yerr=[g[f"{key}_std"] for g in points], marker="o", capsize=3,
                        label=mode + suffix)
    for g in (g for g in groups if g["mode"] == "none" and g[f"{key}_mean"] is not None):
        mean, std = g[f"{key}_mean"], g[f"{key}_std"] or 0.0
        ax.axhline(mean, color="gray", linestyle="--" if key != "mia_auc_lira" else ":",
                   label=f"no DP (epsilon = inf){suffix}")
        ax.axhspan(mean - std, mean + std, color="gray", alpha=0.15)
