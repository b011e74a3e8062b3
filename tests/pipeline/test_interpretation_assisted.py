"""`lanhar-fl train` with inference.text_weight: a second, interpretation-assisted row."""

from __future__ import annotations

import json

import pytest

from lanhar_fl import cli
from lanhar_fl.config import ConfigError, load_config
from simulations.bench_fusion import run as fusion_bench

RUN_IS_NEW = ("protocol=new_activity", "protocol.held_out=[run]")


def _train(run, *settings: str) -> None:
    """A smoke-sized `lanhar-fl train` (one stage-2 epoch, no supervised baseline) into run."""
    assert cli.main(["train", "preset=smoke", "train.stage2.epochs=1",
                     "train.supervised.enabled=false", *settings, f"run_dir={run}"]) == 0


def test_train_reports_the_interpretation_assisted_row_beside_lanhar(tmp_path):
    run = tmp_path / "run"
    _train(run, *RUN_IS_NEW, "data.max_windows=400", "train.stage1.epochs=1",
           "inference.text_weight=0.5")
    lanhar = json.loads((run / "metrics.json").read_text())
    fused = json.loads((run / "metrics_lanhar_interpretation.json").read_text())
    assert lanhar["model"] == "LanHAR" and fused["model"] == "LanHAR+interpretation"
    assert fused["text_weight"] == 0.5
    # the reading uses the run's text side: the row says where it came from, like LanHAR's
    assert fused["text_side"] == lanhar["text_side"]
    assert fused["text_side_saw_phone_users"] == lanhar["text_side_saw_phone_users"]
    assert fused["n_test_windows"] == lanhar["n_test_windows"]
    assert fused["new_classes"] == lanhar["new_classes"] == ["run"]
    assert set(lanhar["comparison"]) == {"LanHAR", "LanHAR+interpretation"}
    assert "LanHAR+interpretation" in (run / "report.md").read_text()


def test_fusion_bench_rescores_the_run_it_reads(tmp_path):
    """`bench fusion` re-scores a finished run: its weight-0 row is the run's LanHAR row, its
    row at the run's own setting the LanHAR+interpretation row."""
    run = tmp_path / "run"
    _train(run, *RUN_IS_NEW, "data.max_windows=300", "train.stage1.epochs=1",
           "inference.text_weight=0.5")
    assert cli.main(["bench", "fusion", f"+bench.run={run}", "+bench.text_weights=[0,0.5]",
                     "+bench.seen_offsets=[0,-1]", "+bench.readers=[stage1]",
                     f"run_dir={tmp_path / 'bench'}"]) == 0
    out = json.loads((tmp_path / "bench" / "bench.json").read_text())
    assert (tmp_path / "bench" / out["plot"]).is_file() and len(out["rows"]) == 4
    rows = {(r["text_weight"], r["seen_offset"]): r for r in out["rows"]}
    for key, name in (((0.0, 0.0), "metrics.json"),
                      ((0.5, 0.0), "metrics_lanhar_interpretation.json")):
        saved = json.loads((run / name).read_text())
        for metric in ("accuracy", "seen_activity_weighted_f1", "new_activity_accuracy"):
            assert rows[key][metric] == pytest.approx(saved[metric], abs=1e-3), (name, metric)
    # an offset against the seen classes never lowers new-activity accuracy
    assert rows[(0.5, -1.0)]["new_activity_accuracy"] >= rows[(0.5, 0.0)]["new_activity_accuracy"]


def test_fusion_bench_needs_a_finished_run(tmp_path):
    with pytest.raises(ConfigError, match="bench.run"):
        fusion_bench(load_config(["preset=smoke"]))
    with pytest.raises(ConfigError, match="no sensor_encoder.json"):
        fusion_bench(load_config(["preset=smoke", f"+bench.run={tmp_path}"]))
    with pytest.raises(ConfigError, match="unknown settings"):
        fusion_bench(load_config(["preset=smoke", f"+bench.run={tmp_path}", "+bench.reader=x"]))
    with pytest.raises(ConfigError, match="bench.seen_offsets"):
        fusion_bench(load_config(["preset=smoke", f"+bench.run={tmp_path}",
                                  "+bench.seen_offsets=[low]"]))
    with pytest.raises(ConfigError, match="also this bench's run_dir"):  # would replace it
        fusion_bench(load_config(["preset=smoke", f"+bench.run={tmp_path}",
                                  f"run_dir={tmp_path}.partial-123"]))


def test_text_weight_zero_reports_lanhar_alone(tmp_path):
    run = tmp_path / "run"
    _train(run, "data.max_windows=300", "train.stage1.epochs=1", "inference.text_weight=0")
    assert not (run / "metrics_lanhar_interpretation.json").exists()
    assert "comparison" not in json.loads((run / "metrics.json").read_text())


def test_the_pretrained_reader_does_not_depend_on_stage_1(tmp_path):
    """reader_encoder=pretrained reads with the shipped encoder: with the reading alone
    (text_weight=1) a tuned stage 1 changes nothing against an untuned one."""
    rows = {}
    for name, stage1_epochs, reader in (("tuned", 1, "pretrained"), ("untuned", 0, "stage1"),
                                        ("tuned-reads", 1, "stage1")):
        run = tmp_path / name
        _train(run, *RUN_IS_NEW, "data.max_windows=300", f"train.stage1.epochs={stage1_epochs}",
               "inference.text_weight=1", f"inference.reader_encoder={reader}")
        rows[name] = json.loads((run / "metrics_lanhar_interpretation.json").read_text())
    assert rows["tuned"]["reader_encoder"] == "pretrained"
    assert rows["tuned"]["text_side"]["stage1"] == "trained"
    assert rows["untuned"]["text_side"]["stage1"] == "none"
    assert rows["tuned"]["confusion_matrix"] == rows["untuned"]["confusion_matrix"]
    # the control: the tuned encoder reads differently, so the equality above is not vacuous
    assert rows["tuned-reads"]["confusion_matrix"] != rows["untuned"]["confusion_matrix"]
