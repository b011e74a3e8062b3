"""The text side the server hosts: loaded from a finished run, or built here with stage 1 on
public data only (never on the phones' data, which the server does not have)."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from lanhar_fl.config import ConfigError
from lanhar_fl.data.registry import load_windows
from lanhar_fl.data.windows import Windows
from lanhar_fl.federated.population import split_for
from lanhar_fl.pipeline import stage1_sources
from lanhar_fl.pipeline.stage1_sources import PUBLIC_SEED_OFFSET, Source
from lanhar_fl.pipeline.text_side import TextSide, build_text_side, load_provenance, public_stage1
from lanhar_fl.semantics.embedding_cache import EmbeddingCache
from lanhar_fl.semantics.label_bank import LabelBank
from lanhar_fl.semantics.text_encoder import TextEncoder

log = logging.getLogger(__name__)
__all__ = ["PUBLIC_SEED_OFFSET", "public_windows", "server_text_side", "stage1_setting"]
SETTING = "federation.stage1_source"


def stage1_setting(cfg: DictConfig) -> list[Source] | str:
    """``federation.stage1_source`` parsed and checked against this run's phone and test users
    (a ConfigError before any training when a public subject is one of them)."""
    sources = stage1_sources.parse_sources(cfg.federation.get("stage1_source"), SETTING)
    if sources == "train":
        raise ConfigError(f"{SETTING}=train: the server has no labelled phone windows; use "
                          "public sources (e.g. synthetic+uci_hapt:1-10) or "
                          "federation.text_side_path=RUN_DIR")
    if sources != "none" and not cfg.federation.get("text_side_path"):
        stage1_sources.check_public(sources, stage1_sources.private_users(split_for(cfg), cfg),
                                    cfg, SETTING)
    return sources


def server_text_side(cfg: DictConfig, bank_classes: list[str],
                     seen_classes: list[str]) -> TextSide:
    """``federation.text_side_path`` if set, else stage 1 on ``federation.stage1_source``."""
    fed = cfg.federation
    if fed.get("text_side_path"):
        return _load(cfg, Path(str(fed.text_side_path)).expanduser(), bank_classes)
    sources = stage1_setting(cfg)
    if sources == "none":
        return build_text_side(cfg, bank_classes)
    windows, texts, records = public_stage1(
        cfg, sources, seen_classes, where=SETTING,
        phones=int(fed.get("stage1_public_phones", 24)),
        max_windows=fed.get("stage1_max_windows") or cfg.data.get("max_windows"))
    return build_text_side(cfg, bank_classes, stage1_windows=windows, stage1_texts=texts,
                           sources=records)


def public_windows(cfg: DictConfig, classes: list[str]) -> Windows:
    """Server-generated synthetic phones (a seed no phone uses), in the run's label space."""
    fed = cfg.federation
    windows = stage1_sources.load_source(
        cfg, Source("synthetic"), classes, phones=int(fed.get("stage1_public_phones", 24)),
        max_windows=fed.get("stage1_max_windows") or cfg.data.get("max_windows"),
        where=SETTING, load_windows=load_windows)
    if windows is None:
        raise ConfigError(f"{SETTING}=synthetic: no synthetic class among {classes}")
    return windows


def _load(cfg: DictConfig, folder: Path, bank_classes: list[str]) -> TextSide:
    encoder_dir = folder / "text_encoder"
    if not encoder_dir.is_dir():
        raise ConfigError(f"federation.text_side_path={folder}: no text_encoder/ folder in it")
    encoder = TextEncoder.from_pretrained(encoder_dir).eval()
    cache = EmbeddingCache.from_config(cfg)
    bank = LabelBank.from_config(cfg, encoder, class_names=bank_classes, cache=cache)
    return TextSide(encoder=encoder, bank=bank, cache=cache,
                    provenance=load_provenance(folder))
