"""Console logging for the ``lanhar-fl`` command: one line per event.

Flower's ``flwr`` logger has its own coloured console handler; letting its records also reach the
root handler printed every Flower line twice. Flower also logs each strategy's ConfigRecords,
which carry the whole composed configuration (thousands of characters): that text is replaced by
a pointer to the run folder's ``config.yaml``. ``verbose=true`` restores Flower's debug lines,
the phones' (Ray actors') output and transformers' progress bars.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

OURS = ("lanhar_fl", "server", "client", "simulations")
# Notices that concern Flower's own API choices, not anything a lanhar-fl user can act on.
QUIET_FLOWER_NOTICES = ("DEPRECATED FEATURE: The `run_simulation` function",)


class _DropNotices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg) % record.args if record.args else str(record.msg)
        return not any(notice in message for notice in QUIET_FLOWER_NOTICES)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (not at set-up), so that a
    redirected or captured stderr gets the lines and a closed one is never written to."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure(verbose: bool = False) -> None:
    """Root handler for warnings, INFO for our loggers, Flower's lines printed once."""
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for ours in OURS:
        logging.getLogger(ours).setLevel(logging.DEBUG if verbose else logging.INFO)
    flower = logging.getLogger("flwr")
    flower.propagate = False  # Flower prints through its own handler
    if not any(isinstance(f, _DropNotices) for f in flower.filters):
        flower.addFilter(_DropNotices())
    if verbose:
        from flwr.common.logger import update_console_handler

        update_console_handler(level=logging.DEBUG, timestamps=True, colored=True)
    else:
        with contextlib.suppress(ImportError):
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()


class _SummariseText(logging.Filter):
    """Replaces one long text inside log records with a short summary."""

    def __init__(self, text: str, summary: str) -> None:
        super().__init__()
        self.text, self.summary = text, summary

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(a.replace(self.text, self.summary) if isinstance(a, str) else a
                                for a in args)
        if isinstance(record.msg, str):
            record.msg = record.msg.replace(self.text, self.summary)
        return True


@contextlib.contextmanager
def summarised_in_flower_logs(text: str, summary: str) -> Iterator[None]:
    """While active, Flower's log lines show ``summary`` where they would print ``text``."""
    flower = logging.getLogger("flwr")
    summariser = _SummariseText(text, summary)
    flower.addFilter(summariser)
    try:
        yield
    finally:
        flower.removeFilter(summariser)
