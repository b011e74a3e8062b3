"""``lanhar-fl simulate`` prints each event once: Flower's lines, our round lines, the config."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys

import pytest

from lanhar_fl import logs

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _lines(output: str) -> list[str]:
    """Output lines without colour codes; progress-bar redraws (\\r) count as lines."""
    return [ANSI.sub("", line).rstrip() for line in re.split(r"[\r\n]", output)]


@pytest.mark.slow
def test_simulate_prints_every_event_once(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "FLWR_DISABLE_UPDATE_CHECK": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "lanhar_fl.cli", "simulate", "preset=smoke", "dataset=synthetic",
         "num_phones=6", "rounds=2", "train.stage1.epochs=1", f"run_dir={run_dir}"],
        capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = _lines(done.stdout + done.stderr)

    # Flower's records reach the console through Flower's handler only, not the root one too
    assert not [line for line in lines if line.startswith(("INFO flwr", "WARNING flwr",
                                                           "DEBUG flwr"))]
    for event in ("[ROUND 1/2]", "[ROUND 2/2]", "Starting FedAvg strategy:",
                  "Strategy execution finished in"):
        matching = [line for line in lines if event in line]
        assert len(matching) == 1, (event, matching)
    ours = [line for line in lines if re.match(r"round [12]/2: accuracy", line)]
    assert len(ours) == 2 and len(set(ours)) == 2
    # no message printed twice in a row (the signature of two handlers on one record)
    repeated = [a for a, b in zip(lines, lines[1:], strict=False) if a.strip() and a == b]
    assert not repeated, repeated[:5]
    # the composed configuration is written once into the run folder, not into the log
    assert (run_dir / "config.yaml").is_file()
    assert '"gravity_align"' not in done.stdout + done.stderr
    assert all(len(line) < 400 for line in lines if "lanhar-config" in line)
    # the phones (Ray actors) are quiet by default
    assert not [line for line in lines if "ClientAppActor pid=" in line]


def test_log_lines_follow_the_current_stderr_and_flower_does_not_propagate(capsys):
    logs.configure()
    logs.configure()  # idempotent: still one handler
    logging.getLogger("lanhar_fl.test").info("first line")
    assert capsys.readouterr().err.count("first line") == 1
    assert logging.getLogger("flwr").propagate is False


def test_long_text_is_summarised_in_flower_records_only_while_active():
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    flower = logging.getLogger("flwr")
    keep, level = Keep(level=logging.INFO), flower.level
    flower.addHandler(keep)
    flower.setLevel(logging.INFO)
    try:
        with logs.summarised_in_flower_logs('{"a": 1, "b": [2, 3]}', "<configuration>"):
            flower.info("ConfigRecord (train): %s", "{'cfg': {\"a\": 1, \"b\": [2, 3]}}")
        flower.info("after: %s", '{"a": 1, "b": [2, 3]}')
    finally:
        flower.removeHandler(keep)
        flower.setLevel(level)
    assert seen == ["ConfigRecord (train): {'cfg': <configuration>}",
                    'after: {"a": 1, "b": [2, 3]}']
