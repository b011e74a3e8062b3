"""The ``privacy`` config group (``configs/privacy/<mode>.yaml``), read and validated.

``cfg.privacy.mode``: ``none`` | ``sample_level`` (DP-SGD on each phone, Opacus) |
``client_level`` (central DP over phone updates, Flower's wrappers) | ``secagg`` (SecAgg+ on
Flower's legacy path). A config without a ``privacy`` section means ``none``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ..config import ConfigError, config_dir
from ..config_checks import TRAINABLE_PARTS

MODES = ("none", "sample_level", "client_level", "secagg")
GRAD_SAMPLE_MODES = ("hooks", "functorch", "ghost")
ACCOUNTANTS = ("rdp", "prv")


def privacy_section(cfg: DictConfig) -> DictConfig:
    """``cfg.privacy``, or the ``none`` group when the config has no privacy section."""
    section = cfg.get("privacy")
    return section if section is not None else load_privacy_group("none")


def privacy_mode(cfg: DictConfig) -> str:
    mode = str(privacy_section(cfg).get("mode", "none"))
    if mode not in MODES:
        raise ConfigError(f"privacy.mode: expected one of {MODES}, got {mode!r}")
    return mode


def load_privacy_group(name: str) -> DictConfig:
    """``configs/privacy/<name>.yaml`` as a config (e.g. to switch mode inside a sweep)."""
    path = config_dir() / "privacy" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"privacy={name}: no configs/privacy/{name}.yaml (modes: {MODES})")
    section = OmegaConf.load(path)
    OmegaConf.set_struct(section, False)
    return section


def audit_holdout(cfg: DictConfig) -> float:
    """Fraction of each phone's windows kept out of training as membership-audit non-members."""
    fraction = float(privacy_section(cfg).get("audit_holdout", 0.0) or 0.0)
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"privacy.audit_holdout must be in [0, 1), got {fraction}")
    return fraction


def _optional_positive(p: DictConfig, key: str) -> float | None:
    value = p.get(key)
    if value is None:
        return None
    value = float(value)
    if not value > 0 or math.isnan(value):
        raise ConfigError(f"privacy.{key} must be positive (or null), got {value}")
    return value


def _delta(p: DictConfig) -> float | None:
    delta = p.get("delta")
    if delta is not None and not 0.0 < float(delta) < 1.0:
        raise ConfigError(f"privacy.delta must be in (0, 1) or null, got {delta}")
    return None if delta is None else float(delta)


def _choice(p: DictConfig, key: str, default: str, choices: tuple[str, ...]) -> str:
    """``privacy.<key>``, which must be one of ``choices``."""
    value = str(p.get(key, default))
    if value not in choices:
        raise ConfigError(f"privacy.{key}: one of {choices}, got {value!r}")
    return value


def _budget(p: DictConfig) -> tuple[float | None, float | None]:
    """(target epsilon, noise multiplier): exactly one is set; a finite target wins."""
    target = _optional_positive(p, "target_epsilon")
    noise = _optional_positive(p, "noise_multiplier")
    if target is not None and math.isinf(target):
        raise ConfigError("privacy.target_epsilon=inf means no DP: use privacy=none")
    if target is None and noise is None:
        raise ConfigError("privacy: set target_epsilon or noise_multiplier")
    return target, (None if target is not None else noise)


@dataclass(frozen=True)
class SampleLevel:
    """DP-SGD on each phone (``privacy=sample_level``)."""

    target_epsilon: float | None  # total over all rounds; None: noise_multiplier is used
    noise_multiplier: float | None
    delta: float | None  # None: 1 / (examples on the phone)
    max_grad_norm: float
    accountant: str
    grad_sample_mode: str
    public_negatives: int
    prototype_distillation: float = 1.0  # weight of the loss term (training/losses.py)

    @classmethod
    def from_cfg(cls, cfg: DictConfig) -> SampleLevel:
        p = privacy_section(cfg)
        target, noise = _budget(p)
        mode = _choice(p, "grad_sample_mode", "hooks", GRAD_SAMPLE_MODES)
        accountant = _choice(p, "accountant", "rdp", ACCOUNTANTS)
        max_norm = _optional_positive(p, "max_grad_norm") or 1.0
        count = int(p.get("public_negatives", 64))
        if count < 0:
            raise ConfigError(f"privacy.public_negatives must be >= 0, got {count}")
        distill = float(p.get("prototype_distillation", 1.0))
        if distill < 0:
            raise ConfigError(f"privacy.prototype_distillation must be >= 0, got {distill}")
        return cls(target, noise, _delta(p), max_norm, accountant, mode, count, distill)


@dataclass(frozen=True)
class PhoneTraining:
    """What a phone trains under DP and how (``privacy.trainable``, ``privacy.optimizer``,
    ``privacy.momentum``, ``privacy.lr``; ``trainable`` in every mode but ``client_level``,
    whose server-side noise covers every array however few a phone changes)."""

    trainable: str = "all"
    optimizer: str = "adamw"
    momentum: float = 0.9
    lr: float | None = None  # None: federation.lr

    @classmethod
    def from_cfg(cls, cfg: DictConfig) -> PhoneTraining:
        p = privacy_section(cfg)
        trainable = _choice(p, "trainable", "all", TRAINABLE_PARTS)
        if trainable != "all" and str(p.get("mode")) == "client_level":
            raise ConfigError(f"privacy.trainable={trainable} with privacy=client_level: the "
                              "server's noise covers every array, so it saves no noise")
        momentum = float(p.get("momentum", 0.9))
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"privacy.momentum must be in [0, 1), got {momentum}")
        return cls(trainable, _choice(p, "optimizer", "adamw", ("adamw", "sgd")), momentum,
                   _optional_positive(p, "lr"))


@dataclass(frozen=True)
class ClientLevel:
    """Central DP over phone updates (``privacy=client_level``)."""

    target_epsilon: float | None
    noise_multiplier: float | None
    delta: float | None  # None: 1 / (number of phones)
    clipping: str  # fixed | adaptive
    side: str  # server | client: who clips the update
    clipping_norm: float  # fixed: the norm; adaptive: the initial norm
    target_quantile: float
    clip_norm_lr: float

    @classmethod
    def from_cfg(cls, cfg: DictConfig) -> ClientLevel:
        p = privacy_section(cfg)
        target, noise = _budget(p)
        clipping = _choice(p, "clipping", "fixed", ("fixed", "adaptive"))
        side = _choice(p, "side", "server", ("server", "client"))
        return cls(target, noise, _delta(p), clipping, side,
                   _optional_positive(p, "clipping_norm") or 1.0,
                   float(p.get("target_quantile", 0.5)), float(p.get("clip_norm_lr", 0.2)))


@dataclass(frozen=True)
class SecAgg:
    """SecAgg+ settings (``privacy=secagg``), see ``flwr.server.workflow.SecAggPlusWorkflow``."""

    num_shares: int | float
    reconstruction_threshold: int | float
    clipping_range: float
    max_weight: float

    @classmethod
    def from_cfg(cls, cfg: DictConfig) -> SecAgg:
        p = privacy_section(cfg)
        return cls(_int_or_fraction(p.get("num_shares", 3)),
                   _int_or_fraction(p.get("reconstruction_threshold", 2)),
                   float(p.get("clipping_range", 8.0)), float(p.get("max_weight", 1000.0)))


def _int_or_fraction(value: Any) -> int | float:
    """Flower reads an int as a count and a float as a fraction of the sampled phones."""
    return int(value) if float(value).is_integer() and float(value) >= 1 else float(value)
