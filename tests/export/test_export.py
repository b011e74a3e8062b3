"""``lanhar-fl export``: ONNX / TorchScript (fp32, int8) parity, sidecar, standalone inference."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lanhar_fl.cli import main
from lanhar_fl.export import export_model, int8_accuracy_drop, load_source, standalone_infer
from lanhar_fl.export import sidecar as sidecar_mod
from lanhar_fl.export.onnx_export import ort_session, run_onnx
from lanhar_fl.export.parity import compare, torch_outputs
from lanhar_fl.models import LanHARModel
from lanhar_fl.semantics.label_bank import LabelBank
from lanhar_fl.training.checkpoint import save_checkpoint

pytest.importorskip("onnxruntime")

CLASSES = ["walk", "sit", "stand", "lie"]
TEXT_DIM = 24
RATE, SECONDS = 20, 2.0  # -> 40-sample windows, read from the checkpoint's config
T = 40


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A random smoke-preset LanHAR checkpoint with its label bank beside it."""
    run = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    model = LanHARModel.from_config("smoke", TEXT_DIM)
    config = {"data": {"target_rate_hz": RATE, "window_seconds": SECONDS,
                       "gravity_align": True, "remove_gravity": True}}
    save_checkpoint(run / "sensor_encoder", model, config=config)
    protos = np.random.default_rng(0).normal(size=(len(CLASSES), TEXT_DIM))
    protos /= np.linalg.norm(protos, axis=1, keepdims=True)
    LabelBank(class_names=list(CLASSES), descriptions={c: [c] for c in CLASSES},
              selected={c: [(c, 1.0)] for c in CLASSES}, prototypes=protos,
              encoder_fingerprint="test").save(run / "label_bank")
    return run / "sensor_encoder"


@pytest.fixture(scope="module")
def windows() -> np.ndarray:
    x = np.random.default_rng(1).normal(size=(12, T, 6)).astype(np.float32) * 3
    x[::3, :, 3:] = np.nan  # accelerometer-only phones
    return x


@pytest.fixture(scope="module")
def reference(checkpoint, windows):
    return torch_outputs(load_source(checkpoint).classifier(), windows)


@pytest.fixture(scope="module")
def onnx_fp32(checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "har.onnx"
    return out, export_model(checkpoint, out, "onnx")


def test_onnx_fp32_parity_with_nan_gyro_and_any_batch(onnx_fp32, windows, reference):
    out, _ = onnx_fp32
    session = ort_session(out)
    scores, emb = run_onnx(session, windows)
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores, reference[0], atol=1e-4)
    np.testing.assert_allclose(emb, reference[1], atol=1e-4)
    one, _ = run_onnx(session, windows[:1])  # batch 1 (exported with batch 2)
    np.testing.assert_allclose(one, reference[0][:1], atol=1e-4)
    # NaN gyro is handled inside the graph: not the same as zero gyro without the flag
    zeroed = np.nan_to_num(windows[:1])
    assert np.abs(run_onnx(session, zeroed)[0] - one).max() > 1e-4


def test_sidecar_and_bank(onnx_fp32, checkpoint, reference, windows):
    out, doc = onnx_fp32
    assert sidecar_mod.read_sidecar(out) == doc
    assert doc["model_format"] == "onnx" and doc["int8"] is False and doc["opset"] == 17
    assert doc["classes"] == CLASSES
    assert (doc["window_samples"], doc["sampling_rate_hz"]) == (T, RATE)
    assert doc["channels"] == ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    assert doc["units"] == {"acc": "m/s^2", "gyro": "rad/s"}
    assert doc["input"]["shape"] == ["batch", T, 6]
    assert doc["preprocessing"] == {"gravity_align": True, "remove_gravity": True}
    assert doc["sizes"]["model_bytes"] == out.stat().st_size < 100_000  # table trimmed
    assert len(doc["checkpoint_fingerprint"]) == 16
    names, protos = sidecar_mod.read_bank(out.parent / doc["bank_file"])
    assert names == CLASSES and protos.shape == (4, 32)
    # the bank reproduces the baked-in scores from the embedding output
    np.testing.assert_allclose(reference[1] @ protos.T, reference[0], atol=1e-5)


def test_onnx_int8(checkpoint, tmp_path, windows, reference):
    out = tmp_path / "har_int8.onnx"
    doc = export_model(checkpoint, out, "onnx", int8=True)
    fp32_bytes = export_model(checkpoint, tmp_path / "fp32.onnx")["sizes"]["model_bytes"]
    scores, _ = run_onnx(ort_session(out), windows)
    diff = compare(reference[0], scores)
    print(f"onnx int8: {diff}, {doc['sizes']['model_bytes']} vs {fp32_bytes} bytes")
    assert doc["int8"] and "QInt8" in doc["quantization"]
    assert diff["max_abs_diff"] < 0.1
    assert doc["sizes"]["model_bytes"] < fp32_bytes


@pytest.mark.parametrize("int8", [False, True])
def test_torchscript(checkpoint, tmp_path, windows, reference, int8):
    out = tmp_path / "har.pt"
    doc = export_model(checkpoint, out, "torchscript", int8=int8)
    assert doc["model_format"] == "torchscript" and doc["int8"] is int8
    loaded = torch.jit.load(str(out))
    scores, emb = torch_outputs(loaded, windows)
    if int8:
        diff = compare(reference[0], scores)
        print(f"torchscript int8: {diff}")
        assert diff["max_abs_diff"] < 0.1
    else:
        np.testing.assert_allclose(scores, reference[0], atol=1e-4)
        np.testing.assert_allclose(emb, reference[1], atol=1e-4)
    # any batch size; int8 activations are quantised per batch, so batch 1 differs slightly
    one = torch_outputs(loaded, windows[:1])[0]
    np.testing.assert_allclose(one, scores[:1], atol=0.1 if int8 else 1e-5)


