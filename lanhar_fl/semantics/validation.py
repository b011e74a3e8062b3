"""Validators for interpretations: structure, grounding, leakage and class outliers.

- **structure**: all seven section headers (``Strength:`` ... ``Vertical impact:``) open a line
  (markdown decoration and list numbering around them are tolerated) and each has some content.
- **grounding**: every number the text cites must match a computed feature of the window. A
  cited number is a decimal literal not glued to a word (``p95``, ``95th``, ``m/s^2``, ``3D``,
  ``3-axis`` are not citations; ``2.56-s`` is 2.56 s); list enumerators (``1.`` at a line
  start) and counts of sections, parts or harmonics are skipped. When a unit follows the number
  (``m/s²``, ``g``, ``Hz``, ``steps/min``, ``s``, ``ms``, ``°``, ``deg``, ``rad``, ``rad/s``,
  ``deg/s``, ``%``), it is compared only with features of that unit (after conversion, e.g.
  ``g`` = m/s² / 9.80665, ``%`` = dimensionless x 100, ``s`` = a ``s`` feature or the period 1/f
  of a ``Hz`` feature); a bare number with every feature (and 100x the dimensionless ones).
  Context numbers (sampling rate, window length in s and samples) are also allowed. The sign is
  ignored (``delay 0.02 s, gyro first`` is fine). Match: ``|x - v| <= max(rel_tol * |v|, half a
  unit of the literal's last digit)``, so ``1.3`` matches 1.26 and ``2`` matches 2.4, while
  ``4.56`` does not match 1.23.
- **leakage**: no activity name or synonym from ``descriptions.activity_words()``.
- **outlier** (only when labels are known, only for generated texts): among the interpretations
  of one class, three statistics per text: log word count, count of cited numbers, and lexical
  similarity (cosine of word counts) to the rest of the class. Each is robust-z-scored against
  the class (median, 1.4826 x MAD floored at 10 % of the median's magnitude or 0.05); a text is an
  outlier when any |z| exceeds ``outlier_z`` (similarity: only when lower). Classes with fewer
  than ``outlier_min_class`` texts are not checked.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..data.preprocess import STANDARD_GRAVITY
from .descriptions import activity_words, mentions_activity
from .features import FEATURES, GROUPS, SECTION_TITLES

REASONS = ("structure", "grounding", "leakage", "outlier")


@dataclass(frozen=True)
class Rejection:
    """Why an interpretation was rejected: ``kind`` in REASONS and a message fed back."""

    kind: str
    message: str


@dataclass(frozen=True)
class ValidationSettings:
    """The ``interpreter.*`` validation knobs (see the module docstring)."""

    rel_tol: float = 0.05
    outlier_z: float = 4.0
    outlier_min_class: int = 8

    @classmethod
    def from_config(cls, cfg: object) -> ValidationSettings:
        get = cfg.get if hasattr(cfg, "get") else lambda k, d=None: d
        return cls(rel_tol=float(get("grounding_rel_tol", cls.rel_tol)),
                   outlier_z=float(get("outlier_z", cls.outlier_z)),
                   outlier_min_class=int(get("outlier_min_class", cls.outlier_min_class)))


# ----------------------------------------------------------------------------- structure


def _header_pattern(title: str) -> re.Pattern[str]:
    body = r"\s*/\s*".join(re.escape(p) for p in title.split("/"))
    body = body.replace(r"\-", r"[\s\-\u2010-\u2015]?")
    return re.compile(rf"(?im)^[ \t>#*_\-\d.)]*{body}[ \t*_]*:")


HEADERS = {g: _header_pattern(SECTION_TITLES[g]) for g in GROUPS}


def split_sections(text: str) -> dict[str, str]:
    """Section group -> its body text, for the headers found in ``text``."""
    found = sorted((m.start(), m.end(), g) for g in GROUPS
                   if (m := HEADERS[g].search(text)) is not None)
    out: dict[str, str] = {}
    for k, (_, end, group) in enumerate(found):
        stop = found[k + 1][0] if k + 1 < len(found) else len(text)
        out[group] = text[end:stop].strip(" \t\n*_")
    return out


def check_structure(text: str) -> list[Rejection]:
    sections = split_sections(text)
    missing = [SECTION_TITLES[g] for g in GROUPS if g not in sections]
    empty = [SECTION_TITLES[g] for g in GROUPS if g in sections and len(sections[g]) < 3]
    problems = []
    if missing:
        problems.append(Rejection("structure", "missing sections: " + ", ".join(missing) +
                                  "; write all seven, each on its own line starting with its "
                                  "header, e.g. 'Rhythm: ...'"))
    if empty:
        problems.append(Rejection("structure", "empty sections: " + ", ".join(empty)))
    return problems


# ----------------------------------------------------------------------------- grounding

# unit aliases (lower-case) -> canonical unit of the citation
UNIT_ALIASES = {
    "m/s²": "m/s^2", "m/s^2": "m/s^2", "m/s2": "m/s^2", "m s-2": "m/s^2", "m/s/s": "m/s^2",
    "m/s³": "m/s^3", "m/s^3": "m/s^3", "m/s3": "m/s^3", "g": "g",
    "rad/s": "rad/s", "rad/sec": "rad/s", "deg/s": "deg/s", "°/s": "deg/s",
    "hz": "Hz", "steps/min": "per_min", "steps per minute": "per_min", "spm": "per_min",
    "per minute": "per_min", "/min": "per_min",
    "ms": "ms", "s": "s", "sec": "s", "secs": "s", "seconds": "s", "second": "s",
    "°": "deg", "deg": "deg", "degrees": "deg", "degree": "deg", "rad": "rad", "radians": "rad",
    "%": "%", "percent": "%",
}
_UNIT_RE = re.compile(r"\s*(" + "|".join(re.escape(u) for u in sorted(
    UNIT_ALIASES, key=len, reverse=True)) + r")(?![a-z0-9²³])", re.IGNORECASE)
_NUMBER_RE = re.compile(r"(?<![A-Za-z0-9_.^/\\])([-+\u2212]?)(\d+(?:\.\d+)?)")
_ENUMERATOR_RE = re.compile(r"(?m)^[ \t>#*_]*$")


@dataclass(frozen=True)
class Citation:
    """A number cited in a text, with the canonical unit that follows it (None: bare)."""

    value: float
    literal: str
    unit: str | None
    start: int

    @property
    def half_ulp(self) -> float:
        decimals = len(self.literal.split(".")[1]) if "." in self.literal else 0
        return 0.5 * 10.0 ** (-decimals)


def cited_numbers(text: str) -> list[Citation]:
    """The numbers ``text`` cites (see the module docstring for what is skipped)."""
    out = []
    for m in _NUMBER_RE.finditer(text):
        sign, literal = m.group(1), m.group(2)
        after = text[m.end():]
        if re.match(r"-[A-Za-z]", after):  # compound: 2.56-s window, 50-Hz, 3-axis
            after = after[1:]
        unit_m = _UNIT_RE.match(after)
        if unit_m is None and re.match(r"[A-Za-z]", after):
            continue  # glued to a word: 95th, 3D, 2x, 3-axis
        line_start = text.rfind("\n", 0, m.start()) + 1
        if _ENUMERATOR_RE.match(text[line_start:m.start()]) and re.match(r"[.)]\s", after):
            continue  # list enumerator
        if re.match(r"\s*(sections?|parts?|harmonics?)\b", after, re.IGNORECASE):
            continue
        unit = UNIT_ALIASES[unit_m.group(1).lower()] if unit_m else None
        value = float(literal) * (-1 if sign in ("-", "\u2212") else 1)
        out.append(Citation(value, literal, unit, m.start()))
    return out


def allowed_values(row: dict[str, float], context: dict | None = None
                   ) -> dict[str | None, tuple[float, ...]]:
    """Citation unit (None: bare number) -> the absolute values it may match (see above)."""
    f: dict[str, list[float]] = {}
    for name, value in row.items():
        f.setdefault(FEATURES[name].unit if name in FEATURES else "1", []).append(value)
    ctx = context or {}
    rate = [ctx["sampling_rate_hz"]] if "sampling_rate_hz" in ctx else []
    secs = [ctx["window_seconds"]] if "window_seconds" in ctx else []
    samples = [round(r * s) for r in rate for s in secs]
    hz = f.get("Hz", [])
    periods = [1.0 / v for v in hz if v]
    table: dict[str | None, list[float]] = {
        "m/s^2": f.get("m/s^2", []),
        "g": [v / STANDARD_GRAVITY for v in f.get("m/s^2", [])],
        "m/s^3": f.get("m/s^3", []),
        "rad/s": f.get("rad/s", []),
        "deg/s": [math.degrees(v) for v in f.get("rad/s", [])],
        "Hz": hz + rate,
        "per_min": [60 * v for v in hz],
        "s": f.get("s", []) + periods + secs,
        "ms": [1000 * v for v in f.get("s", []) + periods],
        "deg": f.get("deg", []),
        "rad": [math.radians(v) for v in f.get("deg", [])],
        "%": [100 * v for v in f.get("1", [])],
    }
    table[None] = [v for vals in f.values() for v in vals] + table["%"] + rate + secs + samples
    return {unit: tuple(abs(v) for v in vals) for unit, vals in table.items()}


def matches(citation: Citation, candidates: tuple[float, ...], rel_tol: float) -> bool:
    """Whether |citation| is one of ``candidates`` within tolerance (see the module docstring)."""
    x, half = abs(citation.value), citation.half_ulp
    return any(abs(x - v) <= max(rel_tol * v, half) + 1e-12 for v in candidates)


def check_grounding(text: str, row: dict[str, float], context: dict | None = None,
                    rel_tol: float = 0.05) -> list[Rejection]:
    allowed = allowed_values(row, context)
    bad = [c.literal + (f" {c.unit}" if c.unit else "") for c in cited_numbers(text)
           if not matches(c, allowed.get(c.unit, ()), rel_tol)]
    if not bad:
        return []
    return [Rejection("grounding", "numbers not among the measured features: " +
                      ", ".join(bad) + "; cite only the listed values with their units")]


# ----------------------------------------------------------------------------- leakage


@lru_cache(maxsize=8)
def _any_word(words: frozenset[str]) -> re.Pattern[str]:
    body = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![a-z])(?:{body})(?![a-z])")


def check_leakage(text: str, words: set[str]) -> list[Rejection]:
    if not words or not _any_word(frozenset(words)).search(text.lower()):
        return []  # fast path; mentions_activity lists the words otherwise
    found = mentions_activity(text, words)
    if not found:
        return []
    return [Rejection("leakage", "names or hints at an activity (" + ", ".join(found) +
                      "); describe only the signal, never the activity")]


class Validator:
    """Structure + grounding + leakage checks of one interpretation."""

    def __init__(self, settings: ValidationSettings | None = None,
                 words: set[str] | None = None):
        self.settings = settings or ValidationSettings()
        self.words = activity_words() if words is None else words

    def validate(self, text: str, row: dict[str, float], context: dict | None = None
                 ) -> list[Rejection]:
        return [*check_structure(text), *check_grounding(text, row, context,
                                                         self.settings.rel_tol),
                *check_leakage(text, self.words)]


# ----------------------------------------------------------------------------- outliers

_WORD_RE = re.compile(r"[a-z]+")
STAT_NAMES = ("log word count", "cited numbers", "similarity to its class")


def _bag(text: str) -> Counter[str]:
    return Counter(_WORD_RE.findall(text.lower()))


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def _robust(values: np.ndarray) -> tuple[float, float]:
    med = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - med)))
    return med, max(mad, 0.1 * abs(med), 0.05)


@dataclass
class _ClassReference:
    bag: Counter[str]
    centre: np.ndarray
    scale: np.ndarray


class OutlierDetector:
    """Flags interpretations far from the others of their class (see the module docstring)."""

    def __init__(self, z: float = 4.0, min_class: int = 8):
        self.z, self.min_class = z, min_class
        self.reference: dict[int, _ClassReference] = {}

    @staticmethod
    def _stats(text: str, bag: Counter[str], rest: Counter[str]) -> np.ndarray:
        words = sum(bag.values())
        return np.array([math.log1p(words), len(cited_numbers(text)), _cosine(bag, rest)])

    def fit(self, texts: list[str], labels: list[int]) -> list[Rejection | None]:
        """Learn each class's reference; return the outlier verdict of every text."""
        verdicts: list[Rejection | None] = [None] * len(texts)
        bags = [_bag(t) for t in texts]
        for label in sorted(set(labels)):
            idx = [i for i, y in enumerate(labels) if y == label]
            if len(idx) < self.min_class:
                continue
            total: Counter[str] = Counter()
            for i in idx:
                total.update(bags[i])
            stats = np.stack([self._stats(texts[i], bags[i], total - bags[i]) for i in idx])
            centre, scale = zip(*(_robust(stats[:, k]) for k in range(stats.shape[1])),
                                strict=True)
            ref = _ClassReference(total, np.array(centre), np.array(scale))
            self.reference[label] = ref
            for row, i in zip(stats, idx, strict=True):
                verdicts[i] = self._verdict(row, ref)
        return verdicts

    def check(self, text: str, label: int) -> Rejection | None:
        """Verdict for a new text of class ``label`` against the fitted reference."""
        ref = self.reference.get(label)
        if ref is None:
            return None
        bag = _bag(text)
        return self._verdict(self._stats(text, bag, ref.bag), ref)

    def _verdict(self, stats: np.ndarray, ref: _ClassReference) -> Rejection | None:
        z = (stats - ref.centre) / ref.scale
        z[2] = min(z[2], 0.0)  # only unusually low similarity is suspicious
        far = [f"{STAT_NAMES[k]} {stats[k]:.2f} vs typical {ref.centre[k]:.2f}"
               for k in range(len(z)) if abs(z[k]) > self.z]
        if not far:
            return None
        return Rejection("outlier", "unlike the other interpretations of similar windows ("
                         + "; ".join(far) + "); keep to the usual seven short sections")
