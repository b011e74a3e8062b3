"""SIGINT during `lanhar-fl simulate` (a real Flower simulation on Ray, in a subprocess): one
line naming the last completed round and the folder, exit 130, the folder marked incomplete,
and every process the run started (Ray's raylet, GCS, agents, workers) gone, checked by PID."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lanhar_fl.processes import psutil_module
from lanhar_fl.run_folder import INCOMPLETE, last_round

REPO_ROOT = Path(__file__).resolve().parents[2]


def _alive(procs: dict) -> list:
    psutil = psutil_module()
    alive = []
    for proc in procs.values():
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.Error:
            pass
    return alive


@pytest.mark.slow
def test_sigint_mid_simulation_marks_the_folder_and_stops_every_process(tmp_path):
    psutil = psutil_module()
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lanhar_fl.cli", "simulate", "preset=smoke", "dataset=synthetic",
         "num_phones=4", "phones_per_round=2", "rounds=6", "train.stage1.epochs=1",
         f"run_dir={run}"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    seen: dict[int, object] = {}
    names: set[str] = set()
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                children = psutil.Process(proc.pid).children(recursive=True)
            except psutil.Error:
                children = []
            for child in children:
                # read the name at every poll: a child caught between fork and exec still
                # bears its parent's name; one that exits meanwhile must not hide the others
                seen.setdefault(child.pid, child)
                with contextlib.suppress(psutil.Error):
                    names.add(child.name())
            partial = next(iter(tmp_path.glob("run.partial-*")), None)
            if partial is not None and (last_round(partial) or 0) >= 1:
                break
            time.sleep(0.5)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert partial is not None and (last_round(partial) or 0) >= 1, "no round completed"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=180)

        assert proc.returncode == 130, err[-3000:]
        ours = [line for line in err.splitlines() if line.startswith("lanhar-fl:")]
        assert len(ours) == 1, ours
        match = re.fullmatch(r"lanhar-fl: interrupted after round (\d+); partial results in (.+)",
                             ours[0])
        assert match and Path(match.group(2)) == run, ours[0]
        assert "Traceback" not in err, err[err.find("Traceback") - 500:][:4000]
        marker = json.loads((run / INCOMPLETE).read_text())
        assert marker["last_completed_round"] == int(match.group(1)) >= 1
        assert not (run / "metrics.json").exists()

        assert {"raylet", "gcs_server"} <= names, f"Ray's node processes not seen: {names}"
        deadline = time.monotonic() + 3
        while _alive(seen) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = [(p.pid, p.name()) for p in _alive(seen)]
        assert not left, f"processes left running: {left} of {names}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        for p in _alive(seen):
            p.kill()
