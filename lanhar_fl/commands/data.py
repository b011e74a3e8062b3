"""``lanhar-fl data summary``."""

from __future__ import annotations

import json

from omegaconf import DictConfig

from ..data.registry import load_windows
from ..data.summary import summarize


def summary(cfg: DictConfig) -> int:
    windows = load_windows(cfg)
    print(json.dumps(summarize(windows)))
    return 0
