"""Reading an interpretation attribute by attribute against the activities' sensor patterns.

Mean-pooled whole, an interpretation is dominated by what every interpretation shares (seven
section headers, the placement), and a text side tuned on a few activities folds everything
else onto them. Read section by section instead (late interaction, as in ColBERT): each
section's words (``rapid cadence, clearly repeating cycle``) are matched to the closest
attribute phrase among an activity's sensor patterns (the label bank's ``patterns``, split at
``;``), and the activity's score is the mean of those best matches over the sections. An
activity needs only its description here, never a window, so this is how a new activity is
recognised. Every string is embedded once by the given text side (its embedding cache).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..config import ConfigError
from .descriptions import ActivityDescription
from .label_bank import cosine_scores

Embed = Callable[[list[str]], np.ndarray]


def attribute_phrases(description: ActivityDescription) -> list[str]:
    """The activity's sensor patterns split into attribute phrases (``;``), deduplicated."""
    parts = (p.strip() for pattern in description.patterns for p in pattern.split(";"))
    return list(dict.fromkeys(p for p in parts if p))


def section_bodies(text: str) -> list[str]:
    """The sections of an interpretation without their ``Title:`` headers."""
    return [line.split(": ", 1)[-1].strip() for line in text.splitlines() if line.strip()]


class AttributeReader:
    """Scores (N, K) of interpretations against the attribute phrases of ``classes``."""

    def __init__(self, embed: Embed, descriptions: Mapping[str, ActivityDescription],
                 classes: Sequence[str]) -> None:
        missing = [c for c in classes if c not in descriptions or not descriptions[c].patterns]
        if missing:
            raise ConfigError(f"label_bank: no sensor `patterns` to read {missing} against "
                              "(add them to the descriptions, or inference.text_weight=0)")
        self.classes = list(classes)
        self._embed = embed
        self._phrases = [embed(attribute_phrases(descriptions[c])) for c in classes]

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Per text and class: the mean over sections of the best cosine to a phrase."""
        sections = [section_bodies(t) for t in texts]
        if any(not s for s in sections):
            raise ValueError("an interpretation without any section cannot be read")
        unique = list(dict.fromkeys(s for parts in sections for s in parts))
        row = {s: i for i, s in enumerate(unique)}
        vectors = self._embed(unique)
        best = np.stack([cosine_scores(vectors, p).max(axis=1) for p in self._phrases],
                        axis=1)  # (U, K)
        return np.stack([best[[row[s] for s in parts]].mean(axis=0) for parts in sections])
