"""Where stage 1 learns from: public sources, their subjects, and what that means for a run.

A stage-1 source setting (``federation.stage1_source``, ``train.stage1.source``) is

- ``none``: the pretrained encoder, no stage 1;
- ``synthetic``: the server's own synthetic public phones (a seed no phone uses);
- ``train`` (``lanhar-fl train`` only): the run's own training windows (LanHAR as published;
  its stage 1 sees the users stage 2 trains on); ``train:NAME`` (``train:uci_hapt``; several:
  ``train:uci_hapt,synthetic``) only those of the named source datasets, when a cross-dataset
  run has several (stage 2 still trains on all);
- a list of sources, or the compact string ``"synthetic+uci_hapt:1-10"``. A source is
  ``NAME`` or ``NAME:SUBJECTS`` (``SUBJECTS``: ``1-10``, ``1-5,8``) or a mapping
  ``{dataset: uci_hapt, subjects: [1, ..., 10], root: DIR}`` (root default:
  ``protocol.roots.NAME``, else ``dataset.root`` when NAME is the run's dataset).

A source that is the run's own dataset must name its subjects, and they must not include a
phone (training) or test subject: :func:`check_public` refuses the run before any training.
Provenance (``text_side`` in metrics.json) lists the sources with their subjects;
:func:`saw_private_users` says whether any stage-1 window came from a phone or test user.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from ..config import ConfigError, config_dir
from ..data.windows import Windows

PUBLIC_SEED_OFFSET = 10_007
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


@dataclass(frozen=True)
class Source:
    """One stage-1 source: a dataset and (None: all) its subjects."""

    dataset: str
    subjects: tuple[int, ...] | None = None
    root: str | None = None

    def describe(self) -> str:
        return self.dataset if self.subjects is None else f"{self.dataset}:{_ranges(self.subjects)}"


def parse_subjects(value: Any, where: str) -> tuple[int, ...]:
    """``"1-10"``, ``"1-5,8"``, ``7`` or a list of ints -> sorted unique subject ids."""
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    out: set[int] = set()
    if isinstance(value, str):
        for part in value.split(","):
            m = _RANGE.match(part)
            if not m:
                raise ConfigError(f"{where}: bad subject range {part!r} (expected e.g. 1-10,15)")
            lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
            if hi < lo:
                raise ConfigError(f"{where}: empty subject range {part!r}")
            out.update(range(lo, hi + 1))
    elif isinstance(value, Iterable):
        for v in value:
            out.update(parse_subjects(v, where))
    else:
        raise ConfigError(f"{where}: expected subject ids (e.g. [1, 2] or '1-10'), got {value!r}")
    if not out:
        raise ConfigError(f"{where}: no subjects given")
    return tuple(sorted(out))


def _one(item: Any, where: str) -> Source:
    if isinstance(item, str):
        name, _, subjects = item.strip().partition(":")
        if not name:
            raise ConfigError(f"{where}: empty source name in {item!r}")
        return Source(name, parse_subjects(subjects, where) if subjects else None)
    if isinstance(item, Mapping):
        unknown = set(item) - {"dataset", "subjects", "root"}
        if unknown or not item.get("dataset"):
            raise ConfigError(f"{where}: a source is {{dataset: NAME, subjects: [...], root: DIR}}"
                              f", got {dict(item)!r}")
        subjects = item.get("subjects")
        return Source(str(item["dataset"]),
                      None if subjects is None else parse_subjects(subjects, where),
                      None if item.get("root") in (None, "") else str(item["root"]))
    raise ConfigError(f"{where}: a source is a name, NAME:SUBJECTS or a mapping, got {item!r}")


def parse_sources(value: Any, where: str) -> list[Source] | str:
    """The sources of a stage-1 setting, or the keyword ``none`` / ``train``."""
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    if value is None or value == "none" or value == []:
        return "none"
    if value == "train" or (isinstance(value, str) and value.startswith("train:")):
        train_datasets(value, where)
        return "train"
    items = value.split("+") if isinstance(value, str) else value
    if isinstance(items, Mapping):
        items = [items]
    sources = [_one(x, where) for x in items]
    if any(s.dataset in ("none", "train") for s in sources):
        raise ConfigError(f"{where}: none/train cannot be combined with other sources")
    _require_known([s.dataset for s in sources], where)
    if len({s.dataset for s in sources}) != len(sources):
        raise ConfigError(f"{where}: a dataset is listed twice; merge its subjects")
    return sources


def train_datasets(value: Any, where: str) -> tuple[str, ...] | None:
    """The source datasets named by ``train:NAME,...`` (None for plain ``train``)."""
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    if not isinstance(value, str) or not value.startswith("train:"):
        return None
    names = tuple(n.strip() for n in value.removeprefix("train:").split(",") if n.strip())
    if not names:
        raise ConfigError(f"{where}: name the source datasets after train: (e.g. train:uci_hapt)")
    _require_known(names, where)
    return names


def _require_known(names: Iterable[str], where: str) -> None:
    """Refuse dataset names without a ``configs/dataset/NAME.yaml``."""
    known = sorted(p.stem for p in (config_dir() / "dataset").glob("*.yaml"))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"{where}: unknown dataset {', '.join(unknown)}; known: "
                          f"{', '.join(known)}")


def _ranges(subjects: Iterable[int]) -> str:
    """Compact ``1-10,15`` form of subject ids."""
    values = sorted(set(int(s) for s in subjects))
    parts: list[str] = []
    start = prev = None
    for v in [*values, None]:
        if start is not None and (v is None or v != prev + 1):
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if v is not None and start is None:
            start = v
        prev = v
    return ",".join(parts)


# ---- private users of a run ------------------------------------------------------------------

def private_users(split, cfg: DictConfig) -> dict[str, set[int] | None]:
    """Per dataset, the users whose windows stage 2 trains on (phones) or the test set holds
    (None: every user of that dataset)."""
    def key(name: str) -> str:
        return dataset_key(cfg) if name == cfg.dataset.get("name") else name

    if split.train_dataset == split.test_dataset:
        users: set[int] = set()
        for part in (split.train, split.val, split.test):
            users.update(int(s) for s in np.unique(part.subjects))
        return {key(split.train_dataset): users}
    out: dict[str, set[int] | None] = {key(n): None for n in split.train_dataset.split("+")}
    out[key(split.test_dataset)] = None
    return out


def train_records(split, cfg: DictConfig,
                  datasets: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Source records of stage 1 on the run's own training windows (``source: train``; only
    those of ``datasets`` when given)."""
    if split.train_dataset == split.test_dataset:
        subjects = sorted(int(s) for s in np.unique(split.train.subjects))
        return [{"dataset": dataset_key(cfg), "subjects": subjects,
                 "subjects_compact": _ranges(subjects), "windows": len(split.train),
                 "class_counts": split.train.class_counts(), "note": "the run's training users"}]
    origins = split.train.dataset_of_each()
    return [{"dataset": n, "subjects": None, "windows": int(np.sum(origins == n)),
             "note": "the run's training users"}
            for n in split.train_dataset.split("+") if datasets is None or n in datasets]


