"""The re-generation loop, the class-outlier check and the interpretation cache."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from lanhar_fl.config import load_config
from lanhar_fl.data.registry import load_windows
from lanhar_fl.semantics.features import compute_features
from lanhar_fl.semantics.interpret import interpret_windows
from lanhar_fl.semantics.interpretation_cache import InterpretationCache, cache_key
from lanhar_fl.semantics.interpreters import GroundedInterpreter, Interpreter, grounded_text
from lanhar_fl.semantics.regeneration import RegenerationStats, generate_checked
from lanhar_fl.semantics.validation import OutlierDetector, Validator

RAMBLE = " The trace keeps changing in ways that are hard to summarise in words." * 25


class ScriptedInterpreter(Interpreter):
    """A backend answering ``answer(row, call)``; it records the feedback of every call."""

    name = "scripted"
    model_id = "scripted-1"

    def __init__(self, answer):
        self.answer = answer
        self.calls: list[tuple[dict, list[str] | None]] = []

    def generate(self, features_row, context, feedback=None):
        self.calls.append((features_row, feedback))
        return self.answer(features_row, len(self.calls))


@pytest.fixture(scope="module")
def windows():
    """Windows of one class (walk) from the embedded synthetic dataset."""
    w = load_windows(load_config(["data.max_windows=300"]))
    return w.subset(np.flatnonzero(w.labels == w.class_names.index("walk"))[:12])


def _check(row):
    validator = Validator()
    return lambda text: validator.validate(text, row)


def test_rejected_answers_are_regenerated_with_reasons_then_fall_back(windows):
    row = compute_features(windows.subset([0])).row(0)
    backend = ScriptedInterpreter(lambda r, call: f"attempt {call}: no sections")
    stats = RegenerationStats()
    outcome = generate_checked(backend, row, {}, _check(row), max_attempts=3, stats=stats)
    assert outcome.attempts == 3 and outcome.fallback and outcome.valid
    assert outcome.text == grounded_text(row)
    assert backend.calls[0][1] is None
    assert any("missing sections" in reason for reason in backend.calls[1][1])
    assert stats.as_dict()["fallbacks"] == 1 and stats.attempts == 3
    assert stats.rejections["structure"] == 3 and stats.regenerated == 1


def test_an_accepted_answer_stops_the_loop(windows):
    row = compute_features(windows.subset([1])).row(0)
    backend = ScriptedInterpreter(lambda r, call: "bad" if call == 1 else grounded_text(r))
    stats = RegenerationStats()
    outcome = generate_checked(backend, row, {}, _check(row), max_attempts=5, stats=stats)
    assert (outcome.attempts, outcome.fallback, outcome.valid) == (2, False, True)
    assert [r.kind for r in outcome.rejections] == ["structure"]
    assert len(backend.calls) == 2


def test_deterministic_backend_is_called_once(windows):
    row = compute_features(windows.subset([2])).row(0)
    stats = RegenerationStats()
    outcome = generate_checked(GroundedInterpreter(), row, {}, _check(row), 3, stats)
    assert (outcome.attempts, outcome.valid, outcome.fallback) == (1, True, False)


def test_class_outlier_is_regenerated_when_labels_are_known(windows, tmp_path):
    assert len(windows) >= 8

    def answer(row, call):  # the first window's first answer rambles (valid otherwise)
        text = grounded_text(row)
        return text + RAMBLE if call == 1 else text

    cfg = load_config([f"cache_dir={tmp_path}"])
    blind = interpret_windows(windows, cfg, interpreter=ScriptedInterpreter(answer),
                              progress=False)
    assert blind.attempts[0] == 1 and blind.texts[0].endswith(RAMBLE.strip())

    backend = ScriptedInterpreter(answer)
    result = interpret_windows(windows, cfg, labels_known=True, interpreter=backend,
                               progress=False)
    assert result.attempts[0] == 2 and result.valid[0] and not result.fallback[0]
    assert result.rejections[0] == ["outlier"]
    assert result.attempts[1:] == [1] * (len(windows) - 1)
    assert result.stats["rejections"]["outlier"] == 1
    assert "unlike the other interpretations" in backend.calls[-1][1][0]
    assert result.texts[0] == grounded_text(result.features.row(0))


def test_outlier_detector_needs_enough_texts_and_spares_similar_ones():
    texts = [f"Strength: weak; acc mean 0.{i} m/s²." for i in range(10)]
    assert OutlierDetector(min_class=20).fit(texts, [0] * 10) == [None] * 10
    detector = OutlierDetector(z=4.0, min_class=8)
    verdicts = detector.fit([*texts, texts[0] + RAMBLE], [0] * 11)
    assert verdicts[:10] == [None] * 10
    assert verdicts[10].kind == "outlier"
    assert detector.check(texts[3], 0) is None
    assert detector.check(texts[3], 1) is None  # unknown class: not checked


def test_interpretation_cache_persists_as_json(tmp_path):
    row, ctx = {"step_freq": 1.8, "acc_mag_mean": 2.0}, {"placement": "waist"}
    key = cache_key(row, ctx, "hf", "m@1", "v1")
    assert key != cache_key(row, ctx, "hf", "m@1", "v2")
    assert key != cache_key(row, ctx, "openai_compatible", "m@1", "v1")
    assert key != cache_key({**row, "step_freq": 1.81}, ctx, "hf", "m@1", "v1")
    assert key == cache_key(dict(reversed(row.items())), ctx, "hf", "m@1", "v1")
    with InterpretationCache(tmp_path) as cache:
        assert cache.get(key) is None
        cache.put(key, {"text": "Strength: ...", "attempts": 2})
    with InterpretationCache(tmp_path) as cache:
        assert cache.get(key) == {"text": "Strength: ...", "attempts": 2} and len(cache) == 1
    with sqlite3.connect(cache.path) as db:
        (value,) = db.execute("SELECT value FROM interpretations").fetchone()
    assert json.loads(value)["attempts"] == 2
    memory = InterpretationCache(None)
    memory.put(key, {"x": 1})
    assert memory.get(key) == {"x": 1} and len(memory) == 1
