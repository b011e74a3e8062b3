"""``federation.max_phone_windows``: a phone uses a seeded subset of its windows, fixed across
rounds (so an on-device LLM's interpretation cache answers every later round)."""

from __future__ import annotations

import numpy as np
import pytest

from client.local_data import capped
from lanhar_fl.config import ConfigError, load_config
from lanhar_fl.config_checks import validate
from lanhar_fl.data.registry import load_windows


@pytest.fixture(scope="module")
def windows():
    return load_windows(load_config(["data.max_windows=60"]))


def test_cap_is_a_fixed_seeded_subset_per_phone(windows):
    cfg = load_config(["federation.max_phone_windows=7"])
    first, again = capped(cfg, windows, 3), capped(cfg, windows, 3)
    assert len(first) == 7
    assert np.array_equal(first.data, again.data, equal_nan=True)  # the same windows every round
    other = capped(cfg, windows, 4)
    # phones draw their own subsets
    assert not np.array_equal(first.data, other.data, equal_nan=True)
    assert capped(load_config(), windows, 3) is windows  # null: every window
    few = windows.subset(list(range(5)))
    assert capped(cfg, few, 3) is few  # fewer windows than the cap: all of them


def test_cap_must_be_a_positive_count():
    with pytest.raises(ConfigError, match="federation.max_phone_windows"):
        validate(load_config(["federation.max_phone_windows=0"]))
