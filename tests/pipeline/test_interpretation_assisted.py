"""`lanhar-fl train` with inference.text_weight: a second, interpretation-assisted row."""

from __future__ import annotations

import json

from lanhar_fl import cli


def test_train_reports_the_interpretation_assisted_row_beside_lanhar(tmp_path):
    run = tmp_path / "run"
    assert cli.main(["train", "preset=smoke", "protocol=new_activity", "protocol.held_out=[run]",
                     "data.max_windows=400", "train.stage1.epochs=1", "train.stage2.epochs=1",
                     "train.supervised.enabled=false", "inference.text_weight=0.5",
                     f"run_dir={run}"]) == 0
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


def test_text_weight_zero_reports_lanhar_alone(tmp_path):
    run = tmp_path / "run"
    assert cli.main(["train", "preset=smoke", "data.max_windows=300", "train.stage1.epochs=1",
                     "train.stage2.epochs=1", "train.supervised.enabled=false",
                     "inference.text_weight=0", f"run_dir={run}"]) == 0
    assert not (run / "metrics_lanhar_interpretation.json").exists()
    assert "comparison" not in json.loads((run / "metrics.json").read_text())
