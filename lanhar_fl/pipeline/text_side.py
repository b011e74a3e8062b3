"""The text side of LanHAR: interpretations, the (stage-1 tuned) text encoder, the label bank.

Used by ``lanhar-fl train`` and by the federated server, which hosts exactly this.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from ..config import ConfigError
from ..data.windows import Windows
from ..runtime import resolve_device
from ..semantics.embedding_cache import EmbeddingCache
from ..semantics.interpret import interpret_windows
from ..semantics.label_bank import LabelBank
from ..semantics.text_encoder import TextEncoder
from ..training.stage1 import train_text_encoder
from . import stage1_sources
from .stage1_sources import Source

PROVENANCE_FILE = "text_side.json"

log = logging.getLogger(__name__)


@dataclass
class TextSide:
    """The frozen text encoder, its embedding cache and the label bank built with it."""

    encoder: TextEncoder
    bank: LabelBank
    cache: EmbeddingCache | None
    stage1_history: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)  # where stage 1 came from

    def embed(self, texts: list[str], progress: bool = True) -> np.ndarray:
        """Embeddings of ``texts`` (each text embedded once, ever: content-addressed cache)."""
        return self.encoder.embed(texts, cache=self.cache, progress=progress)

    @property
    def version(self) -> str:
        """Identifies encoder + bank: phones holding this version need nothing new."""
        return f"{self.encoder.fingerprint}:{self.bank.fingerprint}"

    def save(self, folder: str | Path) -> Path:
        """``folder/text_encoder/`` and ``folder/text_side.json`` (provenance), which
        ``federation.text_side_path=folder`` reads back."""
        folder = Path(folder)
        self.encoder.save_pretrained(folder / "text_encoder")
        save_provenance(folder, self.provenance)
        return folder

    def metrics(self, split, cfg: DictConfig) -> dict[str, Any]:
        """metrics.json keys: ``text_side`` (provenance, label bank included) and
        ``text_side_saw_phone_users`` (stage 1 used a phone or test user of this run)."""
        private = stage1_sources.private_users(split, cfg)
        return {"text_side": {**self.provenance, "label_bank": bank_provenance(cfg)},
                "text_side_saw_phone_users": stage1_sources.saw_private_users(self.provenance,
                                                                              private)}


def save_provenance(folder: str | Path, provenance: dict[str, Any]) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=1, default=str) + "\n")


def load_provenance(folder: Path) -> dict[str, Any]:
    """The saved provenance of a text side folder, marked with where it was loaded from; a
    folder without one is of unknown origin (``sources: null``)."""
    path = folder / PROVENANCE_FILE
    saved: dict[str, Any] = {"stage1": "unknown", "sources": None,
                             "note": f"no {PROVENANCE_FILE}: stage 1's data is unknown"}
    if path.is_file():
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"federation.text_side_path: {path} is not valid JSON: {exc}"
                              ) from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"federation.text_side_path: {path} must hold a JSON object")
        saved = loaded
    return {**saved, "loaded_from": str(folder)}


def bank_provenance(cfg: DictConfig) -> dict[str, Any]:
    """Where the label bank's descriptions (and the numbers in them) come from: each file's
    top-level ``provenance`` entry."""
    from importlib import resources

    import yaml

    from ..semantics.descriptions import DEFAULT_FILE

    lb = cfg.get("label_bank") or {}
    files = [lb.get("descriptions")]
    extra = lb.get("extra_descriptions") or []
    files += [extra] if isinstance(extra, str) else list(extra)
    out = []
    for f in files:
        if f is None:
            text, name = resources.files("lanhar_fl.resources").joinpath(
                DEFAULT_FILE).read_text(), f"lanhar_fl/resources/{DEFAULT_FILE}"
        else:
            text, name = Path(str(f)).expanduser().read_text(), str(f)
        raw = yaml.safe_load(text) or {}
        out.append({"file": name, "provenance": raw.get("provenance", "not stated")})
    return {"descriptions": out}


def freeze_lower_layers(encoder: TextEncoder, trainable_layers: int | None,
                        top_part: str = "layer") -> None:
    """Stage 1 on a budget: train only the top ``trainable_layers`` transformer layers (None:
    all). Frozen lower layers need no backward pass, which is most of a CPU step's cost.
    ``top_part`` (with one trainable layer): ``ffn`` trains only its feed-forward block,
    ``output`` only the feed-forward's output projection and LayerNorm."""
    encoder.requires_grad_(True)
    if trainable_layers is None:
        return
    layers = getattr(getattr(encoder.model, "encoder", None), "layer", None)
    if layers is None:
        raise ConfigError("train.stage1.trainable_layers: this text encoder has no "
                          "`encoder.layer` stack to freeze")
    encoder.requires_grad_(False)
    for layer in list(layers)[len(layers) - int(trainable_layers):]:
        layer.requires_grad_(True)
    if top_part in ("ffn", "output"):
        if int(trainable_layers) != 1:
            raise ConfigError(f"train.stage1.top_part={top_part} needs trainable_layers=1")
        layers[-1].attention.requires_grad_(False)
        if top_part == "output":
            layers[-1].intermediate.requires_grad_(False)
    elif top_part != "layer":
        raise ConfigError(f"train.stage1.top_part must be layer, ffn or output, got {top_part!r}")


