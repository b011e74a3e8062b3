"""The canonical label space shared across datasets, and label-space settings (merge/keep)."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from .windows import Windows

CANONICAL_LABELS = ("walk", "upstairs", "downstairs", "sit", "stand", "lie", "run", "bike")


def apply_label_space(windows: Windows, label_space: DictConfig | dict | None) -> Windows:
    """Merge classes (``merge: {sit: still}``) then keep only ``keep`` (in that order)."""
    if not label_space:
        return windows
    spec = OmegaConf.to_container(label_space, resolve=True) if isinstance(
        label_space, DictConfig) else dict(label_space)
    merge = spec.get("merge") or {}
    if merge:
        windows = windows.relabel(merge)
    keep = spec.get("keep")
    if keep:
        present = [c for c in keep if c in windows.class_names]
        windows = windows.select_classes(present)
    return windows
