"""Split windows among simulated phones (federated partitions). Pure numpy, seeded.

Every partitioner returns ``list[np.ndarray]``: one sorted int64 array of window indices per
partition; the partitions are disjoint, cover every window and none is empty (an impossible
request raises ``ValueError`` naming the setting at fault).
"""

from __future__ import annotations

import numpy as np

from .windows import Windows

SCHEMES = ("subject", "device", "placement", "iid", "dirichlet")


def _groups(keys: np.ndarray) -> list[np.ndarray]:
    """Indices of each distinct key, in sorted key order."""
    if len(keys) == 0:
        raise ValueError("no windows to partition")
    uniq, inverse = np.unique(keys, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse.ravel(), minlength=len(uniq)))[:-1]
    return [part.astype(np.int64) for part in np.split(order, bounds)]


def by_subject(windows: Windows) -> list[np.ndarray]:
    """One partition per subject id (each phone is a person), sorted by subject."""
    return _groups(np.asarray(windows.subjects))


def by_device(windows: Windows, key: str = "device") -> list[np.ndarray]:
    """One partition per (device, placement) combination, or per placement with
    ``key="placement"``; sorted by that key."""
    if key == "placement":
        return _groups(np.asarray(windows.placements, dtype=str))
    if key != "device":
        raise ValueError(f"by_device key must be 'device' or 'placement', got {key!r}")
    combo = np.char.add(np.char.add(np.asarray(windows.devices, dtype=str), "\x00"),
                        np.asarray(windows.placements, dtype=str))
    return _groups(combo)


def _check_count(num_partitions: int, n: int) -> None:
    if isinstance(num_partitions, bool) or int(num_partitions) != num_partitions \
            or num_partitions < 1:
        raise ValueError(f"num_partitions must be a positive integer, got {num_partitions}")
    if n == 0:
        raise ValueError("no windows to partition")
    if num_partitions > n:
        raise ValueError(f"num_partitions={num_partitions} exceeds the {n} windows available: "
                         f"some partitions would be empty")


def iid(n: int, num_partitions: int, seed: int) -> list[np.ndarray]:
    """A random permutation of ``range(n)`` cut into ``num_partitions`` near-equal parts."""
    _check_count(num_partitions, n)
    perm = np.random.default_rng(seed).permutation(n)
    return [np.sort(p).astype(np.int64) for p in np.array_split(perm, int(num_partitions))]


def dirichlet(labels: np.ndarray, num_partitions: int, alpha: float, seed: int,
              min_size: int = 1, max_tries: int = 1000) -> list[np.ndarray]:
    """Label-skewed split: each class is divided among partitions by proportions drawn from
    Dirichlet(alpha) (small alpha: each phone sees few classes; large: near IID).

    Draws are repeated until every partition holds at least ``min_size`` windows; after
    ``max_tries`` failures it raises (lower num_partitions or min_size, or raise alpha).
    """
    labels = np.asarray(labels)
    n = len(labels)
    _check_count(num_partitions, n)
    k = int(num_partitions)
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    if min_size < 1 or min_size * k > n:
        raise ValueError(f"min_size={min_size} x num_partitions={k} is impossible with "
                         f"{n} windows (min_size must be >= 1)")
    rng = np.random.default_rng(seed)
    classes = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    for _ in range(max_tries):
        owner = np.empty(n, np.int64)
        for idx in classes:
            share = rng.dirichlet(np.full(k, float(alpha)))
            cuts = np.round(np.cumsum(share)[:-1] * len(idx)).astype(np.int64)
            owner[rng.permutation(idx)] = np.repeat(np.arange(k), np.diff(cuts, prepend=0,
                                                                           append=len(idx)))
        if np.bincount(owner, minlength=k).min() >= min_size:
            return _groups(owner)
    raise ValueError(f"dirichlet partitioning found no split with every partition holding "
                     f">= {min_size} windows in {max_tries} draws (alpha={alpha}, "
                     f"num_partitions={k}, {n} windows): raise alpha or lower num_partitions")


def _merge(groups: list[np.ndarray], num_partitions: int | None, what: str) -> list[np.ndarray]:
    """Natural groups (subjects, devices) merged into ``num_partitions`` contiguous blocks."""
    if num_partitions is None or num_partitions == len(groups):
        return groups
    _check_count(num_partitions, sum(len(g) for g in groups))
    if num_partitions > len(groups):
        raise ValueError(f"num_partitions={num_partitions} exceeds the {len(groups)} {what} "
                         f"available for partitioning by {what}")
    blocks = np.array_split(np.arange(len(groups)), int(num_partitions))
    return [np.sort(np.concatenate([groups[i] for i in b])) for b in blocks]


def partition(windows: Windows, scheme: str, num_partitions: int | None = None,
              alpha: float = 0.5, seed: int = 0, min_size: int = 1) -> list[np.ndarray]:
    """Partition ``windows`` by ``scheme``: ``subject``, ``device`` ((device, placement)
    combinations), ``placement``, ``iid`` or ``dirichlet`` (``by_`` prefixes accepted).

    For the natural schemes (subject, device, placement) ``num_partitions`` may be None (one
    partition per group) or fewer than the groups (consecutive groups merged).
    """
    name = scheme.removeprefix("by_") if isinstance(scheme, str) else scheme
    if name not in SCHEMES:
        raise ValueError(f"unknown partition scheme {scheme!r}; choose one of "
                         f"{', '.join(SCHEMES)}")
    if name == "subject":
        return _merge(by_subject(windows), num_partitions, "subjects")
    if name in ("device", "placement"):
        return _merge(by_device(windows, key=name), num_partitions, f"{name}s")
    if num_partitions is None:
        raise ValueError(f"partition scheme {name!r} needs num_partitions")
    if name == "iid":
        return iid(len(windows), num_partitions, seed)
    return dirichlet(windows.labels, num_partitions, alpha, seed, min_size=min_size)
