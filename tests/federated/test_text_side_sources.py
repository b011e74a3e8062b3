"""Stage-1 public sources: parsing, refusal of phone/test subjects, provenance in metrics."""

from __future__ import annotations

import json

import pytest

from lanhar_fl.config import ConfigError, load_config
from lanhar_fl.federated.population import split_for
from lanhar_fl.pipeline.stage1_sources import Source, parse_sources, parse_subjects
from lanhar_fl.pipeline.text_side import centralized_text_side
from server.text_side import server_text_side
from tests.conftest import shared_dataset

FAST = ["preset=smoke", "train.stage1.epochs=1", "federation.stage1_public_phones=4",
        "federation.stage1_max_windows=40", "data.max_windows=200", "dataset.num_phones=6",
        "label_space=four_class"]


def test_source_forms():
    assert parse_sources("none", "s") == "none"
    assert parse_sources(None, "s") == "none"
    assert parse_sources("synthetic", "s") == [Source("synthetic")]
    assert parse_sources("synthetic+uci_hapt:1-3,7", "s") == [
        Source("synthetic"), Source("uci_hapt", (1, 2, 3, 7))]
    assert parse_sources([{"dataset": "uci_hapt", "subjects": [2, 1], "root": "/d"}], "s") == [
        Source("uci_hapt", (1, 2), "/d")]
    assert parse_subjects("11-21", "s") == tuple(range(11, 22))
    for bad in ("uci_hapt:3-1", "uci_hapt:x", "synthetic+none", "a+a:1"):
        with pytest.raises(ConfigError, match="s:"):
            parse_sources(bad, "s")


def _hapt(*extra: str):
    root = shared_dataset("uci_hapt")
    return load_config(["preset=smoke", "dataset=uci_hapt", f"dataset.root={root}",
                        "label_space=four_class", "protocol.train_subjects=11-21", *extra])


@pytest.mark.parametrize("source, message", [
    ("synthetic+uci_hapt:1-11", r"public subjects \[11\] of uci_hapt"),
    ("'uci_hapt:1-10,25'", r"public subjects \[25\]"),
    ("uci_hapt", "this run's own dataset"),
])
def test_public_subjects_of_phones_or_test_users_are_refused(source, message, tmp_path):
    from simulations.simulate import run as simulate

    cfg = _hapt(f"federation.stage1_source={source}", f"run_dir={tmp_path}/sim")
    with pytest.raises(ConfigError, match=message):
        simulate(cfg)
    assert not (tmp_path / "sim" / "metrics.json").exists()
    from lanhar_fl.pipeline.centralized import run_centralized

    cfg = _hapt(f"train.stage1.source={source}", f"run_dir={tmp_path}/train")
    with pytest.raises(ConfigError, match=message):
        run_centralized(cfg)


def test_phone_subjects_as_a_range():
    split = split_for(_hapt("protocol.val_fraction=0"))
    assert split.info["train_subjects"] == list(range(11, 22))


def test_saw_phone_users_follows_the_text_side_through_a_saved_run(tmp_path):
    cfg = load_config([*FAST, "federation.stage1_source=synthetic"])
    split = split_for(cfg)
    public = server_text_side(cfg, split.bank_classes, split.seen_classes)
    metrics = public.metrics(split, cfg)
    assert metrics["text_side_saw_phone_users"] is False
    assert metrics["text_side"]["stage1"] == "trained"
    assert metrics["text_side"]["sources"][0]["dataset"].startswith("synthetic-seed")
    assert metrics["text_side"]["label_bank"]["descriptions"][0]["provenance"] != "not stated"

    own = centralized_text_side(cfg, split, _texts(cfg, split))
    assert own.metrics(split, cfg)["text_side_saw_phone_users"] is True

    for side, saw in ((public, False), (own, True)):
        folder = side.save(tmp_path / f"side{saw}")
        loaded_cfg = load_config([*FAST, f"federation.text_side_path={folder}"])
        loaded = server_text_side(loaded_cfg, split.bank_classes, split.seen_classes)
        got = loaded.metrics(split, loaded_cfg)
        assert got["text_side_saw_phone_users"] is saw
        assert got["text_side"]["loaded_from"] == str(folder)
        assert got["text_side"]["sources"] == json.loads(json.dumps(side.provenance["sources"]))

    (tmp_path / "sideFalse" / "text_side.json").unlink()  # unknown history: not shown public
    loaded_cfg = load_config([*FAST, f"federation.text_side_path={tmp_path / 'sideFalse'}"])
    loaded = server_text_side(loaded_cfg, split.bank_classes, split.seen_classes)
    assert loaded.metrics(split, loaded_cfg)["text_side_saw_phone_users"] is True