def build_text_side(cfg: DictConfig, bank_classes: list[str],
                    stage1_windows: Windows | None = None,
                    stage1_texts: list[str] | None = None, progress: bool = True,
                    sources: list[dict[str, Any]] | None = None) -> TextSide:
    """Load the configured text encoder, tune it with stage 1 on labelled source windows when
    given (and ``train.stage1.epochs > 0``), then build the label bank over ``bank_classes``.
    ``sources``: provenance records of ``stage1_windows`` (``stage1_sources``).

    Stage 1 sees only the classes of ``stage1_windows``: held-out (new) activities influence
    nothing but their own prototypes, built from their descriptions afterwards, unless
    ``train.stage1.bank_negatives`` is set: then the prototypes of every class of
    ``bank_classes`` (descriptions only, never their windows) are negatives in stage 1, so no
    seen interpretation is left nearer a new activity's description than its own.
    """
    encoder = TextEncoder.from_config(cfg.text_encoder).to(resolve_device(cfg.get("device")))
    cache = EmbeddingCache.from_config(cfg)
    history: dict[str, Any] = {}
    kept: dict[str, list[tuple[str, float]]] = {}  # the selection stage 1 trained against
    epochs = int(cfg.train.stage1.get("epochs", 0))
    provenance: dict[str, Any] = {"encoder": str(cfg.text_encoder.get("name")), "stage1": "none",
                                  "sources": []}
    if stage1_windows is not None and len(stage1_windows) and epochs > 0:
        provenance.update(stage1="trained", sources=list(sources or []), stage1_settings={
            k: OmegaConf.to_container(v) if OmegaConf.is_config(v) else v
            for k, v in cfg.train.stage1.items()})
        seen = list(stage1_windows.class_names)
        against = seen
        if cfg.train.stage1.get("bank_negatives", False):
            against = seen + [c for c in bank_classes if c not in seen]
        if stage1_texts is None:
            stage1_texts = interpret_windows(stage1_windows, cfg, labels_known=True,
                                             progress=progress).texts
        seen_bank = LabelBank.from_config(cfg, encoder, class_names=against, cache=cache)
        trainable = cfg.train.stage1.get("trainable_layers")
        top_part = str(cfg.train.stage1.get("top_part") or "layer")
        freeze_lower_layers(encoder, trainable, top_part)
        if trainable is not None and cfg.train.stage1.get("cache_frozen", True):
            encoder.cache_frozen_layers(len(encoder.model.encoder.layer) - int(trainable),
                                        top_part)
        log.info("stage 1: tuning the text encoder on %d interpretations, %d classes",
                 len(stage1_texts), len(seen))
        encoder.train()
        try:
            _, history = train_text_encoder(encoder, seen_bank, list(stage1_texts),
                                            stage1_windows.labels, against, cfg.train.stage1,
                                            progress=progress, seed=int(cfg.seed))
        finally:
            encoder.cache_frozen_layers(0)
        encoder.eval()
        encoder.requires_grad_(False)
        encoder.refresh_fingerprint()
        kept = dict(seen_bank.selected)
    bank = LabelBank.from_config(cfg, encoder, class_names=list(bank_classes), cache=cache,
                                 keep_selection=kept)
    provenance["encoder_fingerprint"] = encoder.fingerprint
    return TextSide(encoder=encoder, bank=bank, cache=cache, stage1_history=history,
                    provenance=provenance)


