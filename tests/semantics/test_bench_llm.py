"""``lanhar-fl bench llm`` with a tiny random causal LM built in conftest (no model download)."""

from __future__ import annotations

import json

from lanhar_fl.cli import main


def _bench(tiny_lm, run_dir, *extra):
    return main(["bench", "llm", "preset=smoke", "label_space=four_class", "data.max_windows=200",
                 "interpreter=hf", f"interpreter.model_path={tiny_lm}", "interpreter.device=cpu",
                 "interpreter.max_line_tokens=4", "interpreter.max_attempts=1",
                 "+bench_windows=6", "+bench_single_windows=2", *extra, f"run_dir={run_dir}"])


def test_bench_llm_main_pass_on_the_asked_threads(tiny_lm, tmp_path):
    assert _bench(tiny_lm, tmp_path, "+bench_threads=1") == 0
    result = json.loads((tmp_path / "bench.json").read_text())
    assert result["threads"] == 1 and result["cores"] >= 1
    # stratified: each class rounds its share, so N may be exceeded by at most one per class
    assert 0 < result["windows"] <= 6 + len(result["classes"])
    assert result["one_thread_windows"] == min(2, result["windows"])
    shares = (result["valid_first_attempt"] + result["valid_after_regeneration"]
              + result["fallback"])
    assert abs(shares - 1.0) < 1e-3
    assert result["seconds_per_window"] > 0 and result["seconds_per_window_one_thread"] > 0
    for side in ("llm", "grounded"):
        assert 0.0 <= result["ceiling"][side]["accuracy"] <= 1.0


def test_bench_llm_refuses_zero_threads(tiny_lm, tmp_path, capsys):
    assert _bench(tiny_lm, tmp_path, "+bench_threads=0") == 2
    assert "+bench_threads" in capsys.readouterr().err
