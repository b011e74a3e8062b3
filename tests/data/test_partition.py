"""Federated partitioners: disjoint, covering, non-empty, deterministic, skewed when asked."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lanhar_fl.data.partition import by_device, by_subject, dirichlet, iid, partition
from lanhar_fl.data.windows import Windows


def make_windows(labels, subjects, devices=None, placements=None) -> Windows:
    n = len(labels)
    labels = np.asarray(labels, np.int64)
    return Windows(
        data=np.zeros((n, 4, 6), np.float32),
        labels=labels,
        class_names=tuple(f"c{i}" for i in range(int(labels.max(initial=0)) + 1)),
        subjects=np.asarray(subjects, np.int64),
        dataset="test",
        sampling_rate_hz=50.0,
        has_gyro=np.ones(n, bool),
        gravity_removed=np.ones(n, bool),
        gravity_aligned=np.ones(n, bool),
        placements=np.asarray(placements if placements is not None else ["waist"] * n),
        devices=np.asarray(devices if devices is not None else ["d"] * n),
    )


def assert_partition(parts: list[np.ndarray], n: int) -> None:
    """Disjoint, covering, non-empty, sorted int arrays."""
    assert all(len(p) > 0 for p in parts)
    assert all(p.dtype == np.int64 and np.all(np.diff(p) > 0) for p in parts)
    joined = np.concatenate(parts)
    assert len(joined) == n
    assert np.array_equal(np.sort(joined), np.arange(n))


def mean_label_entropy(parts: list[np.ndarray], labels: np.ndarray) -> float:
    ents = []
    for p in parts:
        freq = np.bincount(labels[p]) / len(p)
        freq = freq[freq > 0]
        ents.append(-(freq * np.log(freq)).sum())
    return float(np.mean(ents))


def test_by_subject_one_sorted_partition_per_subject():
    subjects = np.array([7, 3, 3, 9, 7, 3])
    parts = by_subject(make_windows([0] * 6, subjects))
    assert_partition(parts, 6)
    assert [subjects[p[0]] for p in parts] == [3, 7, 9]
    assert [p.tolist() for p in parts] == [[1, 2, 5], [0, 4], [3]]


def test_by_device_combinations_and_placements():
    w = make_windows([0] * 5, [0] * 5, devices=["a", "a", "b", "a", "b"],
                     placements=["wrist", "pocket", "wrist", "wrist", "wrist"])
    parts = by_device(w)
    assert_partition(parts, 5)
    assert [p.tolist() for p in parts] == [[1], [0, 3], [2, 4]]  # (a,pocket) (a,wrist) (b,wrist)
    by_place = by_device(w, key="placement")
    assert [p.tolist() for p in by_place] == [[1], [0, 2, 3, 4]]
    with pytest.raises(ValueError, match="key"):
        by_device(w, key="colour")


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 300), k=st.integers(1, 40), seed=st.integers(0, 2**31))
def test_iid_property(n, k, seed):
    if k > n:
        with pytest.raises(ValueError, match="num_partitions"):
            iid(n, k, seed)
        return
    parts = iid(n, k, seed)
    assert len(parts) == k
    assert_partition(parts, n)
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    assert all(np.array_equal(a, b) for a, b in zip(parts, iid(n, k, seed), strict=True))


@settings(max_examples=50, deadline=None)
@given(
    labels=st.lists(st.integers(0, 5), min_size=20, max_size=300),
    k=st.integers(1, 8),
    alpha=st.sampled_from([0.05, 0.3, 1.0, 100.0]),
    seed=st.integers(0, 2**31),
)
def test_dirichlet_property(labels, k, alpha, seed):
    labels = np.asarray(labels)
    try:
        parts = dirichlet(labels, k, alpha, seed, min_size=2)
    except ValueError as exc:  # allowed only as a clear refusal, never as empty partitions
        assert "alpha" in str(exc)
        return
    assert len(parts) == k
    assert_partition(parts, len(labels))
    assert min(len(p) for p in parts) >= 2
    again = dirichlet(labels, k, alpha, seed, min_size=2)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))


def test_dirichlet_small_alpha_skews_labels():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 8, size=4000)
    skewed = dirichlet(labels, 20, 0.1, seed=1, min_size=5)
    balanced = iid(len(labels), 20, seed=1)
    near_iid = dirichlet(labels, 20, 1000.0, seed=1)
    for parts in (skewed, balanced, near_iid):
        assert_partition(parts, len(labels))
    h_skew, h_iid = mean_label_entropy(skewed, labels), mean_label_entropy(balanced, labels)
    assert h_skew < 0.6 * h_iid
    assert mean_label_entropy(near_iid, labels) > 0.95 * h_iid
    assert not all(np.array_equal(a, b) for a, b in
                   zip(skewed, dirichlet(labels, 20, 0.1, seed=2, min_size=5), strict=True))


def test_dirichlet_impossible_requests_raise():
    labels = np.zeros(10, np.int64)
    with pytest.raises(ValueError, match="min_size"):
        dirichlet(labels, 4, 0.5, 0, min_size=3)
    with pytest.raises(ValueError, match="alpha"):
        dirichlet(labels, 2, 0.0, 0)
    with pytest.raises(ValueError, match="alpha"):  # the redraw gives up, naming what to change
        dirichlet(np.arange(10) % 2, 10, 0.001, 0, max_tries=5)


def test_partition_dispatcher():
    rng = np.random.default_rng(3)
    n = 120
    w = make_windows(rng.integers(0, 4, n), np.repeat(np.arange(6), 20),
                     devices=np.repeat([f"p{i}" for i in range(6)], 20),
                     placements=np.repeat(["waist", "wrist", "arm"], 40))
    assert [p.tolist() for p in partition(w, "subject")] == \
        [p.tolist() for p in by_subject(w)]
    assert len(partition(w, "by_subject")) == 6
    merged = partition(w, "subject", num_partitions=4)
    assert len(merged) == 4
    assert_partition(merged, n)
    assert all(len(np.unique(w.subjects[p])) in (1, 2) for p in merged)
    assert len(partition(w, "device")) == 6
    assert len(partition(w, "placement")) == 3
    for scheme in ("iid", "dirichlet"):
        parts = partition(w, scheme, num_partitions=5, alpha=0.5, seed=7)
        assert_partition(parts, n)
        assert len(parts) == 5


@pytest.mark.parametrize("scheme, kwargs, match", [
    ("shards", {}, "unknown partition scheme 'shards'"),
    ("subject", {"num_partitions": 7}, "num_partitions=7 exceeds the 6 subjects"),
    ("iid", {"num_partitions": 121}, "num_partitions=121 exceeds the 120 windows"),
    ("iid", {}, "needs num_partitions"),
    ("dirichlet", {"num_partitions": 0}, "num_partitions must be a positive integer"),
])
def test_partition_errors_name_the_setting(scheme, kwargs, match):
    w = make_windows(np.zeros(120, np.int64), np.repeat(np.arange(6), 20))
    with pytest.raises(ValueError, match=match):
        partition(w, scheme, **kwargs)


def test_partition_refuses_no_windows():
    empty = make_windows(np.zeros(0, np.int64), np.zeros(0, np.int64))
    for scheme in ("subject", "iid"):
        with pytest.raises(ValueError, match="no windows"):
            partition(empty, scheme, num_partitions=1)
