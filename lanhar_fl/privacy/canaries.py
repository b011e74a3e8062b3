"""Canary audit from one training run (Steinke, Nasr, Jagielski 2023, arXiv 2305.08846).

The auditor builds ``m`` canaries (``privacy.audit_canaries``) from the run config alone: canary
``i`` is a seeded window of random sinusoids plus noise at IMU scale (out of distribution for
every phone) with a random target class, belongs to phone ``i mod phones`` and is included in
that phone's training set with probability 1/2. Nothing crosses the privacy boundary: the phone
derives its own canaries from the same config (a simulation-only audit, like
``privacy.audit_holdout``) and pairs each with its target class's prototype instead of an
interpretation.

After training, each canary is scored with the final model (``scores``): cosine to its target
prototype minus the largest cosine to another class. Guessing IN for the top ``k`` scores and OUT
for the bottom ``k``, ``v`` correct of ``r = 2k`` guesses would be unlikely under (eps, delta)-DP
for large eps; ``epsilon_lower_bound`` is the largest eps the guesses reject at 95% confidence
(Bonferroni over a fixed set of ``k``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from omegaconf import DictConfig
from scipy import stats

from ..config import ConfigError
from ..data.windows import Windows
from .settings import privacy_section

CANARY_SEED = 104_729
CANARY_DEVICE = "audit_canary"
ACC_STD, GYRO_STD, GRAVITY = 4.0, 1.5, 9.81  # m/s^2, rad/s, m/s^2
GUESS_FRACTIONS = (1 / 50, 1 / 20, 1 / 10, 1 / 4)
CANARY_KINDS = ("windows", "gradients")
INITIAL_CHECKPOINT = "initial_sensor_encoder"  # in run_dir, written when the run has canaries


def canary_count(cfg: DictConfig) -> int:
    """``privacy.audit_canaries`` (0: no canaries)."""
    m = privacy_section(cfg).get("audit_canaries", 0) or 0
    if isinstance(m, bool) or not isinstance(m, int) or m < 0:
        raise ConfigError(f"privacy.audit_canaries must be an integer >= 0, got {m!r}")
    return m


def canary_kind(cfg: DictConfig) -> str:
    """``privacy.audit_canary_kind``: ``windows`` (default, this module) or ``gradients``
    (``gradient_canaries.py``)."""
    kind = privacy_section(cfg).get("audit_canary_kind", "windows") or "windows"
    if kind not in CANARY_KINDS:
        raise ConfigError(f"privacy.audit_canary_kind must be one of {CANARY_KINDS}, got "
                          f"{kind!r}")
    return str(kind)


def included(seed: int, m: int) -> np.ndarray:
    """Boolean (m,): which canaries are in training (each with probability 1/2)."""
    return np.random.default_rng([int(seed), CANARY_SEED, 0]).random(m) < 0.5


def targets(seed: int, m: int, num_classes: int) -> np.ndarray:
    """(m,) target class index of each canary, uniform over ``num_classes``."""
    return np.random.default_rng([int(seed), CANARY_SEED, 1]).integers(0, num_classes, m)


def canary_window(seed: int, index: int, length: int, gravity: bool = True) -> np.ndarray:
    """Canary ``index``: (length, 6) float32, per channel a sinusoid of random frequency, phase
    and amplitude plus Gaussian noise (IMU scale; gravity on +Z unless removed). Distinct
    spectra make canaries distinguishable from each other, which pure noise windows are not."""
    rng = np.random.default_rng([int(seed), CANARY_SEED, 2, int(index)])
    t = np.arange(length) / length
    cycles = rng.uniform(1.0, max(2.0, length / 4), 6)
    phase = rng.uniform(0, 2 * np.pi, 6)
    scale = np.array([ACC_STD] * 3 + [GYRO_STD] * 3)
    amplitude = rng.uniform(0.5, 1.5, 6) * scale
    window = amplitude * np.sin(2 * np.pi * cycles * t[:, None] + phase)
    window += rng.normal(0.0, 0.25, (length, 6)) * scale
    if gravity:
        window[:, 2] += GRAVITY
    return window.astype(np.float32)


def phone_canaries(seed: int, m: int, phones: int, phone_index: int) -> np.ndarray:
    """Indices of the canaries phone ``phone_index`` trains on (round-robin, included only)."""
    mine = np.arange(phone_index, m, max(1, phones))
    return mine[included(seed, m)[mine]]


def include(cfg: DictConfig, windows: Windows, phone_index: int) -> Windows:
    """``windows`` plus this phone's included canaries (``subjects`` -1 - canary index)."""
    from ..federated.population import phone_count

    m = canary_count(cfg)
    if not m or not len(windows) or canary_kind(cfg) != "windows":
        return windows
    ids = phone_canaries(int(cfg.seed), m, phone_count(cfg), phone_index)
    if not len(ids):
        return windows
    base = windows.subset(np.zeros(len(ids), np.int64))
    gravity = not bool(windows.gravity_removed[0])
    data = np.stack([canary_window(int(cfg.seed), i, windows.window_length, gravity)
                     for i in ids])
    extra = replace(base, data=data, subjects=-1 - ids.astype(np.int64),
                    has_gyro=np.ones(len(ids), bool),
                    devices=np.full(len(ids), CANARY_DEVICE))
    return Windows.concatenate([windows, extra])


