"""The phone's own policy: what it allows the server's configuration to ask of it.

The server sends the run's configuration with every message; the phone checks it against this
policy before using it, and refuses (an error reply naming the setting, never data) a request
outside it. The policy comes from the phone, never from the server: the node config key
``policy`` (path of a YAML or JSON file, ``flower-supernode --node-config "policy='/p.yaml'"``),
else the environment variable ``LANHAR_FL_PHONE_POLICY`` (simulations), else the defaults below.

A policy file is data: a mapping of the ``PhonePolicy`` fields, each checked for type and
range; an unknown key is an error. Privacy modes are ranked by who protects a phone's data
from the server itself: ``none`` < ``client_level`` (the server sees each update; its noise
protects only the released model) < ``secagg`` (the server sees only a sum) < ``sample_level``
(noise added on the phone).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlparse

import yaml
from omegaconf import DictConfig

from lanhar_fl.config import ConfigError
from lanhar_fl.federated.artifacts import ArtifactLimits
from lanhar_fl.privacy.settings import privacy_mode, privacy_section
from lanhar_fl.semantics.interpreters import BACKENDS

POLICY_KEY = "policy"  # node config key: the policy file
POLICY_ENV = "LANHAR_FL_PHONE_POLICY"  # the policy file when the node config names none
PRIVACY_ORDER = ("none", "client_level", "secagg", "sample_level")
DP_MODES = ("sample_level", "client_level")


class PolicyRefused(RuntimeError):
    """The received configuration asks for something this phone's policy does not allow."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("phone policy refused: " + "; ".join(self.reasons))


