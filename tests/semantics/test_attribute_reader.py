"""Reading interpretations section by section against activities' attribute phrases."""

from __future__ import annotations

import numpy as np
import pytest

from lanhar_fl.config import ConfigError
from lanhar_fl.semantics.attribute_reader import (
    AttributeReader,
    attribute_phrases,
    section_bodies,
)
from lanhar_fl.semantics.descriptions import ActivityDescription

WORDS = ["fast", "slow", "cycle", "none", "strong", "weak"]


def bag_of_words(texts: list[str]) -> np.ndarray:
    """A transparent stand-in text encoder: word counts over a tiny vocabulary (+1 bias)."""
    return np.array([[t.count(w) for w in WORDS] + [0.1] for t in texts], float)


def activity(name: str, patterns: list[str]) -> ActivityDescription:
    return ActivityDescription(name=name, names=[name], synonyms=[], phrases=[],
                               patterns=patterns)


BANK = {"run": activity("run", ["strong; fast cycle"]),
        "rest": activity("rest", ["weak; slow, none"])}


def test_phrases_and_sections_are_split_and_stripped():
    assert attribute_phrases(activity("x", ["a; b ;a", "c"])) == ["a", "b", "c"]
    assert section_bodies("Strength: strong.\nRhythm: fast cycle.\n") == ["strong.",
                                                                         "fast cycle."]


def test_each_section_finds_its_own_attribute():
    reader = AttributeReader(bag_of_words, BANK, ["run", "rest"])
    scores = reader.scores(["Strength: strong.\nRhythm: fast cycle.",
                            "Strength: weak.\nRhythm: none."])
    assert scores.shape == (2, 2)
    assert scores.argmax(axis=1).tolist() == [0, 1]


def test_an_activity_without_patterns_is_refused():
    with pytest.raises(ConfigError, match="label_bank: no sensor `patterns`"):
        AttributeReader(bag_of_words, {**BANK, "x": activity("x", [])}, ["run", "x"])
