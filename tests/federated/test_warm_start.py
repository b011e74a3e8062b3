"""Public warm start: the server trains the sensor encoder on its public windows before round 1."""

from __future__ import annotations

import pytest
import torch

from lanhar_fl.config import ConfigError, load_config
from lanhar_fl.federated.population import split_for
from lanhar_fl.models.lanhar import LanHARModel
from server.text_side import server_text_side
from server.warm_start import warm_start

FAST = ["preset=smoke", "train.stage1.epochs=1", "federation.stage1_public_phones=4",
        "federation.stage1_max_windows=40", "data.max_windows=200", "dataset.num_phones=6",
        "label_space=four_class"]


def _setup(*extra: str):
    cfg = load_config([*FAST, *extra])
    split = split_for(cfg)
    side = server_text_side(cfg, split.bank_classes, split.seen_classes)
    model = LanHARModel.from_config(cfg.model, text_dim=side.encoder.dim)
    return cfg, split, side, model


def test_warm_start_trains_on_public_windows_only():
    cfg, split, side, model = _setup("federation.warm_start_epochs=2")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    record = warm_start(cfg, model, side, split.seen_classes)
    assert record["epochs"] == 2 and record["windows"] == 40
    assert record["sources"] == ["synthetic-seed10007"]  # the server's own phones, not a phone's
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed


def test_no_warm_start_by_default_and_none_without_public_sources():
    cfg, split, side, model = _setup()
    assert warm_start(cfg, model, side, split.seen_classes) is None
    cfg, split, side, model = _setup("federation.warm_start_epochs=1",
                                     "federation.stage1_source=none")
    with pytest.raises(ConfigError, match="warm_start_epochs=1 needs public windows"):
        warm_start(cfg, model, side, split.seen_classes)


def test_warm_start_is_cached_by_everything_it_depends_on(tmp_path):
    """A second identical warm start loads the cached weights (no training); another seed or
    another epoch count trains its own."""
    cache = f"cache_dir={tmp_path}"
    cfg, split, side, first = _setup("federation.warm_start_epochs=1", cache)
    record = warm_start(cfg, first, side, split.seen_classes)
    assert "cached" not in record and len(list((tmp_path / "warm_start").glob("*.json"))) == 1
    again = LanHARModel.from_config(cfg.model, text_dim=side.encoder.dim)
    assert warm_start(cfg, again, side, split.seen_classes)["cached"] is True
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in first.state_dict().items())
    cfg2 = load_config([*FAST, "federation.warm_start_epochs=2", cache])
    other = LanHARModel.from_config(cfg2.model, text_dim=side.encoder.dim)
    assert "cached" not in warm_start(cfg2, other, side, split.seen_classes)
    assert len(list((tmp_path / "warm_start").glob("*.json"))) == 2


def test_damaged_warm_start_cache_entry_is_trained_again(tmp_path):
    cfg, split, side, model = _setup("federation.warm_start_epochs=1", f"cache_dir={tmp_path}")
    warm_start(cfg, model, side, split.seen_classes)
    (entry,) = (tmp_path / "warm_start").glob("*.safetensors")
    entry.write_bytes(b"not a safetensors file")
    again = LanHARModel.from_config(cfg.model, text_dim=side.encoder.dim)
    assert "cached" not in warm_start(cfg, again, side, split.seen_classes)  # trained again
    third = LanHARModel.from_config(cfg.model, text_dim=side.encoder.dim)
    assert warm_start(cfg, third, side, split.seen_classes)["cached"] is True  # entry rewritten
    assert all(torch.equal(v, third.state_dict()[k]) for k, v in again.state_dict().items())
