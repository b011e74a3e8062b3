"""Which parameters a client update trains (``privacy.trainable``): fewer trained parameters
means less DP noise in total and cheaper per-example gradients.

Parts, by parameter-name match on ``LanHARModel``:
``all`` (465k in the ``small`` preset), ``heads`` (both projection heads and the logit scale,
66k), ``heads_norms`` (``heads`` plus every LayerNorm of the sensor encoder, 68k).
"""

from __future__ import annotations

from torch import nn

from ..config_checks import TRAINABLE_PARTS

HEADS = ("sensor_proj.", "text_proj.", "logit_scale.")


def _selected(name: str, part: str) -> bool:
    if part == "all":
        return True
    if name.startswith(HEADS):
        return True
    return part == "heads_norms" and "norm" in name.rsplit(".", 2)[-2]


def train_only(model: nn.Module, part: str) -> int:
    """Freeze every parameter outside ``part``; returns the number left trainable."""
    if part not in TRAINABLE_PARTS:
        raise ValueError(f"trainable part must be one of {TRAINABLE_PARTS}, got {part!r}")
    count = 0
    for name, p in model.named_parameters():
        p.requires_grad_(_selected(name, part))
        count += p.numel() if p.requires_grad else 0
    return count
