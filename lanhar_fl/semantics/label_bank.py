"""Label-semantic bank: one L2-normalised prototype per activity, from its text descriptions.

Prototypes follow LanHAR's margin-weighted top-k method. Each description of class ``c`` is
embedded as ``template.format(name=C, description=d)`` (default
``"Activity=WALK. Sensor pattern: <d>"``); the normalised embeddings of a class are averaged
into a centre; each description's margin is its cosine to its own centre minus its best cosine
to another class's centre; the ``top_k`` descriptions with the largest margins are kept,
weighted by ``softmax(margin / temperature)``; the prototype is the L2-normalised weighted mean.

Adding an activity later (:meth:`LabelBank.add_activity`) needs no retraining: the new class's
margins are measured against the existing prototypes, and the existing classes' selections and
prototypes are left exactly as they were (their margins are not recomputed against the
newcomer; :meth:`LabelBank.rebuilt` recomputes everything jointly).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from safetensors.numpy import load_file, save_file

from ..config import ConfigError
from .descriptions import ActivityDescription, descriptions_from_config

if TYPE_CHECKING:
    from .embedding_cache import EmbeddingCache
    from .text_encoder import TextEncoder

TEMPLATE = "Activity={name}. Sensor pattern: {description}"
FORMAT = "lanhar-fl-label-bank"
WEIGHTS_FILE = "bank.safetensors"
META_FILE = "bank.json"


class LabelBankError(ConfigError):
    """A label bank is inconsistent, unreadable, or was built by another text encoder."""


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _texts(desc: Sequence[str] | ActivityDescription) -> list[str]:
    texts = desc.texts() if isinstance(desc, ActivityDescription) else [str(d) for d in desc]
    return list(dict.fromkeys(t.strip() for t in texts if t and t.strip()))


def render(template: str, name: str, description: str) -> str:
    """One description as embedded: ``Activity=IN VEHICLE. Sensor pattern: ...``."""
    return template.format(name=name.replace("_", " ").upper(), description=description)


def _select(emb: np.ndarray, others: np.ndarray, top_k: int,
            temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the top-k margin descriptions of one class and their softmax weights.

    ``emb``: (n, D) normalised embeddings of the class; ``others``: (m, D) normalised centres
    of the competing classes (m may be 0: the margin is then the own-centre cosine).
    """
    own = emb @ _normalize(emb.mean(axis=0))
    best_other = (emb @ others.T).max(axis=1) if len(others) else np.zeros(len(emb), np.float32)
    margin = own - best_other
    keep = np.argsort(-margin, kind="stable")[:top_k]
    scores = margin[keep] / temperature
    w = np.exp(scores - scores.max())
    return keep, (w / w.sum()).astype(np.float64)


