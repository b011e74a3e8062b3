"""``lanhar-fl interpret`` and ``lanhar-fl bench`` end to end."""

from __future__ import annotations

import json

import pytest
from conftest import shared_dataset

from lanhar_fl.cli import main
from lanhar_fl.semantics.features import GROUPS, SECTION_TITLES
from lanhar_fl.semantics.validation import check_grounding


def _run(capsys, *args: str) -> tuple[int, list[str], str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out.strip().splitlines(), out.err


def _check_interpretation(lines: list[str]) -> dict:
    info = json.loads(lines[-1])
    text = "\n".join(lines[:-1])
    assert [ln.split(":")[0] for ln in lines[:-1]] == [SECTION_TITLES[g] for g in GROUPS]
    assert info["backend"] == "grounded" and info["attempts"] == 1 and info["valid"] is True
    assert check_grounding(text, info["features"], rel_tol=0.05) == []
    return info


def test_interpret_synthetic_window(capsys):
    code, lines, _ = _run(capsys, "interpret", "index=3", "data.max_windows=60")
    assert code == 0
    info = _check_interpretation(lines)
    assert info["index"] == 3 and info["dataset"] == "synthetic"


@pytest.mark.slow
def test_interpret_uci_hapt_window_zero(capsys):
    root = shared_dataset("uci_hapt")
    code, lines, _ = _run(capsys, "interpret", "dataset=uci_hapt", f"dataset.root={root}",
                          "index=0")
    assert code == 0
    info = _check_interpretation(lines)
    assert info["dataset"] == "uci_hapt" and info["fallback"] is False


def test_interpret_bad_index_and_remote_server_are_clear_errors(capsys):
    code, _, err = _run(capsys, "interpret", "index=100000", "data.max_windows=30")
    assert code == 2 and "index=100000" in err
    code, _, err = _run(capsys, "interpret", "index=0", "data.max_windows=30",
                        "interpreter=openai_compatible",
                        "interpreter.base_url=http://203.0.113.5:8080/v1")
    assert code == 2
    assert "interpreter.base_url" in err and "interpreter.allow_remote" in err


def test_bench_unknown_name_lists_the_available_ones(capsys):
    code, _, err = _run(capsys, "bench", "nope")
    assert code == 2 and "nope" in err and "interpret" in err


def test_bench_interpret_writes_bench_json(capsys, tmp_path):
    code, lines, _ = _run(capsys, "bench", "interpret", f"run_dir={tmp_path}",
                          "data.max_windows=60", "text_encoder.name=tiny",
                          "+bench_windows=400", "+bench_embed_texts=6", "+bench_repeats=1")
    assert code == 0
    written = json.loads((tmp_path / "bench.json").read_text())
    assert written == json.loads("\n".join(lines))
    grounded = written["grounded"]
    assert grounded["windows"] == 400 and grounded["windows_per_s"] > 0
    assert grounded["valid_fraction_sampled"] == 1.0
    embedding = written["embedding"]
    assert embedding["texts"] == 6 and embedding["cold_texts_per_s"] > 0
    assert embedding["warm_texts_per_s"] > 0
