"""``lanhar-fl data compare``: per class and feature KS statistics between two datasets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lanhar_fl.cli import main
from lanhar_fl.config import load_config
from lanhar_fl.data.compare import Side, compare_windows, summary_lines
from lanhar_fl.data.registry import load_windows

TINY = ["dataset.num_phones=3", "dataset.minutes_per_phone=1.0",
        "dataset.activities=[walk,sit,stand,run]", "dataset.placements=[waist]"]


@pytest.fixture(scope="module")
def tiny():
    return load_windows(load_config([*TINY, "label_space=four_class"]))


def test_same_windows_have_zero_shift(tiny):
    result = compare_windows(Side("a", tiny), Side("b", tiny), min_windows=2)
    assert result["classes"] == ["walk", "still"]  # run is not in the 4-class space
    ks = [v for c in result["classes"] for v in result["ks"][c].values() if v is not None]
    assert ks and max(ks) == pytest.approx(0.0, abs=1e-12)
    assert result["mean_ks"] == pytest.approx(0.0, abs=1e-12)


def test_shift_is_found_where_it_was_made(tiny):
    louder = tiny.subset(np.arange(len(tiny)))
    louder.data[:, :, :3] *= 3.0  # every acceleration three times stronger
    result = compare_windows(Side("a", tiny), Side("b", louder), min_windows=2)
    walk = result["ks"]["walk"]
    assert walk["acc_mag_mean"] >= 0.9
    assert walk["dominant_freq"] <= 0.3  # the rhythm did not change
    assert all(0.0 <= v <= 1.0 for c in result["classes"] for v in result["ks"][c].values()
               if v is not None)
    line = summary_lines(result)[1]
    assert line.startswith("  walk (n=") and " 1.00 (" in line


def test_as_read_compares_a_wrist_swing_as_steps(tiny):
    wrist = tiny.subset(np.arange(len(tiny)))
    wrist.placements[:] = "wrist"
    wrist.gravity_removed[:] = True  # linear acceleration only: the vertical is unknown
    wrist.gravity_aligned[:] = False
    plain = compare_windows(Side("a", wrist), Side("b", wrist), min_windows=2)
    read = compare_windows(Side("a", tiny), Side("b", wrist), min_windows=2, as_read=True)
    assert read["as_read"] and not plain["as_read"]
    measured = plain["detail"]["walk"]["step_freq"]["median_a"]
    assert read["detail"]["walk"]["step_freq"]["median_b"] == pytest.approx(2 * measured)


def test_too_few_windows_is_none_not_zero(tiny):
    few = tiny.subset(np.flatnonzero(tiny.labels == tiny.class_names.index("walk"))[:3])
    result = compare_windows(Side("a", tiny), Side("b", few), min_windows=5)
    assert result["classes"] == ["walk"]
    assert result["only_a"] == ["still"]
    assert all(v is None for v in result["ks"]["walk"].values())


def test_cli_writes_json_and_plot(tmp_path, capsys):
    code = main(["data", "compare", *TINY, "label_space=four_class", "+compare.dataset=synthetic",
                 "dataset.seed=1", f"run_dir={tmp_path}"])
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("synthetic vs synthetic: mean KS")
    result = json.loads((tmp_path / "data_compare.json").read_text())
    assert set(result["classes"]) == {"walk", "still"}
    assert (tmp_path / "data_compare.png").stat().st_size > 1000


def test_cli_bad_second_dataset_is_one_error_line(tmp_path, capsys):
    assert main(["data", "compare", *TINY, "+compare.dataset=nope", f"run_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "compare.dataset" in err[0]
    assert main(["data", "compare", *TINY, f"run_dir={tmp_path}"]) == 2
    assert "+compare.dataset" in capsys.readouterr().err
