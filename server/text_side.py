"""The text side the server hosts: loaded from a finished run, or built here with stage 1 on
public data only (never on the phones' data, which the server does not have)."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lanhar_fl.config import ConfigError, config_dir
from lanhar_fl.data.registry import load_windows
from lanhar_fl.data.windows import Windows
from lanhar_fl.pipeline.text_side import TextSide, build_text_side
from lanhar_fl.semantics.embedding_cache import EmbeddingCache
from lanhar_fl.semantics.label_bank import LabelBank
from lanhar_fl.semantics.text_encoder import TextEncoder

log = logging.getLogger(__name__)
PUBLIC_SEED_OFFSET = 10_007


def server_text_side(cfg: DictConfig, bank_classes: list[str],
                     seen_classes: list[str]) -> TextSide:
    """``federation.text_side_path`` if set, else stage 1 on ``federation.stage1_source``."""
    fed = cfg.federation
    if fed.get("text_side_path"):
        return _load(cfg, Path(str(fed.text_side_path)).expanduser(), bank_classes)
    source = str(fed.get("stage1_source") or "none")
    if source == "none":
        return build_text_side(cfg, bank_classes)
    if source != "synthetic":
        raise ConfigError(f"federation.stage1_source: expected synthetic or none, got {source!r}")
    public = public_windows(cfg, seen_classes)
    log.info("stage 1 on %d public synthetic windows (%s)", len(public),
             ", ".join(public.class_names))
    return build_text_side(cfg, bank_classes, stage1_windows=public)


def public_windows(cfg: DictConfig, classes: list[str]) -> Windows:
    """Server-generated synthetic phones (a seed no phone uses), in the run's label space."""
    public = cfg.copy()
    public.dataset = OmegaConf.load(config_dir() / "dataset" / "synthetic.yaml")
    public.dataset.num_phones = int(cfg.federation.get("stage1_public_phones", 24))
    public.dataset.seed = int(cfg.seed) + PUBLIC_SEED_OFFSET
    fed = cfg.federation
    public.data.max_windows = fed.get("stage1_max_windows") or cfg.data.get("max_windows")
    windows = load_windows(public)
    shared = [c for c in classes if c in windows.class_names]
    if not shared:
        raise ConfigError(f"federation.stage1_source=synthetic: no synthetic class among {classes}")
    return windows.select_classes(shared)


def _load(cfg: DictConfig, folder: Path, bank_classes: list[str]) -> TextSide:
    encoder_dir = folder / "text_encoder"
    if not encoder_dir.is_dir():
        raise ConfigError(f"federation.text_side_path={folder}: no text_encoder/ folder in it")
    encoder = TextEncoder.from_pretrained(encoder_dir).eval()
    cache = EmbeddingCache.from_config(cfg)
    bank = LabelBank.from_config(cfg, encoder, class_names=bank_classes, cache=cache)
    return TextSide(encoder=encoder, bank=bank, cache=cache)
