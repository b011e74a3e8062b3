"""Types, ranges and choices of the settings every command reads, checked once up front.

``validate(cfg)`` runs in ``lanhar-fl``'s ``main`` right after the config is composed, before
Ray, a model or a dataset loads; the first bad setting raises ``ConfigError`` naming it and its
value. The rules are a table (``RULES``): a setting absent from the config is not checked (the
privacy groups, for instance, have different keys).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .config import ConfigError

_MISSING = object()


@dataclass(frozen=True)
class Integer:
    """An int (not a bool, not a float) in [low, high]; ``None`` allowed when ``nullable``."""

    low: int | None = None
    high: int | None = None
    nullable: bool = False

    def __call__(self, value: Any) -> str | None:
        if value is None:
            return None if self.nullable else "expected an integer, got null"
        if isinstance(value, bool) or not isinstance(value, int):
            return f"expected an integer{' or null' if self.nullable else ''}"
        return _range(value, self.low, self.high, low_open=False)


@dataclass(frozen=True)
class Number:
    """A finite int or float in the range; ``low_open``: the lower bound is excluded."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    nullable: bool = False

    def __call__(self, value: Any) -> str | None:
        if value is None:
            return None if self.nullable else "expected a number, got null"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected a number{' or null' if self.nullable else ''}"
        if not math.isfinite(value):
            return "expected a finite number"
        return _range(value, self.low, self.high, low_open=self.low_open,
                      high_open=self.high_open)


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]
    ignore_case: bool = False

    def __call__(self, value: Any) -> str | None:
        text = str(value).lower() if self.ignore_case else value
        if not isinstance(value, str) or text not in self.options:
            return f"expected one of {', '.join(self.options)}"
        return None


@dataclass(frozen=True)
class Boolean:
    def __call__(self, value: Any) -> str | None:
        return None if isinstance(value, bool) else "expected true or false"


@dataclass(frozen=True)
class Text:
    """A non-empty string (a path, a device name)."""

    nullable: bool = False

    def __call__(self, value: Any) -> str | None:
        if value is None and self.nullable:
            return None
        return None if isinstance(value, str) and value.strip() else "expected a non-empty string"


@dataclass(frozen=True)
class Stage1Sources:
    """A stage-1 source setting: ``none``, ``train``, ``synthetic+uci_hapt:1-10`` or a list."""

    def __call__(self, value: Any) -> str | None:
        from .pipeline.stage1_sources import parse_sources

        try:
            parse_sources(value, "source")
        except ConfigError as exc:
            return str(exc).removeprefix("source: ")
        return None


def _range(value: float, low: float | None, high: float | None, *, low_open: bool,
           high_open: bool = False) -> str | None:
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not (too_low or too_high):
        return None
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    if low is not None and high is None:
        return f"must be {'>' if low_open else '>='} {low:g}"
    return f"must be in {left}{lo}, {hi}{right}"


POSITIVE = Number(0, low_open=True)
FRACTION = Number(0, 1)  # [0, 1]
COUNT = Integer(1)
EPOCHS = Integer(0)

# Model settings with a fixed set of values (``models.presets.ModelConfig`` checks against these
# too; they live here so that the CLI refuses them before anything runs without importing torch).
MODEL_INPUTS = ("axes", "heading_invariant", "magnitude")
TRAINABLE_PARTS = ("all", "heads", "heads_norms")  # models/trainable.py
MODEL_ACTIVATIONS = ("gelu", "relu")

