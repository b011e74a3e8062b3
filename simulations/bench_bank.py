"""``lanhar-fl bench bank``: the per-class feature medians the label bank's waist numbers cite.

The numbers in ``label_descriptions.yaml``'s waist sensor patterns (acc mean, jerk rms, step
rate, peak to valley, ...) may come from public data only. This prints, per class, the median
(and 25-75 % range) of those features over the windows of public sources (``bench.source``,
stage-1 syntax as in ``federation.stage1_source``; default ``uci_hapt:1-10``), checked against
the run's phone and test subjects like a federation, so the bank's provenance entry can name
exactly which users its numbers were read from. Example (README):

    lanhar-fl bench bank dataset=uci_hapt dataset.root=DIR label_space=four_class \
        protocol.train_subjects=11-21
"""

from __future__ import annotations

from typing import Any

import numpy as np
from omegaconf import DictConfig

from lanhar_fl.config import ConfigError
from lanhar_fl.data.registry import load_windows
from lanhar_fl.federated.population import split_for
from lanhar_fl.pipeline import stage1_sources
from lanhar_fl.semantics.features import compute_features

# The features the waist patterns of label_descriptions.yaml cite.
CITED = ("acc_mag_mean", "acc_mag_p2p", "jerk_rms", "gyro_mag_rms", "vert_rms", "horiz_rms",
         "vert_horiz_ratio", "dominant_freq", "step_freq", "ibi_cv", "crest_factor",
         "net_rotation", "gyro_step_freq", "impact_p2v_median")
WHERE = "bench.source"


def class_medians(windows, names: tuple[str, ...] = CITED) -> dict[str, dict[str, Any]]:
    """Per class and feature: median, 25th and 75th percentile, windows present."""
    table = compute_features(windows)
    out: dict[str, dict[str, Any]] = {}
    for k, cls in enumerate(windows.class_names):
        rows = windows.labels == k
        out[cls] = {}
        for name in names:
            v = table.column(name)[rows]
            v = v[np.isfinite(v)]
            out[cls][name] = ({"median": float(np.median(v)), "p25": float(np.percentile(v, 25)),
                               "p75": float(np.percentile(v, 75)), "n": int(len(v))}
                              if len(v) else {"median": None, "n": 0})
    return out


def run(cfg: DictConfig) -> dict[str, Any]:
    bench = cfg.get("bench") or {}
    setting = bench.get("source") or "uci_hapt:1-10"
    sources = stage1_sources.parse_sources(setting, WHERE)
    if isinstance(sources, str):
        raise ConfigError(f"{WHERE}: name public sources, e.g. uci_hapt:1-10")
    split = split_for(cfg)
    stage1_sources.check_public(sources, stage1_sources.private_users(split, cfg), cfg, WHERE)
    out = []
    for src in sources:
        windows = stage1_sources.load_source(cfg, src, split.seen_classes, phones=int(
            cfg.federation.get("stage1_public_phones", 24)), max_windows=None, where=WHERE,
            load_windows=load_windows)
        record = stage1_sources.source_record(src, cfg, windows)
        medians = class_medians(windows) if windows is not None else {}
        print(f"{record['dataset']} subjects {record['subjects_compact']} "
              f"({record['windows']} windows): median [p25-p75]")
        for cls, feats in medians.items():
            print(f"  {cls}: " + ", ".join(
                f"{n} {f['median']:.3g} [{f['p25']:.3g}-{f['p75']:.3g}]"
                for n, f in feats.items() if f["n"]), flush=True)
        out.append({**record, "medians": medians})
    return {"sources": out}
