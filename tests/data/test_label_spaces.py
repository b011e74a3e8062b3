"""The demo's label space: postures that differ only in orientation are merged."""

from __future__ import annotations

from lanhar_fl.config import load_config
from lanhar_fl.data.registry import load_windows


def test_demo_merges_the_postures_and_keeps_the_movements():
    cfg = load_config(["preset=demo", "dataset.num_phones=3", "dataset.minutes_per_phone=2"])
    assert cfg.label_space.name == "six_class"
    w = load_windows(cfg)
    assert set(w.class_names) == {"walk", "upstairs", "downstairs", "still", "run", "bike"}
    counts = w.class_counts()
    assert counts["still"] > max(counts[c] for c in ("walk", "run", "bike"))  # three postures


def test_six_class_on_a_dataset_without_run_or_bike_keeps_what_it_has():
    w = load_windows(load_config(["label_space=six_class", "dataset.num_phones=2",
                                  "dataset.minutes_per_phone=1",
                                  "dataset.activities=[walk,sit,lie]"]))
    assert set(w.class_names) == {"walk", "still"}
