"""Run folders: a run writes into ``<run_dir>.partial-<pid>`` and is moved into place only when
it completes, so a failed or repeated run never mixes with (or destroys) a finished one.

- A ``run_dir`` holding a finished run (``metrics.json`` or ``bench.json`` and no
  ``INCOMPLETE.json``) is refused unless ``overwrite=true``; when overwriting, the old folder is
  replaced only once the new run has completed.
- A run that fails or is interrupted leaves ``INCOMPLETE.json`` (reason, last completed round,
  time) in its partial folder, which is moved to ``run_dir`` when that did not exist and kept
  beside it otherwise. A partial folder with nothing written in it is removed.
- A non-empty ``run_dir`` that is not a run (no metrics, bench or incomplete marker) is refused:
  replacing it would delete files lanhar-fl did not write.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from .config import ConfigError

FINISHED = ("metrics.json", "bench.json")
INCOMPLETE = "INCOMPLETE.json"
PROGRESS = "history.json"  # rewritten by the server after each round (server/progress.py)


def is_finished(folder: Path) -> bool:
    return (any((folder / name).is_file() for name in FINISHED)
            and not (folder / INCOMPLETE).exists())


def last_round(folder: Path) -> int | None:
    """The last completed federated round recorded in ``folder/history.json``, if any."""
    try:
        rows = json.loads((folder / PROGRESS).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(rows, list):  # `lanhar-fl train` writes a dict of epochs
        return None
    rounds = [int(r["round"]) for r in rows if isinstance(r, dict)
              and isinstance(r.get("round"), int)]
    return max(rounds, default=None)


def _check_parents(run_dir: Path) -> None:
    for parent in run_dir.parents:
        if not parent.exists():
            continue
        if not parent.is_dir():
            raise ConfigError(f"run_dir={run_dir}: {parent} is a file, not a folder")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(f"run_dir={run_dir}: cannot write in {parent} (permission denied)")
        return


PARTIAL = ".partial-"


def final_path(run_dir: str | Path) -> Path:
    """The ``run_dir`` a run's folder becomes: the folder itself unless it is a partial one."""
    path = Path(run_dir).expanduser().absolute()
    match = re.fullmatch(rf"(.+){re.escape(PARTIAL)}\d+", path.name)
    return path.with_name(match.group(1)) if match else path


class RunFolder:
    """The target ``run_dir`` and the partial folder a run writes into."""

    def __init__(self, final: Path, partial: Path) -> None:
        self.final, self.partial = final, partial

    @classmethod
    def open(cls, run_dir: str | Path, overwrite: bool = False) -> RunFolder:
        """Check ``run_dir`` and create the partial folder beside it; ``ConfigError`` if the
        folder holds a finished run (and not ``overwrite``), is a file or cannot be written."""
        final = Path(run_dir).expanduser().absolute()
        if final.exists() and not final.is_dir():
            raise ConfigError(f"run_dir={run_dir}: exists and is not a folder")
        _check_parents(final)
        if final.is_dir():
            if is_finished(final):
                if not overwrite:
                    raise ConfigError(f"run_dir={run_dir} already holds a finished run; choose "
                                      "another run_dir, or overwrite=true to replace it")
            elif not (final / INCOMPLETE).exists() and any(final.iterdir()):
                raise ConfigError(f"run_dir={run_dir} holds files that are not a lanhar-fl run; "
                                  "choose a new or empty folder")
        partial = final.with_name(f"{final.name}{PARTIAL}{os.getpid()}")
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            if partial.exists():  # left by an earlier process with our pid
                shutil.rmtree(partial)
            partial.mkdir()
        except OSError as exc:
            raise ConfigError(f"run_dir={run_dir}: cannot create {partial}: "
                              f"{exc.strerror or exc}") from exc
        return cls(final, partial)

    def commit(self) -> Path:
        """Move the completed run into place (replacing an older run only now)."""
        old = None
        if self.final.exists():
            old = self.final.with_name(f"{self.final.name}.old-{os.getpid()}")
            self.final.rename(old)
        self.partial.rename(self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def abandon(self, reason: str) -> Path | None:
        """Mark the run incomplete; returns where its partial results are (None: nothing was
        written, and the empty partial folder is removed)."""
        if not self.partial.is_dir():
            return None
        if not any(self.partial.iterdir()):
            self.partial.rmdir()
            return None
        marker: dict[str, Any] = {
            "reason": reason, "last_completed_round": last_round(self.partial),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "run_dir": str(self.final)}
        (self.partial / INCOMPLETE).write_text(json.dumps(marker, indent=1) + "\n")
        if self.final.is_dir() and not any(self.final.iterdir()):
            self.final.rmdir()
        if not self.final.exists():
            self.partial.rename(self.final)
            return self.final
        return self.partial
