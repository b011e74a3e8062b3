"""Evaluation protocols: train/val/test splits in which target labels cannot reach training.

How leakage is ruled out by construction:

- ``Split.train`` and ``Split.val`` are labelled ``Windows`` of the *source* side only: the
  validation set used for checkpoint selection is made of held-out source subjects, never of
  target windows (the reference code's flaw).
- ``Split.test`` is a ``TargetWindows``: sensor data and metadata, but no ``labels``,
  ``label_names``, ``class_names`` or ``class_counts`` attribute. The labels are reachable only
  through ``reveal_labels_for_evaluation()``, which evaluation code calls explicitly (grep for
  it to audit a code path). ``unlabelled(windows)`` returns a view whose labels are physically
  gone (zeroed; reveal raises): hand that to anything that trains or adapts on target data.
- New-activity classes are removed from train and val (``select_classes``), so no stage of
  training ever sees a window of them; the bank lists them in ``Split.bank_classes``.
- ``check_split`` re-verifies these invariants; ``make_split`` always runs it.

This is a guard against accidents, not against a determined adversary in the same process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from ..config import ConfigError, config_dir
from ..data.windows import Windows
from .metrics import SETTINGS, build_metrics_json, classification_metrics, new_activity_metrics

log = logging.getLogger(__name__)

LoadWindows = Callable[[DictConfig], Windows]
_HIDDEN = frozenset({"labels", "label_names", "class_names", "class_counts", "relabel",
                     "select_classes"})
_VISIBLE = frozenset({"data", "subjects", "dataset", "sampling_rate_hz", "has_gyro",
                      "gravity_removed", "gravity_aligned", "placements", "devices", "synthetic",
                      "dropped", "source_rates_hz", "recordings", "channels", "units",
                      "window_length"})


class TargetWindows:
    """Target-domain windows whose labels training code cannot read by accident.

    Exposes the sensor data and metadata of ``Windows`` (``data``, ``subjects``, ``has_gyro``,
    ...), ``len()`` and ``subset()``; the labels only via ``reveal_labels_for_evaluation()``.
    """

    __slots__ = ("_windows", "_has_labels")

    def __init__(self, windows: Windows, *, labels_available: bool = True) -> None:
        if not labels_available:
            windows = _strip_labels(windows)
        object.__setattr__(self, "_windows", windows)
        object.__setattr__(self, "_has_labels", labels_available)

    def __getattr__(self, name: str) -> Any:
        if name in _VISIBLE:
            return getattr(self._windows, name)
        if name in _HIDDEN:
            raise AttributeError(
                f"target windows hide `{name}`: training must not see target labels; evaluation "
                "code calls reveal_labels_for_evaluation()")
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("TargetWindows is read-only")

    def __len__(self) -> int:
        return len(self._windows)

    def __reduce__(self) -> tuple:  # pickling (e.g. to simulation workers) keeps the seal
        return (_target_windows, (self._windows, self._has_labels))

    def __repr__(self) -> str:
        state = "labels sealed" if self._has_labels else "no labels"
        return f"TargetWindows({self._windows.dataset!r}, {len(self)} windows, {state})"

    @property
    def has_labels(self) -> bool:
        """Whether ``reveal_labels_for_evaluation`` can return labels."""
        return self._has_labels

    def subset(self, index: np.ndarray | slice | list[int]) -> TargetWindows:
        """The selected windows, still sealed."""
        return TargetWindows(self._windows.subset(index), labels_available=self._has_labels)

    def reveal_labels_for_evaluation(self) -> Windows:
        """The labelled windows. Call this in evaluation code only, after training is done."""
        if not self._has_labels:
            raise PermissionError("these target windows were made without labels (unlabelled())")
        return self._windows


def _target_windows(windows: Windows, labels_available: bool) -> TargetWindows:
    return TargetWindows(windows, labels_available=labels_available)


def _strip_labels(windows: Windows) -> Windows:
    return replace(windows, labels=np.zeros(len(windows), dtype=np.int64),
                   class_names=("<hidden>",))


def unlabelled(windows: Windows | TargetWindows) -> TargetWindows:
    """A view of ``windows`` with the labels physically removed (reveal raises)."""
    inner = windows._windows if isinstance(windows, TargetWindows) else windows
    return TargetWindows(inner, labels_available=False)


@dataclass
class Split:
    """Source train/val (labelled) and target test (sealed) windows, plus what the bank holds.

    ``bank_classes``: the classes the label bank must hold at test time, in the order that
    predictions and score columns use. ``new_classes``: bank classes no training window has.
    """

    train: Windows
    val: Windows
    test: TargetWindows
    setting: str
    train_dataset: str
    test_dataset: str
    new_classes: list[str] = field(default_factory=list)
    bank_classes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # subjects, dropped classes, val mode

    @property
    def seen_classes(self) -> list[str]:
        """Bank classes with training windows."""
        counts = self.train.class_counts()
        return [c for c in self.bank_classes if counts.get(c, 0) > 0]

    def reveal_test_labels(self) -> np.ndarray:
        """Test labels as indices into ``bank_classes`` (evaluation only)."""
        revealed = self.test.reveal_labels_for_evaluation()
        lookup = np.array([self.bank_classes.index(c) for c in revealed.class_names],
                          dtype=np.int64)
        return lookup[revealed.labels]

    def summary(self) -> dict[str, Any]:
        """Sizes and classes for logs (no test labels)."""
        return {"setting": self.setting, "train_dataset": self.train_dataset,
                "test_dataset": self.test_dataset, "train_windows": len(self.train),
                "val_windows": len(self.val), "test_windows": len(self.test),
                "train_classes": self.train.class_counts(), "bank_classes": self.bank_classes,
                "new_classes": self.new_classes, **self.info}


# ---- subject splits -------------------------------------------------------------------------

def _subjects(windows: Windows) -> list[int]:
    return sorted(int(s) for s in np.unique(windows.subjects))


def _pick_subjects(subjects: Sequence[int], fraction: float, seed: int, minimum: int) -> list[int]:
    """A seeded choice of round(fraction x len) subjects (at least ``minimum``, one left over)."""
    if fraction <= 0 or len(subjects) < 2:
        return []
    k = min(max(minimum, int(round(fraction * len(subjects)))), len(subjects) - 1)
    rng = np.random.default_rng(seed)
    return sorted(int(s) for s in rng.choice(np.asarray(subjects), size=k, replace=False))


def _by_subjects(windows: Windows, subjects: Collection[int]) -> Windows:
    return windows.subset(np.flatnonzero(np.isin(windows.subjects, list(subjects))))


def _train_val(windows: Windows, val_fraction: float, seed: int,
               val_subjects: Sequence[int] | None = None) -> tuple[Windows, Windows, list[int]]:
    """Hold out whole subjects of ``windows`` for validation."""
    subjects = _subjects(windows)
    if val_subjects is None:
        val_subjects = _pick_subjects(subjects, val_fraction, seed, minimum=1)
    else:
        val_subjects = sorted(int(s) for s in val_subjects)
        _require_known(val_subjects, subjects, "val_subjects")
    if val_fraction > 0 and not val_subjects:
        log.warning("%s has a single subject: validation set is empty", windows.dataset)
    train_subjects = [s for s in subjects if s not in set(val_subjects)]
    return _by_subjects(windows, train_subjects), _by_subjects(windows, val_subjects), val_subjects


def _require_known(wanted: Sequence[int], have: Sequence[int], setting: str) -> None:
    unknown = sorted(set(wanted) - set(have))
    if unknown:
        raise ConfigError(f"protocol.{setting}: subjects {_few(unknown)} not in the data "
                          f"({len(have)} subjects: {_few(sorted(have))}; a data.max_windows cap "
                          "can drop whole subjects)")


def _few(values: Sequence[int], limit: int = 12) -> str:
    """A list for an error message: at most ``limit`` items, then how many more."""
    shown = ", ".join(str(v) for v in values[:limit])
    more = len(values) - limit
    return f"[{shown}{f', ... {more} more' if more > 0 else ''}]"


def cross_user(windows: Windows, test_subjects: Sequence[int] | None = None,
               train_subjects: Sequence[int] | None = None, val_fraction: float = 0.15,
               seed: int = 0, *, val_subjects: Sequence[int] | None = None,
               test_fraction: float = 0.3) -> Split:
    """Train, validate and test on disjoint subjects of one dataset.

    ``test_subjects`` None: a seeded ``test_fraction`` of the subjects. ``train_subjects`` None:
    all others. Validation: ``val_subjects`` or a seeded ``val_fraction`` of the training
    subjects (whole subjects, so validation is cross-user too).
    """
    subjects = _subjects(windows)
    if test_subjects is None:
        test_subjects = _pick_subjects(subjects, test_fraction, seed + 1, minimum=1)
    test_set = sorted(int(s) for s in test_subjects)
    _require_known(test_set, subjects, "test_subjects")
    if train_subjects is None:
        train_subjects = [s for s in subjects if s not in set(test_set)]
    train_set = sorted(int(s) for s in train_subjects)
    _require_known(train_set, subjects, "train_subjects")
    overlap = sorted(set(train_set) & set(test_set))
    if overlap:
        raise ConfigError(f"protocol: subjects {overlap} are both training and test subjects")
    if not train_set or not test_set:
        raise ConfigError(f"protocol: cross_user needs training and test subjects; "
                          f"{windows.dataset} has subjects {subjects}")
    train, val, val_set = _train_val(_by_subjects(windows, train_set), val_fraction, seed,
                                     val_subjects)
    return Split(train=train, val=val, test=TargetWindows(_by_subjects(windows, test_set)),
                 setting="cross_user", train_dataset=windows.dataset,
                 test_dataset=windows.dataset, bank_classes=list(windows.class_names),
                 info={"train_subjects": [s for s in train_set if s not in set(val_set)],
                       "val_subjects": val_set, "test_subjects": test_set})


def cross_dataset(source: Windows | Sequence[Windows], target: Windows,
                  classes: Sequence[str] | None = None, *, val_fraction: float = 0.15,
                  seed: int = 0, unseen: str = "new",
                  describable: Collection[str] | None = None) -> Split:
    """Train on the source dataset(s), test on the target's windows of ``classes``.

    ``classes`` None: all target classes. Target classes no source has become new classes when
    ``unseen == "new"`` and the bank can describe them (``describable``; None: the shipped
    descriptions); otherwise they are dropped from the test set (listed in ``info``).
    Validation: whole subjects of each source dataset.
    """
    sources = [source] if isinstance(source, Windows) else list(source)
    if target.dataset in {w.dataset for w in sources}:
        raise ConfigError(f"protocol: {target.dataset} is both source and target; "
                          "use protocol=cross_user")
    if unseen not in ("new", "drop"):
        raise ConfigError(f"protocol.unseen_target_classes must be new or drop, got {unseen!r}")
    parts = [_train_val(w, val_fraction, seed) for w in sources]
    train = Windows.concatenate([p[0] for p in parts])
    val = Windows.concatenate([p[1] for p in parts])
    seen = [c for c, n in train.class_counts().items() if n > 0]
    target_classes = list(target.class_names) if classes is None else list(classes)
    unknown = [c for c in target_classes if c not in target.class_names]
    if unknown:
        raise ConfigError(f"protocol.target_classes: {unknown} not in {target.dataset} "
                          f"(classes: {list(target.class_names)})")
    present = [c for c in target_classes if target.class_counts()[c] > 0]
    unseen_classes = [c for c in present if c not in seen]
    if unseen == "new":
        known = set(_describable() if describable is None else describable)
        new = [c for c in unseen_classes if c in known]
    else:
        new = []
    dropped = [c for c in unseen_classes if c not in new]
    if dropped:
        log.warning("target classes %s are absent from the source and %s: dropped", dropped,
                    "have no bank descriptions" if unseen == "new" else "unseen=drop")
    test = target.select_classes([c for c in present if c not in dropped])
    if len(test) == 0:
        raise ConfigError(f"protocol: no {target.dataset} windows of a class the model can "
                          f"predict (source classes {seen})")
    return Split(train=train, val=val, test=TargetWindows(test), setting="cross_dataset",
                 train_dataset=train.dataset, test_dataset=target.dataset, new_classes=new,
                 bank_classes=list(dict.fromkeys([*train.class_names, *new])),
                 info={"val_subjects": {w.dataset: p[2] for w, p in zip(sources, parts,
                                                                         strict=True)},
                       "dropped_target_classes": dropped})


def hold_out(split: Split, held_out: Sequence[str]) -> Split:
    """Remove ``held_out`` classes from train and val; the test set and bank keep them."""
    if not held_out:
        raise ConfigError("protocol.held_out: name at least one class to hold out")
    unknown = [c for c in held_out if c not in split.bank_classes]
    if unknown:
        raise ConfigError(f"protocol.held_out: {unknown} not among classes {split.bank_classes}")
    test_counts = split.test.reveal_labels_for_evaluation().class_counts()
    missing = [c for c in held_out if test_counts.get(c, 0) == 0]
    if missing:
        raise ConfigError(f"protocol.held_out: no test windows of {missing} "
                          f"(test classes: {[c for c, n in test_counts.items() if n]})")
    keep = [c for c in split.train.class_names if c not in set(held_out)]
    new = list(dict.fromkeys([*split.new_classes, *held_out]))
    return replace(split, train=split.train.select_classes(keep),
                   val=split.val.select_classes(keep), setting="new_activity", new_classes=new,
                   bank_classes=list(dict.fromkeys([*split.bank_classes, *held_out])),
                   info={**split.info, "held_out": list(held_out)})


def new_activity(windows: Windows | tuple[Windows | Sequence[Windows], Windows],
                 held_out: Sequence[str], *, seed: int = 0, **base_kwargs: Any) -> Split:
    """Cross-user (one ``Windows``) or cross-dataset (``(source, target)``) with ``held_out``
    classes removed from everything on the training side. ``base_kwargs`` go to the base."""
    if isinstance(windows, tuple):
        source, target = windows
        base = cross_dataset(source, target, seed=seed, **base_kwargs)
    else:
        base = cross_user(windows, seed=seed, **base_kwargs)
    return hold_out(base, held_out)


def check_split(split: Split) -> None:
    """Raise AssertionError if the split breaks an invariant (leakage, disjoint subjects)."""
    for part in ("train", "val"):
        counts = getattr(split, part).class_counts()
        leaked = [c for c in split.new_classes if counts.get(c, 0) > 0]
        if leaked:
            raise AssertionError(f"new classes {leaked} have windows in {part}")
    if not isinstance(split.test, TargetWindows):
        raise AssertionError("the test set must be sealed TargetWindows")
    unknown = [c for c in split.new_classes if c not in split.bank_classes]
    if unknown:
        raise AssertionError(f"new classes {unknown} are not in the bank")
    train, val, test = (set(np.unique(w.subjects).tolist())
                        for w in (split.train, split.val, split.test))
    # subject ids are per dataset: comparable within one dataset only
    if "+" not in split.train_dataset and train & val:
        raise AssertionError(f"train and val share subjects {sorted(train & val)}")
    if split.train_dataset == split.test_dataset and (train | val) & test:
        raise AssertionError(f"training and test share subjects {sorted((train | val) & test)}")


# ---- config ---------------------------------------------------------------------------------

def _describable(cfg: DictConfig | None = None) -> set[str]:
    """Activities the label bank can describe: ``cfg.label_bank`` files, else the shipped ones."""
    from ..semantics.descriptions import descriptions_from_config

    bank = (cfg.get("label_bank") if cfg is not None else None) or {}
    return set(descriptions_from_config(bank))


def _dataset_cfg(cfg: DictConfig, name: str, label_space: dict[str, Any] | None,
                 overrides: Any = None) -> DictConfig:
    """``cfg`` with ``dataset`` replaced by dataset ``name`` (and its root from protocol.roots),
    its settings changed by ``overrides`` (``protocol.target_settings``: existing keys only)."""
    top = cfg.dataset
    if top.get("name") == name:
        dataset = top.copy()
    else:
        path = Path(config_dir()) / "dataset" / f"{name}.yaml"
        if not path.is_file():
            raise ConfigError(f"protocol: unknown dataset {name!r} (no {path})")
        dataset = OmegaConf.load(path)
    if overrides:
        if not OmegaConf.is_dict(overrides) and not isinstance(overrides, dict):
            raise ConfigError(f"protocol.target_settings: a mapping of {name}'s dataset "
                              f"settings, got {overrides!r}")
        unknown = sorted(k for k in overrides if k in ("name", "root") or k not in dataset)
        if unknown:
            raise ConfigError(f"protocol.target_settings: {unknown} not settings of dataset "
                              f"{name} (settings: "
                              f"{sorted(k for k in dataset if k not in ('name', 'root'))}; "
                              f"its folder: protocol.roots.{name})")
        dataset = OmegaConf.merge(dataset, overrides)
    root = (cfg.protocol.get("roots") or {}).get(name)
    if root is not None:
        dataset.root = root
    if OmegaConf.is_missing(dataset, "root"):
        raise ConfigError(f"protocol.roots.{name}: set the folder of dataset {name} "
                          "(or dataset.root when it is the top-level dataset)")
    sub = cfg.copy()
    OmegaConf.set_struct(sub, False)
    sub.dataset = dataset
    if label_space is not None:
        sub.label_space = label_space
    return sub


def _load_target(cfg: DictConfig, name: str, label_space: dict[str, Any],
                 load_windows_fn: LoadWindows) -> Windows:
    """The target's windows; a setting of ``protocol.target_settings`` that its loader refuses
    is named as that setting."""
    overrides = cfg.protocol.get("target_settings")
    try:
        return load_windows_fn(_dataset_cfg(cfg, name, label_space, overrides=overrides))
    except ValueError as exc:  # ConfigError, DataError: the dataset's checks of its settings
        if not overrides:
            raise
        raise ConfigError(f"protocol.target_settings ({name}): {exc}") from exc


def _as_list(value: Any) -> list | None:
    if value is None:
        return None
    if isinstance(value, str | int):
        return [value]
    return list(OmegaConf.to_container(value) if OmegaConf.is_config(value) else value)


def _subject_list(value: Any, setting: str) -> list[int] | None:
    """Subject ids: a list, one id, or a range string such as ``11-21`` or ``1-5,8``."""
    if isinstance(value, str):
        from ..pipeline.stage1_sources import parse_subjects

        return list(parse_subjects(value, f"protocol.{setting}"))
    return _as_list(value)


def make_split(cfg: DictConfig, load_windows_fn: LoadWindows,
               describable: Collection[str] | None = None) -> Split:
    """The split ``cfg.protocol`` describes; ``load_windows_fn(cfg)`` loads one dataset's windows
    (``lanhar_fl.data.registry.load_windows``). ``describable``: classes the label bank can
    describe (None: those of ``cfg.label_bank``'s description files)."""
    p = cfg.get("protocol")
    if p is None:
        raise ConfigError("protocol: no protocol configured (e.g. protocol=cross_user)")
    name = p.get("name")
    if name not in SETTINGS:
        raise ConfigError(f"protocol.name: expected one of {SETTINGS}, got {name!r}")
    base = p.get("base", name) if name == "new_activity" else name
    if base not in ("cross_user", "cross_dataset"):
        raise ConfigError(f"protocol.{'base' if name == 'new_activity' else 'name'}: "
                          f"expected cross_user or cross_dataset, got {base!r}")
    seed = int(cfg.get("seed", 0))
    if base == "cross_user":
        windows = load_windows_fn(cfg)
        test_subjects = _subject_list(p.get("test_subjects"), "test_subjects")
        if test_subjects is None:
            test_subjects = _as_list((p.get("standard_test_subjects") or {}).get(
                cfg.dataset.name))
        split = cross_user(windows, test_subjects,
                           _subject_list(p.get("train_subjects"), "train_subjects"),
                           float(p.get("val_fraction", 0.15)), seed,
                           val_subjects=_subject_list(p.get("val_subjects"), "val_subjects"),
                           test_fraction=float(p.get("test_fraction", 0.3)))
    else:
        source_names = _as_list(p.get("source")) or [cfg.dataset.name]
        if p.get("target") is None:
            raise ConfigError("protocol.target: name the target dataset")
        space = OmegaConf.to_container(cfg.label_space, resolve=True) if cfg.get(
            "label_space") else {}
        sources = [load_windows_fn(_dataset_cfg(cfg, n, None)) for n in source_names]
        target = _load_target(cfg, str(p.target), {"merge": space.get("merge") or {}, "keep": None},
                              load_windows_fn)
        split = cross_dataset(sources, target, _as_list(p.get("target_classes")),
                              val_fraction=float(p.get("val_fraction", 0.15)), seed=seed,
                              unseen=str(p.get("unseen_target_classes", "new")),
                              describable=_describable(cfg) if describable is None
                              else describable)
    if name == "new_activity":
        split = hold_out(split, _as_list(p.get("held_out")) or [])
    check_split(split)
    return split


# ---- evaluation -----------------------------------------------------------------------------

def split_metrics(split: Split, y_pred: Sequence | np.ndarray, *, seed: int, wall_seconds: float,
                  scores: np.ndarray | None = None,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """metrics.json for predictions on ``split.test`` (indices into ``bank_classes`` or names).

    Adds the new-activity keys whenever the split has new classes; ``scores`` (N, K) in bank
    order gives ``new_activity_accuracy_among_new``.
    """
    y_true = split.reveal_test_labels()
    metrics = classification_metrics(y_true, y_pred, split.bank_classes)
    more = dict(extra or {})
    if split.new_classes:
        more.update(new_activity_metrics(y_true, y_pred, split.bank_classes, split.new_classes,
                                         scores))
    return build_metrics_json(metrics, setting=split.setting, train_dataset=split.train_dataset,
                              test_dataset=split.test_dataset, seed=seed,
                              wall_seconds=wall_seconds, extra=more)
