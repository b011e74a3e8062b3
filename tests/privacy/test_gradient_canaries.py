"""White-box gradient canaries: they reach the optimizer step after Opacus' noise, the audit
finds them without noise and not under heavy noise, and their set is seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from flwr.app import RecordDict

from lanhar_fl.config import ConfigError, load_config
from lanhar_fl.models import LanHARModel
from lanhar_fl.privacy import canaries, gradient_canaries
from lanhar_fl.privacy.facade import Privacy
from lanhar_fl.training.local import LocalTrainSettings, local_train

D, M, N, BATCH, EPOCHS = 16, 200, 64, 16, 16


def _cfg(mode: str, *overrides: str):
    return load_config([f"privacy={mode}", "preset=smoke", "rounds=1", "seed=0",
                        f"privacy.audit_canaries={M}", "privacy.audit_canary_kind=gradients",
                        f"federation.batch_size={BATCH}", f"federation.local_epochs={EPOCHS}",
                        *overrides])


def _train(cfg, private: bool = False) -> tuple[dict, int]:
    """One phone holding every included canary trains 4 epochs; the audit's result and the
    number of canary gradients injected."""
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(N, 128, 6)).astype(np.float32)
    text = rng.normal(size=(N, D)).astype(np.float32)
    prototypes = rng.normal(size=(3, D)).astype(np.float32)
    objective = None
    if private:
        phone = Privacy.from_config(cfg).phone_round(N, prototypes, np.ones((2, D), np.float32),
                                                     RecordDict())
        objective = phone.objective
    torch.manual_seed(0)
    model = LanHARModel.from_config("smoke", D)
    initial = LanHARModel.from_config("smoke", D)
    initial.load_state_dict(model.state_dict())
    flat, signs = gradient_canaries.coordinates(model, 0, M)
    ids = np.flatnonzero(canaries.included(0, M))
    injected = gradient_canaries.GradientCanaries(model, ids, flat, signs,
                                                  gradient_canaries.canary_norm(cfg) / BATCH,
                                                  BATCH / N, seed=1)
    local_train(model, windows, text, LocalTrainSettings(EPOCHS, 1e-2, BATCH, seed=1), objective,
                on_optimizer=injected.attach)
    return gradient_canaries.audit(cfg, initial, model), injected.injected


def test_canaries_without_noise_are_found():
    out, injected = _train(_cfg("none"))
    # each included canary joins about one step per epoch: 16 x ~100
    assert 1200 < injected < 2000
    assert out["canary_epsilon_lb"] > 1.0


def test_canaries_survive_opacus_and_drown_in_its_noise():
    """Under Opacus with almost no noise the canaries are still found (the hook runs after
    Opacus has rebuilt the gradient, once per step); at noise multiplier 50 they are not."""
    quiet, injected = _train(_cfg("sample_level", "privacy.target_epsilon=null",
                                  "privacy.noise_multiplier=0.0001", "privacy.trainable=heads"),
                             private=True)
    assert 1200 < injected < 2000
    assert quiet["canary_epsilon_lb"] > 1.0
    loud, _ = _train(_cfg("sample_level", "privacy.target_epsilon=null",
                          "privacy.noise_multiplier=50.0", "privacy.trainable=heads"),
                     private=True)
    assert loud["canary_epsilon_lb"] < 0.5


def test_phone_holds_its_included_canaries_only():
    cfg = _cfg("none", "num_phones=4")
    model = LanHARModel.from_config("smoke", D)
    held = gradient_canaries.for_phone(cfg, model, 1, N, BATCH, seed=0)
    expected = canaries.phone_canaries(0, M, 4, 1)
    assert held is not None and len(held.entries) == len(expected) > 0
    assert gradient_canaries.for_phone(_cfg("none", "privacy.audit_canary_kind=windows"),
                                       model, 1, N, BATCH, seed=0) is None
    flat, signs = gradient_canaries.coordinates(model, 0, M)
    assert len(set(flat.tolist())) == M and set(signs.tolist()) == {-1.0, 1.0}
    assert np.array_equal(flat, gradient_canaries.coordinates(model, 0, M)[0])
    assert not np.array_equal(flat, gradient_canaries.coordinates(model, 1, M)[0])


def test_too_many_canaries_and_unknown_kind_are_refused():
    model = LanHARModel.from_config("smoke", D)
    size = sum(p.numel() for _, p in gradient_canaries.head_parameters(model))
    with pytest.raises(ValueError, match="audit_canaries"):
        gradient_canaries.coordinates(model, 0, size + 1)
    with pytest.raises(ConfigError, match="audit_canary_kind"):
        canaries.canary_kind(_cfg("none", "privacy.audit_canary_kind=pixels"))
