"""Iterative re-generation: a rejected interpretation is regenerated with its reasons fed back.

Up to ``max_attempts`` calls of the backend; each rejected answer's reasons (validation
messages) become the ``feedback`` of the next call. When every attempt is rejected, the grounded
interpreter's text replaces the answer (a *fallback*). A deterministic backend (grounded) is
called once: asking again cannot change its answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .interpreters.base import Interpreter
from .interpreters.grounded import grounded_text
from .validation import REASONS, Rejection

Check = Callable[[str], list[Rejection]]


@dataclass
class Outcome:
    """The final interpretation of one window and how it was reached."""

    text: str
    attempts: int  # backend calls spent on this window
    valid: bool  # the final text passed validation
    fallback: bool = False  # the final text is the grounded replacement
    rejections: list[Rejection] = field(default_factory=list)

    def to_record(self) -> dict:
        return {"text": self.text, "attempts": self.attempts, "valid": self.valid,
                "fallback": self.fallback,
                "rejections": [[r.kind, r.message] for r in self.rejections]}

    @classmethod
    def from_record(cls, record: dict) -> Outcome:
        return cls(record["text"], int(record["attempts"]), bool(record["valid"]),
                   bool(record["fallback"]),
                   [Rejection(k, m) for k, m in record.get("rejections", [])])


@dataclass
class RegenerationStats:
    """Counts over a run: backend calls, rejections by reason, fallbacks, cache hits."""

    windows: int = 0
    attempts: int = 0
    rejections: Counter[str] = field(default_factory=lambda: Counter({r: 0 for r in REASONS}))
    fallbacks: int = 0
    invalid: int = 0
    cache_hits: int = 0
    regenerated: int = 0  # windows that needed more than one attempt

    def as_dict(self) -> dict:
        return {"windows": self.windows, "attempts": self.attempts,
                "rejections": dict(self.rejections), "fallbacks": self.fallbacks,
                "invalid": self.invalid, "cache_hits": self.cache_hits,
                "regenerated": self.regenerated}


def generate_checked(interpreter: Interpreter, row: dict[str, float], context: dict,
                     check: Check, max_attempts: int, stats: RegenerationStats,
                     feedback: list[str] | None = None, used: int = 0,
                     history: list[Rejection] | None = None) -> Outcome:
    """Generate, validate with ``check`` and regenerate with feedback until accepted.

    ``used`` attempts were already spent on this window (e.g. before an outlier check), and
    ``history`` holds their rejections.
    """
    history = list(history or [])
    attempts = used
    limit = 1 if interpreter.deterministic else max(1, max_attempts)
    text = ""
    while attempts < limit:
        text = interpreter.generate(row, context, feedback or None).strip()
        attempts += 1
        stats.attempts += 1
        problems = check(text)
        if not problems:
            stats.regenerated += attempts > 1
            return Outcome(text, attempts, True, False, history)
        history.extend(problems)
        stats.rejections.update(p.kind for p in problems)
        feedback = [p.message for p in problems]
    stats.regenerated += attempts > 1
    if interpreter.deterministic:
        stats.invalid += 1
        return Outcome(text, attempts, False, False, history)
    fallback = grounded_text(row)
    stats.fallbacks += 1
    valid = not check(fallback)
    stats.invalid += not valid
    return Outcome(fallback, attempts, valid, True, history)