def _texts(cfg, split) -> list[str]:
    from lanhar_fl.semantics.interpret import interpret_windows

    return list(interpret_windows(split.train, cfg, labels_known=True, progress=False).texts)


def test_simulate_metrics_record_a_public_text_side(tmp_path):
    from simulations.simulate import run as simulate

    metrics = simulate(load_config([*FAST, "num_phones=3", "phones_per_round=3", "rounds=1",
                                    "federation.stage1_source=synthetic",
                                    f"run_dir={tmp_path}"]))
    assert metrics["text_side_saw_phone_users"] is False
    assert metrics["text_side"]["sources"][0]["windows"] > 0
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["text_side"]["label_bank"]["descriptions"]


def test_stage1_keeps_the_bank_selection_it_trained_against_and_states_the_bank_users():
    from lanhar_fl.semantics.label_bank import LabelBank
    from lanhar_fl.semantics.text_encoder import TextEncoder

    cfg = load_config([*FAST, "federation.stage1_source=synthetic",
                       "train.stage1.trainable_layers=1", "train.stage1.top_part=output"])
    split = split_for(cfg)
    pretrained = TextEncoder.from_config(cfg.text_encoder)
    before = LabelBank.from_config(cfg, pretrained, class_names=split.seen_classes)
    side = server_text_side(cfg, split.bank_classes, split.seen_classes)
    assert side.encoder.fingerprint != pretrained.fingerprint
    assert side.bank.encoder_fingerprint == side.encoder.fingerprint
    for cls in split.seen_classes:
        assert side.bank.selected[cls] == before.selected[cls]
    changed = side.encoder.model.encoder.layer[-1]
    assert not (changed.attention.self.query.weight
                != pretrained.model.encoder.layer[-1].attention.self.query.weight).any()
    bank = side.metrics(split, cfg)["text_side"]["label_bank"]["descriptions"][0]["provenance"]
    assert bank["waist_users"] == "uci_hapt 1-10" and bank["test_users_excluded"] is True


def test_stage1_on_one_of_the_runs_sources(tmp_path):
    """``train:NAME``: stage 1 reads only that source's training windows; stage 2 all."""
    from lanhar_fl.data.labels import apply_label_space
    from lanhar_fl.eval.protocols import make_split
    from tests.eval.test_protocols import UCI, make_windows

    raw = {"uci_hapt": make_windows(UCI, range(1, 8)),
           "synthetic": make_windows(("walk", "sit", "run"), [1, 2, 3], dataset="synthetic"),
           "basicmotions": make_windows(("walk", "stand", "run"), [1, 2], dataset="basicmotions")}
    base = ["preset=smoke", "train.stage1.epochs=1", "dataset=uci_hapt", "dataset.root=/d",
            "label_space=four_class", "protocol=cross_dataset",
            "protocol.source=[uci_hapt,synthetic]", "protocol.target=basicmotions",
            f"run_dir={tmp_path}"]
    cfg = load_config([*base, "train.stage1.source=train:synthetic"])
    split = make_split(cfg, lambda c: apply_label_space(raw[c.dataset.name], c.label_space))
    origins = split.train.dataset_of_each()
    assert set(origins) == {"uci_hapt", "synthetic"}
    texts = [f"text {i}" for i in range(len(split.train))]
    side = centralized_text_side(cfg, split, texts)
    [record] = side.provenance["sources"]
    assert record["dataset"] == "synthetic"
    assert record["windows"] == int(sum(origins == "synthetic"))
    with pytest.raises(ConfigError, match="uci_har is not a source of this run"):
        centralized_text_side(load_config([*base, "train.stage1.source=train:uci_har"]), split,
                              texts)
    for bad in ("train:", "train:nope"):
        with pytest.raises(ConfigError, match="s:"):
            parse_sources(bad, "s")
