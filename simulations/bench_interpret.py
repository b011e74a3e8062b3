"""``lanhar-fl bench interpret``: cost of the on-device semantic layer.

- features + grounded text: windows/s over ``+bench_windows=N`` windows (default 5000; the
  configured dataset's windows, tiled when fewer), timed separately and together; and the whole
  validated ``interpret_windows`` call on up to 2000 of them. For the one-core figure run with
  ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1``.
- text lengths in tokens of the text encoder's tokenizer (the phone embeds every text).
- embedding: texts/s of ``TextEncoder.embed`` over ``+bench_embed_texts=M`` distinct grounded
  texts (default 64, spread over the windows) with a cold and then a warm ``EmbeddingCache``
  (in ``run_dir``, removed afterwards).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from lanhar_fl.data.registry import load_windows
from lanhar_fl.data.windows import Windows
from lanhar_fl.semantics.features import compute_features
from lanhar_fl.semantics.interpret import interpret_windows
from lanhar_fl.semantics.interpreters.grounded import grounded_text
from lanhar_fl.semantics.validation import Validator

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _tiled(windows: Windows, n: int) -> Windows:
    """Exactly ``n`` windows: the given ones, repeated as needed."""
    return windows.subset(np.resize(np.arange(len(windows)), max(n, 1)))


def bench_grounded(windows: Windows, repeats: int = 1) -> dict:
    """Throughput of features and grounded text (best of ``repeats``)."""
    best_f, best_t = float("inf"), float("inf")
    texts: list[str] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        table = compute_features(windows)
        t1 = time.perf_counter()
        texts = [grounded_text(table.row(i)) for i in range(len(table))]
        t2 = time.perf_counter()
        best_f, best_t = min(best_f, t1 - t0), min(best_t, t2 - t1)
    n = len(windows)
    validator = Validator()
    sample = range(0, n, max(1, n // 200))
    valid = [not validator.validate(texts[i], table.row(i)) for i in sample]
    return {
        "windows": n,
        "features_s": round(best_f, 4),
        "text_s": round(best_t, 4),
        "features_windows_per_s": round(n / best_f, 1),
        "text_windows_per_s": round(n / best_t, 1),
        "windows_per_s": round(n / (best_f + best_t), 1),
        "valid_fraction_sampled": round(float(np.mean(valid)), 4),
        "chars_mean": round(float(np.mean([len(t) for t in texts])), 1),
        "validated_windows_per_s": _validated_rate(windows.subset(slice(0, 2000))),
        "texts": texts,
    }


def _validated_rate(windows: Windows) -> float:
    """Windows/s of the full ``interpret_windows`` call (grounded, validated, no cache)."""
    cfg = {"interpreter": {"name": "grounded", "cache": False}}
    t0 = time.perf_counter()
    interpret_windows(windows, cfg, progress=False)
    return round(len(windows) / (time.perf_counter() - t0), 1)


def bench_embedding(cfg: DictConfig, texts: list[str], run_dir: Path) -> dict:
    """Texts/s of the text encoder with a cold then a warm embedding cache."""
    try:
        from lanhar_fl.semantics.embedding_cache import EmbeddingCache
        from lanhar_fl.semantics.text_encoder import TextEncoder
    except ImportError as exc:
        return {"skipped": f"text encoder not available ({exc})"}
    encoder = TextEncoder.from_config(cfg.text_encoder)
    lengths = [len(encoder.tokenizer(t)["input_ids"]) for t in texts]
    cache_dir = run_dir / "bench_embedding_cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    batch = int(cfg.text_encoder.get("batch_size", 32))
    out = {"encoder": str(cfg.text_encoder.get("name")), "texts": len(texts),
           "tokens_mean": round(float(np.mean(lengths)), 1),
           "tokens_p95": round(float(np.percentile(lengths, 95)), 1),
           "tokens_max": int(np.max(lengths))}
    for phase in ("cold", "warm"):
        cache = EmbeddingCache(cache_dir)  # reopened: the warm pass reads from disk
        t0 = time.perf_counter()
        encoder.embed(texts, batch_size=batch, cache=cache)
        seconds = time.perf_counter() - t0
        cache.close()
        out[f"{phase}_s"] = round(seconds, 4)
        out[f"{phase}_texts_per_s"] = round(len(texts) / seconds, 1)
    shutil.rmtree(cache_dir, ignore_errors=True)
    return out


def run(cfg: DictConfig) -> dict:
    n = int(cfg.get("bench_windows", 5000))
    n_embed = int(cfg.get("bench_embed_texts", 64))
    source = load_windows(cfg)
    windows = _tiled(source, n)
    grounded = bench_grounded(windows, repeats=int(cfg.get("bench_repeats", 3)))
    distinct = list(dict.fromkeys(grounded.pop("texts")))
    texts = [distinct[i] for i in np.linspace(0, len(distinct) - 1, min(n_embed, len(distinct)),
                                               dtype=np.int64)] if n_embed > 0 else []
    run_dir = Path(str(cfg.run_dir)).expanduser()
    run_dir.mkdir(parents=True, exist_ok=True)
    return {
        "dataset": source.dataset,
        "source_windows": len(source),
        "threads": {v: os.environ.get(v) for v in THREAD_VARS},
        "grounded": grounded,
        "embedding": bench_embedding(cfg, texts, run_dir) if n_embed > 0 else {"skipped": "0"},
    }
