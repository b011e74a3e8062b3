"""``lanhar-fl data summary`` and ``lanhar-fl data compare``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from ..config import ConfigError, load_config
from ..data.registry import DATASETS, load_windows
from ..data.summary import summarize
from ..data.windows import Windows


def summary(cfg: DictConfig) -> int:
    windows = load_windows(cfg)
    print(json.dumps(summarize(windows)))
    return 0


def _only_subjects(windows: Windows, value: object, where: str) -> Windows:
    if value in (None, ""):
        return windows
    from ..pipeline.stage1_sources import parse_subjects

    keep = np.isin(windows.subjects, parse_subjects(value, where))
    if not keep.any():
        raise ConfigError(f"{where}={value}: no windows of {windows.dataset!r} from those subjects")
    return windows.subset(np.flatnonzero(keep))


def _other_config(cfg: DictConfig, spec: DictConfig) -> DictConfig:
    """``cfg`` with its dataset replaced by ``compare.dataset`` (same data and label space)."""
    name = spec.get("dataset")
    if name not in DATASETS:
        raise ConfigError(f"compare.dataset must be one of {', '.join(DATASETS)} "
                          f"(e.g. +compare.dataset=uci_hapt), got {name!r}")
    other = cfg.copy()
    OmegaConf.set_struct(other, False)
    other.dataset = load_config([f"dataset={name}"]).dataset
    if spec.get("root") not in (None, ""):
        other.dataset.root = str(spec.root)
    return other


def compare(cfg: DictConfig) -> int:
    """Per class and grounded feature, the KS statistic between ``dataset`` and
    ``compare.dataset`` -> ``run_dir/data_compare.json`` + ``data_compare.png``."""
    from ..data.compare import Side, compare_windows, heatmap_plot, summary_lines

    spec = cfg.get("compare")
    if not spec:
        raise ConfigError("data compare needs a second dataset: +compare.dataset=NAME "
                          "[+compare.root=DIR] [+compare.subjects=1-10] "
                          "[+compare.base_subjects=..] [+compare.as_read=true]")
    a = _only_subjects(load_windows(cfg), spec.get("base_subjects"), "compare.base_subjects")
    b = _only_subjects(load_windows(_other_config(cfg, spec)), spec.get("subjects"),
                       "compare.subjects")

    def label(w: Windows, subjects: object) -> str:
        return w.dataset + (f":{subjects}" if subjects not in (None, "") else "")

    result = compare_windows(Side(label(a, spec.get("base_subjects")), a),
                             Side(label(b, spec.get("subjects")), b),
                             min_windows=int(spec.get("min_windows", 5)),
                             as_read=bool(spec.get("as_read", False)))
    if not result["classes"]:
        raise ConfigError(f"{a.dataset} ({list(a.class_names)}) and {b.dataset} "
                          f"({list(b.class_names)}) share no class in label_space="
                          f"{cfg.label_space.get('name')}")
    run_dir = Path(str(cfg.run_dir)).expanduser()
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "data_compare.json").write_text(json.dumps(result, indent=1) + "\n")
    heatmap_plot(result, run_dir / "data_compare.png")
    for line in summary_lines(result, worst=int(spec.get("worst", 4))):
        print(line)
    print(f"wrote {run_dir / 'data_compare.json'} and {run_dir / 'data_compare.png'}")
    return 0