def _overlap(dataset: str, subjects: Iterable[int] | None,
             private: Mapping[str, set[int] | None]) -> list[int] | bool:
    if dataset not in private:
        return []
    users = private[dataset]
    if users is None or subjects is None:
        return True
    return sorted(set(int(s) for s in subjects) & users)


def check_public(sources: list[Source], private: Mapping[str, set[int] | None], cfg: DictConfig,
                 where: str) -> None:
    """Refuse a public source that includes a phone or test user of this run."""
    for src in sources:
        identity = _identity(src, cfg)
        shared = _overlap(identity, src.subjects, private)
        if shared is True:
            raise ConfigError(f"{where}: {src.describe()} is this run's own dataset; name public "
                              "subjects disjoint from the phones' and test subjects "
                              f"(e.g. {src.dataset}:1-10)")
        if shared:
            raise ConfigError(f"{where}: public subjects {shared} of {src.dataset} are also phone "
                              "or test subjects of this run (protocol.train_subjects / "
                              "test_subjects)")


def saw_private_users(provenance: Mapping[str, Any], private: Mapping[str, set[int] | None]
                      ) -> bool:
    """Whether a text side's stage 1 (``provenance['sources']``) used a phone or test user."""
    if provenance.get("sources") is None:  # unknown history: cannot be shown to be public
        return bool(provenance.get("stage1") != "none")
    return any(bool(_overlap(s["dataset"], s.get("subjects"), private))
               for s in provenance["sources"])


