"""The Flower ClientApp: one phone. ``flwr run .`` and ``lanhar-fl simulate`` both load ``app``.

``train`` serves both server paths: the Message API (our strategies, DP wrappers) and, for
``privacy=secagg``, Flower's legacy SecAgg+ protocol, whose messages it hands to ``secagg_app``
(``NumPyClient`` + ``secaggplus_mod``). ``query`` receives the text-side artefacts before the
legacy rounds start.

Before anything else, every message's configuration is checked against the phone's own policy
(``client/policy.py``); a request outside it gets an error reply (code ``POLICY_REFUSED``, the
reason naming the settings) and nothing else: no data, no interpretation, no artefact unpacked.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, Context, Error, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from lanhar_fl.federated import schema
from lanhar_fl.federated.runconfig import config_from_json
from lanhar_fl.models.lanhar import LanHARModel, federated_state_dict
from lanhar_fl.privacy import secagg

from . import artifacts, phone
from .local_data import local_windows, localize
from .policy import PolicyRefused, phone_policy

app = ClientApp()
log = logging.getLogger(__name__)


def _load(round_config: Mapping[str, Any], content: RecordDict | None, context: Context):
    cfg = config_from_json(str(round_config[schema.RUN_CONFIG]))
    policy = phone_policy(context.node_config)
    policy.check(cfg)  # before anything: a refused config reaches neither files nor data
    root = artifacts.artifact_root(localize(cfg, context.node_config))
    if content is not None:
        artifacts.receive(content, root, limits=policy.artifact_limits())
    negatives = round_config.get(schema.PUBLIC_NEGATIVES_VERSION)
    text = artifacts.resolve(str(round_config[schema.ARTIFACT_VERSION]), root,
                             str(negatives) if negatives else None)
    windows, index = local_windows(cfg, context.node_config)
    return cfg, text, windows, index


def _prepare(msg: Message, context: Context):
    round_config = msg.content[schema.CONFIG]
    return (round_config, *_load(round_config, msg.content, context))


def secagg_fit(context: Context, parameters: list[np.ndarray],
               config: dict[str, Any]) -> tuple[list[np.ndarray], int, dict[str, Any]]:
    """The legacy (SecAgg+) phone: the same local training, on ndarrays in model-key order."""
    cfg, text, windows, index = _load(config, None, context)
    keys = list(federated_state_dict(LanHARModel.from_config(cfg.model, text.encoder.dim)))
    arrays = ArrayRecord({k: Array(np.ascontiguousarray(p))
                          for k, p in zip(keys, parameters, strict=True)})
    reply = phone.train(cfg, config, arrays, windows, text, index, context.state)
    out, metrics = reply[schema.ARRAYS], reply[schema.METRICS]
    return ([out[k].numpy() for k in keys], int(metrics[schema.NUM_EXAMPLES]),
            {k: v for k, v in metrics.items() if k != schema.NUM_EXAMPLES})


secagg_app = secagg.legacy_client_app(secagg_fit)


def refuses_outside_policy(handler: Callable[[Message, Context], Message]):
    """``handler``, but a ``PolicyRefused`` becomes an error reply naming the refused settings
    (the server counts the phone as refused for that round)."""

    @functools.wraps(handler)
    def guarded(msg: Message, context: Context) -> Message:
        try:
            return handler(msg, context)
        except PolicyRefused as exc:
            log.warning("%s", exc)
            return Message(error=Error(code=schema.POLICY_REFUSED, reason=str(exc)),
                           reply_to=msg)

    return guarded


@app.train()
@refuses_outside_policy
def train(msg: Message, context: Context) -> Message:
    if secagg.is_secagg_message(msg):
        return secagg_app(msg, context)
    round_config, cfg, text, windows, index = _prepare(msg, context)
    content = phone.train(cfg, round_config, msg.content[schema.ARRAYS], windows, text, index,
                          context.state)
    return Message(content=content, reply_to=msg)


@app.evaluate()
@refuses_outside_policy
def evaluate(msg: Message, context: Context) -> Message:
    _, cfg, text, windows, _ = _prepare(msg, context)
    content = phone.evaluate(cfg, msg.content[schema.ARRAYS], windows, text)
    return Message(content=content, reply_to=msg)


@app.query()
@refuses_outside_policy
def query(msg: Message, context: Context) -> Message:
    """Artefact provisioning: unpack and load the text side; reply with no data."""
    _prepare(msg, context)
    return Message(content=RecordDict({schema.METRICS: MetricRecord({})}), reply_to=msg)
