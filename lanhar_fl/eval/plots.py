"""PNG plots drawn with matplotlib's Agg canvas (no pyplot, no global backend state).

matplotlib is imported on first use, so importing ``lanhar_fl.eval`` stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def confusion_matrix_plot(confusion: Sequence[Sequence[int]] | np.ndarray,
                          class_names: Sequence[str], path: str | Path,
                          title: str | None = None) -> Path:
    """Row-normalised confusion matrix (rows = true class) with counts annotated."""
    cm = np.asarray(confusion, dtype=np.int64)
    k = len(class_names)
    if cm.shape != (k, k):
        raise ValueError(f"confusion matrix must be {k}x{k}, got {cm.shape}")
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=np.float64), where=rows > 0)
    size = 1.6 + 0.6 * k
    fig = _figure(size + 1.2, size)
    ax = fig.add_subplot()
    image = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    ax.set_xticks(range(k), labels=list(class_names), rotation=45, ha="right")
    ax.set_yticks(range(k), labels=list(class_names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            if cm[i, j] or rows[i, 0]:
                color = "white" if norm[i, j] > 0.5 else "black"
                ax.text(j, i, f"{norm[i, j]:.2f}\n({cm[i, j]})", ha="center", va="center",
                        fontsize=7, color=color)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def history_plot(history: Sequence[dict[str, Any]], path: str | Path,
                 keys: Sequence[str] = ("accuracy", "macro_f1", "weighted_f1"),
                 title: str | None = None) -> Path:
    """Curves of ``keys`` over rounds (``round``), epochs (``epoch``) or entry order.

    Keys found in no entry are skipped; entries lacking a key leave a gap.
    """
    if not history:
        raise ValueError("history is empty")
    x_key = next((k for k in ("round", "epoch") if all(k in h for h in history)), None)
    x = [h[x_key] for h in history] if x_key else list(range(1, len(history) + 1))
    fig = _figure(6, 3.6)
    ax = fig.add_subplot()
    plotted = 0
    for key in keys:
        values = [h.get(key) for h in history]
        if all(v is None for v in values):
            continue
        ax.plot(x, [np.nan if v is None else float(v) for v in values], marker="o",
                markersize=3, label=key)
        plotted += 1
    if not plotted:
        raise ValueError(f"history has none of {list(keys)}")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(x_key or "step")
    ax.set_ylabel("score")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return _save(fig, path)


def tradeoff_plot(curves: dict[str, Sequence[tuple[float, float]]], path: str | Path,
                  xlabel: str, ylabel: str, mark: tuple[float, float] | None = None,
                  title: str | None = None) -> Path:
    """One line of (x, y) points per curve name; ``mark`` circles one point (e.g. the run's)."""
    if not curves:
        raise ValueError("no curves to plot")
    fig = _figure(5, 4)
    ax = fig.add_subplot()
    for name, points in curves.items():
        xs, ys = zip(*points, strict=True) if points else ((), ())
        ax.plot(xs, ys, marker="o", markersize=3, label=name)
    if mark is not None:
        ax.scatter([mark[0]], [mark[1]], s=120, facecolors="none", edgecolors="black",
                   label="this run's setting", zorder=3)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return _save(fig, path)
