"""``lanhar-fl bench textside``: the ceiling a text side gives the sensor encoder.

Before any sensor training: the target windows' interpretations, embedded by a text side, are
assigned to the nearest label prototype; accuracy and per-class recall say what those
embeddings separate (the sensor encoder can only learn that). One text side per entry of
``bench.text_sides`` (stage-1 sources as in ``federation.stage1_source``: ``none`` is the
pretrained encoder; e.g. ``synthetic``, ``uci_hapt:1-10``, ``synthetic+uci_hapt:1-10``), each
checked against the run's phone and test subjects like a federation. Target: the protocol's
test windows, stratified down to ``bench.target_max_windows``. Stage 1 follows
``train.stage1`` (e.g. ``train.stage1.trainable_layers=2``).

Example (README): ``lanhar-fl bench textside dataset=uci_hapt dataset.root=DIR
label_space=four_class protocol.train_subjects=11-21 train.stage1.epochs=3
train.stage1.trainable_layers=1``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from lanhar_fl.data.registry import stratified_subsample
from lanhar_fl.eval.metrics import classification_metrics
from lanhar_fl.federated.population import split_for
from lanhar_fl.semantics.interpret import interpret_windows
from lanhar_fl.semantics.label_bank import nearest_prototype

DEFAULTS = {"text_sides": ["none", "synthetic", "uci_hapt:1-10", "synthetic+uci_hapt:1-10"],
            "target_max_windows": 600}


def settings(cfg: DictConfig) -> dict[str, Any]:
    bench = cfg.get("bench") or {}
    if OmegaConf.is_config(bench):
        bench = OmegaConf.to_container(bench, resolve=True)
    out = {**DEFAULTS, **{k: v for k, v in dict(bench).items() if k in DEFAULTS}}
    sides = out["text_sides"]
    out["text_sides"] = [sides] if isinstance(sides, str) else list(sides)
    return out


def run(cfg: DictConfig) -> dict[str, Any]:
    from server.text_side import server_text_side

    opts = settings(cfg)
    split = split_for(cfg)
    target = split.test.reveal_labels_for_evaluation()  # evaluation only: nothing trains on it
    cap = int(opts["target_max_windows"] or 0)
    if cap and len(target) > cap:
        target = target.subset(stratified_subsample(target.labels, cap, int(cfg.seed)))
    texts = list(interpret_windows(target, cfg, labels_known=False, progress=False).texts)
    y_true = np.array([split.bank_classes.index(target.class_names[i]) for i in target.labels])
    rows = []
    for source in opts["text_sides"]:
        run_cfg = cfg.copy()
        OmegaConf.set_struct(run_cfg, False)
        run_cfg.federation.text_side_path = None
        run_cfg.federation.stage1_source = source
        start = time.perf_counter()
        side = server_text_side(run_cfg, split.bank_classes, split.seen_classes)
        built = time.perf_counter() - start
        predicted = nearest_prototype(side.embed(texts, progress=False), side.bank)
        m = classification_metrics(y_true, predicted, split.bank_classes)
        meta = side.metrics(split, run_cfg)
        rows.append({
            "text_side": str(source), "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
            "recall": {c: m["per_class"][c]["recall"] for c in split.bank_classes},
            "stage1_seconds": round(built, 1),
            "stage1_epoch_seconds": [round(x, 1) for x in
                                     side.stage1_history.get("epoch_seconds", [])],
            "stage1_windows": sum(int(s.get("windows") or 0)
                                  for s in meta["text_side"].get("sources") or []),
            "text_side_saw_phone_users": meta["text_side_saw_phone_users"],
        })
        print(f"{source}: accuracy {m['accuracy']:.3f}, recall " + ", ".join(
            f"{c} {r:.2f}" for c, r in rows[-1]["recall"].items()) + f" ({built:.0f} s)",
            flush=True)
    return {"target": {"dataset": split.test_dataset,
                       "subjects": sorted(int(s) for s in np.unique(target.subjects)),
                       "windows": len(target), "classes": split.bank_classes},
            "stage1": OmegaConf.to_container(cfg.train.stage1, resolve=True),
            "text_encoder": str(cfg.text_encoder.name), "rows": rows}
