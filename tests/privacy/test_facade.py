"""The privacy facade: one object from the config gives the server and the phone their hooks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from flwr.app import RecordDict
from flwr.serverapp.strategy import DifferentialPrivacyServerSideFixedClipping, FedAvg

from lanhar_fl.config import ConfigError, load_config
from lanhar_fl.federated import schema
from lanhar_fl.models import LanHARModel
from lanhar_fl.privacy.accountant_state import STATE_KEY
from lanhar_fl.privacy.facade import Privacy
from lanhar_fl.training.local import LocalTrainSettings, local_train

MODES = ("none", "sample_level", "client_level", "secagg")
D = 16


def _privacy(mode: str, *overrides: str) -> Privacy:
    return Privacy.from_config(load_config([f"privacy={mode}", "preset=smoke", "rounds=3",
                                            *overrides]))


def _arrays(seed: int = 0, n: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 128, 6)).astype(np.float32),
            rng.normal(size=(n, D)).astype(np.float32),
            rng.normal(size=(3, D)).astype(np.float32))


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_turns_on_exactly_its_server_hooks(mode):
    privacy = _privacy(mode)
    assert privacy.mode == mode
    assert privacy.secure_aggregation == (mode == "secagg")
    assert privacy.ships_public_negatives == (mode == "sample_level")
    assert privacy.phones_weigh_equally == (mode == "client_level")
    assert privacy.weighting_key == (schema.UNIT_WEIGHT if mode == "client_level"
                                     else schema.NUM_EXAMPLES)
    assert (privacy.simulation_resume_refusal() is None) == (mode in ("none", "client_level"))


@pytest.mark.parametrize("mode", MODES)
def test_only_client_level_wraps_the_strategy(mode):
    strategy = FedAvg(fraction_train=0.5, weighted_by_key=_privacy(mode).weighting_key)
    wrapped = _privacy(mode).wrap_strategy(strategy, num_phones=8, per_round=4)
    if mode == "client_level":
        assert isinstance(wrapped, DifferentialPrivacyServerSideFixedClipping)
    else:
        assert wrapped is strategy


@pytest.mark.parametrize("mode", ["none", "client_level", "secagg"])
def test_no_public_negatives_without_sample_level(mode):
    def public():
        raise AssertionError("public windows must not be read")

    assert _privacy(mode).phone_artifacts(public, lambda texts: np.zeros((0, D)), D) is None


def test_sample_level_ships_public_negative_records():
    privacy = _privacy("sample_level", "privacy.public_negatives=0")
    records, fingerprint = privacy.phone_artifacts(lambda: [], lambda texts: np.zeros((0, D)), D)
    assert set(records) == {schema.PUBLIC_NEGATIVES, schema.PUBLIC_NEGATIVES_META}
    assert isinstance(fingerprint, str) and fingerprint


def test_report_keys_follow_the_mode():
    history = [{"round": 0}, {"round": 1, "epsilon": 1.5, "delta": 1e-3}]
    assert _privacy("none").report(history, 8, 4) == {}
    assert set(_privacy("secagg").report(history, 8, 4)) == {"privacy"}
    report = _privacy("sample_level").report(history, 8, 4)
    assert report["epsilon"] == pytest.approx(1.5) and report["dp_mode"] == "sample_level_opacus"


@pytest.mark.parametrize("mode", ["none", "client_level", "secagg"])
def test_phone_round_without_sample_level_trains_the_plain_objective(mode):
    _, _, prototypes = _arrays()
    phone = _privacy(mode).phone_round(8, prototypes, None, RecordDict())
    assert phone.may_train and phone.dp is None
    assert phone.objective.loss == "clip" and phone.objective.privatize is None
    metrics = phone.finish(True, {}, None, {})
    # client-level without a clipping norm in the round config: only the unit weight
    assert metrics == ({schema.UNIT_WEIGHT: 1} if mode == "client_level" else {})


def test_sample_level_phone_round_trains_privately_and_keeps_its_accountant():
    windows, text, prototypes = _arrays()
    public = np.ones((2, D), np.float32)
    privacy = _privacy("sample_level", "federation.batch_size=4", "federation.local_epochs=1")
    state = RecordDict()
    phone = privacy.phone_round(len(windows), prototypes, public, state)
    objective = phone.objective
    assert phone.may_train and objective.loss == "dp_public" and objective.privatize is not None
    assert objective.num_prototypes == 3 and objective.public_negatives.shape == (5, D)
    torch.manual_seed(0)
    model = LanHARModel.from_config("smoke", D)
    losses = local_train(model, windows, text, LocalTrainSettings(1, 1e-3, 4), objective)["loss"]
    metrics = phone.finish(bool(losses), {}, None, {})
    assert metrics[schema.DP_SKIPPED] == 0 and metrics[schema.EPSILON] > 0
    assert metrics[schema.DELTA] == pytest.approx(1 / len(windows))
    assert STATE_KEY in state
    again = privacy.phone_round(len(windows), prototypes, public, state).finish(False, {}, None, {})
    assert again[schema.DP_SKIPPED] == 1
    assert again[schema.EPSILON] == pytest.approx(metrics[schema.EPSILON])  # cumulative, kept


def test_unknown_mode_is_refused_naming_the_setting():
    cfg = load_config(["preset=smoke"])
    cfg.privacy.mode = "federated_magic"
    with pytest.raises(ConfigError, match=r"privacy\.mode.*federated_magic"):
        Privacy.from_config(cfg)


@pytest.mark.parametrize("part", ["heads", "heads_norms"])
def test_dp_phone_trains_only_the_configured_part(part):
    """Under DP-SGD with ``privacy.trainable`` the phone changes only that part (fewer noisy
    parameters), and hands the model back with every parameter trainable again."""
    windows, text, prototypes = _arrays()
    privacy = _privacy("sample_level", "federation.batch_size=4", "federation.local_epochs=1",
                       f"privacy.trainable={part}", "privacy.optimizer=sgd", "privacy.lr=0.05")
    phone = privacy.phone_round(len(windows), prototypes, np.ones((2, D), np.float32),
                                RecordDict())
    settings = phone.train_settings(LocalTrainSettings(1, 1e-2, 4))
    assert (settings.trainable, settings.optimizer, settings.lr) == (part, "sgd", 0.05)
    torch.manual_seed(0)
    model = LanHARModel.from_config("smoke", D)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    local_train(model, windows, text, settings, phone.objective)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    heads = {n for n in before if n.startswith(("sensor_proj.", "text_proj.", "logit_scale."))}
    norms = {n for n in before if n.startswith("sensor_encoder.") and "norm" in n}
    assert changed and changed <= heads | (norms if part == "heads_norms" else set())
    assert not any(n.startswith("sensor_encoder.") and n not in norms for n in changed)
    assert all(p.requires_grad for p in model.parameters())


def test_trainable_part_is_refused_under_client_level_dp():
    with pytest.raises(ConfigError, match=r"privacy\.trainable=heads"):
        phone = _privacy("client_level", "+privacy.trainable=heads").phone_round(
            8, _arrays()[2], None, RecordDict())
        phone.train_settings(LocalTrainSettings(1, 1e-3, 4))


def test_client_level_report_gives_the_noise_left_on_the_average():
    privacy = _privacy("client_level", "privacy.noise_multiplier=2.0")
    # the counts the server ran with (in deployment, its connected SuperNodes), not the config's
    report = privacy.report([{"round": 1, "epsilon": 3.0, "delta": 0.025}], 16, 8)
    assert report["dp_noise_multiplier"] == pytest.approx(2.0)
    assert report["dp_noise_std_per_clip"] == pytest.approx(0.25)


@pytest.mark.parametrize("mode", ["none", "sample_level"])
def test_phone_training_defaults_keep_the_federation_settings(mode):
    phone = _privacy(mode).phone_round(8, _arrays()[2], None, RecordDict())
    base = LocalTrainSettings(2, 3e-3, 16)
    assert phone.train_settings(base) == base
