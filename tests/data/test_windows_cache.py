"""The windows cache: writers in parallel (seeds side by side, Ray workers) share one entry."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from lanhar_fl.data.registry import _load, _save
from tests.data.test_preprocess import tagged_windows


def test_parallel_writers_of_one_entry_all_succeed_and_leave_no_temporary_files(tmp_path):
    windows = tagged_windows([0, 1, 1, 0] * 50, ("sit", "walk"))
    path = tmp_path / "cache" / "entry.npz"
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: _save(path, windows), range(16)))  # re-raises any writer's error
    loaded = _load(path)
    assert np.array_equal(loaded.data, windows.data)
    assert loaded.label_names == windows.label_names
    assert [p.name for p in path.parent.iterdir()] == ["entry.npz"]
