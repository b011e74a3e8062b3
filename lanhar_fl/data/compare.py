"""Feature shift between two datasets: per class and grounded feature, a two-sample KS statistic.

Both datasets are windowed with the same ``data`` settings and mapped into the same label space,
so classes match by canonical name. For each shared class and each feature of
``semantics.features`` the Kolmogorov-Smirnov statistic (0: same distribution, 1: disjoint)
compares the feature's measured (present) values; it is ``None`` when either side has fewer than
``min_windows`` measured values. Medians and the share of windows where the feature is present
are reported beside it, so a shift and a feature that is absent on one side are told apart.

``as_read=True`` compares the features as the words interpreter reads them: a limb's swing
rates turned into step rates and its strength divided by the limb's swing gain
(``descriptive.body_rates``), so that a wrist and a waist walk are compared on the same footing
(their cadence, not the arm's stride).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import ks_2samp

from ..semantics.features import FeatureTable, compute_features, window_contexts
from ..semantics.interpreters.descriptive import body_rates
from .windows import Windows


@dataclass(frozen=True)
class Side:
    """One dataset of the comparison: its name (as printed) and its windows."""

    name: str
    windows: Windows


def _stat(a: np.ndarray, b: np.ndarray, min_windows: int) -> dict:
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    ks = None
    if len(a) >= min_windows and len(b) >= min_windows:
        ks = float(ks_2samp(a, b).statistic)
    return {"ks": ks,
            "median_a": float(np.median(a)) if len(a) else None,
            "median_b": float(np.median(b)) if len(b) else None}


def read_features(windows: Windows) -> FeatureTable:
    """The feature table with every row as the words interpreter reads it (``body_rates``)."""
    table = compute_features(windows)
    values = table.values.copy()
    for i, context in enumerate(window_contexts(windows)):
        for name, value in body_rates(table.row(i), context).items():
            values[i, table.names.index(name)] = value
    return FeatureTable(values, table.names, table.present)


def compare_windows(a: Side, b: Side, min_windows: int = 5, as_read: bool = False) -> dict:
    """The comparison as a JSON-ready dict: ``classes``, ``features``, ``ks`` (class -> feature
    -> statistic or None), ``detail`` (medians and presence), ``class_mean_ks``, ``windows``."""
    present_a, present_b = _present(a.windows), _present(b.windows)
    classes = [c for c in present_a if c in present_b]
    features = read_features if as_read else compute_features
    ta, tb = features(a.windows), features(b.windows)
    names = list(ta.names)
    ks: dict[str, dict[str, float | None]] = {}
    detail: dict[str, dict[str, dict]] = {}
    counts: dict[str, list[int]] = {}
    for c in classes:
        ia = a.windows.labels == a.windows.class_names.index(c)
        ib = b.windows.labels == b.windows.class_names.index(c)
        counts[c] = [int(ia.sum()), int(ib.sum())]
        ks[c], detail[c] = {}, {}
        for j, f in enumerate(names):
            col_a, col_b = ta.values[ia, j], tb.values[ib, j]
            entry = _stat(col_a, col_b, min_windows)
            entry["present_a"] = float(np.isfinite(col_a).mean()) if len(col_a) else 0.0
            entry["present_b"] = float(np.isfinite(col_b).mean()) if len(col_b) else 0.0
            ks[c][f] = entry.pop("ks")
            detail[c][f] = entry
    class_mean = {c: _mean([v for v in ks[c].values() if v is not None]) for c in classes}
    feature_mean = {f: _mean([ks[c][f] for c in classes if ks[c][f] is not None])
                    for f in names}
    return {"a": a.name, "b": b.name, "as_read": as_read, "classes": classes, "features": names,
            "windows": {c: {"a": n[0], "b": n[1]} for c, n in counts.items()},
            "only_a": [c for c in present_a if c not in classes],
            "only_b": [c for c in present_b if c not in classes],
            "ks": ks, "detail": detail, "class_mean_ks": class_mean,
            "feature_mean_ks": feature_mean,
            "mean_ks": _mean([v for v in class_mean.values() if v is not None])}


def _present(w: Windows) -> list[str]:
    """Class names that have at least one window, in label order."""
    counts = np.bincount(w.labels, minlength=len(w.class_names))
    return [c for k, c in enumerate(w.class_names) if counts[k]]


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def summary_lines(result: dict, worst: int = 4) -> list[str]:
    """Short text: the mean KS, then per class its mean and its ``worst`` features with medians."""
    mean = result["mean_ks"]
    lines = [f"{result['a']} vs {result['b']}: mean KS "
             f"{'n/a' if mean is None else f'{mean:.3f}'} over {len(result['classes'])} "
             f"shared classes, {len(result['features'])} features"]
    for c in result["classes"]:
        scored = sorted(((v, f) for f, v in result["ks"][c].items() if v is not None),
                        reverse=True)[:worst]
        parts = []
        for v, f in scored:
            d = result["detail"][c][f]
            parts.append(f"{f} {v:.2f} ({d['median_a']:.3g} vs {d['median_b']:.3g})")
        cm = result["class_mean_ks"][c]
        n = result["windows"][c]
        lines.append(f"  {c} (n={n['a']}/{n['b']}, mean KS "
                     f"{'n/a' if cm is None else f'{cm:.2f}'}): " + "; ".join(parts))
    if result["only_a"] or result["only_b"]:
        lines.append(f"  not shared: {result['a']} only {result['only_a']}, "
                     f"{result['b']} only {result['only_b']}")
    return lines


def heatmap_plot(result: dict, path: str | Path) -> Path:
    """Classes x features heatmap of the KS statistic (grey: not measured on both sides)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    classes, names = result["classes"], result["features"]
    grid = np.array([[np.nan if result["ks"][c][f] is None else result["ks"][c][f]
                      for f in names] for c in classes], dtype=float).reshape(len(classes),
                                                                               len(names))
    fig = Figure(figsize=(2.0 + 0.32 * len(names), 1.6 + 0.45 * max(1, len(classes))))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("#cccccc")
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="magma_r", vmin=0.0, vmax=1.0,
                      aspect="auto")
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02, label="KS statistic")
    ax.set_xticks(range(len(names)), labels=names, rotation=70, ha="right", fontsize=7)
    ax.set_yticks(range(len(classes)), labels=classes)
    ax.set_title(f"feature shift: {result['a']} vs {result['b']}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path