def embed(cfg: DictConfig, windows: Windows, embed_real: Callable[[Windows], np.ndarray],
          prototypes: np.ndarray) -> np.ndarray:
    """Text embeddings of ``windows``: ``embed_real`` for real windows, the target prototype for
    canaries (the auditor sets the pair; canaries never reach the interpreter)."""
    canary = windows.devices == CANARY_DEVICE
    if not canary.any():
        return embed_real(windows)
    real = np.flatnonzero(~canary)
    first = embed_real(windows.subset(real)) if len(real) else None
    dim = prototypes.shape[1] if first is None else first.shape[1]
    out = np.empty((len(windows), dim), np.float32)
    if first is not None:
        out[real] = first
    ids = -1 - windows.subjects[canary]
    out[canary] = prototypes[targets(int(cfg.seed), canary_count(cfg), len(prototypes))[ids]]
    return out


def audit(cfg: DictConfig, model: Any, prototypes: np.ndarray, length: int, gravity: bool,
          delta: float = 1e-5) -> dict[str, Any]:
    """Score all ``privacy.audit_canaries`` canaries with the trained ``model`` against the bank
    ``prototypes`` and return the epsilon lower bound (empty when there are no canaries)."""
    from ..training.stage2 import predict_zero_shot

    m, seed = canary_count(cfg), int(cfg.seed)
    if not m:
        return {}
    data = np.stack([canary_window(seed, i, length, gravity) for i in range(m)])
    _, sims = predict_zero_shot(model, data, prototypes)
    margin = scores(sims, targets(seed, m, len(prototypes)))
    return epsilon_lower_bound(margin, included(seed, m), delta)


def scores(similarities: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Margin of each canary: cosine to its target minus the best cosine to another class."""
    sims = np.asarray(similarities, float)
    rows = np.arange(len(sims))
    own = sims[rows, target]
    others = sims.copy()
    others[rows, target] = -np.inf
    return own - others.max(axis=1)


def p_value(m: int, r: int, v: int, epsilon: float, delta: float) -> float:
    """P-value of ``v`` or more correct of ``r`` guesses about ``m`` canaries under
    (epsilon, delta)-DP (Steinke et al. 2023, Theorem 3.1 with the delta term of its
    Proposition 5.3): ``P[Binomial(r, q) >= v] + 2 m delta max_i P[v - i <= B < v] / i``
    with ``q = e^eps / (1 + e^eps)``."""
    if not 0 <= v <= r <= m:
        raise ValueError(f"need 0 <= v <= r <= m, got v={v}, r={r}, m={m}")
    q = 1.0 / (1.0 + math.exp(-epsilon))
    tail = float(stats.binom.sf(v - 1, r, q))
    if v == 0 or delta == 0:
        return min(1.0, tail)
    below = stats.binom.pmf(np.arange(v - 1, -1, -1), r, q)  # P[B = v-1], P[B = v-2], ...
    alpha = float(np.max(np.cumsum(below) / np.arange(1, v + 1)))
    return min(1.0, tail + alpha * delta * 2 * m)


def epsilon_for(m: int, r: int, v: int, delta: float, level: float) -> float:
    """The largest epsilon whose p-value stays below ``level`` (0 when even 0 is not)."""
    if p_value(m, r, v, 0.0, delta) >= level:
        return 0.0
    low, high = 0.0, 1.0
    while p_value(m, r, v, high, delta) < level:
        low, high = high, 2 * high
        if high > 1e3:
            return low
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if p_value(m, r, v, mid, delta) < level else (low, mid)
    return low


def epsilon_lower_bound(canary_scores: np.ndarray, member: np.ndarray, delta: float = 1e-5,
                        confidence: float = 0.95,
                        fractions: Sequence[float] = GUESS_FRACTIONS) -> dict[str, Any]:
    """The canary audit: for each ``k`` (``fractions`` of m), IN for the k highest scores, OUT
    for the k lowest; the largest eps lower bound over the k, each at level
    ``(1 - confidence) / len(ks)``."""
    s, member = np.asarray(canary_scores, float), np.asarray(member, bool)
    m = len(s)
    ks = sorted({min(m // 2, max(1, round(m * f))) for f in fractions} - {0})
    if not ks:
        return {"canary_epsilon_lb": 0.0, "canary_guesses": 0, "canary_correct": 0,
                "canary_k": 0, "canary_count": m}
    level = (1.0 - confidence) / len(ks)
    order = np.argsort(s, kind="stable")
    best: dict[str, Any] = {}
    for k in ks:
        correct = int(member[order[-k:]].sum() + (~member[order[:k]]).sum())
        eps = epsilon_for(m, 2 * k, correct, delta, level)
        if not best or eps > best["canary_epsilon_lb"]:
            best = {"canary_epsilon_lb": eps, "canary_guesses": 2 * k,
                    "canary_correct": correct, "canary_k": k}
    return {**best, "canary_count": m, "canary_delta": delta}