def _prototype(emb: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return _normalize((emb * weights[:, None].astype(np.float32)).sum(axis=0))


@dataclass
class LabelBank:
    """Per-activity descriptions, the kept (text, weight) pairs and the prototypes (K, D)."""

    class_names: list[str]
    descriptions: dict[str, list[str]]
    selected: dict[str, list[tuple[str, float]]]
    prototypes: np.ndarray
    encoder_fingerprint: str
    version: int = 1
    template: str = TEMPLATE
    top_k: int = 12
    temperature: float = 0.07

    def __post_init__(self) -> None:
        self.prototypes = np.ascontiguousarray(self.prototypes, dtype=np.float32)
        self._validate()

    def _validate(self) -> None:
        names = self.class_names
        if len(set(names)) != len(names):
            raise LabelBankError(f"label bank: duplicate class names in {names}")
        p = self.prototypes
        if p.ndim != 2 or p.shape[0] != len(names):
            raise LabelBankError(f"label bank: prototypes of shape {p.shape} for "
                                 f"{len(names)} classes")
        if not np.isfinite(p).all() or not np.allclose(np.linalg.norm(p, axis=1), 1, atol=1e-3):
            raise LabelBankError("label bank: prototypes must be finite and L2-normalised")
        for part in ("descriptions", "selected"):
            missing = [c for c in names if not getattr(self, part).get(c)]
            if missing:
                raise LabelBankError(f"label bank: no {part} for {missing}")

    # ---------------------------------------------------------------- building
    @classmethod
    def build(cls, encoder: TextEncoder,
              descriptions: Mapping[str, Sequence[str] | ActivityDescription],
              class_names: Sequence[str] | None = None, top_k: int = 12,
              temperature: float = 0.07, template: str = TEMPLATE,
              cache: EmbeddingCache | None = None, batch_size: int = 32,
              keep_selection: Mapping[str, Sequence[tuple[str, float]]] | None = None
              ) -> LabelBank:
        """Prototypes for ``class_names`` (default: every described activity), in that order.

        ``keep_selection``: per class, kept (rendered text, weight) pairs to reuse instead of
        selecting by margin, e.g. the selection stage 1 trained against (``selected`` of the
        bank it used): re-selecting with the tuned encoder would move the prototypes away from
        where stage 1 put the interpretations.
        """
        names = list(descriptions) if class_names is None else list(class_names)
        missing = [c for c in names if c not in descriptions or not _texts(descriptions[c])]
        if missing:
            raise LabelBankError(
                f"label bank: no descriptions for {missing}; add them with "
                "label_bank.extra_descriptions=FILE (same schema as label_descriptions.yaml)")
        if top_k < 1 or temperature <= 0:
            raise LabelBankError("label_bank: top_k must be >= 1 and temperature > 0")
        raw = {c: _texts(descriptions[c]) for c in names}
        rendered = {c: [render(template, c, d) for d in raw[c]] for c in names}
        flat = [t for c in names for t in rendered[c]]
        emb = _normalize(encoder.embed(flat, batch_size=batch_size, cache=cache))
        bounds = np.cumsum([0] + [len(rendered[c]) for c in names])
        per_class = [emb[bounds[i]:bounds[i + 1]] for i in range(len(names))]
        centres = _normalize(np.stack([e.mean(axis=0) for e in per_class]))
        selected, protos = {}, []
        keep_selection = keep_selection or {}
        fixed = {c: list(keep_selection[c]) for c in names if keep_selection.get(c)}
        fixed_texts = list(dict.fromkeys(t for pairs in fixed.values() for t, _ in pairs))
        fixed_emb = dict(zip(fixed_texts, _normalize(encoder.embed(
            fixed_texts, batch_size=batch_size, cache=cache)), strict=True)) if fixed else {}
        for i, c in enumerate(names):
            if c in fixed:
                selected[c] = [(str(t), float(w)) for t, w in fixed[c]]
                w = np.array([x for _, x in selected[c]], np.float64)
                protos.append(_prototype(np.stack([fixed_emb[t] for t, _ in selected[c]]),
                                         w / w.sum()))
                continue
            others = np.delete(centres, i, axis=0)
            keep, w = _select(per_class[i], others, top_k, temperature)
            selected[c] = [(rendered[c][j], float(x)) for j, x in zip(keep, w, strict=True)]
            protos.append(_prototype(per_class[i][keep], w))
        return cls(class_names=names, descriptions=raw, selected=selected,
                   prototypes=np.stack(protos), encoder_fingerprint=encoder.fingerprint,
                   top_k=int(top_k), temperature=float(temperature), template=template)

    @classmethod
    def from_config(cls, cfg: DictConfig | Mapping, encoder: TextEncoder,
                    class_names: Sequence[str] | None = None,
                    cache: EmbeddingCache | None = None,
                    keep_selection: Mapping[str, Sequence[tuple[str, float]]] | None = None
                    ) -> LabelBank:
        """Build from ``cfg.label_bank`` (descriptions, extra_descriptions, top_k, ...);
        ``keep_selection`` as in :meth:`build`."""
        lb = cfg.get("label_bank") or {}
        if isinstance(lb, DictConfig):
            lb = OmegaConf.to_container(lb, resolve=True)
        try:
            descriptions = descriptions_from_config(lb)
        except (OSError, ValueError) as exc:
            raise LabelBankError(f"label_bank.descriptions / extra_descriptions: {exc}") from exc
        return cls.build(encoder, descriptions, class_names=class_names,
                         top_k=int(lb.get("top_k", 12)),
                         temperature=float(lb.get("temperature", 0.07)),
                         template=str(lb.get("template") or TEMPLATE), cache=cache,
                         keep_selection=keep_selection)

    def rebuilt(self, encoder: TextEncoder, cache: EmbeddingCache | None = None) -> LabelBank:
        """The bank rebuilt from all its descriptions by ``encoder`` (e.g. after stage 1)."""
        bank = self.build(encoder, self.descriptions, self.class_names, self.top_k,
                          self.temperature, self.template, cache=cache)
        bank.version = self.version + 1
        return bank

    def add_activity(self, name: str, descriptions: Sequence[str] | ActivityDescription,
                     encoder: TextEncoder, cache: EmbeddingCache | None = None) -> LabelBank:
        """Add class ``name`` in place (zero-shot: nothing is retrained); returns ``self``.

        Its margins are measured against the existing prototypes; existing classes keep their
        selections and prototypes. ``version`` goes up by one.
        """
        if name in self.class_names:
            raise LabelBankError(f"label bank: activity {name!r} is already in the bank")
        self.check_encoder(encoder)
        raw = _texts(descriptions)
        if not raw:
            raise LabelBankError(f"label bank: no descriptions given for {name!r}")
        rendered = [render(self.template, name, d) for d in raw]
        emb = _normalize(encoder.embed(rendered, cache=cache))
        keep, w = _select(emb, self.prototypes, self.top_k, self.temperature)
        self.class_names = [*self.class_names, name]
        self.descriptions = {**self.descriptions, name: raw}
        self.selected = {**self.selected, name: [(rendered[j], float(x))
                                                 for j, x in zip(keep, w, strict=True)]}
        self.prototypes = np.vstack([self.prototypes, _prototype(emb[keep], w)[None]])
        self.version += 1
        return self

    def subset(self, names: Sequence[str]) -> LabelBank:
        """A bank with only ``names``, in that order (prototypes unchanged)."""
        unknown = [n for n in names if n not in self.class_names]
        if unknown:
            raise LabelBankError(f"label bank: unknown classes {unknown}; "
                                 f"the bank has {self.class_names}")
        rows = [self.class_names.index(n) for n in names]
        return replace(self, class_names=list(names),
                       descriptions={n: self.descriptions[n] for n in names},
                       selected={n: self.selected[n] for n in names},
                       prototypes=self.prototypes[rows])

    # ---------------------------------------------------------------- use
    def index(self, name: str) -> int:
        return self.class_names.index(name)

    def check_encoder(self, encoder: TextEncoder) -> None:
        """Raise :class:`LabelBankError` unless ``encoder`` is the one that built the bank."""
        if encoder.fingerprint != self.encoder_fingerprint:
            raise LabelBankError(
                f"label bank was built by text encoder {self.encoder_fingerprint}, but the "
                f"encoder in use is {encoder.fingerprint} ({encoder.name}); rebuild the bank "
                "(LabelBank.rebuilt) or load the matching encoder")

    def prototype_tensor(self, encoder: TextEncoder,
                         batch_size: int | None = None) -> torch.Tensor:
        """Differentiable (K, D) prototypes recomputed through ``encoder.forward``.

        Uses the kept texts and weights of :attr:`selected` (the selection is not redone), so
        gradients reach the encoder; for stage-1 fine-tuning.
        """
        texts = [t for c in self.class_names for t, _ in self.selected[c]]
        step = batch_size or len(texts)
        emb = torch.cat([encoder(texts[s:s + step]) for s in range(0, len(texts), step)])
        emb = torch.nn.functional.normalize(emb, dim=-1)
        w = torch.tensor([x for c in self.class_names for _, x in self.selected[c]],
                         dtype=emb.dtype, device=emb.device)
        owner = torch.tensor([i for i, c in enumerate(self.class_names)
                              for _ in self.selected[c]], device=emb.device)
        protos = emb.new_zeros((len(self.class_names), emb.shape[1]))
        protos = protos.index_add(0, owner, emb * w[:, None])
        return torch.nn.functional.normalize(protos, dim=-1)

    # ---------------------------------------------------------------- identity and files
    def _meta(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": 1, "class_names": self.class_names,
                "descriptions": self.descriptions,
                "selected": {c: [[t, w] for t, w in s] for c, s in self.selected.items()},
                "encoder_fingerprint": self.encoder_fingerprint, "version": self.version,
                "template": self.template, "top_k": self.top_k, "temperature": self.temperature,
                "dim": int(self.prototypes.shape[1])}

    @property
    def fingerprint(self) -> str:
        """Short sha256 of the bank's content (names, selections, prototypes, versions)."""
        h = hashlib.sha256(json.dumps(self._meta(), sort_keys=True).encode())
        h.update(self.prototypes.astype("<f4").tobytes())
        return h.hexdigest()[:16]

    def save(self, directory: str | Path) -> Path:
        """``bank.safetensors`` (prototypes) + ``bank.json`` (everything else) in ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({"prototypes": self.prototypes}, str(directory / WEIGHTS_FILE),
                  metadata={"format": FORMAT, "fingerprint": self.fingerprint})
        meta = {**self._meta(), "fingerprint": self.fingerprint}
        (directory / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> LabelBank:
        """Read a saved bank, validating JSON fields, shapes and the content fingerprint."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / META_FILE).read_text())
            prototypes = load_file(str(directory / WEIGHTS_FILE))["prototypes"]
        except (OSError, ValueError, KeyError) as exc:
            raise LabelBankError(f"{directory}: not a readable label bank: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise LabelBankError(f"{directory / META_FILE}: not a {FORMAT} file")
        try:
            bank = cls(
                class_names=[str(c) for c in meta["class_names"]],
                descriptions={str(c): [str(d) for d in v]
                              for c, v in meta["descriptions"].items()},
                selected={str(c): [(str(t), float(w)) for t, w in v]
                          for c, v in meta["selected"].items()},
                prototypes=prototypes, encoder_fingerprint=str(meta["encoder_fingerprint"]),
                version=int(meta["version"]), template=str(meta["template"]),
                top_k=int(meta["top_k"]), temperature=float(meta["temperature"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, LabelBankError):
                raise
            raise LabelBankError(f"{directory / META_FILE}: malformed field: {exc!r}") from exc
        if meta.get("dim") not in (None, bank.prototypes.shape[1]):
            raise LabelBankError(f"{directory}: dim {meta['dim']} but prototypes are "
                                 f"{bank.prototypes.shape}")
        if meta.get("fingerprint") not in (None, bank.fingerprint):
            raise LabelBankError(f"{directory}: content fingerprint mismatch (saved "
                                 f"{meta['fingerprint']}, computed {bank.fingerprint})")
        return bank


def cosine_scores(embeddings: np.ndarray, prototypes: LabelBank | np.ndarray) -> np.ndarray:
    """(N, K) cosine similarities between embeddings and prototypes."""
    p = prototypes.prototypes if isinstance(prototypes, LabelBank) else prototypes
    return _normalize(np.atleast_2d(embeddings)) @ _normalize(p).T


def nearest_prototype(embeddings: np.ndarray, bank: LabelBank | np.ndarray) -> np.ndarray:
    """Zero-shot prediction: index of the most cosine-similar prototype for each embedding."""
    return cosine_scores(embeddings, bank).argmax(axis=1)
