"""A real Flower deployment on loopback: SuperLink, SuperNodes, TLS, node authentication.

One scenario, shared by the tests below (module fixture): certificates and keys from
``lanhar_fl.deploy.certs``; a SuperLink with TLS and ``--enable-supernode-auth``; three SuperNode
keys registered with ``flwr supernode register``; three SuperNodes, each with its own local
dataset (a synthetic phone written in the UCI HAPT RawData layout, ``lanhar_fl.deploy.node_data``);
a fourth SuperNode whose key was never registered; ``flwr run .`` of this checkout, 2 rounds of
``preset=smoke`` sampling 2 of the 3 phones per round; the first phone that receives a train
message is SIGKILLed (with its process group) mid-round. Every process is tracked by PID and
ended at teardown (``lanhar_fl.deploy.loopback``); ``FLWR_HOME`` is a temporary folder.

Observed with flwr 1.42: the killed phone's message gets a "Node Unavailable" error reply once
the SuperLink has missed its heartbeats (2 x 30 s after the last one), so the round completes
with the other phone's reply and the next round samples the two survivors
(``phones_per_round=2``, ``federation.min_phones=2``; with 3 of 3 per round the next round would
wait for a third phone forever).
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from flwr.app import ArrayRecord, Error, Message, Metadata, MetricRecord, RecordDict
from flwr.app.message.message import make_message
from flwr.cli.build import build_fab_from_disk
from flwr.serverapp import Grid

from client.local_data import local_windows
from lanhar_fl.config import load_config
from lanhar_fl.deploy.certs import CertsPlan, generate, supernode_key_pair
from lanhar_fl.deploy.loopback import (
    REPO_ROOT,
    Deployment,
    flower_env,
    free_ports,
    register,
    start_superlink,
    supernode_args,
    wait_until,
)
from lanhar_fl.deploy.node_data import (
    hapt_phones,
    split_hapt,
    write_hapt_recording,
    write_synthetic_nodes,
)
from lanhar_fl.eval.metrics import validate_metrics_json
from server.distribution import ArtifactGrid

NODES = 3
ROUNDS = 2
CONNECTION = "lanhar-test"
RUN_OVERRIDES = ("preset=smoke", f"rounds={ROUNDS}", "phones_per_round=2",
                 "federation.min_phones=2", "federation.stage1_source=none",
                 "federation.round_timeout_s=240")
RUN_TIMEOUT_S = 420


# ---------------------------------------------------------------- the scenario


@dataclass
class Outcome:
    dep: Deployment
    run_dir: Path
    node_ids: dict[int, str]  # SuperNode index -> node id it reported
    registered: set[str]
    rogue_rc: int | None
    nodes_before_run: dict[str, str]
    nodes_after_run: dict[str, str]
    killed: int | None  # index of the SuperNode killed mid-round
    run_id: str
    run_rc: int | None  # exit status of `flwr run --stream`
    run_status: str
    run_log: str
    line_times: dict[str, float]  # first time a streamed line matched, seconds after `flwr run`
    wall_s: float


def _run(dep: Deployment, tmp: Path) -> Outcome:
    t0 = time.monotonic()
    certs = tmp / "certs"
    generate(certs, CertsPlan(hosts=("localhost", "127.0.0.1"), supernodes=NODES, days=2))
    rogue_key = tmp / "rogue" / "supernode_rogue"
    rogue_key.parent.mkdir()
    private, _ = supernode_key_pair()
    rogue_key.write_bytes(private)
    rogue_key.chmod(0o600)
    data = write_synthetic_nodes(tmp / "data", NODES, minutes=2.0)
    link_port, *node_ports = free_ports(NODES + 2)

    start_superlink(dep, certs, link_port)
    registered = register(dep, [certs / f"supernode_{i}.pub" for i in range(1, NODES + 1)])
    assert len(registered) == NODES

    for i in range(1, NODES + 1):
        config = (f'data-path="{data[i - 1]}" dataset="uci_hapt" phone-id={i} '
                  f'cache-dir="{tmp / f"node_{i}-cache"}"')
        dep.start(f"supernode_{i}", *supernode_args(node_ports[i - 1], link_port, certs,
                                                     certs / f"supernode_{i}", config))
    dep.start("rogue", *supernode_args(node_ports[NODES], link_port, certs, rogue_key,
                                        f'data-path="{data[0]}" dataset="uci_hapt" phone-id=9'))

    def all_online() -> dict[str, str] | None:
        nodes = dep.nodes()
        return nodes if sum(s == "online" for s in nodes.values()) == NODES else None

    nodes_before = wait_until(all_online, 90, f"{NODES} SuperNodes online", every=1.0)
    wait_until(lambda: dep.procs["rogue"].poll() is not None, 90, "the rogue SuperNode to exit")
    node_ids = {}
    for i in range(1, NODES + 1):
        match = re.search(r"SuperNode ID: (\d+)", dep.text(f"supernode_{i}"))
        assert match, dep.text(f"supernode_{i}")
        node_ids[i] = match.group(1)

    # The run: this checkout as a FAB; kill the first phone that gets a train message.
    run_dir = tmp / "run"
    overrides = " ".join([*RUN_OVERRIDES, f"run_dir={run_dir}"])
    started = time.monotonic()
    run = dep.start("run", "flwr", "run", ".", CONNECTION, "--stream",
                    "--run-config", f'overrides="{overrides}"')
    killed = None
    patterns = {f"[ROUND {r}/{ROUNDS}]": f"start {r}" for r in range(1, ROUNDS + 1)}
    patterns |= {f"round {r}/{ROUNDS}: accuracy": f"end {r}" for r in range(1, ROUNDS + 1)}
    line_times: dict[str, float] = {}
    while run.poll() is None:
        if time.monotonic() - started > RUN_TIMEOUT_S:
            raise AssertionError(f"flwr run still going after {RUN_TIMEOUT_S}s:\n"
                                 + dep.text("run")[-3000:])
        dep.track()
        now, streamed = time.monotonic() - started, dep.text("run")
        for pattern, label in patterns.items():
            if label not in line_times and pattern in streamed:
                line_times[label] = now
        if killed is None:
            for i in range(1, NODES + 1):
                if "Receiving: train message" in dep.text(f"supernode_{i}"):
                    dep.kill_group(f"supernode_{i}")
                    killed = i
                    line_times["kill"] = now
                    break
        time.sleep(0.2)
    run_log = dep.text("run")
    for pattern, label in patterns.items():
        line_times.setdefault(label, time.monotonic() - started if pattern in run_log else -1)
    match = re.search(r"Successfully started run (\d+)", run_log)
    assert match, run_log[-3000:]
    run_id = match.group(1)
    status = dep.run_status(run_id)
    return Outcome(dep=dep, run_dir=run_dir, node_ids=node_ids, registered=registered,
                   rogue_rc=dep.procs["rogue"].returncode, nodes_before_run=nodes_before,
                   nodes_after_run=dep.nodes(), killed=killed, run_id=run_id,
                   run_rc=run.returncode, run_status=status, run_log=run_log, line_times=line_times,
                   wall_s=time.monotonic() - t0)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> Iterator[Outcome]:
    tmp = tmp_path_factory.mktemp("deploy")
    dep = Deployment(tmp, flower_env(tmp), CONNECTION)
    try:
        result = _run(dep, tmp)
        print(f"\ndeployment: {result.wall_s:.0f}s in all; streamed-log times (s after flwr "
              f"run): {json.dumps({k: round(v, 1) for k, v in result.line_times.items()})}")
        yield result
    finally:
        leftovers = dep.stop()
        assert not leftovers, f"processes survived teardown: {leftovers}"


# ---------------------------------------------------------------- the checks


@pytest.mark.slow
def test_run_completes_with_two_rounds_of_history(outcome):
    assert outcome.run_status == "finished:completed", outcome.run_log[-4000:]
    assert outcome.run_rc == 0, outcome.run_log[-4000:]
    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())
    validate_metrics_json(metrics, setting="cross_user", simulate=True)
    assert metrics["rounds"] == ROUNDS and metrics["num_phones"] == NODES
    assert [h["round"] for h in metrics["history"]] == [0, 1, 2]
    assert metrics["test_dataset"] == "synthetic"  # the server's own held-out synthetic phones
    assert metrics["privacy_audit_violations"] == 0
    assert (outcome.run_dir / "sensor_encoder.safetensors").is_file()


@pytest.mark.slow
def test_unregistered_supernode_is_refused(outcome):
    log = outcome.dep.text("rogue")
    assert outcome.rogue_rc not in (None, 0), log
    assert "Failed to activate SuperNode" in log, log
    assert "Exit Code: 305" in log, log  # SUPERNODE_CONNECTION_ERROR
    # The SuperLink knows exactly the registered keys; the rogue never became a node.
    assert set(outcome.nodes_before_run) == outcome.registered
    assert set(outcome.nodes_after_run) == outcome.registered
    assert set(outcome.node_ids.values()) == outcome.registered


@pytest.mark.slow
def test_supernode_killed_mid_round_does_not_stop_the_run(outcome):
    assert outcome.killed is not None, "no SuperNode received a train message"
    assert outcome.run_status == "finished:completed", outcome.run_log[-4000:]
    history = {h["round"]: h for h in
               json.loads((outcome.run_dir / "metrics.json").read_text())["history"]}
    # Round 1: two phones asked; the killed one is reported failed, the other one counted.
    assert history[1]["phones_sampled"] == 2
    assert history[1]["phones_replied"] == 1 and history[1]["phones_failed"] == 1
    # Round 2: the two survivors.
    assert history[2]["phones_sampled"] == 2
    assert history[2]["phones_replied"] == 2 and history[2]["phones_failed"] == 0
    dead = outcome.node_ids[outcome.killed]
    # The SuperLink's error reply comes from its own node id; the server charges it to the phone.
    assert f"phone {dead} failed in train: Error: Node Unavailable" in outcome.run_log
    assert outcome.nodes_after_run[dead] == "offline"
    assert [s for n, s in outcome.nodes_after_run.items() if n != dead] == ["online"] * 2
    assert all(np.isfinite(h["accuracy"]) for h in history.values())


@pytest.mark.slow
def test_every_process_ends_at_teardown(outcome):
    dep = outcome.dep
    names = {name for _, name in dep.seen.values()}
    assert {"superlink", "supernode_1", "supernode_2", "supernode_3", "run"} <= names
    # The SuperLink's flower-superexec runs in a session of its own: tracked by PID anyway.
    superlink_pid = dep.procs["superlink"].pid
    assert any(name == "superlink" and pid != superlink_pid for pid, (_, name) in dep.seen.items())
    assert dep.stop() == []
    assert dep.alive() == []


# ---------------------------------------------------------------- fast: app bundle, node data


def test_app_bundle_is_this_checkout_without_environments_or_results():
    names = zipfile.ZipFile(io.BytesIO(build_fab_from_disk(REPO_ROOT))).namelist()
    assert {"pyproject.toml", "server/server_app.py", "client/client_app.py",
            "configs/config.yaml", "lanhar_fl/deploy/node_data.py"} <= set(names)
    assert not [n for n in names if n.startswith((".venv/", "runs/", "outputs/"))]
    assert not [n for n in names if n.endswith((".safetensors", ".npz", ".pt", ".onnx"))]


def test_node_data_folders_load_as_each_phone_own_windows(tmp_path):
    cfg = load_config(["preset=smoke", f"cache_dir={tmp_path / 'cache'}"])
    folders = write_synthetic_nodes(tmp_path / "data", 2, minutes=1.0)
    loaded = [local_windows(cfg, {"data-path": str(f), "dataset": "uci_hapt", "phone-id": i})
              for i, f in enumerate(folders, start=1)]
    for (windows, index), i in zip(loaded, (1, 2), strict=True):
        assert index == i and len(windows) > 20
        assert set(np.unique(windows.subjects)) == {i}  # one phone = one user, its own files
        assert windows.sampling_rate_hz == 50
    assert not np.allclose(loaded[0][0].data[:10], loaded[1][0].data[:10])
    # The real-data route: one HAPT RawData folder split by user, users dealt round-robin.
    raw = tmp_path / "hapt" / "RawData"
    for user, rec in enumerate(hapt_phones(3, minutes=1.0), start=1):
        write_hapt_recording(raw, rec, exp=user, user=user)
    split = split_hapt(raw.parent, tmp_path / "split", 2)
    assert sorted(p.name for p in (split[0] / "RawData").iterdir()) == [
        "acc_exp01_user01.txt", "acc_exp03_user03.txt", "gyro_exp01_user01.txt",
        "gyro_exp03_user03.txt", "labels.txt"]
    rows = [line.split() for line in (split[1] / "RawData" / "labels.txt").read_text().split("\n")
            if line]
    assert rows and {(r[0], r[1]) for r in rows} == {("2", "2")}
    windows, _ = local_windows(cfg, {"data-path": str(split[0]), "dataset": "uci_hapt"})
    assert set(np.unique(windows.subjects)) == {1, 3}


# ---------------------------------------------------------------- fast: reply attribution


class _ErrorFromSuperLink(Grid):
    """Answers node 5 normally and node 6 the way the SuperLink answers for a dead phone."""

    def send_and_receive(self, messages, *, timeout=None):
        replies = []
        for msg in messages:
            msg.metadata.__dict__["_message_id"] = msg.object_id  # as the real grid does
            node = msg.metadata.dst_node_id
            if node == 5:
                content = RecordDict({"arrays": ArrayRecord({"w": torch.zeros(2)}),
                                      "metrics": MetricRecord({"num-examples": 3})})
                replies.append(make_message(metadata=_metadata(node, 1, msg), content=content))
            else:
                replies.append(make_message(metadata=_metadata(1, 1, msg),
                                            error=Error(code=5, reason="Node Unavailable")))
        return replies

    run = None

    def set_run(self, run):
        raise NotImplementedError

    def create_message(self, *args, **kwargs):
        raise NotImplementedError

    def get_node_ids(self):
        return [5, 6]

    def push_messages(self, messages):
        raise NotImplementedError

    def pull_messages(self, message_ids):
        raise NotImplementedError


def _metadata(src: int, dst: int, reply_to: Message | None = None) -> Metadata:
    return Metadata(run_id=1, message_id="", src_node_id=src, dst_node_id=dst,
                    reply_to_message_id=reply_to.metadata.message_id if reply_to else "",
                    group_id="1", created_at=time.time(), ttl=60, message_type="train")


def test_superlink_error_replies_are_charged_to_the_phone_asked():
    grid = ArtifactGrid(_ErrorFromSuperLink(), {"w": (2,)})
    messages = [make_message(metadata=_metadata(1, node),
                             content=RecordDict({"config": MetricRecord({"x": 1})}))
                for node in (5, 6)]
    replies = grid.send_and_receive(messages, timeout=1)
    assert len(replies) == 2
    exchange = grid.exchanges[-1]
    assert exchange.replied == [5]
    assert exchange.failed == {6: "Node Unavailable"}  # not {1: ...} plus a "no reply" for 6
