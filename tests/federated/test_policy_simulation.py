"""A server asking phones for a remote interpreter, in the real Flower Simulation Engine: every
phone's policy refuses it before interpreting anything, and the server records the refusals."""

from __future__ import annotations

import http.client
import json
import os
import socket
from pathlib import Path
from unittest import mock

import pytest
from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from client import client_app as phone_app
from lanhar_fl.config import load_config
from lanhar_fl.federated import schema
from simulations.simulate import run

pytestmark = pytest.mark.slow
SPY_DIR = "LANHAR_FL_TEST_POLICY_SPY"
REMOTE = ["interpreter=openai_compatible", "interpreter.allow_remote=true",
          "interpreter.base_url=http://203.0.113.5:8080/v1"]  # TEST-NET-3: never routed

spy_app = ClientApp()


def _spied(handler, msg: Message, context: Context) -> Message:
    """Run the real phone with every outgoing connection recorded (and blocked), then write what
    the phone attempted and replied to a file for the test to read."""
    attempts: list[str] = []

    def refuse(address) -> None:
        attempts.append(str(address))
        raise OSError("connection blocked by the test")

    def http_connect(self) -> None:
        refuse((self.host, self.port))

    def create_connection(address, *args, **kwargs):
        refuse(address)

    with mock.patch.object(http.client.HTTPConnection, "connect", http_connect), \
            mock.patch.object(socket, "create_connection", create_connection):
        reply = handler(msg, context)
    record = {"node": context.node_id, "type": msg.metadata.message_type,
              "attempts": attempts, "has_error": reply.has_error(),
              "has_content": reply.has_content(),
              "code": reply.error.code if reply.has_error() else None,
              "reason": reply.error.reason if reply.has_error() else None}
    folder = Path(os.environ[SPY_DIR])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{msg.metadata.message_type}-{context.node_id}.json").write_text(
        json.dumps(record))
    return reply


@spy_app.train()
def _train(msg: Message, context: Context) -> Message:
    return _spied(phone_app.train, msg, context)


@spy_app.evaluate()
def _evaluate(msg: Message, context: Context) -> Message:
    return _spied(phone_app.evaluate, msg, context)


def test_phones_refuse_a_remote_interpreter_before_interpreting(tmp_path, monkeypatch):
    spy = tmp_path / "spy"
    monkeypatch.setenv(SPY_DIR, str(spy))
    monkeypatch.delenv("LANHAR_FL_PHONE_POLICY", raising=False)  # the default policy
    server_attempts: list[object] = []
    monkeypatch.setattr(http.client.HTTPConnection, "connect",
                        lambda self: server_attempts.append((self.host, self.port)))
    cfg = load_config(["preset=smoke", "dataset=synthetic", "train.stage1.epochs=1",
                       "num_phones=3", "phones_per_round=3", "rounds=1",
                       "federation.stage1_source=none", f"run_dir={tmp_path / 'run'}", *REMOTE])
    metrics = run(cfg, client_app=spy_app)

    records = [json.loads(p.read_text()) for p in sorted(spy.glob("*.json"))]
    train = [r for r in records if r["type"] == "train"]
    assert len({r["node"] for r in train}) == 3  # every sampled phone answered the message
    for record in records:
        assert record["has_error"] and not record["has_content"]  # refused, no data
        assert record["code"] == schema.POLICY_REFUSED
        assert "interpreter.name=openai_compatible" in record["reason"]
        assert "interpreter.allow_remote=true" in record["reason"]
        assert record["attempts"] == []  # refused before interpretation: no connection
    # the server process itself never dials the endpoint either (Flower's own telemetry may)
    assert "203.0.113.5" not in {host for host, _ in server_attempts}

    round_1 = metrics["history"][1]
    assert round_1["phones_sampled"] == 3
    assert round_1["phones_refused"] == round_1["phones_failed"] == 3
    assert round_1["phones_replied"] == 0 and round_1["bytes_uploaded_per_phone"] == 0.0
    assert len(round_1["refusal_reasons"]) == 1
    assert "interpreter.name=openai_compatible" in round_1["refusal_reasons"][0]
    assert metrics["phone_refusals"] == 3 and metrics["privacy_audit_violations"] == 0
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history[1]["phones_refused"] == 3
