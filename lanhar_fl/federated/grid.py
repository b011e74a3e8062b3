"""A Grid that delegates everything to another Grid: the base of the server's grid wrappers,
and the record they keep of each send-and-receive."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flwr.app import Error, Message
from flwr.serverapp import Grid

from . import schema


@dataclass
class Exchange:
    """One send-and-receive: who was asked, who answered, what each uploaded."""

    message_type: str
    group_id: str
    sent_to: list[int]
    replied: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)  # every error reply, refusals too
    refused: dict[int, str] = field(default_factory=dict)  # phones whose policy said no
    bytes_uploaded: dict[int, int] = field(default_factory=dict)
    artifacts_sent_to: list[int] = field(default_factory=list)
    seconds: float = 0.0  # wall time from sending to the last reply
    phone_seconds: dict[int, float] = field(default_factory=dict)  # each phone's own work

    def record_error(self, node: int, error: Error) -> None:
        """An error reply from ``node``: failed, and refused when its policy refused the config."""
        self.failed[node] = str(error.reason)
        if error.code == schema.POLICY_REFUSED:
            self.refused[node] = str(error.reason)

    def summary(self) -> dict[str, Any]:
        """The history entry's view of this exchange (phones, uploads, time)."""
        uploads = list(self.bytes_uploaded.values())
        row: dict[str, Any] = {
            "phones_sampled": len(self.sent_to), "phones_replied": len(self.replied),
            "phones_failed": len(self.failed), "phones_refused": len(self.refused),
            "artifacts_sent": len(self.artifacts_sent_to),
            "bytes_uploaded_per_phone": float(np.mean(uploads)) if uploads else 0.0,
            "round_seconds": self.seconds,
            "phone_train_seconds": sum(self.phone_seconds.values())}
        if self.refused:
            row["refusal_reasons"] = sorted(set(self.refused.values()))
        return row


class DelegatingGrid(Grid):
    """Forwards the whole Grid interface to ``grid``; subclasses override what they watch."""

    def __init__(self, grid: Grid) -> None:
        self._grid = grid

    def set_run(self, run) -> None:
        self._grid.set_run(run)

    @property
    def run(self):
        return self._grid.run

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None):
        return self._grid.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> Iterable[int]:
        return self._grid.get_node_ids()

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        return self._grid.push_messages(messages)

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return self._grid.pull_messages(message_ids)

    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> Iterable[Message]:
        return self._grid.send_and_receive(messages, timeout=timeout)
