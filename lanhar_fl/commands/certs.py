"""``lanhar-fl certs out=DIR``: CA, SuperLink TLS certificate/key, SuperNode key pairs."""

from __future__ import annotations

import json

from omegaconf import DictConfig, OmegaConf

from ..config import ConfigError
from ..deploy.certs import DEFAULT_HOSTS, CertsError, CertsPlan, generate


def plan_from_config(cfg: DictConfig) -> CertsPlan:
    """``cfg.certs`` (hosts, supernodes, days, overwrite) -> ``CertsPlan``; defaults if absent."""
    raw = cfg.get("certs") or {}
    c = OmegaConf.to_container(raw, resolve=True) if isinstance(raw, DictConfig) else dict(raw)
    hosts = c.get("hosts", list(DEFAULT_HOSTS))
    if isinstance(hosts, str):
        hosts = [h for h in hosts.split(",") if h]
    try:
        return CertsPlan(hosts=tuple(str(h) for h in hosts),
                         supernodes=int(c.get("supernodes", 3)), days=int(c.get("days", 365)),
                         overwrite=bool(c.get("overwrite", False)))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"certs: {exc}") from exc


def certs(cfg: DictConfig) -> int:
    out = cfg.get("out")
    if not out:
        raise ConfigError("certs: say where to write the files with out=DIR")
    try:
        result = generate(str(out), plan_from_config(cfg))
    except CertsError as exc:
        raise ConfigError(f"certs: {exc}") from exc
    print(json.dumps(result, indent=2))
    return 0
