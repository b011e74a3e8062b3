"""The privacy/accuracy trade-off table and plot of ``lanhar-fl privacy-sweep``.

One row per (mode, privacy level, seed) cell; ``summarise`` groups rows over seeds; the plot draws
accuracy (and the membership-attack AUC) against epsilon with error bars across seeds, the
no-DP cells as a horizontal band.
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
           "macro_f1", "weighted_f1", "mia_auc", "mia_auc_loss", "mia_auc_similarity",
           "wall_seconds", "run_dir")


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
        for key in ("accuracy", "weighted_f1", "epsilon", "mia_auc"):
            values = [float(m[key]) for m in members
                      if m.get(key) is not None and math.isfinite(float(m[key]))]
            entry[f"{key}_mean"] = float(np.mean(values)) if values else None
            entry[f"{key}_std"] = float(np.std(values)) if values else None
        out.append(entry)
    return out


def tradeoff_plot(rows: Sequence[dict[str, Any]], path: Path, title: str | None = None) -> Path:
    """Accuracy and attack AUC against epsilon (log axis), error bars across seeds."""
    groups = summarise(rows)
    fig = _figure(10, 3.8)
    panels = (("accuracy", "zero-shot accuracy"), ("mia_auc", "membership attack AUC"))
    for i, (key, label) in enumerate(panels):
        ax = fig.add_subplot(1, 2, i + 1)
        for mode in sorted({g["mode"] for g in groups if g["mode"] != "none"}):
            points = sorted((g for g in groups if g["mode"] == mode
                             and g["epsilon_mean"] is not None and g[f"{key}_mean"] is not None),
                            key=lambda g: g["epsilon_mean"])
            if points:
                ax.errorbar([g["epsilon_mean"] for g in points], [g[f"{key}_mean"] for g in points],
                            yerr=[g[f"{key}_std"] for g in points], marker="o", capsize=3,
                            label=mode)
        for g in (g for g in groups if g["mode"] == "none" and g[f"{key}_mean"] is not None):
            mean, std = g[f"{key}_mean"], g[f"{key}_std"] or 0.0
            ax.axhline(mean, color="gray", linestyle="--", label="no DP (epsilon = inf)")
            ax.axhspan(mean - std, mean + std, color="gray", alpha=0.15)
        if key == "mia_auc":
            ax.axhline(0.5, color="black", linewidth=0.5)
        if any(g["epsilon_mean"] for g in groups):
            ax.set_xscale("log")
        ax.set_xlabel("epsilon (cumulative, worst phone)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)
