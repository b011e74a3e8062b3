"""The grounded interpretation states a known placement and stays valid."""

from __future__ import annotations

import pytest

from lanhar_fl.config import load_config
from lanhar_fl.data.registry import load_windows
from lanhar_fl.semantics.features import compute_features, window_contexts
from lanhar_fl.semantics.interpreters.grounded import GroundedInterpreter, grounded_text
from lanhar_fl.semantics.validation import Validator


@pytest.fixture(scope="module")
def windows():
    return load_windows(load_config(["dataset.num_phones=4", "dataset.minutes_per_phone=1",
                                     "data.max_windows=60"]))


def test_each_placement_is_stated_once_and_texts_stay_valid(windows):
    table, contexts = compute_features(windows), window_contexts(windows)
    phrases = {"waist": "device at the waist", "pocket": "device in a trouser pocket",
               "wrist": "device on the wrist", "arm": "device on the upper arm"}
    seen = set()
    interpreter, validator = GroundedInterpreter(), Validator()
    for i in range(len(windows)):
        text = interpreter.generate(table.row(i), contexts[i])
        place = contexts[i]["placement"]
        seen.add(place)
        first = text.split("\n")[0]
        assert first.startswith(f"Strength: {phrases[place]}; "), first
        assert sum(text.count(p) for p in phrases.values()) == 1
        assert validator.validate(text, table.row(i), contexts[i]) == [], text
    assert len(seen) >= 2


@pytest.mark.parametrize("context", [None, {}, {"placement": "unknown"}, {"placement": "?"}])
def test_unknown_placement_is_not_mentioned(windows, context):
    row = compute_features(windows).row(0)
    assert grounded_text(row, context) == grounded_text(row)
    assert "device" not in grounded_text(row, context).split("\n")[0]
