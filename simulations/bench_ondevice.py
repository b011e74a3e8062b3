"""On-device cost of the exported sensor encoder: file size and single-window latency.

``lanhar-fl bench ondevice [+ondevice.runs=200] [+ondevice.presets=[small]]``

For each model preset (randomly initialised, text dimension 384 as all-MiniLM-L6-v2, so
``paper`` has d = 384) and for fp32 and dynamic int8: the exported file's size and the latency
of one window (batch 1, T = data.window_seconds x data.target_rate_hz) on ONE thread
(onnxruntime intra_op = inter_op = 1; torch.set_num_threads(1) for TorchScript), median and
p95 over ``runs`` calls after ``warmup``. Also the int8-vs-fp32 score difference and argmax
agreement on random windows. Issue target: small preset int8 <= 2 MB, <= 5 ms.

With ``checkpoint=RUN_DIR/sensor_encoder`` (its ``label_bank/`` beside it, or ``bank=DIR``) it
also measures what int8 costs in accuracy on a TRAINED model: fp32 vs int8 ONNX, one window at a
time, on the held-out test windows of the configured dataset and protocol (the labels are
revealed for scoring only), e.g. ``checkpoint=runs/hapt/sensor_encoder dataset=uci_hapt
dataset.root=DIR label_space=four_class`` (the run's own settings).
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from lanhar_fl.data.registry import load_windows
from lanhar_fl.eval.protocols import make_split
from lanhar_fl.export.exporter import FORMATS, write_model
from lanhar_fl.export.ondevice import OnDeviceClassifier, projected_prototypes
from lanhar_fl.export.onnx_export import ort_session, run_onnx
from lanhar_fl.export.parity import compare, int8_accuracy_drop, torch_outputs
from lanhar_fl.models import LanHARModel

DEFAULTS = {"presets": ["smoke", "small", "paper"], "formats": ["onnx", "torchscript"],
            "runs": 200, "warmup": 20, "text_dim": 384, "classes": 8, "seed": 0}
TARGET_MB, TARGET_MS = 2.0, 5.0


def _options(cfg: DictConfig) -> dict[str, Any]:
    raw = cfg.get("ondevice") or {}
    given = OmegaConf.to_container(raw, resolve=True) if isinstance(raw, DictConfig) else raw
    return {**DEFAULTS, **dict(given)}


def latency_ms(call: Callable[[], Any], runs: int, warmup: int) -> dict[str, float]:
    """Median, p95 and mean wall time of ``call()`` in milliseconds."""
    for _ in range(warmup):
        call()
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter_ns()
        call()
        times[i] = (time.perf_counter_ns() - start) / 1e6
    return {"median_ms": round(float(np.median(times)), 3),
            "p95_ms": round(float(np.percentile(times, 95)), 3),
            "mean_ms": round(float(times.mean()), 3)}


def _classifier(preset: str, opts: dict[str, Any], window_samples: int) -> OnDeviceClassifier:
    torch.manual_seed(int(opts["seed"]))
    model = LanHARModel.from_config(preset, int(opts["text_dim"])).eval()
    rng = np.random.default_rng(int(opts["seed"]))
    protos = rng.normal(size=(int(opts["classes"]), int(opts["text_dim"]))).astype(np.float32)
    return OnDeviceClassifier(model, projected_prototypes(model, protos), window_samples)


def _runner(path: Path, fmt: str) -> Callable[[np.ndarray], np.ndarray]:
    """Scores of windows (N, T, 6) from an exported file, on one thread."""
    if fmt == "onnx":
        session = ort_session(path, threads=1)
        return lambda x: run_onnx(session, x)[0]
    module = torch.jit.load(str(path))
    return lambda x: torch_outputs(module, x)[0]


def bench_preset(preset: str, opts: dict[str, Any], window_samples: int,
                 folder: Path) -> list[dict[str, Any]]:
    module = _classifier(preset, opts, window_samples)
    params = sum(p.numel() for p in module.parameters())
    rng = np.random.default_rng(1)
    windows = rng.normal(size=(64, window_samples, 6)).astype(np.float32)
    windows[::4, :, 3:] = np.nan
    one = windows[:1]
    rows = []
    for fmt in opts["formats"]:
        fp32_scores = None
        for int8 in (False, True):
            path = folder / f"{preset}_{'int8' if int8 else 'fp32'}{FORMATS[fmt]}"
            start = time.perf_counter()
            write_model(module, window_samples, path, fmt, int8)
            export_s = time.perf_counter() - start
            run = _runner(path, fmt)
            scores = run(windows)
            row = {"preset": preset, "format": fmt, "int8": int8, "parameters": params,
                   "bytes": path.stat().st_size, "mb": round(path.stat().st_size / 1e6, 3),
                   **latency_ms(lambda r=run: r(one), int(opts["runs"]), int(opts["warmup"])),
                   "export_seconds": round(export_s, 2)}
            if int8:
                row.update({f"vs_fp32_{k}": v for k, v in compare(fp32_scores, scores).items()})
            fp32_scores = scores
            rows.append(row)
    return rows


def run(cfg: DictConfig) -> dict[str, Any]:
    opts = _options(cfg)
    data = cfg.get("data") or {}
    window_samples = int(round(float(data.get("window_seconds", 2.56))
                               * float(data.get("target_rate_hz", 50))))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows = [row for preset in opts["presets"]
                    for row in bench_preset(str(preset), opts, window_samples, Path(tmp))]
    finally:
        torch.set_num_threads(threads)
    target = next((r for r in rows if (r["preset"], r["format"], r["int8"])
                   == ("small", "onnx", True)), None)
    result = {
        "window_samples": window_samples, "batch": 1, "threads": 1,
        "runs": int(opts["runs"]), "warmup": int(opts["warmup"]),
        "text_dim": int(opts["text_dim"]), "classes": int(opts["classes"]),
        "machine": _machine(),
        "results": rows,
        "target": None if target is None else {
            "size_mb": target["mb"], "median_ms": target["median_ms"],
            "size_ok": target["mb"] <= TARGET_MB, "latency_ok": target["median_ms"] <= TARGET_MS,
            "limits": {"mb": TARGET_MB, "ms": TARGET_MS}},
    }
    if cfg.get("checkpoint"):
        result["trained_int8"] = trained_int8_drop(cfg)
    return result


def trained_int8_drop(cfg: DictConfig) -> dict[str, Any]:
    """int8 accuracy drop of ``cfg.checkpoint`` on the configured protocol's test windows."""
    split = make_split(cfg, load_windows)
    names = [split.bank_classes[i] for i in split.reveal_test_labels()]
    drop = int8_accuracy_drop(str(cfg.checkpoint), split.test.data, names,
                              bank=cfg.get("bank"), fmt="onnx", batch_size=1)
    return {"checkpoint": str(cfg.checkpoint), "dataset": str(cfg.dataset.name),
            "setting": split.setting, **drop, "drop_ok": drop["accuracy_drop"] <= 0.01}


def _machine() -> dict[str, Any]:
    """CPU model, load average (latencies are wall times on a possibly shared machine)."""
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    info = Path("/proc/cpuinfo")
    if info.is_file():
        models = [line.split(":", 1)[1].strip() for line in info.read_text().splitlines()
                  if line.startswith("model name")]
        cpu = models[0] if models else cpu
    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "load_average": load,
            "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}
