"""Stopping what a run started when it is interrupted: Ray and every child process.

``ray.shutdown()`` alone leaves some of Ray's node processes (the dashboard agent) running for
about a minute, and by the time it returns they have been re-parented away from us; so the
descendants of this process are collected when SIGINT arrives, before anything is shut down.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any


def psutil_module() -> Any:
    try:
        import psutil
    except ModuleNotFoundError:  # Ray vendors psutil and puts it on the path when imported
        importlib.import_module("ray")
        import psutil
    return psutil


def descendants() -> list[Any]:
    """``psutil.Process`` objects of every descendant of this process (alive now)."""
    psutil = psutil_module()
    try:
        return psutil.Process().children(recursive=True)
    except psutil.Error:
        return []


def stop(processes: list[Any], grace_s: float = 5.0) -> list[Any]:
    """SIGTERM, then after ``grace_s`` SIGKILL; returns those still alive (should be none).
    ``psutil.Process`` checks its creation time, so a reused PID is never signalled."""
    psutil = psutil_module()
    live = []
    for proc in processes:
        try:
            proc.terminate()
            live.append(proc)
        except psutil.Error:
            pass
    _, live = psutil.wait_procs(live, timeout=grace_s)
    for proc in live:
        with suppress(psutil.Error):
            proc.kill()
    return psutil.wait_procs(live, timeout=2.0)[1]


def _shutdown_ray() -> None:
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


@contextmanager
def stop_children_on_interrupt(grace_s: float = 5.0) -> Iterator[None]:
    """On SIGINT (KeyboardInterrupt) inside the block: shut Ray down, stop every process this
    one started (seen when the signal came or now), and re-raise."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen: dict[int, Any] = {}

    def remember() -> None:
        for proc in descendants():
            seen.setdefault(proc.pid, proc)

    def on_sigint(signum: int, frame: Any) -> None:
        remember()
        # Flower's worker threads log every in-flight message that the teardown cancels, with a
        # traceback each; after the user stopped the run they say nothing useful
        logging.getLogger("flwr").setLevel(logging.CRITICAL)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    except KeyboardInterrupt:
        remember()
        _shutdown_ray()
        remember()
        stop(list(seen.values()), grace_s)
        raise
    finally:
        signal.signal(signal.SIGINT, previous)


def exit_if_threads_linger(code: int, wait_s: float = 2.0) -> None:
    """After an interruption, a non-daemon thread still running (Flower's ServerApp thread
    waits for replies up to its round timeout) would keep the interpreter alive at exit: end
    the process now with ``code`` instead. A no-op when no such thread is left."""
    others = [t for t in threading.enumerate()
              if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    for thread in others:
        thread.join(wait_s / max(1, len(others)))
    if any(t.is_alive() for t in others):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
