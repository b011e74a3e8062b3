"""Offline LiRA: calibrated by shadows trained on other data, it finds memorised windows."""

from __future__ import annotations

import numpy as np
import torch

from lanhar_fl.models import LanHARModel
from lanhar_fl.privacy.lira import confidence_logits, lira_audit, lira_statistic, train_shadows
from lanhar_fl.privacy.membership import membership_audit
from lanhar_fl.training.stage2 import train_sensor_encoder


def _pairs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return (rng.normal(size=(n, 24, 6)).astype(np.float32),
            rng.normal(size=(n, 16)).astype(np.float32))


def _initial() -> LanHARModel:
    torch.manual_seed(0)
    return LanHARModel.from_config("smoke", 16)


def test_statistic_removes_per_window_difficulty():
    shadow = np.array([[0.0, 5.0], [1.0, 6.0], [2.0, 7.0]])
    z = lira_statistic(np.array([1.0, 6.0]), shadow)
    assert np.allclose(z, 0.0)
    assert lira_statistic(np.array([3.0, 6.0]), shadow)[0] > 1.5


def test_lira_separates_a_model_that_memorised_its_members():
    rng = np.random.default_rng(0)
    members, nonmembers, public = _pairs(rng, 24), _pairs(rng, 24), _pairs(rng, 96)
    negatives = rng.normal(size=(8, 16)).astype(np.float32)
    settings = {"epochs": 30, "lr": 3e-3, "batch_size": 8}
    target = _initial()
    train_sensor_encoder(target, *members, settings, progress=False, seed=1)
    phi = confidence_logits(target, *members, negatives)
    assert phi.shape == (24,) and np.isfinite(phi).all()
    shadows = train_shadows(_initial, *public, count=4, settings=settings, seed=0)
    out = lira_audit(target, shadows, members, nonmembers, negatives)
    plain = membership_audit(target, members, nonmembers, negatives)["mia_auc_loss"]
    assert out["lira_shadows"] == 4
    assert out["mia_auc_lira"] >= 0.75 and out["mia_auc_lira"] >= plain - 0.05
