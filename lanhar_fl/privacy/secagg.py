"""Secure aggregation with SecAgg+ on Flower's legacy path (``privacy=secagg``).

Phones mask their (quantised, example-weighted) model with pairwise and private masks; the server
only ever holds the sum of masked vectors and, after the unmask stage, the weighted AVERAGE of
the sampled phones' models. No phone's model arrays reach the server in plain form
(``RecordingGrid`` counts what arrived). This hides individual updates from the server; it is
not differential privacy (the aggregate itself is released unchanged).

Flower runs SecAgg+ only on the legacy path (``NumPyClient`` + ``secaggplus_mod`` on the phone;
``LegacyContext`` + ``DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(...))`` on the server, as in
Flower's ``fl-dp-sa`` example). The text-side artefacts are delivered first with one ``query``
message per phone (``provision``) through the usual artefact grid; the legacy rounds then carry
only the protocol's messages. Parameters are clipped to ``[-clipping_range, clipping_range]``
before quantisation; an example weight above ``max_weight`` overflows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key, Stage
from flwr.serverapp import Grid

from ..federated import schema
from ..federated.grid import DelegatingGrid, Exchange
from .reporting import aggregate_fit_metrics
from .settings import SecAgg

FitFn = Callable[[Context, list[np.ndarray], dict[str, Any]],
                 tuple[list[np.ndarray], int, dict[str, Any]]]


# ------------------------------------------------------------------------------- phone side


def is_secagg_message(msg: Message) -> bool:
    """A message of the SecAgg+ protocol (every stage carries its config record)."""
    return RECORD_KEY_CONFIGS in msg.content


def legacy_client_app(fit: FitFn, mods: Sequence[Callable] | None = None) -> ClientApp:
    """A legacy ClientApp running ``fit(context, parameters, config)`` under SecAgg+
    (``mods`` default: ``[secaggplus_mod]``; tests add spies around it)."""
    from flwr.client import NumPyClient
    from flwr.client.mod import secaggplus_mod

    class Phone(NumPyClient):
        def __init__(self, context: Context) -> None:
            self.node_context = context

        def fit(self, parameters, config):
            return fit(self.node_context, list(parameters), dict(config))

    def client_fn(context: Context):
        return Phone(context).to_client()

    return ClientApp(client_fn=client_fn, mods=list(mods) if mods else [secaggplus_mod])


# ------------------------------------------------------------------------------ server side


@dataclass
class StageExchange(Exchange):
    """One SecAgg+ stage of one round (``group_id``: the round), as the server saw it."""

    stage: str = "other"
    plain_arrays: int = 0  # replies holding a non-empty ArrayRecord (must stay 0)


class RecordingGrid(DelegatingGrid):
    """Delegates to ``grid`` and records every SecAgg+ stage the server runs."""

    def __init__(self, grid: Grid) -> None:
        super().__init__(grid)
        self.stages: list[StageExchange] = []

    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> Iterable[Message]:
        messages = list(messages)
        if not messages:
            return []
        first = messages[0]
        stage = "other"
        if is_secagg_message(first):
            stage = str(first.content[RECORD_KEY_CONFIGS].get(Key.STAGE, "other"))
        exchange = StageExchange(first.metadata.message_type, first.metadata.group_id,
                                 [m.metadata.dst_node_id for m in messages], stage=stage)
        replies = list(self._grid.send_and_receive(messages, timeout=timeout))
        for reply in replies:
            node = reply.metadata.src_node_id
            if reply.has_error():
                exchange.record_error(node, reply.error)
                continue
            exchange.replied.append(node)
            exchange.plain_arrays += sum(1 for r in reply.content.array_records.values()
                                         if len(r))
            configs = reply.content.config_records.get(RECORD_KEY_CONFIGS)
            masked = configs.get(Key.MASKED_PARAMETERS, []) if configs is not None else []
            exchange.bytes_uploaded[node] = sum(len(b) for b in masked)
        self.stages.append(exchange)
        return replies

    def training_stages(self) -> list[StageExchange]:
        """The collect-masked-vectors stage of each round (where phones train and upload)."""
        return [s for s in self.stages if s.stage == Stage.COLLECT_MASKED_VECTORS]


def provision(grid: Grid, config: ConfigRecord, timeout: float | None = None) -> list[int]:
    """One ``query`` message to every phone (``grid`` attaches the artefacts); returns the
    phones that answered."""
    nodes = list(grid.get_node_ids())
    messages = [Message(content=RecordDict({schema.CONFIG: ConfigRecord(dict(config))}),
                        dst_node_id=node, message_type=MessageType.QUERY, group_id="provision")
                for node in nodes]
    replies = grid.send_and_receive(messages, timeout=timeout)
    return [r.metadata.src_node_id for r in replies if not r.has_error()]


@dataclass
class SecAggResult:
    arrays: ArrayRecord  # the final global model
    train_metrics: dict[int, dict[str, Any]]  # round -> aggregated phone metrics
    grid: RecordingGrid


def run_secagg(grid: Grid, settings: SecAgg, *, initial: ArrayRecord, rounds: int,
               per_round: int, num_phones: int,
               evaluate: Callable[[int, ArrayRecord], Any],
               fit_config: Callable[[int], dict[str, Any]],
               timeout: float | None = None) -> SecAggResult:
    """``rounds`` FedAvg rounds whose aggregation runs through SecAgg+.

    ``evaluate(round, arrays)`` returns the server-side metrics (a mapping); ``fit_config(round)``
    the config each phone gets (scalars and strings).
    """
    from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.compat.common import recorddict_compat as compat
    from flwr.server import LegacyContext, ServerConfig
    from flwr.server.strategy import FedAvg
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
    from flwr.server.workflow.constant import MAIN_PARAMS_RECORD

    keys = list(initial.keys())

    def as_record(ndarrays: list[np.ndarray]) -> ArrayRecord:
        return ArrayRecord({k: Array(np.ascontiguousarray(a))
                            for k, a in zip(keys, ndarrays, strict=True)})

    def evaluate_fn(server_round: int, ndarrays, _config) -> tuple[float, dict[str, Any]]:
        return 0.0, dict(evaluate(server_round, as_record(list(ndarrays))))

    strategy = FedAvg(fraction_fit=per_round / num_phones, min_fit_clients=per_round,
                      min_available_clients=per_round, fraction_evaluate=0.0,
                      min_evaluate_clients=0, evaluate_fn=evaluate_fn,
                      on_fit_config_fn=fit_config,
                      initial_parameters=ndarrays_to_parameters(initial.to_numpy_ndarrays()),
                      fit_metrics_aggregation_fn=aggregate_fit_metrics)
    recorder = RecordingGrid(grid)
    context = LegacyContext(Context(run_id=0, node_id=0, node_config={}, state=RecordDict(),
                                    run_config={}),
                            config=ServerConfig(num_rounds=rounds, round_timeout=timeout),
                            strategy=strategy)
    workflow = SecAggPlusWorkflow(num_shares=settings.num_shares,
                                  reconstruction_threshold=settings.reconstruction_threshold,
                                  max_weight=settings.max_weight,
                                  clipping_range=settings.clipping_range, timeout=timeout)
    DefaultWorkflow(fit_workflow=workflow)(recorder, context)
    final = compat.arrayrecord_to_parameters(context.state.array_records[MAIN_PARAMS_RECORD],
                                             keep_input=True)
    per_round_metrics: dict[int, dict[str, Any]] = {}
    for key, values in context.history.metrics_distributed_fit.items():
        for server_round, value in values:
            per_round_metrics.setdefault(int(server_round), {})[key] = value
    return SecAggResult(as_record(parameters_to_ndarrays(final)), per_round_metrics, recorder)
