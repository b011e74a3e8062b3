"""A Flower app that does no work: the floor of a deployed round (``lanhar-fl bench deployment``).

Each round the ServerApp sends every connected SuperNode a ``train`` message holding a 10-float
array, waits for all replies and records the wall time; the ClientApp echoes the array with the
age of its own process (start-up and imports of ``flwr-clientapp``, as the kernel dates it).
The ServerApp writes ``{"round_seconds": [...], "clientapp_age_seconds": [[...], ...]}`` to
the run config's ``out`` path.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

server = ServerApp()
client = ClientApp()


def _process_age_s() -> float:
    """Seconds since this process started (Linux: /proc)."""
    ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - ticks / os.sysconf("SC_CLK_TCK")


@client.train()
def train(msg: Message, context: Context) -> Message:
    age = _process_age_s()
    content = RecordDict({"arrays": msg.content["arrays"],
                          "metrics": MetricRecord({"clientapp-age-s": age})})
    return Message(content, reply_to=msg)


@server.main()
def main(grid: Grid, context: Context) -> None:
    rounds, out = int(context.run_config["rounds"]), str(context.run_config["out"])
    arrays = ArrayRecord([np.zeros(10, dtype=np.float32)])
    seconds, ages = [], []
    for server_round in range(1, rounds + 1):
        nodes = sorted(grid.get_node_ids())
        started = time.perf_counter()
        messages = [Message(RecordDict({"arrays": arrays}), dst_node_id=node,
                            message_type="train", group_id=str(server_round)) for node in nodes]
        replies = list(grid.send_and_receive(messages, timeout=600))
        seconds.append(time.perf_counter() - started)
        ages.append([float(r.content["metrics"]["clientapp-age-s"]) for r in replies
                     if r.has_content()])
        print(f"bare round {server_round}/{rounds}: {len(ages[-1])}/{len(nodes)} replies, "
              f"{seconds[-1]:.2f}s", flush=True)
    if out:
        Path(out).write_text(json.dumps({"round_seconds": seconds,
                                         "clientapp_age_seconds": ages}) + "\n")
