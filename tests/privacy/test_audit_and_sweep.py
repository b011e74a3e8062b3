"""Membership-inference audit and the sweep's grid, table and plot (no simulation here)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lanhar_fl.config import ConfigError, load_config
from lanhar_fl.models import LanHARModel
from lanhar_fl.privacy import tradeoff
from lanhar_fl.privacy.membership import attack_auc, audit_mask, membership_audit
from simulations.privacy_sweep import Cell, cell_config, grid, representative, sweep_settings


def test_attack_auc_matches_pairwise_counting():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.3, 1, 40).round(1), rng.normal(0, 1, 50).round(1)
    pairs = (a[:, None] > b[None]).mean() + 0.5 * (a[:, None] == b[None]).mean()
    assert attack_auc(a, b) == pytest.approx(pairs)
    assert attack_auc([2, 3], [0, 1]) == 1.0 and attack_auc([0, 1], [2, 3]) == 0.0


def test_audit_mask_is_deterministic_and_never_holds_out_everything():
    m = audit_mask(50, phone_index=3, seed=1, fraction=0.2)
    assert m.sum() == 10 and (m == audit_mask(50, 3, 1, 0.2)).all()
    assert not (m == audit_mask(50, 4, 1, 0.2)).all()
    assert audit_mask(1, 0, 0, 0.9).sum() == 0 and audit_mask(10, 0, 0, 0.0).sum() == 0


def test_membership_audit_on_an_untrained_model_is_near_chance():
    rng = np.random.default_rng(0)
    model = LanHARModel.from_config("smoke", 16)
    members = (rng.normal(size=(200, 24, 6)).astype(np.float32),
               rng.normal(size=(200, 16)).astype(np.float32))
    nonmembers = (rng.normal(size=(200, 24, 6)).astype(np.float32),
                  rng.normal(size=(200, 16)).astype(np.float32))
    out = membership_audit(model, members, nonmembers, rng.normal(size=(6, 16)))
    assert abs(out["mia_auc_loss"] - 0.5) < 0.1 and out["mia_members"] == 200


def test_sweep_grid_settings_and_cell_configs(tmp_path):
    cfg = load_config(["preset=smoke", "num_phones=4", "+sweep.levels=[inf,8,2]",
                       "+sweep.seeds=[0,1]", "+sweep.modes=[sample_level,client_level]"])
    settings = sweep_settings(cfg)
    cells = grid(settings)
    assert len(cells) == 2 * (1 + 2 * 2) and cells[0] == Cell("none", "epsilon", math.inf, 0)
    assert [(c.mode, c.level, c.seed) for c in cells[:4]] == [
        ("none", math.inf, 0), ("none", math.inf, 1), ("sample_level", 8.0, 0),
        ("sample_level", 8.0, 1)]  # level by level: a cut-short sweep keeps whole levels
    c = cell_config(cfg, Cell("client_level", "target_epsilon", 2.0, 1), tmp_path, 0.2, None)
    assert c.privacy.mode == "client_level" and c.privacy.target_epsilon == 2.0
    assert c.seed == 1 and c.privacy.audit_holdout == 0.2 and "cells" in c.run_dir
    assert c.dataset.num_phones > 4  # held-out test phones added for the server
    assert c.privacy.audit_canaries == 0
    assert cell_config(cfg, cells[0], tmp_path, 0.2, None, 50).privacy.audit_canaries == 50
    z = cell_config(cfg, Cell("sample_level", "noise_multiplier", 1.5, 0), tmp_path, 0.0, None)
    assert z.privacy.target_epsilon is None and z.privacy.noise_multiplier == 1.5
    with pytest.raises(ConfigError):
        sweep_settings(load_config(["+sweep.modes=[secagg]"]))
    with pytest.raises(ConfigError):
        sweep_settings(load_config(["+sweep.colour=red"]))


def test_smoke_preset_sweeps_two_cells_unless_told_otherwise():
    smoke = sweep_settings(load_config(["preset=smoke"]))
    assert [c.name for c in grid(smoke)] == ["none_epsilon-inf_seed0",
                                             "sample_level_target_epsilon-4_seed0"]
    assert len(grid(sweep_settings(load_config([])))) == 3 * 5  # the real sweep is unchanged
    given = sweep_settings(load_config(["preset=smoke", "+sweep.seeds=[0,1]"]))
    assert given["seeds"] == [0, 1] and given["levels"] == smoke["levels"]


def test_tradeoff_table_summary_plot_and_representative(tmp_path):
    rows = [{"mode": "none", "level_kind": "epsilon", "level": math.inf, "seed": s,
             "epsilon": math.inf, "accuracy": 0.8 + 0.01 * s, "mia_auc": 0.6,
             "mia_auc_lira": 0.7, "canary_epsilon_lb": 2.0 + s, "round0_accuracy": 0.7}
            for s in (0, 1)]
    rows += [{"mode": "sample_level", "level_kind": "target_epsilon", "level": e, "seed": s,
              "epsilon": e * 0.99, "accuracy": 0.5 + 0.03 * e, "mia_auc": 0.5,
              "mia_auc_lira": 0.5, "canary_epsilon_lb": 0.0}
             for e in (1.0, 8.0) for s in (0, 1)]
    tradeoff.write_csv(rows, tmp_path / "t.csv")
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert len(lines) == 7 and lines[1].startswith("none,") and ",inf," in lines[1]
    summary = {(g["mode"], g["level"]): g for g in tradeoff.summarise(rows)}
    assert summary[("none", math.inf)]["accuracy_std"] == pytest.approx(0.005)
    assert summary[("none", math.inf)]["epsilon_mean"] is None
    assert summary[("none", math.inf)]["canary_epsilon_lb_mean"] == pytest.approx(2.5)
    assert summary[("none", math.inf)]["round0_accuracy_mean"] == pytest.approx(0.7)
    assert "canary_epsilon_lb" in lines[0] and "mia_auc_lira" in lines[0]
    assert tradeoff.tradeoff_plot(rows, tmp_path / "t.png").stat().st_size > 1000
    assert rows[representative(rows)]["level"] == 8.0