RULES: dict[str, Callable[[Any], str | None]] = {
    "seed": Integer(),
    "run_dir": Text(),
    "overwrite": Boolean(),
    "verbose": Boolean(),
    "device": Text(),
    "index": Integer(0),
    "num_phones": Integer(1, nullable=True),
    "test_phones": Integer(1, nullable=True),
    "model.inputs": Choice(MODEL_INPUTS),
    "model.activation": Choice(MODEL_ACTIVATIONS),
    "phones_per_round": COUNT,
    "rounds": COUNT,
    "data.target_rate_hz": POSITIVE,
    "interpreter.style": Choice(("words", "cited")),
    "data.window_seconds": POSITIVE,
    "data.overlap": Number(0, 1, high_open=True),
    "data.gravity_align": Boolean(),
    "data.remove_gravity": Boolean(),
    "data.gravity_cutoff_hz": POSITIVE,
    "data.max_nan_gap_seconds": Number(0),
    "data.max_windows": Integer(1, nullable=True),
    "federation.strategy": Choice(("fedavg", "fedprox", "fedadam"), ignore_case=True),
    "federation.proximal_mu": Number(0),
    "federation.server_lr": POSITIVE,
    "federation.local_epochs": COUNT,
    "federation.lr": POSITIVE,
    "federation.batch_size": COUNT,
    "federation.partition": Choice(tuple(p + s for p in ("", "by_") for s in (
        "subject", "dirichlet", "iid", "device", "placement"))),
    "federation.alpha": POSITIVE,
    "federation.fraction_evaluate": FRACTION,
    "federation.min_phones": Integer(1, nullable=True),
    "federation.round_timeout_s": POSITIVE,
    "federation.stage1_source": Stage1Sources(),
    "train.stage1.source": Stage1Sources(),
    "federation.stage1_public_phones": COUNT,
    "federation.warm_start_epochs": Integer(0),
    "federation.warm_start_max_windows": Integer(1, nullable=True),
    "federation.stage1_public_minutes": Number(0, low_open=True, nullable=True),
    "federation.stage1_max_windows": Integer(1, nullable=True),
    "federation.max_phone_windows": Integer(1, nullable=True),
    "federation.cpus_per_phone": POSITIVE,
    "federation.audit_replies": Boolean(),
    "federation.text_side_path": Text(nullable=True),
    "federation.stop_after_round": Integer(1, nullable=True),
    "federation.ray_address": Text(nullable=True),
    "resume": Text(nullable=True),
    "privacy.mode": Choice(("none", "sample_level", "client_level", "secagg")),
    "privacy.audit_holdout": Number(0, 1, high_open=True),
    "privacy.audit_canaries": Integer(0),
    "privacy.audit_canary_kind": Choice(("windows", "gradients")),  # privacy/canaries.py
    "privacy.target_epsilon": Number(0, low_open=True, nullable=True),
    "privacy.noise_multiplier": Number(0, nullable=True),
    "privacy.delta": Number(0, 1, low_open=True, high_open=True, nullable=True),
    "privacy.max_grad_norm": POSITIVE,
    "privacy.accountant": Choice(("rdp", "prv")),
    "privacy.grad_sample_mode": Choice(("hooks", "functorch", "ghost")),
    "privacy.clipping": Choice(("fixed", "adaptive")),
    "privacy.side": Choice(("server", "client")),
    "privacy.clipping_norm": POSITIVE,
    "privacy.target_quantile": FRACTION,
    "privacy.trainable": Choice(TRAINABLE_PARTS),
    "privacy.optimizer": Choice(("adamw", "sgd")),
    "privacy.momentum": Number(0, 1, high_open=True),
    "privacy.lr": Number(0, low_open=True, nullable=True),
    **{f"train.{stage}.{key}": rule for stage in ("stage1", "stage2", "supervised")
       for key, rule in (("epochs", EPOCHS), ("lr", POSITIVE), ("batch_size", COUNT),
                         ("weight_decay", Number(0)))},
    "train.stage2.val_fraction": Number(0, 1, high_open=True),
    "inference.text_weight": FRACTION,  # eval/fusion.py
    "inference.sensor_votes": Choice(("all", "seen")),
    "inference.reader_encoder": Choice(("pretrained", "stage1")),
    "train.supervised.val_fraction": Number(0, 1, high_open=True),
    "train.supervised.enabled": Boolean(),
    "train.stage1.bank_negatives": Boolean(),
    "format": Choice(("onnx", "torchscript")),
    "int8": Boolean(),
    "window_samples": Integer(1, nullable=True),
    "certs.supernodes": Integer(0),
    "certs.days": COUNT,
    "certs.overwrite": Boolean(),
}


def _lookup(cfg: DictConfig, key: str) -> Any:
    try:
        value = OmegaConf.select(cfg, key, default=_MISSING, throw_on_missing=True)
    except OmegaConfBaseException as exc:  # a broken interpolation, a ??? value
        raise ConfigError(f"{key}: {exc}".splitlines()[0]) from exc
    return value


def validate(cfg: DictConfig) -> None:
    """Raise ``ConfigError`` for the first setting of ``RULES`` with a wrong type or value."""
    for key, rule in RULES.items():
        value = _lookup(cfg, key)
        if value is _MISSING:
            continue
        problem = rule(value)
        if problem:
            raise ConfigError(f"{key}={value!r}: {problem}")
