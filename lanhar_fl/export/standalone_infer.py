#!/usr/bin/env python3
"""Classify IMU windows with an exported LanHAR ONNX model, from the exported files alone.

Needs only numpy and onnxruntime (no lanhar_fl, no torch); copy it beside the model::

    python standalone_infer.py har.onnx window.npy [--bank har.onnx.bank.json] [--threads 1]

``window.npy``: float32 (T, 6) or (N, T, 6), channels acc_x, acc_y, acc_z (m/s^2), gyro_x,
gyro_y, gyro_z (rad/s), NaN gyro when the phone has none, preprocessed as the sidecar
``har.onnx.json`` says (sampling rate, window length, gravity handling). Prints one JSON line
per window: ``{"index", "class", "score", "scores"}``.

Scores come from the model's ``embedding`` output and the bank file (cosine, numpy), so a bank
with an added activity works without re-exporting; without a bank file the model's baked-in
``scores`` output is used. Importable: ``Classifier(model_path).classify(windows)``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

# keep equal to lanhar_fl/export/sidecar.py (checked by tests/export/test_export.py)
SIDECAR_SUFFIX = ".json"
BANK_SUFFIX = ".bank.json"
INPUT_NAME = "window"
OUTPUT_NAMES = ("scores", "embedding")


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


class Classifier:
    """An ONNX LanHAR model with its sidecar and (optionally swapped) label bank."""

    def __init__(self, model_path: str | Path, bank_path: str | Path | None = None,
                 threads: int = 1) -> None:
        import onnxruntime as ort

        model_path = Path(model_path)
        self.sidecar = _read_json(model_path.with_name(model_path.name + SIDECAR_SUFFIX)) or {}
        if bank_path is None:
            name = self.sidecar.get("bank_file") or model_path.name + BANK_SUFFIX
            bank_path = model_path.with_name(name)
        bank = _read_json(Path(bank_path))
        self.class_names: list[str] = list(self.sidecar.get("classes") or [])
        self.prototypes: np.ndarray | None = None
        if bank is not None:
            self.class_names = [str(c) for c in bank["class_names"]]
            p = np.asarray(bank["prototypes"], dtype=np.float32)
            self.prototypes = p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_path), options,
                                            providers=["CPUExecutionProvider"])
        self.window_samples = self.sidecar.get("window_samples")

    def scores(self, windows: np.ndarray) -> np.ndarray:
        """Cosine scores (N, K) for windows (N, T, 6) or one window (T, 6)."""
        x = np.asarray(windows, dtype=np.float32)
        x = x[None] if x.ndim == 2 else x
        if x.ndim != 3 or x.shape[2] != 6:
            raise ValueError(f"expected windows (N, T, 6) or (T, 6), got {x.shape}")
        if self.window_samples and x.shape[1] != self.window_samples:
            raise ValueError(f"windows have {x.shape[1]} samples; the model expects "
                             f"{self.window_samples} (see the sidecar)")
        scores, embedding = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
        return embedding @ self.prototypes.T if self.prototypes is not None else scores

    def classify(self, windows: np.ndarray) -> list[dict]:
        """One result per window: class name, its score and every class's score."""
        scores = self.scores(windows)
        names = self.class_names or [f"class_{k}" for k in range(scores.shape[1])]
        if len(names) != scores.shape[1]:
            raise ValueError(f"{len(names)} class names for {scores.shape[1]} scores")
        results = []
        for i, row in enumerate(scores):
            k = int(np.argmax(row))
            scores_by_name = {n: round(float(s), 6) for n, s in zip(names, row, strict=True)}
            results.append({"index": i, "class": names[k], "score": float(row[k]),
                            "scores": scores_by_name})
        return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="exported .onnx model")
    parser.add_argument("windows", help=".npy file: (T, 6) or (N, T, 6) float32")
    parser.add_argument("--bank", help="on-device bank JSON (default: beside the model)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    windows = np.load(args.windows, allow_pickle=False)
    try:
        results = Classifier(args.model, args.bank, args.threads).classify(windows)
    except ValueError as exc:
        print(f"standalone_infer: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
