"""A Grid that delegates everything to another Grid: the base of the server's grid wrappers,
and the record they keep of each send-and-receive."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from flwr.app import Message
from flwr.serverapp import Grid


@dataclass
class Exchange:
    """One send-and-receive: who was asked, who answered, what each uploaded."""

    message_type: str
    group_id: str
    sent_to: list[int]
    replied: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    bytes_uploaded: dict[int, int] = field(default_factory=dict)
    artifacts_sent_to: list[int] = field(default_factory=list)
    seconds: float = 0.0  # wall time from sending to the last reply
    phone_seconds: dict[int, float] = field(default_factory=dict)  # each phone's own work


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
