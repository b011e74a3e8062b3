"""A simulation attached to an existing Ray cluster (``federation.ray_address``): two Ray nodes
on this machine (``ray.cluster_utils.Cluster``, one CPU each), and the phones' work runs on both.
Each phone writes the id of the Ray node it runs on into a folder; the cluster is shut down
whatever happens."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from client import client_app as phone_app
from lanhar_fl.config import load_config
from simulations.simulate import backend_config, run

NODES_DIR = "LANHAR_FL_TEST_NODES_DIR"
located_app = ClientApp()


@located_app.train()
def _located_train(msg: Message, context: Context) -> Message:
    import ray

    folder = Path(os.environ[NODES_DIR])
    (folder / uuid.uuid4().hex).write_text(ray.get_runtime_context().get_node_id())
    return phone_app.train(msg, context)


def test_attaching_passes_the_address_and_no_cpu_count():
    cfg = load_config(["preset=smoke", "federation.ray_address=10.0.0.5:6379"])
    init = backend_config(cfg)["init_args"]
    assert init["address"] == "10.0.0.5:6379" and "num_cpus" not in init
    local = backend_config(load_config(["preset=smoke"]))["init_args"]
    assert local["address"] == "local" and local["num_cpus"] >= 1


@pytest.mark.slow
def test_phones_run_on_both_nodes_of_a_two_node_cluster(tmp_path, monkeypatch):
    from ray.cluster_utils import Cluster

    nodes_dir = tmp_path / "nodes"
    nodes_dir.mkdir()
    monkeypatch.setenv(NODES_DIR, str(nodes_dir))  # Ray's workers inherit it from the raylets
    store = 100 * 1024 * 1024
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "resources": {"head": 1}, "object_store_memory": store,
        "include_dashboard": False})
    try:
        worker = cluster.add_node(num_cpus=1, resources={"worker": 1}, object_store_memory=store)
        cluster.wait_for_nodes()
        node_ids = {cluster.head_node.node_id, worker.node_id}
        cfg = load_config(["preset=smoke", "train.stage1.epochs=1", "num_phones=4",
                           "phones_per_round=4", "rounds=2", "data.max_windows=400",
                           "federation.local_epochs=1",
                           f"federation.ray_address={cluster.address}", f"run_dir={tmp_path}/run"])
        metrics = run(cfg, client_app=located_app)
        assert [h["phones_replied"] for h in metrics["history"][1:]] == [4, 4]
        seen = [p.read_text() for p in nodes_dir.iterdir()]
        assert len(seen) == 8  # 4 phones x 2 rounds
        assert set(seen) == node_ids, (set(seen), node_ids)
    finally:
        import ray

        ray.shutdown()
        cluster.shutdown()


@pytest.mark.slow
def test_a_local_simulation_ignores_a_ray_cluster_running_on_the_machine(tmp_path):
    """ray.init() attaches to a cluster started on the same machine (and then refuses
    num_cpus); without federation.ray_address the simulation starts a Ray of its own."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": 100 * 1024 * 1024, "include_dashboard": False})
    try:
        cfg = load_config(["preset=smoke", "train.stage1.epochs=1", "num_phones=2",
                           "phones_per_round=2", "rounds=1", "data.max_windows=200",
                           "federation.local_epochs=1", f"run_dir={tmp_path}/run"])
        metrics = run(cfg)
        assert [h["phones_replied"] for h in metrics["history"][1:]] == [2]
    finally:
        import ray

        ray.shutdown()
        cluster.shutdown()
