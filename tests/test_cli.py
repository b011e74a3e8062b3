"""The `lanhar-fl` entry point: dispatch, overrides, errors without tracebacks."""

from __future__ import annotations

import json

import pytest

from lanhar_fl.cli import main


def test_help_lists_every_contract_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("data summary", "interpret", "train", "simulate", "privacy-sweep", "certs",
                    "export", "bench"):
        assert command in out


def test_unknown_command_exits_with_usage():
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert "unknown command" in str(exc.value)


def test_unknown_override_names_the_key(capsys):
    assert main(["data", "summary", "no_such_key=1"]) == 2
    assert "no_such_key" in capsys.readouterr().err


def test_unknown_dataset_names_the_choice(capsys):
    assert main(["data", "summary", "dataset=nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_cfg_prints_composed_config(capsys):
    assert main(["data", "summary", "preset=smoke", "--cfg"]) == 0
    out = capsys.readouterr().out
    assert "max_windows: 2400" in out


def test_synthetic_summary_is_contract_json(capsys):
    assert main(["data", "summary", "dataset=synthetic", "dataset.num_phones=4",
                 "dataset.minutes_per_phone=1"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("dataset", "windows", "subjects", "classes", "sampling_rate_hz", "channels"):
        assert key in summary
    assert summary["dataset"] == "synthetic" and summary["synthetic"] is True
    assert summary["subjects"] == 4
    assert summary["windows"] == sum(summary["classes"].values()) > 0
    assert summary["sampling_rate_hz"] == 50.0
