"""``lanhar-fl bench llm interpreter=hf interpreter.model_path=PATH +bench_windows=N``.

On N windows of the run's test subjects (stratified by class; labels used for scoring only):

- how the LLM's interpretations were obtained: share valid on the first attempt, share valid
  after re-generation, share replaced by the grounded fallback, rejections by reason;
- cost: seconds per window of the main pass over the N windows on ``+bench_threads=K`` threads
  (default: all cores; ``1`` leaves the other cores to other work) and with one thread on
  ``+bench_single_windows=M`` windows (default 8), tokens per second of guided generation, model
  load seconds;
- the text-side ceiling (as ``bench textside``: nearest label prototype of each text's
  embedding) of the LLM's texts and of the grounded texts of the same windows, and how often the
  two pick the same class. Text side: ``+bench_text_side=SOURCE`` (a ``federation.stage1_source``
  value; default ``none``: the pretrained encoder).

The interpretation cache is off here, so every window is generated.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from lanhar_fl.config import ConfigError
from lanhar_fl.data.registry import stratified_subsample
from lanhar_fl.eval.metrics import classification_metrics
from lanhar_fl.federated.population import split_for
from lanhar_fl.semantics.interpret import interpret_windows
from lanhar_fl.semantics.interpreters import build_interpreter
from lanhar_fl.semantics.label_bank import nearest_prototype


def _timed(windows, cfg: DictConfig, interpreter, threads: int,
           progress: bool = False) -> tuple[Any, float]:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        start = time.perf_counter()
        result = interpret_windows(windows, cfg, progress=progress, interpreter=interpreter)
        return result, time.perf_counter() - start
    finally:
        torch.set_num_threads(previous)


def _shares(result) -> dict[str, Any]:
    n = len(result.texts)
    first = sum(a == 1 and v and not f for a, v, f in
                zip(result.attempts, result.valid, result.fallback, strict=True))
    later = sum(a > 1 and v and not f for a, v, f in
                zip(result.attempts, result.valid, result.fallback, strict=True))
    fell = sum(result.fallback)
    return {"valid_first_attempt": round(first / n, 4),
            "valid_after_regeneration": round(later / n, 4),
            "valid_without_fallback": round((first + later) / n, 4),
            "fallback": round(fell / n, 4),
            "mean_attempts": round(float(np.mean(result.attempts)), 3),
            "rejections": result.stats["rejections"]}


def run(cfg: DictConfig) -> dict[str, Any]:
    if str(cfg.interpreter.get("name")) != "hf":
        raise ConfigError("bench llm needs interpreter=hf interpreter.model_path=PATH")
    n = int(cfg.get("bench_windows", 200))
    single = int(cfg.get("bench_single_windows", 8))
    cores = os.cpu_count() or 1
    threads = int(cfg.get("bench_threads", cores))
    if threads < 1:
        raise ConfigError(f"+bench_threads must be a positive number of threads, got {threads}")
    run_cfg = cfg.copy()
    OmegaConf.set_struct(run_cfg, False)
    run_cfg.interpreter.cache = False
    split = split_for(cfg)
    target = split.test.reveal_labels_for_evaluation()  # evaluation only
    if len(target) > n:
        target = target.subset(stratified_subsample(target.labels, n, int(cfg.seed)))

    start = time.perf_counter()
    hf = build_interpreter(run_cfg.interpreter)
    load_s = time.perf_counter() - start
    hf.warm()
    result, seconds = _timed(target, run_cfg, hf, threads, progress=True)
    usage = hf.usage
    print(f"{len(target)} windows, {threads} thread(s): {seconds / len(target):.2f} s/window, "
          f"valid first {_shares(result)['valid_first_attempt']:.2f}, fallback "
          f"{_shares(result)['fallback']:.2f}", flush=True)
    one_thread = None
    if single > 0:
        few = target.subset(list(range(min(single, len(target)))))
        solo = build_interpreter(run_cfg.interpreter)  # same loaded model, fresh answers
        solo.warm()
        _, solo_s = _timed(few, run_cfg, solo, 1)
        one_thread = round(solo_s / len(few), 3)

    grounded_cfg = run_cfg.copy()
    grounded_cfg.interpreter = {"name": "grounded", "cache": False}
    grounded = interpret_windows(target, grounded_cfg, progress=False).texts
    side_cfg = run_cfg.copy()
    side_cfg.federation.text_side_path = None
    side_cfg.federation.stage1_source = str(cfg.get("bench_text_side", "none"))
    from server.text_side import server_text_side

    side = server_text_side(side_cfg, split.bank_classes, split.seen_classes)
    y_true = np.array([split.bank_classes.index(target.class_names[i]) for i in target.labels])
    pred_llm = nearest_prototype(side.embed(list(result.texts), progress=False), side.bank)
    pred_grounded = nearest_prototype(side.embed(list(grounded), progress=False), side.bank)
    ceiling = {}
    for name, pred in (("llm", pred_llm), ("grounded", pred_grounded)):
        m = classification_metrics(y_true, pred, split.bank_classes)
        ceiling[name] = {"accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4),
                         "recall": {c: round(m["per_class"][c]["recall"], 3)
                                    for c in split.bank_classes}}
    return {
        "model": hf.model_id,
        "dataset": split.test_dataset,
        "windows": len(target),
        "subjects": sorted(int(s) for s in np.unique(target.subjects)),
        "classes": split.bank_classes,
        **_shares(result),
        "load_seconds": round(load_s, 1),
        "seconds_per_window": round(seconds / len(target), 3),
        "threads": threads,
        "cores": cores,
        "seconds_per_window_one_thread": one_thread,
        "one_thread_windows": min(single, len(target)) if single > 0 else 0,
        "generated_tokens": usage.get("tokens"),
        "tokens_per_second": round(usage["tokens"] / usage["seconds"], 1)
        if usage.get("seconds") else None,
        "batch_windows": int(run_cfg.interpreter.get("batch_windows", 8)),
        "text_side": str(side_cfg.federation.get("stage1_source", "none")),
        "ceiling": ceiling,
        "same_class_llm_vs_grounded": round(float(np.mean(pred_llm == pred_grounded)), 4),
        "example": result.texts[0],
    }
