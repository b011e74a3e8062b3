"""Windows -> validated interpretations: the one call training and the federated client make.

Nothing leaves the device: the grounded and hf backends run in-process, and openai_compatible
refuses non-loopback servers unless ``interpreter.allow_remote=true``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data.windows import Windows
from .features import FeatureTable, compute_features, window_contexts
from .interpretation_cache import InterpretationCache, cache_key
from .interpreters import Interpreter, build_interpreter
from .interpreters.prompt import PROMPT_VERSION
from .regeneration import Check, Outcome, RegenerationStats, generate_checked
from .validation import OutlierDetector, Rejection, ValidationSettings, Validator

log = logging.getLogger(__name__)


@dataclass
class InterpretationResult:
    """Per-window texts and how they were obtained, plus run statistics."""

    texts: list[str]
    attempts: list[int]
    valid: list[bool]
    backend: str
    stats: dict
    fallback: list[bool] = field(default_factory=list)
    rejections: list[list[str]] = field(default_factory=list)  # reason kinds, per window
    model_id: str = ""
    features: FeatureTable | None = None


def _cfg_get(cfg: object, key: str, default: object = None) -> object:
    return cfg.get(key, default) if cfg is not None and hasattr(cfg, "get") else default


def open_cache(cfg: object) -> InterpretationCache | None:
    """The interpretation cache the config asks for (``interpreter.cache``, ``cache_dir``)."""
    icfg = _cfg_get(cfg, "interpreter") or {}
    if not _cfg_get(icfg, "cache", True):
        return None
    cache_dir = _cfg_get(cfg, "cache_dir")
    return InterpretationCache(Path(str(cache_dir)).expanduser() / "interpretations"
                               if cache_dir else None)


def _checker(validator: Validator, row: dict[str, float], context: dict,
             extra: Check | None = None) -> Check:
    def check(text: str) -> list[Rejection]:
        problems = validator.validate(text, row, context)
        return problems + (extra(text) if extra is not None else [])

    return check


def _outlier_check(detector: OutlierDetector, label: int) -> Check:
    def check(text: str) -> list[Rejection]:
        verdict = detector.check(text, label)
        return [] if verdict is None else [verdict]

    return check


def interpret_windows(windows: Windows, cfg: object, labels_known: bool = False,
                      progress: bool = True,
                      interpreter: Interpreter | None = None) -> InterpretationResult:
    """Interpret every window with the configured backend, validating and regenerating.

    ``cfg`` is the composed config (``interpreter`` and ``cache_dir`` are read). With
    ``labels_known`` generated texts are also checked for being outliers within their class
    (``windows.labels``). Pass ``interpreter`` to reuse a loaded backend across calls.
    """
    icfg = _cfg_get(cfg, "interpreter") or {}
    own = interpreter is None
    interpreter = build_interpreter(icfg) if own else interpreter
    settings = ValidationSettings.from_config(icfg)
    validator = Validator(settings)
    max_attempts = max(1, int(_cfg_get(icfg, "max_attempts", 3)))
    table = compute_features(windows)
    contexts = window_contexts(windows)
    extra = {"max_attempts": max_attempts, "validation": asdict(settings)}
    stats = RegenerationStats(windows=len(windows))
    cache = open_cache(cfg)
    try:
        keys = [] if cache is None else [
            cache_key(table.row(i), contexts[i], interpreter.name, interpreter.model_id,
                      PROMPT_VERSION, extra) for i in range(len(windows))]
        outcomes = _first_pass(interpreter, table, contexts, validator, max_attempts, stats,
                               cache, keys, progress)
        if labels_known and not interpreter.deterministic:
            _outlier_pass(interpreter, table, contexts, validator, settings, windows.labels,
                          outcomes, max_attempts, stats, cache, keys)
    finally:
        if cache is not None:
            cache.close()
        if not interpreter.deterministic:
            log.info("interpret (%s): %d windows, %d cache hits, %d generations, %d fallbacks",
                     interpreter.name, stats.windows, stats.cache_hits, stats.attempts,
                     stats.fallbacks)
        if own:
            interpreter.close()
    return InterpretationResult(
        texts=[o.text for o in outcomes], attempts=[o.attempts for o in outcomes],
        valid=[o.valid for o in outcomes], backend=interpreter.name,
        stats={**stats.as_dict(), "backend": interpreter.name, "model": interpreter.model_id,
               "prompt_version": PROMPT_VERSION},
        fallback=[o.fallback for o in outcomes],
        rejections=[[r.kind for r in o.rejections] for o in outcomes],
        model_id=interpreter.model_id, features=table)


def _first_pass(interpreter: Interpreter, table: FeatureTable, contexts: list[dict],
                validator: Validator, max_attempts: int, stats: RegenerationStats,
                cache: InterpretationCache | None, keys: list[str],
                progress: bool) -> list[Outcome]:
    from tqdm import tqdm

    outcomes = []
    block = max(1, int(getattr(interpreter, "batch_windows", 1)))
    prefetch = getattr(interpreter, "prefetch", None)  # batched first answers (hf, guided)
    bar = tqdm(total=len(table), desc=f"interpret ({interpreter.name})", unit="window",
               disable=not progress, leave=False)
    for start in range(0, len(table), block):
        span = range(start, min(len(table), start + block))
        records = {i: cache.get(keys[i]) if cache is not None else None for i in span}
        todo = [i for i in span if records[i] is None]
        if prefetch is not None and len(todo) > 1:
            prefetch([table.row(i) for i in todo], [contexts[i] for i in todo])
        for i in span:
            row, ctx = table.row(i), contexts[i]
            if records[i] is not None:
                stats.cache_hits += 1
                outcomes.append(Outcome.from_record(records[i]))
                continue
            outcome = generate_checked(interpreter, row, ctx, _checker(validator, row, ctx),
                                       max_attempts, stats)
            if cache is not None:
                cache.put(keys[i], outcome.to_record())
            outcomes.append(outcome)
        bar.update(len(span))
    bar.close()
    return outcomes


def _outlier_pass(interpreter: Interpreter, table: FeatureTable, contexts: list[dict],
                  validator: Validator, settings: ValidationSettings, labels: np.ndarray,
                  outcomes: list[Outcome], max_attempts: int, stats: RegenerationStats,
                  cache: InterpretationCache | None, keys: list[str]) -> None:
    """Regenerate accepted generated texts that are outliers within their class."""
    detector = OutlierDetector(settings.outlier_z, settings.outlier_min_class)
    generated = [i for i, o in enumerate(outcomes) if o.valid and not o.fallback]
    verdicts = detector.fit([outcomes[i].text for i in generated],
                            [int(labels[i]) for i in generated])
    for i, verdict in zip(generated, verdicts, strict=True):
        if verdict is None:
            continue
        stats.rejections[verdict.kind] += 1
        row, ctx, previous = table.row(i), contexts[i], outcomes[i]
        check = _checker(validator, row, ctx, _outlier_check(detector, int(labels[i])))
        outcomes[i] = generate_checked(interpreter, row, ctx, check, max_attempts, stats,
                                       feedback=[verdict.message], used=previous.attempts,
                                       history=[*previous.rejections, verdict])
        if cache is not None:
            cache.put(keys[i], outcomes[i].to_record())
