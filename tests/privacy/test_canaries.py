"""The one-run canary audit: the epsilon lower bound, the canary set, the phone-side hook."""

from __future__ import annotations

import math

import numpy as np
import pytest
from omegaconf import OmegaConf

from lanhar_fl.config import ConfigError
from lanhar_fl.data.windows import Windows
from lanhar_fl.privacy import canaries


def test_random_scores_give_no_bound():
    rng = np.random.default_rng(0)
    member = rng.random(1000) < 0.5
    out = canaries.epsilon_lower_bound(rng.normal(size=1000), member)
    assert out["canary_epsilon_lb"] == 0.0 and out["canary_count"] == 1000


def test_bound_grows_with_perfect_separation_and_with_more_canaries():
    bounds = []
    for m in (100, 1000):
        member = np.random.default_rng(1).random(m) < 0.5
        bounds.append(canaries.epsilon_lower_bound(member.astype(float), member, delta=0.0))
        assert bounds[-1]["canary_correct"] == bounds[-1]["canary_guesses"]
    assert 0.5 < bounds[0]["canary_epsilon_lb"] < bounds[1]["canary_epsilon_lb"]


def test_randomized_response_at_epsilon_one_is_not_overstated():
    """An eps-DP mechanism (randomized response on membership) must not be audited above eps."""
    rng = np.random.default_rng(2)
    m, eps = 20_000, 1.0
    member = rng.random(m) < 0.5
    truthful = rng.random(m) < math.exp(eps) / (1 + math.exp(eps))
    said = np.where(truthful, member, ~member)
    out = canaries.epsilon_lower_bound(said + 1e-3 * rng.random(m), member, delta=0.0)
    assert 0.3 < out["canary_epsilon_lb"] <= eps + 0.05


def test_p_value_is_a_binomial_tail_and_delta_only_adds():
    assert canaries.p_value(10, 10, 10, 0.0, 0.0) == pytest.approx(0.5 ** 10)
    assert canaries.p_value(10, 10, 0, 1.0, 0.0) == 1.0
    assert canaries.p_value(100, 20, 18, 1.0, 1e-3) >= canaries.p_value(100, 20, 18, 1.0, 0.0)
    with pytest.raises(ValueError):
        canaries.p_value(10, 5, 6, 1.0, 0.0)


def _cfg(m: int, seed: int = 0):
    return OmegaConf.create({"seed": seed, "privacy": {"mode": "none", "audit_canaries": m}})


def _windows(n: int, length: int = 24) -> Windows:
    return Windows(data=np.zeros((n, length, 6), np.float32), labels=np.zeros(n, np.int64),
                   class_names=("walk",), subjects=np.full(n, 3), dataset="t",
                   sampling_rate_hz=20.0, has_gyro=np.ones(n, bool),
                   gravity_removed=np.zeros(n, bool), gravity_aligned=np.ones(n, bool),
                   placements=np.full(n, "waist"), devices=np.full(n, "phone"))


def test_canary_set_is_seeded_and_about_half_included():
    a, b = canaries.included(0, 2000), canaries.included(0, 2000)
    assert (a == b).all() and 0.45 < a.mean() < 0.55
    assert not (a == canaries.included(1, 2000)).all()
    w = canaries.canary_window(0, 5, 24)
    assert w.shape == (24, 6) and w.dtype == np.float32
    assert np.allclose(w, canaries.canary_window(0, 5, 24))
    assert not np.allclose(w, canaries.canary_window(0, 6, 24))
    assert set(canaries.targets(0, 500, 3)) == {0, 1, 2}
    with pytest.raises(ConfigError, match="audit_canaries"):
        canaries.canary_count(_cfg(-1))


def test_phone_gets_only_its_included_canaries_paired_with_their_target(monkeypatch):
    from lanhar_fl.federated import population

    monkeypatch.setattr(population, "phone_count", lambda cfg: 4)
    cfg = _cfg(40)
    windows = _windows(5)
    out = canaries.include(cfg, windows, phone_index=1)
    ids = -1 - out.subjects[5:]
    expected = [i for i in range(1, 40, 4) if canaries.included(0, 40)[i]]
    assert list(ids) == expected and len(out) == 5 + len(expected)
    assert np.allclose(out.data[5], canaries.canary_window(0, expected[0], 24))
    assert (out.data[:5] == 0).all() and out.has_gyro.all()
    assert canaries.include(_cfg(0), windows, 1) is windows

    prototypes = np.eye(3, 8, dtype=np.float32)
    calls = []

    def real(w: Windows) -> np.ndarray:
        calls.append(len(w))
        return np.full((len(w), 8), 7.0, np.float32)

    emb = canaries.embed(cfg, out, real, prototypes)
    assert calls == [5] and (emb[:5] == 7.0).all()  # the interpreter never sees a canary
    target = canaries.targets(0, 40, 3)[expected]
    assert np.allclose(emb[5:], prototypes[target])


def test_margin_score():
    sims = np.array([[0.9, 0.1, 0.3], [0.2, 0.5, 0.4]])
    assert canaries.scores(sims, np.array([0, 2])) == pytest.approx([0.6, -0.1])
