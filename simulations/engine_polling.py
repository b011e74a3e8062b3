"""Message delivery in the Simulation Engine that costs what is sampled, not what is registered.

Flower's engine (``flwr.server.superlink.fleet.vce.vce_api.add_messages_to_queue``) sweeps every
registered node each 0.1 s and asks the in-memory LinkState for that node's messages; each ask
scans every stored message. With 10,000 phones and 20 sampled a round, one sweep is 10,000 scans
and a round's messages wait for it. Here a sweep first reads, under the state's lock, which nodes
have an undelivered message and asks only for those, in the engine's node order; the delivery
itself is still the state's ``get_message_ins`` (which also expires stale messages). A LinkState
without the in-memory store keeps Flower's sweep.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from queue import Queue
from typing import Any


def _waiting_nodes(state: Any) -> set[int] | None:
    """Destination node ids of undelivered messages; None when ``state`` is not in-memory."""
    store, lock = getattr(state, "message_ins_store", None), getattr(state, "lock", None)
    if not isinstance(store, dict) or lock is None:
        return None
    with lock:
        return {m.metadata.dst_node_id for m in list(store.values())
                if m.metadata.delivered_at == ""}


@contextmanager
def sampled_only_polling() -> Iterator[None]:
    """Within the block, the engine's sweep visits only nodes with a message waiting."""
    from flwr.server.superlink.fleet.vce import vce_api

    original = vce_api.add_messages_to_queue

    def add_messages_to_queue(state: Any, queue: Queue, nodes_mapping: dict,
                              f_stop: threading.Event) -> None:
        if _waiting_nodes(state) is None:
            return original(state, queue, nodes_mapping, f_stop)
        while not f_stop.is_set():
            waiting = _waiting_nodes(state) or set()
            for node_id in [n for n in nodes_mapping if n in waiting] if waiting else ():
                for message in state.get_message_ins(node_id=node_id, limit=1):
                    queue.put(message)
            f_stop.wait(0.1)
        return None

    vce_api.add_messages_to_queue = add_messages_to_queue
    try:
        yield
    finally:
        vce_api.add_messages_to_queue = original
