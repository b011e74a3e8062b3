"""Peak resident memory of this process and all its descendants (Ray's node processes and
workers included), sampled every ``interval_s`` in a thread while a block runs."""

from __future__ import annotations

import threading
from contextlib import suppress
from types import TracebackType

from lanhar_fl.processes import psutil_module


def tree_rss() -> int:
    """Sum of the resident set sizes (bytes) of this process and every descendant now."""
    psutil = psutil_module()
    me = psutil.Process()
    total = 0
    for proc in [me, *me.children(recursive=True)]:
        with suppress(psutil.Error):  # ended between listing and reading
            total += proc.memory_info().rss
    return total


class PeakMemory:
    """``with PeakMemory() as peak: ...``; then ``peak.bytes`` is the largest sum seen."""

    def __init__(self, interval_s: float = 0.5) -> None:
        self.interval_s, self.bytes = interval_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="peak-memory", daemon=True)

    def _watch(self) -> None:
        while True:
            self.bytes = max(self.bytes, tree_rss())
            if self._stop.wait(self.interval_s):
                return

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.bytes = max(self.bytes, tree_rss())
