"""``lanhar-fl bench simulation`` on the real Simulation Engine (tiny models)."""

from __future__ import annotations

import json
import math

import pytest

from lanhar_fl.cli import main

RESULT_TYPES = {"phones": int, "phones_per_round": int, "rounds": int, "peak_rss_bytes": int,
                "phone_replies": int, "parallel_phones": int,
                "phone_train_seconds": float, "rounds_wall_seconds": float,
                "simulate_wall_seconds": float, "overhead_ratio": float,
                "overhead_ratio_with_startup": float, "ideal_ratio": float, "accuracy": float}


@pytest.mark.slow
def test_bench_simulation_reports_engine_overhead(tmp_path, capsys):
    code = main(["bench", "simulation", "preset=smoke", "train.stage1.epochs=1",
                 "data.max_windows=300", "+bench_phones=[2,3]", "+bench_rounds=1",
                 f"run_dir={tmp_path}"])
    assert code == 0
    bench = json.loads((tmp_path / "bench.json").read_text())
    assert set(bench) == {"bench", "model", "text_encoder", "dataset", "cpus", "cpus_per_phone",
                          "results"}
    assert bench["bench"] == "simulation" and bench["model"] == "smoke"
    assert isinstance(bench["text_encoder"], str) and isinstance(bench["dataset"], str)
    assert isinstance(bench["cpus"], int) and bench["cpus"] >= 1
    assert isinstance(bench["cpus_per_phone"], float) and bench["cpus_per_phone"] > 0
    assert [r["phones"] for r in bench["results"]] == [2, 3]
    for r in bench["results"]:
        assert set(r) == {*RESULT_TYPES, "round_seconds"}, r
        assert len(r["round_seconds"]) == r["rounds"] and min(r["round_seconds"]) >= 0
        assert r["phones_per_round"] == r["phones"]
        assert r["peak_rss_bytes"] > 100e6  # this Python process with torch alone is larger
        for key, kind in RESULT_TYPES.items():
            assert type(r[key]) is kind, (key, r[key])
        assert r["rounds"] == 1 and r["phone_replies"] == r["phones"]
        assert 1 <= r["parallel_phones"] <= r["phones"]
        assert r["parallel_phones"] == min(r["phones_per_round"], math.floor(
            bench["cpus"] / bench["cpus_per_phone"]))
        assert r["ideal_ratio"] == pytest.approx(1 / r["parallel_phones"])
        assert r["phone_train_seconds"] > 0 and 0 <= r["accuracy"] <= 1
        # Physical floors. Ray runs at most parallel_phones phones at once and each phone's own
        # time lies inside its round, so rounds wall >= phone time / parallel phones, i.e. the
        # overhead ratio is at least the ideal one; the whole simulate call contains the rounds.
        assert r["rounds_wall_seconds"] >= r["phone_train_seconds"] / r["parallel_phones"] * 0.99
        assert r["overhead_ratio"] >= r["ideal_ratio"] * 0.99
        assert r["simulate_wall_seconds"] >= r["rounds_wall_seconds"]
        assert r["overhead_ratio_with_startup"] >= r["overhead_ratio"]
        assert math.isfinite(r["overhead_ratio"]) and math.isfinite(
            r["overhead_ratio_with_startup"])


def test_bench_simulation_rejects_bad_sizes(tmp_path, capsys):
    assert main(["bench", "simulation", "+bench_phones=[0]", f"run_dir={tmp_path}"]) == 2
    assert "+bench_phones" in capsys.readouterr().err
    assert main(["bench", "simulation", "preset=smoke", "data.max_windows=300",
                 "+bench_phones=[2]", "+bench_rounds=0", f"run_dir={tmp_path}"]) == 2
    assert "+bench_rounds" in capsys.readouterr().err
    assert not (tmp_path / "bench.json").exists()
