"""Run folders through `lanhar-fl` itself: a finished run is refused unless overwrite=true, an
overwrite replaces it only on success, a failed or interrupted run is kept and marked
INCOMPLETE.json. The command body is replaced by a stand-in that writes like `train` does
(the folder handling under test is the real CLI's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lanhar_fl.cli as cli
from lanhar_fl.commands import train as train_command
from lanhar_fl.data.errors import DataError
from lanhar_fl.run_folder import INCOMPLETE, RunFolder, final_path


def _finished(folder: Path) -> None:
    folder.mkdir()
    (folder / "metrics.json").write_text('{"old": true}\n')
    (folder / "old_only.txt").write_text("from the old run\n")


@pytest.fixture
def fake_train(monkeypatch):
    """`train` writes a checkpoint, then history for `rounds_done` rounds, then ends with
    `outcome` (None: writes metrics.json and succeeds)."""
    plan: dict = {"outcome": None, "rounds_done": 0, "seen_run_dir": None}

    def run_centralized(cfg):
        run_dir = Path(str(cfg.run_dir))
        plan["seen_run_dir"] = run_dir
        (run_dir / "sensor_encoder.safetensors").write_bytes(b"new")
        if plan["rounds_done"]:
            rows = [{"round": r, "accuracy": 0.5} for r in range(plan["rounds_done"] + 1)]
            (run_dir / "history.json").write_text(json.dumps(rows))
        if plan["outcome"] is not None:
            raise plan["outcome"]
        (run_dir / "metrics.json").write_text('{"new": true}\n')

    monkeypatch.setattr(train_command, "run_centralized", run_centralized)
    monkeypatch.setattr(cli, "exit_if_threads_linger", lambda code: None)
    return plan


def _err_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_rerun_into_finished_folder_is_refused(tmp_path, capsys, fake_train):
    run = tmp_path / "run"
    _finished(run)
    assert cli.main(["train", f"run_dir={run}"]) == 2
    lines = _err_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith("lanhar-fl: error:") and "overwrite" in lines[0]
    assert fake_train["seen_run_dir"] is None
    assert (run / "metrics.json").read_text() == '{"old": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_overwrite_replaces_only_on_success(tmp_path, capsys, fake_train):
    run = tmp_path / "run"
    _finished(run)
    fake_train["outcome"] = DataError("broken recording")
    assert cli.main(["train", f"run_dir={run}", "overwrite=true"]) == 2
    lines = _err_lines(capsys)
    assert len(lines) == 1 and "broken recording" in lines[0] and "partial results in" in lines[0]
    # the old run is whole; the failed attempt sits beside it, marked incomplete
    assert (run / "metrics.json").read_text() == '{"old": true}\n'
    assert not (run / "sensor_encoder.safetensors").exists()
    partial = fake_train["seen_run_dir"]
    assert partial != run and partial.parent == tmp_path and str(partial) in lines[0]
    assert "broken recording" in json.loads((partial / INCOMPLETE).read_text())["reason"]

    fake_train["outcome"] = None
    assert cli.main(["train", f"run_dir={run}", "overwrite=true"]) == 0
    assert (run / "metrics.json").read_text() == '{"new": true}\n'
    assert not (run / "old_only.txt").exists() and not (run / INCOMPLETE).exists()
    assert not [p for p in tmp_path.iterdir() if ".old-" in p.name]


def test_failed_new_run_is_moved_into_place_marked_incomplete(tmp_path, capsys, fake_train):
    run = tmp_path / "new"
    fake_train["outcome"] = DataError("broken recording")
    assert cli.main(["train", f"run_dir={run}"]) == 2
    assert str(run) in _err_lines(capsys)[0]
    assert (run / "sensor_encoder.safetensors").is_file() and not (run / "metrics.json").exists()
    assert json.loads((run / INCOMPLETE).read_text())["reason"].startswith("DataError")
    # an incomplete run is not a finished one: re-running into it needs no overwrite
    fake_train["outcome"] = None
    assert cli.main(["train", f"run_dir={run}"]) == 0
    assert (run / "metrics.json").is_file() and not (run / INCOMPLETE).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]


def test_interrupt_names_the_last_round_and_the_folder(tmp_path, capsys, fake_train):
    run = tmp_path / "run"
    fake_train["outcome"], fake_train["rounds_done"] = KeyboardInterrupt(), 2
    assert cli.main(["train", f"run_dir={run}"]) == 130
    lines = _err_lines(capsys)
    assert lines == [f"lanhar-fl: interrupted after round 2; partial results in {run}"]
    marker = json.loads((run / INCOMPLETE).read_text())
    assert marker["last_completed_round"] == 2 and "interrupt" in marker["reason"]


def test_failure_before_anything_was_written_leaves_no_folder(tmp_path, capsys, monkeypatch):
    def fails(cfg):
        raise DataError("no such recording")

    monkeypatch.setattr(train_command, "run_centralized", fails)
    assert cli.main(["train", f"run_dir={tmp_path / 'run'}"]) == 2
    assert _err_lines(capsys) == ["lanhar-fl: error: no such recording"]
    assert list(tmp_path.iterdir()) == []


def test_final_path_names_the_folder_a_partial_one_becomes(tmp_path):
    folder = RunFolder.open(tmp_path / "exp")
    assert final_path(folder.partial) == (tmp_path / "exp").absolute()
    assert final_path(tmp_path / "exp.partial-a") == (tmp_path / "exp.partial-a").absolute()
    assert final_path(tmp_path / "plain") == (tmp_path / "plain").absolute()
