"""Guided section-by-section generation with a tiny random causal LM built here."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from lanhar_fl.config import load_config
from lanhar_fl.data.registry import load_windows
from lanhar_fl.semantics.features import GROUPS, SECTION_TITLES, compute_features, window_contexts
from lanhar_fl.semantics.interpret import interpret_windows
from lanhar_fl.semantics.interpreters import build_interpreter, grounded_text
from lanhar_fl.semantics.interpreters.guided import numbers_line, prefix_messages, row_key
from lanhar_fl.semantics.validation import check_structure


@pytest.fixture(scope="module")
def windows():
    return load_windows(load_config(["data.max_windows=40"])).subset(list(range(0, 40, 8)))


def interpreter(path, **extra):
    return build_interpreter({"name": "hf", "model_path": str(path), "device": "cpu",
                              "max_line_tokens": 8, **extra})


def test_structure_holds_whatever_the_model_writes(tiny_lm, windows):
    hf = interpreter(tiny_lm, batch_windows=2)
    table, contexts = compute_features(windows), window_contexts(windows)
    rows = [table.row(i) for i in range(len(windows))]
    hf.prefetch(rows, contexts)  # batched: 5 windows in blocks of 2
    assert hf.usage["generations"] == len(rows) and hf.usage["tokens"] > 0
    for row, ctx in zip(rows, contexts, strict=True):
        text = hf.generate(row, ctx)
        assert check_structure(text) == [], text
        assert [line.split(":")[0] for line in text.split("\n")] == \
            [SECTION_TITLES[g] for g in GROUPS]
    assert hf.usage["generations"] == len(rows)  # the prefetched answers were used


def test_regeneration_keeps_lines_that_pass_and_redoes_the_rest(tiny_lm, windows):
    hf = interpreter(tiny_lm)
    row, ctx = compute_features(windows).row(0), window_contexts(windows)[0]
    good = [line.split(": ", 1)[1] for line in grounded_text(row).split("\n")]
    previous = [*good[:2], "strong; acc mean 987.6 m/s²", *good[3:]]
    hf._last[row_key(row, ctx)] = previous
    text = hf.generate(row, ctx, feedback=["numbers not among the measured features: 987.6"])
    lines = [line.split(": ", 1)[1] if ": " in line else "" for line in text.split("\n")]
    assert lines[:2] == good[:2] and lines[3:] == good[3:]
    assert "987.6" not in lines[2]
    assert hf.usage["generations"] == 1


def test_prompt_is_compact_and_shows_grounded_examples(windows):
    row = compute_features(windows).row(0)
    strength = numbers_line(row, "strength")
    assert strength.startswith("Numbers: acc mag mean ")
    assert "Rhythm" not in strength and "dominant freq" not in strength
    user = prefix_messages()[1]["content"]
    assert user.count("Strength: ") == 2 and "Vertical impact: " in user


def test_interpret_windows_counts_fallbacks_never_structure(tiny_lm, windows, tmp_path):
    cfg = load_config(["interpreter=hf", f"cache_dir={tmp_path / 'cache'}"])
    cfg.interpreter = OmegaConf.merge(cfg.interpreter, {"model_path": str(tiny_lm),
                                                        "device": "cpu", "max_line_tokens": 6,
                                                        "max_attempts": 2})
    result = interpret_windows(windows, cfg, progress=False)
    assert result.stats["rejections"]["structure"] == 0
    assert result.stats["fallbacks"] == sum(result.fallback)
    assert all(check_structure(t) == [] for t in result.texts)
    again = interpret_windows(windows, cfg, progress=False)  # the cache answers every window
    assert again.stats["cache_hits"] == len(windows) and again.stats["attempts"] == 0
    assert again.texts == result.texts


def test_sensor_line_wording():
    from lanhar_fl.semantics.interpreters.prompt import _sensor_line

    unknown = _sensor_line({"placement": "unknown", "gravity_removed": False})
    assert "at an unknown placement" in unknown and "at the unknown" not in unknown
    assert "after removing gravity" in unknown and "gravity included" not in unknown
    assert "worn at the wrist" in _sensor_line({"placement": "wrist"})
    assert "vertical axis is unknown" in _sensor_line({"gravity_removed": True})
