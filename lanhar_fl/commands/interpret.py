"""``lanhar-fl interpret dataset=NAME [dataset.root=DIR] index=I``."""

from __future__ import annotations

import json
import sys

from omegaconf import DictConfig

from ..config import ConfigError
from ..data.registry import load_windows
from ..semantics.interpret import interpret_windows
from ..semantics.interpreters import InterpreterError


def interpret(cfg: DictConfig) -> int:
    """Print the interpretation of window ``index``, then one JSON line about it."""
    windows = load_windows(cfg)
    index = cfg.get("index", 0)
    if not isinstance(index, int) or not 0 <= index < len(windows):
        raise ConfigError(f"index={index} is outside the {len(windows)} windows of dataset "
                          f"{windows.dataset!r} (valid: 0..{len(windows) - 1})")
    window = windows.subset([index])
    try:
        result = interpret_windows(window, cfg, progress=False)
    except InterpreterError as exc:
        print(f"lanhar-fl: error: {exc}", file=sys.stderr)
        return 2
    print(result.texts[0])
    print(json.dumps({
        "backend": result.backend,
        "model": result.model_id,
        "attempts": result.attempts[0],
        "valid": result.valid[0],
        "fallback": result.fallback[0],
        "rejections": result.stats["rejections"],
        "cache_hit": result.stats["cache_hits"] > 0,
        "index": index,
        "dataset": windows.dataset,
        "label": window.label_names[0],
        "subject": int(window.subjects[0]),
        "features": {k: round(v, 6) for k, v in result.features.row(0).items()},
    }))
    return 0
