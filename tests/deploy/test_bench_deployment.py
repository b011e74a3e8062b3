"""``lanhar-fl bench deployment``: the bare Flower floor and this app on one real loopback
deployment (TLS, SuperNode authentication); here with 2 SuperNodes and 1 round."""

from __future__ import annotations

import json

import pytest

from lanhar_fl.cli import main


@pytest.mark.slow
def test_bench_deployment_runs_the_floor_and_the_app_on_every_supernode(tmp_path, capsys):
    code = main(["bench", "deployment", "+bench_supernodes=2", "+bench_rounds=1",
                 f"run_dir={tmp_path / 'bench'}"])
    assert code == 0
    bench = json.loads((tmp_path / "bench" / "bench.json").read_text())
    assert bench["bench"] == "deployment" and bench["supernodes"] == 2 and bench["rounds"] == 1
    assert bench["tls"] is True and bench["supernode_auth"] is True
    assert bench["bare_status"] == "finished:completed"
    assert bench["ours_status"] == "finished:completed"
    assert len(bench["bare_round_seconds"]) == 1 and len(bench["ours_round_seconds"]) == 1
    assert bench["ours_phones_replied"] == [2]
    assert min(bench["bare_round_seconds"] + bench["ours_round_seconds"]) > 0
    # each bare reply carried its ClientApp process's age, which is positive
    assert bench["bare_clientapp_age_seconds"][0] > 0
    assert bench["import_seconds"]["client.client_app"] > 0
    assert bench["processes_left"] == []
    assert 0 <= bench["accuracy"] <= 1


def test_bench_deployment_rejects_bad_counts(tmp_path, capsys):
    assert main(["bench", "deployment", "+bench_supernodes=0", f"run_dir={tmp_path}"]) == 2
    assert "+bench_supernodes" in capsys.readouterr().err