@dataclass(frozen=True)
class PhonePolicy:
    """What this phone allows; the defaults are the safe choice (nothing leaves the device)."""

    interpreters: tuple[str, ...] = ("grounded", "hf")  # interpreter.name values allowed
    endpoints: tuple[str, ...] = ()  # openai_compatible base_url values allowed (exact)
    allow_remote: bool = False  # may the server ask for interpreter.allow_remote=true
    api_key_env: str | None = None  # the one environment variable sent as a bearer token
    min_privacy: str = "none"  # the weakest privacy.mode accepted (PRIVACY_ORDER)
    max_epsilon: float | None = None  # DP modes: the largest privacy.target_epsilon accepted
    min_noise_multiplier: float | None = None  # DP modes given by noise: the smallest accepted
    max_artifact_bytes: int = 1 << 30  # received text-side artefacts: total size
    max_artifact_files: int = 64  # received text-side artefacts: files per artefact
    max_audit_canaries: int = 10_000  # privacy.audit_canaries accepted (0: no audit here)

    def artifact_limits(self) -> ArtifactLimits:
        """The most a received artefact may hold on this phone."""
        return ArtifactLimits(max_bytes=self.max_artifact_bytes,
                              max_files=self.max_artifact_files)

    @classmethod
    def from_mapping(cls, data: object, source: str = "phone policy") -> PhonePolicy:
        """A policy from parsed YAML/JSON, each field validated (errors name ``source``)."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: expected a mapping of policy settings, got "
                              f"{type(data).__name__}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; allowed: "
                              f"{', '.join(known)}")
        values = {key: _FIELD_CHECKS[key](f"{source}: {key}", value)
                  for key, value in data.items()}
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path) -> PhonePolicy:
        """The policy file at ``path`` (YAML or JSON, read with ``yaml.safe_load``)."""
        path = Path(path).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"phone policy {path}: cannot read it ({exc.strerror})") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"phone policy {path}: not valid YAML/JSON: "
                              f"{str(exc).splitlines()[0]}") from exc
        return cls.from_mapping(data, f"phone policy {path}")

    def refusals(self, cfg: DictConfig) -> list[str]:
        """Every setting of ``cfg`` outside this policy (empty when the config is allowed)."""
        return self._interpreter_refusals(cfg) + self._privacy_refusals(cfg)

    def check(self, cfg: DictConfig) -> None:
        """Raise ``PolicyRefused`` naming every setting of ``cfg`` outside this policy."""
        reasons = self.refusals(cfg)
        if reasons:
            raise PolicyRefused(reasons)

    def _interpreter_refusals(self, cfg: DictConfig) -> list[str]:
        icfg = cfg.get("interpreter") or {}
        name = str(icfg.get("name", "grounded"))
        reasons = []
        if name not in self.interpreters:
            reasons.append(f"interpreter.name={name} (this phone allows "
                           f"{', '.join(self.interpreters)})")
        if name != "openai_compatible":
            return reasons
        if bool(icfg.get("allow_remote", False)) and not self.allow_remote:
            reasons.append("interpreter.allow_remote=true (this phone never sends window "
                           "features off the device)")
        base_url = str(icfg.get("base_url") or "").rstrip("/")
        if base_url not in self.endpoints:
            reasons.append(f"interpreter.base_url={base_url or 'null'} (this phone's endpoints: "
                           f"{', '.join(self.endpoints) or 'none'})")
        key_env = icfg.get("api_key_env")
        if key_env and str(key_env) != self.api_key_env:
            reasons.append(f"interpreter.api_key_env={key_env} (this phone sends only "
                           f"{self.api_key_env or 'no environment variable'})")
        return reasons

    def _privacy_refusals(self, cfg: DictConfig) -> list[str]:
        try:
            mode = privacy_mode(cfg)
        except ConfigError as exc:
            return [str(exc)]
        reasons = self._audit_refusals(privacy_section(cfg))
        if PRIVACY_ORDER.index(mode) < PRIVACY_ORDER.index(self.min_privacy):
            reasons.append(f"privacy.mode={mode} (this phone's floor is {self.min_privacy}; "
                           f"order: {' < '.join(PRIVACY_ORDER)})")
        if mode not in DP_MODES:
            return reasons
        section = privacy_section(cfg)
        target = _received_number(section, "target_epsilon", reasons)
        noise = _received_number(section, "noise_multiplier", reasons)
        if self.max_epsilon is not None:
            if target is None:
                reasons.append(f"privacy.target_epsilon=null (this phone spends at most "
                               f"epsilon={self.max_epsilon:g} and needs a target to check)")
            elif not target <= self.max_epsilon:
                reasons.append(f"privacy.target_epsilon={target:g} (this phone spends at most "
                               f"epsilon={self.max_epsilon:g})")
        if self.min_noise_multiplier is not None and target is None and not (
                noise is not None and noise >= self.min_noise_multiplier):
            reasons.append(f"privacy.noise_multiplier={noise} (this phone's minimum is "
                           f"{self.min_noise_multiplier:g})")
        return reasons

    def _audit_refusals(self, section: Mapping) -> list[str]:
        """Audit canaries are data-independent (they leak nothing of the phone's windows) but
        cost memory and time in proportion to their count: capped by the phone."""
        reasons: list[str] = []
        count = _received_number(section, "audit_canaries", reasons)
        if count is not None and not count <= self.max_audit_canaries:
            reasons.append(f"privacy.audit_canaries={section.get('audit_canaries')} (this "
                           f"phone allows at most {self.max_audit_canaries})")
        return reasons


def phone_policy(node_config: Mapping[str, object]) -> PhonePolicy:
    """This phone's policy: node config ``policy``, else ``$LANHAR_FL_PHONE_POLICY``, else the
    defaults. Read on every call (a SuperNode runs each message in a fresh process anyway)."""
    path = node_config.get(POLICY_KEY) or os.environ.get(POLICY_ENV)
    return PhonePolicy.load(str(path)) if path else PhonePolicy()


def _received_number(section: Mapping, key: str, reasons: list[str]) -> float | None:
    value = section.get(key)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        reasons.append(f"privacy.{key}={value!r} is not a number")
        return None


# -- field checks for policy files: (where, value) -> the validated value ------------------------
def _strings(where: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)


def _interpreters(where: str, value: object) -> tuple[str, ...]:
    names = _strings(where, value)
    bad = [n for n in names if n not in BACKENDS]
    if bad:
        raise ConfigError(f"{where}: unknown interpreter(s) {', '.join(bad)}; choose from "
                          f"{', '.join(BACKENDS)}")
    return names


def _endpoints(where: str, value: object) -> tuple[str, ...]:
    urls = _strings(where, value)
    for url in urls:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(f"{where}: {url!r} is not an http(s) URL, e.g. "
                              "http://127.0.0.1:8080/v1")
    return tuple(url.rstrip("/") for url in urls)


def _bool(where: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _optional_string(where: str, value: object) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{where}: expected a non-empty string or null, got {value!r}")
    return value


def _mode(where: str, value: object) -> str:
    if value not in PRIVACY_ORDER:
        raise ConfigError(f"{where}: expected one of {', '.join(PRIVACY_ORDER)}, got {value!r}")
    return str(value)


def _optional_positive(where: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            math.isfinite(value) and value > 0):
        raise ConfigError(f"{where}: expected a positive number or null, got {value!r}")
    return float(value)


def _positive_int(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{where}: expected a positive integer, got {value!r}")
    return value


def _count(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: expected an integer >= 0, got {value!r}")
    return value


_FIELD_CHECKS = {
    "interpreters": _interpreters, "endpoints": _endpoints, "allow_remote": _bool,
    "api_key_env": _optional_string, "min_privacy": _mode,
    "max_epsilon": _optional_positive, "min_noise_multiplier": _optional_positive,
    "max_artifact_bytes": _positive_int, "max_artifact_files": _positive_int,
    "max_audit_canaries": _count,
}
