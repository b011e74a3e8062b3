"""Sensor encoder and LanHAR model: shapes, NaN gyro, presets, Opacus compatibility."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from opacus import GradSampleModule, PrivacyEngine
from opacus.validators import ModuleValidator

from lanhar_fl.config_checks import MODEL_INPUTS
from lanhar_fl.models import (
    InputAdapter,
    LanHARModel,
    SupervisedHAR,
    count_parameters,
    federated_state_dict,
    load_federated_state_dict,
    model_config,
)
from lanhar_fl.models.sensor_encoder import ACC_SCALE, GYRO_SCALE, IN_CHANNELS
from lanhar_fl.training.loops import PublicInfoNCEObjective, make_optimizer, stage2_loader

TEXT_DIM = 24


def _windows(n: int = 6, t: int = 32, seed: int = 0) -> torch.Tensor:
    x = torch.randn(n, t, 6, generator=torch.Generator().manual_seed(seed)) * 3
    x[: n // 2, :, 3:] = float("nan")  # accelerometer-only devices
    return x


def _model(seed: int = 0) -> LanHARModel:
    torch.manual_seed(seed)
    return LanHARModel.from_config("smoke", TEXT_DIM)


def test_input_adapter_scales_and_flags_missing_gyro():
    x = _windows(4, 8)
    y = InputAdapter()(x)
    assert y.shape == (4, 8, 7) and torch.isfinite(y).all()
    assert (y[:2, :, 6] == 0).all() and (y[2:, :, 6] == 1).all()
    assert (y[:2, :, 3:6] == 0).all()
    torch.testing.assert_close(y[2:, :, :3], x[2:, :, :3] / ACC_SCALE)
    torch.testing.assert_close(y[2:, :, 3:6], x[2:, :, 3:6] / GYRO_SCALE)


def test_heading_invariant_inputs_are_vertical_and_horizontal_magnitude():
    x = _windows(4, 8)
    y = InputAdapter("heading_invariant")(x)
    assert y.shape == (4, 8, 5) and torch.isfinite(y).all()
    torch.testing.assert_close(y[:, :, 0], x[:, :, 2] / ACC_SCALE)
    torch.testing.assert_close(y[:, :, 1], x[:, :, :2].norm(dim=-1) / ACC_SCALE)
    torch.testing.assert_close(y[2:, :, 2], x[2:, :, 5] / GYRO_SCALE)
    torch.testing.assert_close(y[2:, :, 3], x[2:, :, 3:5].norm(dim=-1) / GYRO_SCALE)
    assert (y[:2, :, 2:4] == 0).all() and (y[:2, :, 4] == 0).all() and (y[2:, :, 4] == 1).all()
    with pytest.raises(ValueError, match="model.inputs"):
        model_config({"name": "smoke", "inputs": "xyz"})
    assert set(IN_CHANNELS) == set(MODEL_INPUTS)  # every accepted setting has an adapter


def _turned(x: torch.Tensor, angle: float) -> torch.Tensor:
    """``x`` with acc and gyro turned by ``angle`` about the vertical (Z)."""
    c, s = np.cos(angle), np.sin(angle)
    turn = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=x.dtype)
    return torch.cat([x[..., :3] @ turn.T, x[..., 3:] @ turn.T], dim=-1)


def test_magnitude_inputs_ignore_any_rotation():
    x = _windows(4, 16, seed=5)
    c, s = np.cos(0.9), np.sin(0.9)
    tilt = torch.tensor([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]],
                        dtype=x.dtype)  # about X, not the vertical
    tilted = torch.cat([x[..., :3] @ tilt.T, x[..., 3:] @ tilt.T], dim=-1)
    torch.manual_seed(0)
    model = LanHARModel.from_config({"name": "smoke", "inputs": "magnitude"}, TEXT_DIM).eval()
    torch.testing.assert_close(model.encode_sensor(tilted), model.encode_sensor(x),
                               atol=1e-5, rtol=1e-4)
    y = InputAdapter("magnitude")(x)
    assert y.shape == (4, 16, 3)
    torch.testing.assert_close(y[:, :, 0], x[:, :, :3].norm(dim=-1) / ACC_SCALE)


@pytest.mark.parametrize("angle", [0.7, 2.0, -2.9])
def test_heading_invariant_model_ignores_turns_about_the_vertical(angle):
    """The same motion with the phone facing another way embeds alike; with axes it does not."""
    x = _windows(4, 16, seed=3)
    torch.manual_seed(0)
    invariant = LanHARModel.from_config({"name": "smoke", "inputs": "heading_invariant"},
                                        TEXT_DIM).eval()
    torch.testing.assert_close(invariant.encode_sensor(_turned(x, angle)),
                               invariant.encode_sensor(x), atol=1e-5, rtol=1e-4)
    axes = _model().eval()
    gap = (axes.encode_sensor(_turned(x, angle)) - axes.encode_sensor(x)).abs().max()
    assert gap > 1e-3


@pytest.mark.parametrize("preset", ["smoke", "small", "paper"])
def test_presets_shapes_and_normalised_outputs(preset):
    model = LanHARModel.from_config(preset, TEXT_DIM).eval()
    s = model.encode_sensor(_windows(3))
    t = model.encode_text(torch.randn(3, TEXT_DIM))
    assert s.shape == t.shape == (3, model.config.proj_dim)
    torch.testing.assert_close(s.norm(dim=-1), torch.ones(3))
    assert model.classify(_windows(3), np.random.randn(5, TEXT_DIM)).shape == (3, 5)
    if preset == "paper":
        assert model.config.d_model == TEXT_DIM and model.config.norm_first is False


def test_small_preset_parameter_count():
    assert count_parameters(LanHARModel.from_config("small", 384)) == 465_025


def test_model_config_overrides_and_rejects_unknown_keys():
    cfg = model_config({"name": "smoke", "n_layers": 2})
    assert cfg.n_layers == 2 and cfg.d_model == 32
    with pytest.raises(ValueError, match="unknown model settings"):
        model_config({"name": "smoke", "layers": 2})


def test_opacus_validator_accepts_models():
    assert ModuleValidator.validate(_model(), strict=False) == []
    assert ModuleValidator.validate(SupervisedHAR.from_config("smoke", 3), strict=False) == []
    assert GradSampleModule.validate(_model(), strict=False) == []


@pytest.mark.parametrize("force_functorch", [False, True], ids=["hooks", "functorch"])
def test_opacus_per_sample_gradients_are_exact(force_functorch):
    """Opacus grad samples (incl. the logit scale) equal one-example-at-a-time gradients."""
    model = _model()
    x, text = _windows(3), torch.randn(3, TEXT_DIM)
    objective = PublicInfoNCEObjective(torch.randn(4, TEXT_DIM), reduction="sum")
    gsm = GradSampleModule(_model(), loss_reduction="sum", force_functorch=force_functorch)
    objective(gsm, (x, text)).backward()
    for i in range(3):
        model.zero_grad()
        objective(model, (x[i:i + 1], text[i:i + 1])).backward()
        for (name, p), q in zip(model.named_parameters(), gsm._module.parameters(), strict=True):
            torch.testing.assert_close(q.grad_sample[i], p.grad, atol=1e-5, rtol=1e-4,
                                       msg=name)


def _private(model, mode: str):
    rng = np.random.default_rng(0)
    loader = stage2_loader(_windows(8).numpy(), rng.normal(size=(8, TEXT_DIM)), batch_size=4)
    optimizer = make_optimizer(model, lr=1e-2)
    objective = PublicInfoNCEObjective(rng.normal(size=(5, TEXT_DIM)))
    engine = PrivacyEngine(accountant="rdp")
    kwargs = {"criterion": objective} if mode == "ghost" else {}
    out = engine.make_private(module=model, optimizer=optimizer, data_loader=loader,
                              noise_multiplier=1.0, max_grad_norm=1.0,
                              grad_sample_mode=mode, **kwargs)
    if mode == "ghost":  # ghost clipping also wraps the criterion: (model, opt, crit, loader)
        return out[0], out[1], out[3], out[2]
    return (*out, objective)


@pytest.mark.parametrize("mode", ["hooks", "ghost"])
def test_make_private_one_step_keeps_state_dict_keys(mode):
    model = _model()
    before = federated_state_dict(model)
    private, optimizer, loader, objective = _private(model, mode)
    batch = next(b for b in loader if len(b[0]))
    optimizer.zero_grad()
    objective(private, batch).backward()
    optimizer.step()
    after = federated_state_dict(private)
    assert list(after) == list(before)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    load_federated_state_dict(private, before)  # the server's arrays load into a DP client
    assert all(torch.equal(v, federated_state_dict(model)[k]) for k, v in before.items())


def test_federated_state_dict_rejects_wrong_keys():
    state = federated_state_dict(_model())
    state.pop(next(iter(state)))
    with pytest.raises(KeyError, match="missing"):
        load_federated_state_dict(_model(), state)


def test_windows_embed_apart_at_initialisation():
    """Regression: with acceleration in g the positional table drowned the signal, every window
    embedded alike (mean cosine 0.961 here, 0.998 on UCI HAPT; 0.864 and 0.954 now) and
    federated CLIP never left log(batch)."""
    from lanhar_fl.config import load_config
    from lanhar_fl.data.registry import load_windows

    windows = load_windows(load_config(["data.max_windows=200", "cache_dir=null"])).data
    torch.manual_seed(0)
    model = LanHARModel.from_config("small", 384).eval()
    with torch.no_grad():
        z = torch.nn.functional.normalize(model.encode_sensor(torch.from_numpy(windows)), dim=-1)
    n = len(z)
    mean_cos = float(((z @ z.T).sum() - n) / (n * (n - 1)))
    assert mean_cos < 0.93
