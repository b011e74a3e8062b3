"""Interpretation-assisted recognition: the sensor encoder's reading beside the window's own text.

A phone interprets its windows on the device anyway (to train), so at test time it can also
*read* them (``semantics.attribute_reader``). The sensor encoder knows only the activities its
training windows showed; the reading reaches any activity the bank describes, so it carries the
new ones. ``fuse`` adds both paths' class scores after standardising each window's scores over
the classes (zero mean, unit spread), so that neither path's scale (the learned logit scale,
the cosine range of the reading) decides the mix; ``inference.text_weight`` is the reading's
share, a setting (0.5: both alike; 0: LanHAR's sensor-only recognition), never fitted on target
labels. A sensor encoder never trained against a new activity's prototype has no evidence for
or against it: ``inference.sensor_votes=seen`` lets it vote among the seen activities only and
leaves the new ones to the reading.
"""

from __future__ import annotations

import numpy as np

from ..config import ConfigError
from ..config_checks import RULES


def standardise(scores: np.ndarray) -> np.ndarray:
    """Each row of (N, K) scores shifted to mean 0 and scaled to unit standard deviation."""
    scores = np.asarray(scores, np.float64)
    centred = scores - scores.mean(axis=1, keepdims=True)
    return centred / np.maximum(centred.std(axis=1, keepdims=True), 1e-12)


def fuse(sensor_scores: np.ndarray, text_scores: np.ndarray, weight: float,
         sensor_classes: np.ndarray | None = None) -> np.ndarray:
    """(N, K) fused scores: ``(1 - weight) z(sensor) + weight z(text)``; argmax predicts.

    ``sensor_classes`` (K bools): the classes the sensor path votes on, standardised among
    themselves; it adds nothing to the others (None: all)."""
    if sensor_scores.shape != text_scores.shape:
        raise ValueError(f"sensor scores {sensor_scores.shape} vs text scores "
                         f"{text_scores.shape}: both must score the same bank")
    sensor = np.zeros(sensor_scores.shape)
    voted = np.ones(sensor.shape[1], bool) if sensor_classes is None else np.asarray(
        sensor_classes, bool)
    sensor[:, voted] = standardise(sensor_scores[:, voted])
    return (1.0 - weight) * sensor + weight * standardise(text_scores)


def _setting(cfg, name: str, default):
    """``inference.<name>`` (``default`` when absent), checked by its ``config_checks`` rule."""
    value = (cfg.get("inference") or {}).get(name, default)
    problem = RULES[f"inference.{name}"](value)
    if problem:
        raise ConfigError(f"inference.{name}={value!r}: {problem}")
    return value


def sensor_votes(cfg) -> str:
    """``inference.sensor_votes``: ``all`` bank classes or only the ``seen`` ones."""
    return str(_setting(cfg, "sensor_votes", "all"))


def voting_classes(votes: str, bank_classes: list[str],
                   seen_classes: list[str]) -> np.ndarray | None:
    """``fuse``'s ``sensor_classes`` for a ``sensor_votes`` setting (None: all classes)."""
    return np.isin(bank_classes, seen_classes) if votes == "seen" else None


def reader_encoder(cfg) -> str:
    """``inference.reader_encoder``: the text encoder that reads, ``pretrained`` or ``stage1``."""
    return str(_setting(cfg, "reader_encoder", "stage1"))


def text_weight(cfg) -> float:
    """``inference.text_weight`` in [0, 1] (0 when the block is absent)."""
    return float(_setting(cfg, "text_weight", 0.0))