def public_stage1(cfg: DictConfig, sources: list[Source], classes: list[str], *, where: str,
                  phones: int, max_windows: int | None,
                  progress: bool = True) -> tuple[Windows | None, list[str], list[dict]]:
    """Stage-1 windows, their interpretations and provenance records from public ``sources``
    (each interpreted on its own: sources differ in rate, placement and sensors)."""
    from ..data.registry import load_windows

    parts, texts, records = [], [], []
    for src in sources:
        windows = stage1_sources.load_source(cfg, src, classes, phones=phones,
                                             max_windows=max_windows, where=where,
                                             load_windows=load_windows)
        records.append(stage1_sources.source_record(src, cfg, windows))
        if windows is None:
            log.warning("%s: %s has none of the classes %s", where, src.describe(), classes)
            continue
        parts.append(windows)
        texts += list(interpret_windows(windows, cfg, labels_known=True, progress=progress).texts)
    if not parts:
        raise ConfigError(f"{where}: no public windows of the classes {classes}")
    log.info("stage 1 sources: %s", "; ".join(
        f"{r['dataset']} subjects {r['subjects_compact']}: {r['windows']} windows"
        for r in records))
    return Windows.concatenate(parts), texts, records


def _train_part(split, train_texts: list[str], setting, where: str
                ) -> tuple[Windows, list[str], tuple[str, ...] | None]:
    """The training windows (and their interpretations) of the source datasets that
    ``train:NAME,...`` names; all of them for plain ``train``."""
    datasets = stage1_sources.train_datasets(setting, where)
    if datasets is None:
        return split.train, train_texts, None
    have = split.train_dataset.split("+")
    absent = [n for n in datasets if n not in have]
    if absent:
        raise ConfigError(f"{where}: {', '.join(absent)} is not a source of this run "
                          f"(sources: {', '.join(have)})")
    keep = np.flatnonzero(np.isin(split.train.dataset_of_each(), datasets))
    return split.train.subset(keep), [train_texts[i] for i in keep], datasets


def centralized_text_side(cfg: DictConfig, split, train_texts: list[str]) -> TextSide:
    """``lanhar-fl train``'s text side: stage 1 on ``train.stage1.source`` (``train``: the
    split's training windows, whose interpretations are ``train_texts``)."""
    where = "train.stage1.source"
    setting = cfg.train.stage1.get("source", "train")
    sources = stage1_sources.parse_sources(setting, where)
    if sources == "train":
        windows, texts, datasets = _train_part(split, train_texts, setting, where)
        return build_text_side(cfg, split.bank_classes, stage1_windows=windows,
                               stage1_texts=texts,
                               sources=stage1_sources.train_records(split, cfg, datasets))
    if sources == "none":
        return build_text_side(cfg, split.bank_classes)
    stage1_sources.check_public(sources, stage1_sources.private_users(split, cfg), cfg, where)
    windows, texts, records = public_stage1(
        cfg, sources, split.seen_classes, where=where,
        phones=int(cfg.federation.get("stage1_public_phones", 24)),
        max_windows=cfg.train.stage1.get("max_windows"))
    return build_text_side(cfg, split.bank_classes, stage1_windows=windows, stage1_texts=texts,
                           sources=records)
