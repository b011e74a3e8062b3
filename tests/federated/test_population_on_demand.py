"""A sized synthetic population is generated phone by phone, on demand: phone i's windows equal
its windows in the whole population, and the server generates only the test phones and a probe
of training phones, however large the population."""

from __future__ import annotations

import numpy as np
import pytest

from lanhar_fl.config import ConfigError, load_config
from lanhar_fl.data.registry import load_windows
from lanhar_fl.federated import population
from simulations.simulate import size_synthetic_population


def _cfg(*extra: str):
    return size_synthetic_population(load_config(
        ["preset=smoke", "dataset=synthetic", "dataset.minutes_per_phone=1.0", *extra]))


def test_a_phone_generated_alone_equals_its_windows_in_the_whole_population():
    cfg = _cfg("num_phones=6")
    assert population.on_demand_phones(cfg) == 6
    whole = load_windows(cfg)  # all 6 training + 4 test phones, generated together
    assert sorted(np.unique(whole.subjects).tolist()) == list(range(10))
    for phone in (0, 3, 5):
        alone = population.phone_windows(cfg, phone)
        expected = whole.subset(np.flatnonzero(whole.subjects == phone))
        assert len(alone) == len(expected) > 0
        np.testing.assert_array_equal(alone.data, expected.data)
        assert [alone.class_names[i] for i in alone.labels] == \
            [expected.class_names[i] for i in expected.labels]
        assert set(alone.subjects.tolist()) == {phone}


def test_the_server_never_generates_the_population():
    cfg = _cfg("num_phones=10000")
    assert population.phone_count(cfg) == 10000
    split = population.split_for(cfg)
    train_subjects = set(np.unique(split.train.subjects).tolist())
    assert train_subjects == set(range(population.PROBE_PHONES))
    test = split.test.reveal_labels_for_evaluation()
    assert set(np.unique(test.subjects).tolist()) == set(range(10000, 10200))
    assert split.seen_classes  # the probe holds activities for the class list
    last = population.phone_windows(cfg, 9999)
    assert set(last.subjects.tolist()) == {9999} and len(last) > 0
    with pytest.raises(ConfigError, match="outside the 10000 phones"):
        population.phone_windows(cfg, 10000)


def test_other_populations_keep_the_partitioned_pool():
    cfg = load_config(["preset=smoke", "dataset=synthetic", "num_phones=4"])
    assert population.on_demand_phones(cfg) is None  # not sized: the windows cap applies


def test_a_partitioned_population_is_sharded_once_and_a_phone_reads_its_shard_alone(
        tmp_path, monkeypatch):
    cfg = load_config(["preset=smoke", "dataset=synthetic", "num_phones=4",
                       "data.max_windows=400", f"cache_dir={tmp_path}"])
    assert population.phone_count(cfg) == 4  # the driver partitions once, writing the shards
    expected = [population.phone_windows(cfg, i) for i in range(4)]
    shards = sorted((tmp_path / "shards").glob("synthetic-*/phone-*.npz"))
    assert len(shards) == 4

    def whole_population(_key):
        raise AssertionError("a phone loaded the whole population")

    monkeypatch.setattr(population, "_population", whole_population)
    for i, want in enumerate(expected):
        got = population.phone_windows(cfg, i)
        np.testing.assert_array_equal(got.data, want.data)
        np.testing.assert_array_equal(got.labels, want.labels)
        assert got.class_names == want.class_names
    with pytest.raises(ConfigError, match="outside the 4 phones"):
        population.phone_windows(cfg, 4)
