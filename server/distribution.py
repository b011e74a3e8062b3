"""A Grid wrapper between the strategy and the real Grid: artefact delivery and reply audit.

Strategies (FedAvg, FedProx, FedAdam, DP wrappers) build the same messages for every phone. This
wrapper adds the text-side artefacts to the messages of phones that do not hold the current
version yet (a bank updated mid-federation reaches every phone at its next round), records what
each phone uploaded, and checks every reply against the privacy boundary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping

from flwr.app import Message, MessageType, RecordDict
from flwr.serverapp import Grid

from lanhar_fl.federated import schema
from lanhar_fl.federated.audit import reply_violations
from lanhar_fl.federated.grid import DelegatingGrid, Exchange

log = logging.getLogger(__name__)


class PrivacyBoundaryError(RuntimeError):
    """A phone's reply carried something other than model arrays and scalar metrics."""


class ArtifactGrid(DelegatingGrid):
    """Delegates to ``grid``; adds artefacts to messages and audits replies."""

    def __init__(self, grid: Grid, expected_shapes: Mapping[str, tuple[int, ...]],
                 strict_audit: bool = True) -> None:
        super().__init__(grid)
        self.expected_shapes = dict(expected_shapes)
        self.strict_audit = strict_audit
        self.artifacts: dict = {}
        self.version = ""
        self.delivered: dict[int, str] = {}
        self.exchanges: list[Exchange] = []
        self.violations: list[str] = []

    def set_artifacts(self, records: dict, version: str) -> None:
        """Publish a new artefact version; each phone receives it with its next message."""
        self.artifacts = dict(records)
        self.version = version

    # -- the part that matters -----------------------------------------------------------------
    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> Iterable[Message]:
        outgoing: list[Message] = []
        exchange: Exchange | None = None
        for msg in messages:
            node = msg.metadata.dst_node_id
            if exchange is None:
                exchange = Exchange(msg.metadata.message_type, msg.metadata.group_id, [])
            exchange.sent_to.append(node)
            if self.artifacts and self.delivered.get(node) != self.version:
                content = RecordDict({**dict(msg.content.items()), **self.artifacts})
                msg = Message(content=content, dst_node_id=node,
                              message_type=msg.metadata.message_type,
                              group_id=msg.metadata.group_id)
                exchange.artifacts_sent_to.append(node)
            outgoing.append(msg)
        if not outgoing:
            return []
        started = time.perf_counter()
        replies = list(self._grid.send_and_receive(outgoing, timeout=timeout))
        assert exchange is not None
        exchange.seconds = time.perf_counter() - started
        is_train = exchange.message_type == MessageType.TRAIN
        # The grid gave each outgoing message its ID. Error replies the SuperLink makes for a
        # phone that stopped heartbeating come from the SuperLink's own node ID, not the phone's:
        # attribute every reply to the phone its message went to.
        asked = {m.metadata.message_id: m.metadata.dst_node_id for m in outgoing}
        for reply in replies:
            node = asked.get(reply.metadata.reply_to_message_id, reply.metadata.src_node_id)
            if reply.has_error():
                exchange.record_error(node, reply.error)
                log.warning("phone %s %s %s: %s", node, "refused" if node in exchange.refused
                            else "failed in", exchange.message_type, reply.error.reason)
                continue
            exchange.replied.append(node)
            if node in exchange.artifacts_sent_to:
                self.delivered[node] = self.version
            self._audit(node, reply.content, is_train)
            arrays = reply.content.get(schema.ARRAYS)
            exchange.bytes_uploaded[node] = arrays.count_bytes() if arrays is not None else 0
            metrics = reply.content.get(schema.METRICS)
            if metrics is not None and schema.TRAIN_SECONDS in metrics:
                exchange.phone_seconds[node] = float(metrics[schema.TRAIN_SECONDS])
        missing = set(exchange.sent_to) - set(exchange.replied) - set(exchange.failed)
        for node in missing:
            exchange.failed[node] = "no reply before the timeout"
        self.exchanges.append(exchange)
        return replies

    def _audit(self, node: int, content: RecordDict, is_train: bool) -> None:
        problems = reply_violations(content, self.expected_shapes, is_train)
        if problems:
            text = f"phone {node}: " + "; ".join(problems)
            self.violations.append(text)
            if self.strict_audit:
                raise PrivacyBoundaryError(text)