def _identity(src: Source, cfg: DictConfig) -> str:
    """Dataset key used to compare users: the server's synthetic phones are a population of
    their own (another seed)."""
    if src.dataset == "synthetic":
        return f"synthetic-seed{int(cfg.seed) + PUBLIC_SEED_OFFSET}"
    return src.dataset


def dataset_key(cfg: DictConfig) -> str:
    """The run dataset's key in :func:`private_users` terms (synthetic: with its seed)."""
    if cfg.dataset.name == "synthetic":
        return f"synthetic-seed{int(cfg.dataset.get('seed', cfg.seed))}"
    return str(cfg.dataset.name)


# ---- loading ---------------------------------------------------------------------------------

def _synthetic_cfg(cfg: DictConfig, phones: int) -> DictConfig:
    sub = cfg.copy()
    OmegaConf.set_struct(sub, False)
    sub.dataset = OmegaConf.load(config_dir() / "dataset" / "synthetic.yaml")
    sub.dataset.num_phones = int(phones)
    # Long enough that every public phone does every activity (bouts of 20-50 s cycle through
    # them): with the phones' 2 minutes, whole placements lacked whole activities.
    minutes = (cfg.get("federation") or {}).get("stage1_public_minutes")
    if minutes:
        sub.dataset.minutes_per_phone = float(minutes)
    sub.dataset.seed = int(cfg.seed) + PUBLIC_SEED_OFFSET
    sub.data.max_windows = None
    return sub


def _dataset_cfg(cfg: DictConfig, src: Source, where: str) -> DictConfig:
    sub = cfg.copy()
    OmegaConf.set_struct(sub, False)
    if src.dataset == cfg.dataset.get("name"):
        dataset = cfg.dataset.copy()
    else:
        path = config_dir() / "dataset" / f"{src.dataset}.yaml"
        if not path.is_file():
            raise ConfigError(f"{where}: unknown dataset {src.dataset!r} (no {path})")
        dataset = OmegaConf.load(path)
    root = src.root or ((cfg.get("protocol") or {}).get("roots") or {}).get(src.dataset)
    if root is not None:
        dataset.root = root
    if dataset.get("root") in (None, ""):
        raise ConfigError(f"{where}: set the folder of {src.dataset} ({{dataset: {src.dataset}, "
                          f"root: DIR}} or protocol.roots.{src.dataset})")
    sub.dataset = dataset
    sub.data.max_windows = None
    return sub


def load_source(cfg: DictConfig, src: Source, classes: list[str], *, phones: int,
                max_windows: int | None, where: str, load_windows) -> Windows | None:
    """One source's labelled windows of ``classes`` (None when it has none), stratified down
    to ``max_windows``."""
    from ..data.registry import stratified_subsample

    sub = _synthetic_cfg(cfg, phones) if src.dataset == "synthetic" else _dataset_cfg(
        cfg, src, where)
    windows = load_windows(sub)
    if src.subjects is not None:
        have = set(int(s) for s in np.unique(windows.subjects))
        unknown = sorted(set(src.subjects) - have)
        if unknown:
            raise ConfigError(f"{where}: subjects {unknown} not in {src.dataset}")
        windows = windows.subset(np.flatnonzero(np.isin(windows.subjects, src.subjects)))
    shared = [c for c in classes if c in windows.class_names]
    if not shared:
        return None
    windows = windows.select_classes(shared)
    if max_windows and len(windows) > int(max_windows):
        windows = windows.subset(stratified_subsample(windows.labels, int(max_windows),
                                                      int(cfg.seed)))
    return windows


def source_record(src: Source, cfg: DictConfig, windows: Windows | None) -> dict[str, Any]:
    """metrics.json / text_side.json entry of one source."""
    if windows is None:
        subjects = list(src.subjects) if src.subjects is not None else None
        counts: dict[str, int] = {}
    else:
        subjects = sorted(int(s) for s in np.unique(windows.subjects))
        counts = {k: int(v) for k, v in windows.class_counts().items()}
    record = {"dataset": _identity(src, cfg), "subjects": subjects,
              "subjects_compact": _ranges(subjects) if subjects else "",
              "windows": int(sum(counts.values())), "class_counts": counts}
    if src.dataset == "synthetic":
        record["note"] = "server-generated synthetic public phones"
    return record
