"""LabelBank: margin-weighted top-k prototypes, zero-shot additions, persistence, identity."""

from __future__ import annotations

import json

import numpy as np
import pytest
from omegaconf import OmegaConf

from lanhar_fl.semantics.descriptions import (
    activity_words,
    descriptions_from_config,
    load_descriptions,
    mentions_activity,
    merge_descriptions,
    parse_descriptions,
)
from lanhar_fl.semantics.label_bank import (
    LabelBank,
    LabelBankError,
    nearest_prototype,
    render,
)
from lanhar_fl.semantics.text_encoder import TextEncoder

FOUR = ["walk", "still", "upstairs", "downstairs"]


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder.tiny(seed=0)


@pytest.fixture(scope="module")
def bank(encoder) -> LabelBank:
    return LabelBank.build(encoder, load_descriptions(), class_names=FOUR, top_k=5)


def test_shipped_descriptions_are_rich_and_never_leak_names():
    descriptions = load_descriptions()
    words = activity_words(descriptions)
    for needed in ("walk", "upstairs", "downstairs", "sit", "stand", "lie", "still", "run",
                   "bike", "badminton", "jump", "in_vehicle"):
        assert 15 <= len(descriptions[needed].texts()) <= 30, needed
    for name, d in descriptions.items():
        for pattern in d.patterns:
            assert not mentions_activity(pattern, words), (name, pattern)
    assert "still" not in words  # an ordinary word, excluded through leak_words


def test_merge_descriptions_extends_and_adds(tmp_path):
    extra = parse_descriptions({"activities": {"walk": {"patterns": ["new walk pattern"]},
                                               "swim": {"patterns": ["smooth strokes"]}}})
    merged = merge_descriptions(load_descriptions(), extra)
    assert merged["walk"].patterns[-1] == "new walk pattern"
    assert merged["swim"].texts() == ["swim", "smooth strokes"]
    files = []
    for i, name in enumerate(["swim", "row"]):
        files.append(tmp_path / f"{i}.yaml")
        files[-1].write_text(f"activities:\n  {name}:\n    patterns: [p{i}]\n")
    cfg = OmegaConf.create({"descriptions": None, "extra_descriptions": [str(f) for f in files]})
    assert {"walk", "swim", "row"} <= set(descriptions_from_config(cfg))


def test_build_shapes_weights_and_prototypes(encoder, bank):
    assert bank.class_names == FOUR and bank.prototypes.shape == (4, encoder.dim)
    assert bank.prototypes.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(bank.prototypes, axis=1), 1, atol=1e-5)
    assert bank.encoder_fingerprint == encoder.fingerprint
    for i, c in enumerate(FOUR):
        kept = bank.selected[c]
        assert len(kept) == 5
        weights = np.array([w for _, w in kept])
        assert abs(weights.sum() - 1) < 1e-6 and np.all(np.diff(weights) <= 1e-12)
        assert all(t.startswith(f"Activity={c.upper()}. Sensor pattern: ") for t, _ in kept)
        emb = encoder.embed([t for t, _ in kept])
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        proto = (emb * weights[:, None]).sum(0)
        np.testing.assert_allclose(bank.prototypes[i], proto / np.linalg.norm(proto), atol=1e-5)
    assert render(bank.template, "in_vehicle", "x") == "Activity=IN VEHICLE. Sensor pattern: x"


def test_prototype_tensor_is_differentiable_and_matches(encoder, bank):
    protos = bank.prototype_tensor(encoder, batch_size=7)
    assert protos.shape == (4, encoder.dim) and protos.requires_grad
    np.testing.assert_allclose(protos.detach().numpy(), bank.prototypes, atol=1e-5)
    protos.sum().backward()
    assert encoder.model.embeddings.word_embeddings.weight.grad is not None
    encoder.zero_grad(set_to_none=True)


def test_add_activity_subset_and_nearest(encoder, bank):
    grown = bank.subset(bank.class_names)
    assert grown.fingerprint == bank.fingerprint
    grown.add_activity("badminton", load_descriptions()["badminton"], encoder)
    assert grown.class_names == [*FOUR, "badminton"] and grown.version == bank.version + 1
    np.testing.assert_array_equal(grown.prototypes[:4], bank.prototypes)
    assert len(grown.selected["badminton"]) == 5
    assert grown.fingerprint != bank.fingerprint
    assert list(nearest_prototype(grown.prototypes, grown)) == [0, 1, 2, 3, 4]
    with pytest.raises(LabelBankError, match="already"):
        grown.add_activity("walk", ["x"], encoder)
    sub = grown.subset(["badminton", "walk"])
    np.testing.assert_array_equal(sub.prototypes, grown.prototypes[[4, 0]])
    with pytest.raises(LabelBankError, match="unknown classes"):
        grown.subset(["swim"])