def test_standalone_infer_runs_from_exported_files_alone(onnx_fp32, tmp_path, windows,
                                                         reference):
    out, doc = onnx_fp32
    device = tmp_path / "phone"
    device.mkdir()
    for name in (out.name, doc["bank_file"], sidecar_mod.sidecar_path(out).name):
        shutil.copy(out.parent / name, device / name)
    script = shutil.copy(standalone_infer.__file__, device / "standalone_infer.py")
    np.save(device / "window.npy", windows[0])
    np.save(device / "batch.npy", windows)
    run = subprocess.run([sys.executable, "-I", script, "har.onnx", "window.npy"], cwd=device,
                         capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(run.stdout)
    expected = int(reference[0][0].argmax())
    assert result["class"] == CLASSES[expected]
    assert result["score"] == pytest.approx(float(reference[0][0, expected]), abs=1e-4)
    run = subprocess.run([sys.executable, "-I", script, "har.onnx", "batch.npy"], cwd=device,
                         capture_output=True, text=True, timeout=120, check=True)
    got = [json.loads(line)["class"] for line in run.stdout.splitlines()]
    assert got == [CLASSES[k] for k in reference[0].argmax(1)]
    # a window of the wrong length is refused with a clear message
    np.save(device / "short.npy", windows[0][:10])
    run = subprocess.run([sys.executable, "-I", script, "har.onnx", "short.npy"], cwd=device,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "expects 40" in run.stderr


def test_new_activity_by_swapping_the_bank(onnx_fp32, tmp_path, windows, reference):
    out, doc = onnx_fp32
    bank = json.loads((out.parent / doc["bank_file"]).read_text())
    bank["class_names"].append("jump")
    bank["prototypes"].append(reference[1][5].tolist())  # as if projected on the server
    swapped = tmp_path / "bank_with_jump.json"
    swapped.write_text(json.dumps(bank))
    clf = standalone_infer.Classifier(out, bank_path=swapped)
    results = clf.classify(windows)
    assert results[5]["class"] == "jump"
    assert set(results[0]["scores"]) == {*CLASSES, "jump"}


def test_standalone_is_standalone():
    tree = ast.parse(Path(standalone_infer.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "argparse", "json", "sys", "pathlib", "numpy",
                        "onnxruntime"}
    for name in ("SIDECAR_SUFFIX", "BANK_SUFFIX", "INPUT_NAME", "OUTPUT_NAMES"):
        assert getattr(standalone_infer, name) == getattr(sidecar_mod, name), name


def test_int8_accuracy_drop(checkpoint, windows, reference):
    labels = [CLASSES[k] for k in reference[0].argmax(1)]  # fp32 is right by construction
    result = int8_accuracy_drop(checkpoint, windows, labels)
    assert result["fp32_accuracy"] == 1.0
    assert result["accuracy_drop"] == pytest.approx(1.0 - result["int8_accuracy"])
    assert result["n"] == len(windows) and 0 <= result["argmax_agreement"] <= 1


def test_cli(checkpoint, tmp_path, capsys):
    out = tmp_path / "cli" / "model"
    args = ["export", f"++checkpoint={checkpoint}", "++format=torchscript", f"++out={out}"]
    assert main(args) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["model_file"] == "model.pt" and (tmp_path / "cli" / "model.pt.json").is_file()
    assert main(["export", f"++checkpoint={tmp_path / 'missing'}"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["export", f"++checkpoint={checkpoint}", "++format=tflite"]) == 2
    assert main(["export"]) == 2


def test_bench_ondevice_smoke():
    from omegaconf import OmegaConf

    from simulations.bench_ondevice import run

    cfg = OmegaConf.create({"data": {"window_seconds": 1.0, "target_rate_hz": 32},
                            "ondevice": {"presets": ["smoke"], "runs": 5, "warmup": 1,
                                         "text_dim": 24}})
    result = run(cfg)
    assert result["window_samples"] == 32 and result["target"] is None
    rows = {(r["format"], r["int8"]): r for r in result["results"]}
    assert set(rows) == {(f, q) for f in ("onnx", "torchscript") for q in (False, True)}
    assert all(r["bytes"] > 0 and r["median_ms"] > 0 for r in rows.values())
    assert rows[("onnx", True)]["vs_fp32_argmax_agreement"] >= 0.9


def test_bench_ondevice_trained_int8_drop_on_held_out_windows(checkpoint):
    from lanhar_fl.config import load_config
    from lanhar_fl.data.registry import load_windows
    from lanhar_fl.eval.protocols import make_split
    from simulations.bench_ondevice import trained_int8_drop

    cfg = load_config(["preset=smoke", "dataset.activities=[walk,sit,stand,lie]",
                       f"data.target_rate_hz={RATE}", f"data.window_seconds={SECONDS}",
                       "data.max_windows=240", "cache_dir=null", f"checkpoint={checkpoint}"])
    result = trained_int8_drop(cfg)
    split = make_split(cfg, load_windows)
    assert result["n"] == len(split.test) > 0 and result["setting"] == "cross_user"
    # the fp32 ONNX accuracy is the torch model's on exactly these windows
    scores, _ = torch_outputs(load_source(checkpoint).classifier(), split.test.data)
    y = np.array([CLASSES.index(split.bank_classes[i]) for i in split.reveal_test_labels()])
    assert result["fp32_accuracy"] == pytest.approx(float((scores.argmax(1) == y).mean()))
    assert result["accuracy_drop"] == pytest.approx(
        result["fp32_accuracy"] - result["int8_accuracy"])
    assert result["argmax_agreement"] >= 0.9
