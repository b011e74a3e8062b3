"""Stage 2 (sensor encoder), the shared loops, FedProx, checkpoints and the supervised baseline."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from opacus import GradSampleModule, PrivacyEngine

from lanhar_fl.models import LanHARModel, SupervisedHAR, federated_state_dict
from lanhar_fl.training import (
    LocalObjective,
    LocalTrainSettings,
    SourceValidation,
    evaluate_zero_shot,
    load_checkpoint,
    local_train,
    predict,
    save_checkpoint,
    train_sensor_encoder,
    train_supervised,
)
from lanhar_fl.training.loops import (
    BestState,
    ClipObjective,
    PublicInfoNCEObjective,
    duplicate_groups,
    split_validation,
)
from lanhar_fl.training.stage2 import zero_shot_margin

D = 16
CFG = {"epochs": 4, "lr": 3e-3, "batch_size": 16, "val_fraction": 0.25, "patience": 2,
       "weight_decay": 0.0}


def _data(n: int = 64, t: int = 32, seed: int = 0):
    """Two activities (slow vs fast oscillation) with class-level 'interpretation' embeddings."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    time = np.arange(t) / 50.0
    freq = np.where(labels == 0, 1.0, 4.0)[:, None]
    windows = rng.normal(0, 0.3, (n, t, 6)).astype(np.float32)
    windows[:, :, 2] += 9.81 + 5 * np.sin(2 * np.pi * freq * time)
    windows[::3, :, 3:] = np.nan  # some phones without gyroscope
    prototypes = rng.normal(size=(2, D)).astype(np.float32)
    text = prototypes[labels] + rng.normal(0, 0.1, (n, D)).astype(np.float32)
    return windows, labels, text, prototypes


def _model(seed: int = 0) -> LanHARModel:
    torch.manual_seed(seed)
    return LanHARModel.from_config("smoke", D)


def test_train_sensor_encoder_selects_on_source_validation_and_is_deterministic():
    windows, labels, text, protos = _data()
    runs = []
    for _ in range(2):
        model = _model()
        hist = train_sensor_encoder(model, windows, text, CFG,
                                    val=SourceValidation(labels, protos), progress=False, seed=3)
        runs.append((hist, federated_state_dict(model)))
    hist = runs[0][0]
    assert hist["n_train"] == 48 and hist["n_val"] == 16
    assert len(hist["train_loss"]) == len(hist["val_accuracy"]) <= CFG["epochs"]
    assert hist["val_accuracy"][hist["best_epoch"]] == max(hist["val_accuracy"])
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    json.dumps(hist)
    assert runs[0][0]["train_loss"] == runs[1][0]["train_loss"]
    assert all(torch.equal(v, runs[1][1][k]) for k, v in runs[0][1].items())
    acc, pred = evaluate_zero_shot(model, windows, labels, protos)
    assert pred.shape == (64,) and 0.0 <= acc <= 1.0


def test_saturated_accuracy_ties_go_to_the_larger_margin():
    windows, labels, text, protos = _data()
    hist = train_sensor_encoder(_model(), windows, text, {**CFG, "patience": 0, "epochs": 6},
                                val=SourceValidation(labels, protos), progress=False, seed=3)
    score = list(zip(hist["val_accuracy"], hist["val_tiebreak"], strict=True))
    assert score[hist["best_epoch"]] == max(score)  # not merely the first epoch at top accuracy

    best = BestState(torch.nn.Linear(1, 1), patience=0)
    best.update(0, (1.0, 0.1))
    best.update(1, (1.0, 0.3))
    best.update(2, (0.9, 0.9))
    assert best.best_epoch == 1


def test_patience_counts_accuracy_gains_only_and_nan_never_wins():
    best = BestState(torch.nn.Linear(1, 1), patience=2)
    stops = [best.update(e, score) for e, score in enumerate(
        [(0.5, 0.0), (1.0, 0.1), (1.0, float("nan")), (1.0, 0.2)])]
    assert stops == [False, False, False, True]  # a rising tie-breaker alone extends nothing
    assert best.best_epoch == 3
    best = BestState(torch.nn.Linear(1, 1), patience=0)
    best.update(0, (1.0, float("nan")))
    best.update(1, (1.0, -5.0))
    assert best.best_epoch == 1


def test_zero_shot_margin():
    scores = np.array([[0.9, 0.2, 0.5], [0.1, 0.4, 0.6]])
    assert zero_shot_margin(scores, np.array([0, 2])) == pytest.approx((0.4 + 0.2) / 2)
    assert zero_shot_margin(scores, np.array([1, 1])) < 0
    assert zero_shot_margin(scores[:0], np.array([], int)) == 0.0


def test_validation_labels_must_label_the_training_windows():
    windows, labels, text, protos = _data()
    with pytest.raises(ValueError, match="label the training windows"):
        train_sensor_encoder(_model(), windows, text, CFG,
                             val=SourceValidation(labels[:10], protos), progress=False)


def test_explicit_source_validation_windows():
    windows, labels, text, protos = _data()
    val = SourceValidation(labels[48:], protos, windows=windows[48:])
    hist = train_sensor_encoder(_model(), windows[:48], text[:48], {**CFG, "epochs": 2},
                                val=val, progress=False)
    assert hist["n_train"] == 48 and hist["n_val"] == 16 and len(hist["val_accuracy"]) == 2


def test_split_validation_stratified_and_by_group():
    labels = np.array([0] * 8 + [1] * 4)
    train, val = split_validation(labels, 0.25, seed=0)
    assert sorted(np.concatenate([train, val])) == list(range(12))
    assert (labels[val] == 0).sum() == 2 and (labels[val] == 1).sum() == 1
    groups = np.repeat([1, 2, 3, 4], 3)
    _, val = split_validation(labels, 0.25, seed=0, groups=groups)
    assert len(np.unique(groups[val])) == 1 and len(val) == 3


