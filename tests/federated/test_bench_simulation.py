"""``lanhar-fl bench simulation`` on the real Simulation Engine (tiny models)."""

from __future__ import annotations

import json

import pytest

from lanhar_fl.cli import main

pytestmark = pytest.mark.slow


def test_bench_simulation_reports_engine_overhead(tmp_path, capsys):
    code = main(["bench", "simulation", "preset=smoke", "train.stage1.epochs=1",
                 "data.max_windows=300", "+bench_phones=[2,3]", "+bench_rounds=1",
                 f"run_dir={tmp_path}"])
    assert code == 0
    bench = json.loads((tmp_path / "bench.json").read_text())
    assert bench["bench"] == "simulation"
    assert [r["phones"] for r in bench["results"]] == [2, 3]
    for r in bench["results"]:
        assert r["phone_replies"] == r["phones"]
        assert r["phone_train_seconds"] > 0
        # the round cannot end before its slowest phone: wall >= sum / phones running at once
        assert r["rounds_wall_seconds"] >= r["phone_train_seconds"] / r["parallel_phones"] * 0.9
        assert r["simulate_wall_seconds"] > r["rounds_wall_seconds"]
        assert r["overhead_ratio"] == pytest.approx(
            r["rounds_wall_seconds"] / r["phone_train_seconds"])


def test_bench_simulation_rejects_bad_sizes(tmp_path, capsys):
    assert main(["bench", "simulation", "+bench_phones=[0]", f"run_dir={tmp_path}"]) == 2
    assert "+bench_phones" in capsys.readouterr().err
