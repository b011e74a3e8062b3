"""``lanhar-fl bench textside``: the nearest-prototype ceiling of text sides, before stage 2."""

from __future__ import annotations

import json

from lanhar_fl.cli import main


def test_bench_textside_reports_each_text_side(tmp_path, capsys):
    code = main(["bench", "textside", "preset=smoke", "label_space=four_class",
                 "dataset.num_phones=6", "data.max_windows=200", "train.stage1.epochs=1",
                 "train.stage1.trainable_layers=1", "federation.stage1_public_phones=4",
                 "federation.stage1_max_windows=40", "+bench.target_max_windows=40",
                 "+bench.text_sides=[none,synthetic]", f"run_dir={tmp_path}"])
    assert code == 0
    result = json.loads((tmp_path / "bench.json").read_text())
    rows = {r["text_side"]: r for r in result["rows"]}
    assert set(rows) == {"none", "synthetic"}
    assert result["target"]["windows"] <= 40
    for row in rows.values():
        assert 0.0 <= row["accuracy"] <= 1.0
        assert set(row["recall"]) == set(result["target"]["classes"])
        assert row["text_side_saw_phone_users"] is False
    assert rows["none"]["stage1_windows"] == 0
    assert rows["synthetic"]["stage1_windows"] > 0
    assert len(rows["synthetic"]["stage1_epoch_seconds"]) == 1


def test_bench_bank_prints_public_class_medians(tmp_path, capsys):
    base = ["bench", "bank", "preset=smoke", "label_space=four_class", "dataset.num_phones=6",
            "data.max_windows=200", "federation.stage1_public_phones=4"]
    assert main([*base, "+bench.source=synthetic", f"run_dir={tmp_path / 'public'}"]) == 0
    result = json.loads((tmp_path / "public" / "bench.json").read_text())
    (source,) = result["sources"]
    assert source["windows"] > 0 and set(source["medians"]) <= {"walk", "still", "upstairs",
                                                                  "downstairs"}
    walk = source["medians"].get("walk") or next(iter(source["medians"].values()))
    assert walk["acc_mag_mean"]["n"] > 0
    assert walk["acc_mag_mean"]["p25"] <= walk["acc_mag_mean"]["median"] \
        <= walk["acc_mag_mean"]["p75"]
    # only public sources
    assert main([*base, "+bench.source=train", f"run_dir={tmp_path / 'private'}"]) == 2
    assert "bench.source" in capsys.readouterr().err
