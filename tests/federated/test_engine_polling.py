"""The Simulation Engine's message sweep visits only nodes with a message waiting."""

from __future__ import annotations

import threading
from queue import Queue
from types import SimpleNamespace

from flwr.server.superlink.fleet.vce import vce_api

from simulations.engine_polling import _waiting_nodes, sampled_only_polling


class _State:
    """The two things the sweep reads of an in-memory LinkState, and the call it makes."""

    def __init__(self, pending: dict[int, int]) -> None:
        self.lock = threading.Lock()
        self.message_ins_store = {
            f"m{i}": SimpleNamespace(metadata=SimpleNamespace(dst_node_id=node,
                                                              delivered_at="" if i else "t"))
            for i, node in pending.items()}
        self.asked: list[int] = []

    def get_message_ins(self, node_id: int, limit: int) -> list:
        self.asked.append(node_id)
        found = [m for m in self.message_ins_store.values()
                 if m.metadata.dst_node_id == node_id and m.metadata.delivered_at == ""]
        for m in found[:limit]:
            m.metadata.delivered_at = "now"
        return found[:limit]


def test_sweep_asks_only_nodes_with_undelivered_messages_in_engine_order():
    state = _State({0: 5, 1: 7, 2: 3})  # message 0 (to node 5) is already delivered
    assert _waiting_nodes(state) == {7, 3}
    assert _waiting_nodes(object()) is None  # not in-memory: Flower's own sweep
    nodes = {n: n for n in range(10_000)}
    queue: Queue = Queue()
    stop = threading.Event()
    original = vce_api.add_messages_to_queue
    with sampled_only_polling():
        sweep = threading.Thread(target=vce_api.add_messages_to_queue,
                                 args=(state, queue, nodes, stop))
        sweep.start()
        messages = [queue.get(timeout=5) for _ in range(2)]
        stop.set()
        sweep.join(timeout=5)
    assert vce_api.add_messages_to_queue is original
    assert [m.metadata.dst_node_id for m in messages] == [3, 7]
    assert set(state.asked) == {3, 7}  # 2 asks, not one per registered node
