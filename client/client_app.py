"""The Flower ClientApp: one phone. ``flwr run .`` and ``lanhar-fl simulate`` both load ``app``."""

from __future__ import annotations

import logging

from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from lanhar_fl.federated import schema
from lanhar_fl.federated.runconfig import config_from_json

from . import artifacts, phone
from .local_data import local_windows

app = ClientApp()
log = logging.getLogger(__name__)


def _prepare(msg: Message, context: Context):
    round_config = msg.content[schema.CONFIG]
    cfg = config_from_json(str(round_config[schema.RUN_CONFIG]))
    root = artifacts.artifact_root(cfg.get("cache_dir"))
    artifacts.receive(msg.content, root)
    text = artifacts.resolve(str(round_config[schema.ARTIFACT_VERSION]), root)
    windows, index = local_windows(cfg, context.node_config)
    return cfg, round_config, text, windows, index


@app.train()
def train(msg: Message, context: Context) -> Message:
    cfg, round_config, text, windows, index = _prepare(msg, context)
    content = phone.train(cfg, round_config, msg.content[schema.ARRAYS], windows, text, index)
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    cfg, _, text, windows, _ = _prepare(msg, context)
    content = phone.evaluate(cfg, msg.content[schema.ARRAYS], windows, text)
    return Message(content=content, reply_to=msg)
