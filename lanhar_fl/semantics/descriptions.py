"""Activity descriptions: the shipped YAML (names, synonyms, phrases, sensor-pattern phrases).

Schema of a descriptions file::

    version: 1
    activities:
      walk:
        names: [walk, walking]            # the name and its inflections (leak words)
        synonyms: [strolling]             # other names for the activity (leak words)
        phrases: [a brisk walk outdoors]  # everyday phrases about it; may name it
        patterns: [regular rhythm ...]    # sensor-pattern phrases, never naming it
        leak_words: [...]                 # optional: overrides names + synonyms as leak words

Extra files with the same schema add activities or extend existing ones
(:func:`merge_descriptions`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

DEFAULT_FILE = "label_descriptions.yaml"
_LIST_FIELDS = ("names", "synonyms", "phrases", "patterns")


@dataclass
class ActivityDescription:
    """What the label bank knows of one activity."""

    name: str
    names: list[str] = field(default_factory=list)  # the name and its inflections
    synonyms: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)  # sensor-pattern phrases, no names
    phrases: list[str] = field(default_factory=list)  # everyday phrases, may name the activity
    leak_words: list[str] | None = None  # None: names + synonyms

    def texts(self) -> list[str]:
        """All descriptions the bank embeds for this activity (duplicates removed, in order)."""
        return list(dict.fromkeys([*self.names, *self.synonyms, *self.phrases, *self.patterns]))

    def words(self) -> list[str]:
        """Words that name this activity: an interpretation must never contain them."""
        return list(self.leak_words) if self.leak_words is not None else [
            *self.names, *self.synonyms]

    def merged(self, other: ActivityDescription) -> ActivityDescription:
        """This description extended by ``other``'s entries (duplicates dropped)."""
        lists = {f: list(dict.fromkeys([*getattr(self, f), *getattr(other, f)]))
                 for f in _LIST_FIELDS}
        if self.leak_words is None and other.leak_words is None:
            leak = None
        else:
            leak = list(dict.fromkeys([*self.words(), *other.words()]))
        return ActivityDescription(name=self.name, leak_words=leak, **lists)


def _str_list(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"{where}: expected a list of strings, got {value!r}")
    return [str(x) for x in value]


def parse_descriptions(raw: Mapping, source: str = "<descriptions>") -> dict[
        str, ActivityDescription]:
    """Descriptions from an already-parsed YAML mapping (``{activities: {...}}``)."""
    activities = raw.get("activities") if isinstance(raw, Mapping) else None
    if not isinstance(activities, Mapping) or not activities:
        raise ValueError(f"{source}: expected a non-empty `activities:` mapping")
    out: dict[str, ActivityDescription] = {}
    for name, spec in activities.items():
        spec = spec or {}
        if not isinstance(spec, Mapping):
            raise ValueError(f"{source}: activity {name!r} must be a mapping")
        where = f"{source}: activities.{name}"
        leak = spec.get("leak_words")
        out[str(name)] = ActivityDescription(
            name=str(name),
            names=_str_list(spec.get("names", [name]), f"{where}.names"),
            synonyms=_str_list(spec.get("synonyms"), f"{where}.synonyms"),
            patterns=_str_list(spec.get("patterns"), f"{where}.patterns"),
            phrases=_str_list(spec.get("phrases"), f"{where}.phrases"),
            leak_words=None if leak is None else _str_list(leak, f"{where}.leak_words"),
        )
    return out


def load_descriptions(path: str | Path | None = None) -> dict[str, ActivityDescription]:
    """Descriptions from a YAML file (default: the one shipped in ``lanhar_fl/resources``)."""
    if path is None:
        text = resources.files("lanhar_fl.resources").joinpath(DEFAULT_FILE).read_text()
        source = DEFAULT_FILE
    else:
        text = Path(path).expanduser().read_text()
        source = str(path)
    return parse_descriptions(yaml.safe_load(text) or {}, source)


def merge_descriptions(
    base: Mapping[str, ActivityDescription], *extras: Mapping[str, ActivityDescription]
) -> dict[str, ActivityDescription]:
    """``base`` with each extra's activities added, or merged into existing ones."""
    out = dict(base)
    for extra in extras:
        for name, desc in extra.items():
            out[name] = out[name].merged(desc) if name in out else desc
    return out


def descriptions_from_config(label_bank: Mapping | None) -> dict[str, ActivityDescription]:
    """The activities a ``label_bank`` config describes: ``descriptions`` (null: shipped file)
    merged with ``extra_descriptions`` (one path or a list of paths)."""
    label_bank = label_bank or {}
    extra = label_bank.get("extra_descriptions") or []
    extra = [extra] if isinstance(extra, str | Path) else list(extra)
    return merge_descriptions(load_descriptions(label_bank.get("descriptions")),
                              *(load_descriptions(p) for p in extra))


def activity_words(descriptions: dict[str, ActivityDescription] | None = None) -> set[str]:
    """Lower-cased activity names and synonyms: words an interpretation must never contain."""
    descriptions = load_descriptions() if descriptions is None else descriptions
    words: set[str] = set()
    for d in descriptions.values():
        words.update(w.lower() for w in d.words())
    return words


def mentions_activity(text: str, words: set[str]) -> list[str]:
    """The activity words found in ``text`` as whole words/phrases (case-insensitive)."""
    lowered = text.lower()
    return sorted(w for w in words if re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", lowered))
