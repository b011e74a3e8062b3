"""Reproducible node ids in the Simulation Engine.

Flower draws each simulated SuperNode's id from ``os.urandom`` and samples phones with
``random.sample`` over the connected ids, so even with ``random`` seeded the phones (partition
ids) sampled in a round differ from run to run. While the engine registers its nodes, ids are
drawn instead from a generator seeded by the run's seed: the same seed gives the same ids in the
same order, hence the same phones sampled, which ``resume=`` relies on. Registration happens once,
in the engine's thread; only the node-id draw made there is affected.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def deterministic_node_ids(seed: int) -> Iterator[None]:
    from flwr.server.superlink.fleet.vce import vce_api
    from flwr.server.superlink.linkstate import in_memory_linkstate

    register, draw = vce_api._register_nodes, in_memory_linkstate.generate_rand_int_from_bytes
    local = threading.local()

    def seeded_draw(num_bytes: int, exclude: set[int] | None = None) -> int:
        rng = getattr(local, "rng", None)
        if rng is None:
            return draw(num_bytes, exclude)
        while (value := rng.getrandbits(8 * num_bytes)) in (exclude or ()):
            pass
        return value

    def seeded_register(num_nodes, state_factory):
        local.rng = random.Random(f"lanhar-fl node ids {seed}")
        try:
            return register(num_nodes, state_factory)
        finally:
            local.rng = None

    vce_api._register_nodes = seeded_register
    in_memory_linkstate.generate_rand_int_from_bytes = seeded_draw
    try:
        yield
    finally:
        vce_api._register_nodes = register
        in_memory_linkstate.generate_rand_int_from_bytes = draw
