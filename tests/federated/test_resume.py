"""Runs that survive: a `lanhar-fl simulate` run stopped after round 2 of 4 and resumed from its
checkpoint ends exactly where the uninterrupted run does (real Flower, real Ray; FedAdam, so
the server optimiser's moments must survive too)."""

from __future__ import annotations

import json

import pytest

from lanhar_fl.cli import main
from lanhar_fl.run_folder import INCOMPLETE

ARGS = ["simulate", "preset=smoke", "dataset=synthetic", "num_phones=4", "phones_per_round=2",
        "rounds=4", "train.stage1.epochs=1", "data.max_windows=400", "federation.local_epochs=1",
        "federation.strategy=fedadam"]


def _history(metrics: dict) -> list[tuple]:
    return [(h["round"], h["accuracy"], h["weighted_f1"], h.get("train_loss"),
             h["phones_sampled"], h["phones_replied"]) for h in metrics["history"]]


@pytest.mark.slow
def test_stopped_after_round_two_and_resumed_matches_the_uninterrupted_run(tmp_path, capsys):
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    assert main([*ARGS, f"run_dir={whole}"]) == 0
    expected = json.loads((whole / "metrics.json").read_text())

    with pytest.raises(RuntimeError, match="stopped after round 2"):
        main([*ARGS, "federation.stop_after_round=2", f"run_dir={stopped}"])
    marker = json.loads((stopped / INCOMPLETE).read_text())
    assert marker["last_completed_round"] == 2
    state = json.loads((stopped / "checkpoint" / "state.json").read_text())
    assert state["round"] == 2 and not (stopped / "metrics.json").exists()
    assert (stopped / "checkpoint" / "strategy.safetensors").stat().st_size > 0

    # a resume with other settings is refused, naming them, before anything runs
    assert main([*ARGS, "seed=1", f"resume={stopped}", f"run_dir={stopped}"]) == 2
    assert "seed" in capsys.readouterr().err

    assert main([*ARGS, f"resume={stopped}", f"run_dir={stopped}"]) == 0
    resumed = json.loads((stopped / "metrics.json").read_text())
    assert not (stopped / INCOMPLETE).exists()
    assert [h["round"] for h in resumed["history"]] == [0, 1, 2, 3, 4]
    for got, want in zip(_history(resumed), _history(expected), strict=True):
        assert (got[0], *got[4:]) == (want[0], *want[4:])  # round, phones sampled and replied
        assert got[1:3] == pytest.approx(want[1:3], abs=1e-9)  # accuracy, weighted F1
        assert (got[3] is None) == (want[3] is None)
        assert got[3] is None or got[3] == pytest.approx(want[3], abs=1e-9)  # train loss
    for key in ("accuracy", "macro_f1", "weighted_f1"):
        assert resumed[key] == pytest.approx(expected[key], abs=1e-9), key
    # a new server process sends the text side again to the phones it samples first
    assert resumed["history"][3]["artifacts_sent"] == 2

    # a finished run cannot be resumed
    assert main([*ARGS, f"resume={stopped}", f"run_dir={tmp_path / 'again'}"]) == 2
    assert "finished" in capsys.readouterr().err


def test_resume_with_sample_level_dp_is_refused_before_anything_runs(tmp_path, capsys):
    """Each simulated phone's accountant lives in node state a new engine starts empty: a resume
    would report an epsilon that restarted, so it is refused."""
    code = main([*ARGS, "privacy=sample_level", f"resume={tmp_path}", f"run_dir={tmp_path}"])
    err = capsys.readouterr().err
    assert code == 2 and "privacy=sample_level" in err and "epsilon" in err