def test_duplicate_text_embeddings_share_a_group():
    text = np.array([[1, 0], [0, 1], [1, 0], [1, 1e-7]], np.float32)
    g = duplicate_groups(text)
    assert g[0] == g[2] and len({g[0], g[1], g[3]}) == 3


def _grad_samples(objective, windows, text) -> dict[str, torch.Tensor]:
    gsm = GradSampleModule(_model(), loss_reduction="sum")
    groups = torch.as_tensor(duplicate_groups(text.numpy()))
    objective(gsm, (windows, text, groups)).backward()
    return {n: p.grad_sample.clone() for n, p in gsm._module.named_parameters()}


def test_dp_objective_per_example_gradients_ignore_other_examples():
    """Example i's clipped quantity (its grad sample) must not depend on example j."""
    windows, _, text, protos = _data(6)
    windows, text = torch.as_tensor(windows), torch.as_tensor(text)
    changed_w, changed_t = windows.clone(), text.clone()
    changed_w[5] = torch.randn_like(changed_w[5]) * 4
    changed_t[5] = torch.randn(D)
    public = PublicInfoNCEObjective(protos, reduction="sum")
    a, b = _grad_samples(public, windows, text), _grad_samples(public, changed_w, changed_t)
    for name in a:
        torch.testing.assert_close(a[name][:5], b[name][:5], msg=name)
    clip = ClipObjective(reduction="sum")
    a, b = _grad_samples(clip, windows, text), _grad_samples(clip, changed_w, changed_t)
    assert any(not torch.allclose(a[n][:5], b[n][:5]) for n in a)


def test_local_train_fedprox_pulls_to_global_and_dp_loss_runs():
    windows, _, text, protos = _data(32)
    model = _model()
    start = federated_state_dict(model)
    # lr * mu = 1: the decoupled proximal step lands exactly on the global weights
    out = local_train(model, windows, text,
                      LocalTrainSettings(epochs=1, lr=1e-3, batch_size=16, proximal_mu=1000.0))
    assert out["num_examples"] == 32 and len(out["loss"]) == 1
    after = federated_state_dict(model)
    assert all(torch.allclose(after[k], v, atol=1e-6) for k, v in start.items())
    out = local_train(model, windows, text, LocalTrainSettings(epochs=2, lr=1e-3, batch_size=16),
                      LocalObjective(loss="dp_public", public_negatives=protos))
    assert all(np.isfinite(out["loss"]))
    with pytest.raises(ValueError, match="public_negatives"):
        local_train(model, windows, text, LocalTrainSettings(1, 1e-3, 16),
                    LocalObjective(loss="dp_public"))


def test_local_train_with_opacus_privatize_hook_twice():
    """A DP client: two rounds of local training, each wrapped by a fresh make_private."""
    windows, _, text, protos = _data(32)
    model = _model()
    engine = PrivacyEngine(accountant="rdp")

    def privatize(m, optimizer, loader, objective):
        m, optimizer, loader = engine.make_private(module=m, optimizer=optimizer,
                                                   data_loader=loader, noise_multiplier=1.0,
                                                   max_grad_norm=1.0)
        return m, optimizer, loader, objective

    for _ in range(2):
        before = federated_state_dict(model)
        out = local_train(model, windows, text, LocalTrainSettings(epochs=1, lr=1e-2, batch_size=8),
                          LocalObjective(loss="dp_public", public_negatives=protos,
                                         privatize=privatize))
        assert np.isfinite(out["loss"]).all()
        after = federated_state_dict(model)
        assert list(after) == list(before) and any(
            not torch.equal(before[k], after[k]) for k in before)
    assert engine.get_epsilon(1e-5) > 0


def test_checkpoint_roundtrip_without_pickle(tmp_path):
    windows, _, _, protos = _data(8)
    model = _model().eval()
    path = save_checkpoint(tmp_path / "stage2", model, {"seed": 0}, {"accuracy": 0.5})
    assert path.suffix == ".safetensors" and (tmp_path / "stage2.json").is_file()
    loaded, meta = load_checkpoint(path)
    loaded.eval()
    x = torch.as_tensor(windows)
    torch.testing.assert_close(loaded.classify(x, protos), model.classify(x, protos))
    assert meta["metadata"] == {"accuracy": 0.5} and meta["spec"]["kind"] == "lanhar"


def test_supervised_baseline_trains_and_predicts(tmp_path):
    windows, labels, _, _ = _data()
    torch.manual_seed(0)
    model = SupervisedHAR.from_config("smoke", 2)
    cfg = {"epochs": 3, "lr": 3e-3, "batch_size": 16, "val_fraction": 0.25, "patience": 0}
    hist = train_supervised(model, windows, labels, cfg, progress=False)
    assert len(hist["train_loss"]) == 3 and hist["train_loss"][-1] < hist["train_loss"][0]
    assert hist["n_val"] == 16 and hist["best_epoch"] is not None
    pred = predict(model, windows)
    assert pred.shape == (64,) and set(pred) <= {0, 1}
    loaded, _ = load_checkpoint(save_checkpoint(tmp_path / "sup", model))
    assert (predict(loaded, windows) == pred).all()
    hist = train_supervised(model, windows[:48], labels[:48], {**cfg, "epochs": 1},
                            val=(windows[48:], labels[48:]), progress=False)
    assert hist["n_train"] == 48 and hist["n_val"] == 16
