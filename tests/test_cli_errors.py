"""Bad settings, paths and files: one `lanhar-fl: error:` line naming them, exit 2, no
traceback, and nothing started (config validation runs before any command body)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lanhar_fl.cli import main
from lanhar_fl.commands import data as data_command
from lanhar_fl.commands import train as train_command
from lanhar_fl.config import load_config
from lanhar_fl.config_checks import validate
from lanhar_fl.models.lanhar import LanHARModel
from lanhar_fl.training.checkpoint import save_checkpoint


def _checkpoint(folder: Path, damage: str) -> Path:
    """A real (untrained, tiny) checkpoint whose weights file is then damaged."""
    cfg = load_config(["preset=smoke"])
    weights = save_checkpoint(folder / "enc", LanHARModel.from_config(cfg.model, text_dim=16))
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncated"
                        else os.urandom(len(data)))
    return weights


# (argv with {tmp} for the test's folder, the words the error line must contain)
CASES = {
    "rounds=abc": (["simulate", "rounds=abc"], ["rounds", "abc"]),
    "rounds=0": (["simulate", "rounds=0"], ["rounds=0"]),
    "rounds=0 into a finished run": (["simulate", "rounds=0", "run_dir={tmp}/finished",
                                      "overwrite=true"], ["rounds=0"]),
    "overlap=1.5": (["simulate", "data.overlap=1.5"], ["data.overlap", "1.5"]),
    "window_seconds=abc": (["data", "summary", "data.window_seconds=abc"],
                           ["data.window_seconds", "abc"]),
    "phones_per_round=-3": (["simulate", "phones_per_round=-3"], ["phones_per_round", "-3"]),
    "max_windows=-5": (["data", "summary", "data.max_windows=-5"], ["data.max_windows", "-5"]),
    "strategy=nope": (["simulate", "federation.strategy=nope"], ["federation.strategy", "nope"]),
    "model.inputs=xyz": (["simulate", "model.inputs=xyz"], ["model.inputs", "xyz"]),
    "model.activation=foo": (["train", "model.activation=foo"], ["model.activation", "foo"]),
    "overwrite=yes": (["train", "overwrite=yes"], ["overwrite", "yes"]),
    "inference.text_weight=2": (["train", "inference.text_weight=2"],
                                ["inference.text_weight", "[0, 1]"]),
    "inference.sensor_votes=new": (["train", "inference.sensor_votes=new"],
                                   ["inference.sensor_votes", "all, seen"]),
    "inference.reader_encoder=gpt": (["train", "inference.reader_encoder=gpt"],
                                     ["inference.reader_encoder", "gpt"]),
    "bench fusion without a run": (["bench", "fusion", "+bench.run={tmp}"],
                                   ["bench.run", "sensor_encoder.json"]),
    "stage1_source=nope": (["simulate", "federation.stage1_source=nope:1-3"],
                           ["federation.stage1_source", "nope"]),
    "verbose=loud": (["simulate", "verbose=loud"], ["verbose", "loud"]),
    "run_dir=file": (["simulate", "run_dir={tmp}/afile"], ["run_dir", "afile"]),
    "run_dir=under-file": (["train", "run_dir={tmp}/afile/sub"], ["run_dir", "afile"]),
    "run_dir=unwritable": (["train", "run_dir={tmp}/locked/run"], ["run_dir", "locked"]),
    "run_dir=finished": (["simulate", "run_dir={tmp}/finished"], ["run_dir", "finished",
                                                                   "overwrite=true"]),
    "run_dir=not-a-run": (["bench", "interpret", "run_dir={tmp}"], ["run_dir", "not a"]),
    "export truncated": (["export", "checkpoint={tmp}/truncated/enc"],
                         ["truncated/enc.safetensors"]),
    "export random": (["export", "checkpoint={tmp}/random/enc.safetensors"],
                      ["random/enc.safetensors"]),
    "certs out=file": (["certs", "out={tmp}/afile"], ["out=", "afile"]),
}


@pytest.fixture
def nothing_runs(monkeypatch):
    """Every command body that loads data, models or Ray fails the test if reached."""
    import simulations.privacy_sweep
    import simulations.simulate

    def reached(*args, **kwargs):
        raise AssertionError("the command started although its settings are invalid")

    monkeypatch.setattr(simulations.simulate, "run", reached)
    monkeypatch.setattr(simulations.privacy_sweep, "run", reached)
    monkeypatch.setattr(train_command, "run_centralized", reached)
    monkeypatch.setattr(data_command, "load_windows", reached)


@pytest.mark.parametrize("case", list(CASES))
def test_one_error_line_and_exit_2(case, tmp_path, capsys, nothing_runs):
    argv, words = CASES[case]
    (tmp_path / "afile").write_text("not a folder\n")
    (tmp_path / "finished").mkdir()
    (tmp_path / "finished" / "metrics.json").write_text("{}\n")
    if case == "run_dir=unwritable":
        if os.geteuid() == 0:
            pytest.skip("root ignores folder permissions (run_dir=under-file covers the path)")
        (tmp_path / "locked").mkdir(mode=0o500)
    if case.startswith("export"):
        _checkpoint(tmp_path / case.split()[1], case.split()[1])
    capsys.readouterr()
    code = main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("lanhar-fl: error:"), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert [p.name for p in (tmp_path / "finished").iterdir()] == ["metrics.json"]
    assert (tmp_path / "finished" / "metrics.json").read_text() == "{}\n"
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


@pytest.mark.parametrize("group", ["privacy=none", "privacy=sample_level",
                                   "privacy=client_level", "privacy=secagg", "preset=smoke",
                                   "preset=demo", "federation.strategy=FedProx",
                                   "federation.partition=by_dirichlet", "num_phones=3"])
def test_shipped_configs_pass_validation(group):
    validate(load_config([group]))
