"""Sample-level DP-SGD: the per-example loss bounds each window's influence through the real
Opacus wrapper (every grad-sample mode), and the accountant is cumulative across rounds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from flwr.app import RecordDict
from omegaconf import OmegaConf

from lanhar_fl.models import LanHARModel
from lanhar_fl.privacy.accountant_state import STATE_KEY, load_history, save_history
from lanhar_fl.privacy.opacus_engine import PhoneDP
from lanhar_fl.privacy.settings import SampleLevel
from lanhar_fl.training.local import LocalObjective, LocalTrainSettings, local_train
from lanhar_fl.training.loops import ClipObjective, PublicInfoNCEObjective, stage2_loader

D, N, CLIP = 16, 8, 0.01


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N, 24, 6)).astype(np.float32),
            rng.normal(size=(N, D)).astype(np.float32),
            rng.normal(size=(5, D)).astype(np.float32))


def _settings(mode: str = "hooks", **overrides) -> SampleLevel:
    values = dict(target_epsilon=None, noise_multiplier=1.0, delta=None, max_grad_norm=CLIP,
                  accountant="rdp", grad_sample_mode=mode, public_negatives=5)
    return SampleLevel(**(values | overrides))


def _dp_gradient(mode: str, objective, windows, text) -> torch.Tensor:
    """The noiseless DP-SGD gradient of one step over all N windows (Poisson rate 1)."""
    torch.manual_seed(0)
    model = LanHARModel.from_config("smoke", D)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    dp = PhoneDP(_settings(mode, noise_multiplier=0.0), N, N, 1, 1)
    net, optimizer, loader, objective = dp.privatize(model, optimizer,
                                                     stage2_loader(windows, text, N), objective)
    batch = next(iter(loader))
    assert len(batch[0]) == N
    optimizer.zero_grad()
    objective(net, batch).backward()
    optimizer.step()
    net._close()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


@pytest.mark.parametrize("mode", ["hooks", "functorch", "ghost"])
def test_changing_one_window_moves_the_dp_update_by_at_most_its_own_clip(mode):
    """Sensitivity: with the public-negatives loss, replacing window j (and its text) changes
    the averaged clipped gradient by <= 2C/N, i.e. only example j's own term changed."""
    windows, text, negatives = _data()
    changed_w, changed_t = windows.copy(), text.copy()
    changed_w[-1] = np.random.default_rng(9).normal(size=changed_w[-1].shape) * 5
    changed_t[-1] = np.random.default_rng(10).normal(size=D)
    # the first 3 public rows act as label prototypes: InfoNCE + prototype distillation
    objective = PublicInfoNCEObjective(negatives, num_prototypes=3)
    g = _dp_gradient(mode, objective, windows, text)
    g2 = _dp_gradient(mode, PublicInfoNCEObjective(negatives, num_prototypes=3), changed_w,
                      changed_t)
    assert 0 < (g - g2).norm() <= 2 * CLIP / N + 1e-6


def test_in_batch_clip_loss_breaks_the_per_example_bound():
    """The in-batch CLIP loss lets window j move every other example's clipped gradient."""
    windows, text, _ = _data()
    changed_w, changed_t = windows.copy(), text.copy()
    changed_w[-1] *= 5
    changed_t[-1] = np.random.default_rng(10).normal(size=D)
    g = _dp_gradient("hooks", ClipObjective(), windows, text)
    g2 = _dp_gradient("hooks", ClipObjective(), changed_w, changed_t)
    assert (g - g2).norm() > 2 * CLIP / N


def test_all_grad_sample_modes_give_the_same_clipped_gradient():
    windows, text, negatives = _data()
    grads = {m: _dp_gradient(m, PublicInfoNCEObjective(negatives, num_prototypes=3), windows,
                             text)
             for m in ("hooks", "functorch", "ghost")}
    torch.testing.assert_close(grads["functorch"], grads["hooks"], atol=1e-6, rtol=1e-4)
    torch.testing.assert_close(grads["ghost"], grads["hooks"], atol=1e-6, rtol=1e-4)


def _round(state: RecordDict, settings: SampleLevel, model, seed: int) -> PhoneDP:
    windows, text, negatives = _data(seed)
    windows, text = np.tile(windows, (4, 1, 1)), np.tile(text, (4, 1))
    dp = PhoneDP(settings, len(windows), 8, 1, 3, state)
    if not dp.exhausted:
        local_train(model, windows, text, LocalTrainSettings(1, 1e-3, 8, seed=seed),
                    LocalObjective(loss="dp_public", public_negatives=negatives,
                                   privatize=dp.privatize))
    dp.save()
    return dp


@pytest.mark.parametrize("accountant", ["rdp", pytest.param("prv", marks=pytest.mark.slow)])
def test_epsilon_is_cumulative_across_rounds_and_within_the_target(accountant):
    settings = _settings(target_epsilon=4.0, noise_multiplier=None, accountant=accountant,
                         max_grad_norm=1.0)
    state, model = RecordDict(), LanHARModel.from_config("smoke", D)
    eps = [_round(state, settings, model, r).epsilon for r in range(3)]
    assert 0 < eps[0] < eps[1] < eps[2] <= 4.0 + 0.05
    assert STATE_KEY in state
    # a fresh state (Flower's own example: a new PrivacyEngine each round) would report eps[0]
    fresh = _round(RecordDict(), settings, model, 0).epsilon
    assert fresh == pytest.approx(eps[0], rel=1e-3) and eps[2] > 1.5 * fresh
    # the budget is spent: a fourth round trains no more and spends nothing
    fourth = _round(state, settings, model, 3)
    assert fourth.exhausted and fourth.epsilon == pytest.approx(eps[2])


def test_delta_defaults_to_one_over_the_phones_examples():
    dp = PhoneDP(_settings(), 250, 50, 1, 1)
    assert dp.delta == pytest.approx(1 / 250)
    assert PhoneDP(_settings(delta=1e-6), 250, 50, 1, 1).delta == 1e-6


def test_accountant_history_roundtrip_is_plain_records():
    state = RecordDict()
    history = [(1.1, 0.25, 4), (0.9, 0.5, 2)]
    save_history(state, "rdp", history)
    assert load_history(state, "rdp") == history
    assert load_history(RecordDict(), "rdp") == []
    with pytest.raises(ValueError, match="switch accountants"):
        load_history(state, "prv")


def test_settings_validation():
    from lanhar_fl.config import ConfigError

    def cfg(**p):
        return OmegaConf.create({"privacy": {"mode": "sample_level", **p}})

    assert SampleLevel.from_cfg(cfg(target_epsilon=8)).target_epsilon == 8
    assert SampleLevel.from_cfg(cfg(noise_multiplier=1.2)).noise_multiplier == 1.2
    for bad in (dict(), dict(target_epsilon=float("inf")), dict(target_epsilon=8, delta=2),
                dict(target_epsilon=8, grad_sample_mode="magic")):
        with pytest.raises(ConfigError):
            SampleLevel.from_cfg(cfg(**bad))