def test_save_load_round_trip_and_validation(bank, tmp_path):
    bank.save(tmp_path / "b")
    loaded = LabelBank.load(tmp_path / "b")
    assert loaded.fingerprint == bank.fingerprint
    assert loaded.selected == bank.selected and loaded.descriptions == bank.descriptions
    np.testing.assert_array_equal(loaded.prototypes, bank.prototypes)
    meta_path = tmp_path / "b" / "bank.json"
    meta = json.loads(meta_path.read_text())
    meta["class_names"] = meta["class_names"][:3]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(LabelBankError, match="prototypes of shape"):
        LabelBank.load(tmp_path / "b")
    meta["class_names"], meta["version"] = FOUR, 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(LabelBankError, match="fingerprint mismatch"):
        LabelBank.load(tmp_path / "b")
    with pytest.raises(LabelBankError, match="not a readable label bank"):
        LabelBank.load(tmp_path / "missing")


def test_encoder_mismatch_is_a_clear_error(encoder, bank):
    bank.check_encoder(encoder)
    other = TextEncoder.tiny(seed=1)
    with pytest.raises(LabelBankError, match="rebuild the bank"):
        bank.check_encoder(other)
    with pytest.raises(LabelBankError, match="built by text encoder"):
        bank.subset(FOUR).add_activity("jump", ["hops"], other)
    rebuilt = bank.rebuilt(other)
    rebuilt.check_encoder(other)
    assert rebuilt.version == bank.version + 1 and rebuilt.selected.keys() == bank.selected.keys()


def test_from_config_with_extra_descriptions(encoder, tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text("activities:\n  swim:\n    patterns: [smooth strokes, rhythmic pulls]\n")
    cfg = {"label_bank": {"descriptions": None, "extra_descriptions": str(extra), "top_k": 3,
                          "temperature": 0.1, "template": None}}
    bank = LabelBank.from_config(cfg, encoder, class_names=["walk", "swim"])
    assert bank.class_names == ["walk", "swim"] and len(bank.selected["swim"]) == 3
    assert bank.temperature == 0.1
    with pytest.raises(LabelBankError, match="extra_descriptions"):
        LabelBank.from_config(cfg, encoder, class_names=["walk", "skate"])


def test_real_minilm_recognises_a_held_out_sentence():
    """The one test with the real all-MiniLM-L6-v2 (a handful of texts)."""
    encoder = TextEncoder.from_config({"name": "minilm"})
    descriptions = {
        "walk": ["walking", "steady steps near 2 Hz with moderate impacts"],
        "still": ["sitting or standing still", "almost no motion and no rhythm"],
        "run": ["jogging", "strong fast rhythm near 3 Hz with large impacts"],
        "bike": ["cycling", "smooth periodic rotation without impacts"],
    }
    bank = LabelBank.build(encoder, descriptions, top_k=2)
    queries = encoder.embed(["running fast", "resting quietly on a chair"])
    assert [bank.class_names[i] for i in nearest_prototype(queries, bank)] == ["run", "still"]


def test_kept_selection_is_reused_with_its_weights(encoder, bank):
    other = TextEncoder.tiny(seed=5)
    kept = {"walk": bank.selected["walk"]}
    rebuilt = LabelBank.build(other, load_descriptions(), class_names=FOUR, top_k=5,
                              keep_selection=kept)
    assert rebuilt.selected["walk"] == bank.selected["walk"]
    texts = [t for t, _ in kept["walk"]]
    w = np.array([x for _, x in kept["walk"]])
    emb = other.embed(texts)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    expected = (emb * w[:, None]).sum(axis=0)
    np.testing.assert_allclose(rebuilt.prototypes[0], expected / np.linalg.norm(expected),
                               atol=1e-5)
    fresh = LabelBank.build(other, load_descriptions(), class_names=FOUR, top_k=5)
    assert rebuilt.selected["still"] == fresh.selected["still"]  # not kept: selected anew
