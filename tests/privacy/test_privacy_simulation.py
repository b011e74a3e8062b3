"""Each privacy mode end to end in the Flower Simulation Engine (tiny models, preset=smoke)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from flwr.app import Context, Message
from flwr.clientapp import ClientApp
from flwr.common import bytes_to_ndarray
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key
from flwr.compat.common import recorddict_compat as compat

from client import client_app as phone_app
from lanhar_fl.cli import main
from lanhar_fl.config import load_config
from lanhar_fl.eval.metrics import validate_metrics_json
from lanhar_fl.privacy.client_level import epsilon_after
from lanhar_fl.privacy.secagg import is_secagg_message, legacy_client_app
from lanhar_fl.privacy.settings import load_privacy_group
from lanhar_fl.training.checkpoint import load_checkpoint
from simulations.simulate import run

pytestmark = pytest.mark.slow
SPY_DIR = "LANHAR_FL_TEST_SECAGG_SPY"


def _cfg(tmp_path, mode: str, *extra: str, **privacy):
    cfg = load_config(["preset=smoke", "train.stage1.epochs=1", "num_phones=3",
                       "phones_per_round=3", "rounds=2", "data.max_windows=300",
                       f"run_dir={tmp_path}", *extra])
    cfg.privacy = load_privacy_group(mode)
    for key, value in privacy.items():
        cfg.privacy[key] = value
    return cfg


def test_sample_level_dp_reports_cumulative_epsilon_per_round(tmp_path):
    metrics = run(_cfg(tmp_path, "sample_level", "rounds=3", target_epsilon=8.0))
    validate_metrics_json(metrics, setting="cross_user", simulate=True, privacy=True)
    assert metrics["dp_mode"] == "sample_level_opacus"
    eps = [h["epsilon"] for h in metrics["history"][1:]]
    assert 0 < eps[0] < eps[1] < eps[2] <= 8.0 + 1e-6  # cumulative, never reset per round
    assert metrics["epsilon"] == eps[2] and 0 < metrics["delta"] < 0.1  # 1 / phone's examples
    assert metrics["privacy_audit_violations"] == 0
    assert json.loads((tmp_path / "metrics.json").read_text())["epsilon"] == eps[2]


def test_client_level_dp_with_phone_side_clipping_and_flower_accountant(tmp_path):
    metrics = run(_cfg(tmp_path, "client_level", side="client", noise_multiplier=1.0,
                       clipping_norm=0.5))
    validate_metrics_json(metrics, setting="cross_user", simulate=True, privacy=True)
    assert metrics["dp_mode"] == "client_level_central"
    eps = [h["epsilon"] for h in metrics["history"][1:]]
    assert eps == pytest.approx([epsilon_after(1.0, r, 3, 3, 1 / 3) for r in (1, 2)])
    assert metrics["privacy_audit_violations"] == 0 and metrics["phone_failures"] == 0


def _save_spy(kind: str, context: Context, arrays: list[np.ndarray], n: int = 0) -> None:
    folder = Path(os.environ[SPY_DIR])
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / f"{kind}-{context.node_id}.npz", n=n,
             **{f"a{i}": a for i, a in enumerate(arrays)})


def _plain_spy(msg: Message, context: Context, call_next) -> Message:
    """Inside secaggplus_mod: the phone's plain model before masking (never sent)."""
    out = call_next(msg, context)
    fitres = compat.recorddict_to_fitres(out.content, keep_input=True)
    from flwr.common import parameters_to_ndarrays

    _save_spy("plain", context, parameters_to_ndarrays(fitres.parameters), fitres.num_examples)
    return out


def _masked_spy(msg: Message, context: Context, call_next) -> Message:
    """Outside secaggplus_mod: what actually leaves the phone."""
    out = call_next(msg, context)
    configs = out.content.config_records.get(RECORD_KEY_CONFIGS)
    if configs is not None and Key.MASKED_PARAMETERS in configs:
        _save_spy("masked", context, [bytes_to_ndarray(b) for b in configs[Key.MASKED_PARAMETERS]])
    return out


def _spied_secagg_app() -> ClientApp:
    from flwr.client.mod import secaggplus_mod

    legacy = legacy_client_app(phone_app.secagg_fit, mods=[_masked_spy, secaggplus_mod,
                                                           _plain_spy])
    spied = ClientApp()

    @spied.train()
    def _train(msg: Message, context: Context) -> Message:
        assert is_secagg_message(msg)
        return legacy(msg, context)

    spied.query()(phone_app.query)
    return spied


spied_app = _spied_secagg_app()


def test_secagg_server_receives_only_the_aggregate(tmp_path, monkeypatch):
    monkeypatch.setenv(SPY_DIR, str(tmp_path / "spy"))
    metrics = run(_cfg(tmp_path / "run", "secagg", "rounds=1"), client_app=spied_app)
    validate_metrics_json(metrics, setting="cross_user", simulate=True)
    seen = metrics["secure_aggregation"]
    assert seen["plain_model_arrays_received"] == 0 and seen["masked_uploads"] == 3
    plain = [dict(np.load(p)) for p in sorted((tmp_path / "spy").glob("plain-*.npz"))]
    masked = [dict(np.load(p)) for p in sorted((tmp_path / "spy").glob("masked-*.npz"))]
    assert len(plain) == len(masked) == 3
    # what left each phone is masked: uniform-looking integers, unrelated to its model
    for m in masked:
        values = np.concatenate([v.ravel() for k, v in m.items() if k.startswith("a")])
        assert values.dtype.kind in "iu" and values.max() > 2**30
    # ... yet the server's model is exactly the example-weighted mean of the plain models
    weights = np.array([float(p["n"]) for p in plain])
    step = 2 * 8.0 / 2**22 / (weights.min() / 1000.0)  # SecAgg+ quantisation of one phone
    model, _ = load_checkpoint(tmp_path / "run" / "sensor_encoder")
    from lanhar_fl.models import federated_state_dict

    final = [v.numpy() for v in federated_state_dict(model).values()]
    for i, got in enumerate(final):
        expected = sum(w * p[f"a{i}"] for w, p in zip(weights, plain, strict=True)) / weights.sum()
        np.testing.assert_allclose(got, expected, atol=2 * step)
        assert not any(np.allclose(got, p[f"a{i}"], atol=1e-6) for p in plain if got.size > 1)


def test_privacy_sweep_command_writes_tradeoff_outputs(tmp_path):
    code = main(["privacy-sweep", "preset=smoke", "train.stage1.epochs=1", "num_phones=3",
                 "phones_per_round=3", "rounds=1", "data.max_windows=300", f"run_dir={tmp_path}",
                 "+sweep.levels=[inf,8]", "+sweep.seeds=[0]"])
    assert code == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    validate_metrics_json(metrics, simulate=True, privacy=True)
    assert [r["mode"] for r in metrics["sweep"]] == ["none", "sample_level"]
    assert metrics["sweep"][0]["epsilon"] is None and metrics["epsilon"] <= 8.0
    assert all(0 <= r["mia_auc"] <= 1 for r in metrics["sweep"])
    # gradient canaries (the default), scored against the initial model each cell saved
    assert all(r["canary_count"] == 100 and r["canary_epsilon_lb"] >= 0 for r in metrics["sweep"])
    assert all((tmp_path / r["run_dir"] / "initial_sensor_encoder.safetensors").is_file()
               for r in metrics["sweep"])
    assert len((tmp_path / "tradeoff.csv").read_text().splitlines()) == 3
    assert (tmp_path / "tradeoff.png").stat().st_size > 1000
