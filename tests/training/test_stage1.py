"""Stage 1: text-encoder fine-tuning with the real (tiny) TextEncoder and LabelBank."""

from __future__ import annotations

import numpy as np
import pytest

from lanhar_fl.semantics.label_bank import LabelBank
from lanhar_fl.semantics.text_encoder import TextEncoder
from lanhar_fl.training.stage1 import train_text_encoder

DESCRIPTIONS = {
    "walk": ["walking", "regular steps", "rhythmic vertical bounce", "steady gait"],
    "sit": ["sitting", "seated and still", "no rhythm", "constant posture"],
    "run": ["running", "fast strides", "strong impacts", "high step rate"],
}
TEXTS = {
    "walk": ["Strength: moderate magnitude 1.2 m/s^2. Rhythm: 1.8 Hz steps.",
             "Rhythm: regular 1.9 Hz with moderate vertical impacts of 2 m/s^2."],
    "sit": ["Strength: tiny magnitude 0.02 m/s^2. Rhythm: none. Posture: stable.",
            "Posture: constant tilt; no periodicity; gyro near 0.01 rad/s."],
    "run": ["Strength: high magnitude 8 m/s^2. Rhythm: 2.8 Hz steps, sharp impacts.",
            "Vertical impact: peaks of 15 m/s^2 at 2.7 Hz."],
}
CFG = {"epochs": 2, "lr": 1e-3, "batch_size": 4, "temperature": 0.1, "ce_weight": 0.3,
       "ce_scale": 30.0, "triplet_margin": 1.0, "triplet_weight": 0.5}


@pytest.fixture(scope="module")
def setup():
    encoder = TextEncoder.tiny(seed=0)
    bank = LabelBank.build(encoder, DESCRIPTIONS, top_k=3)
    initial = {k: v.clone() for k, v in encoder.state_dict().items()}
    return encoder, bank, initial


def _corpus(class_names):
    texts = [t for c in class_names for t in TEXTS[c]]
    labels = np.repeat(np.arange(len(class_names)), 2)
    return texts, labels


def test_stage1_trains_encoder_and_is_deterministic(setup):
    encoder, bank, initial = setup
    class_names = ["run", "walk", "sit"]  # a different order from the bank's: matched by name
    texts, labels = _corpus(class_names)
    runs = []
    for _ in range(2):
        encoder.load_state_dict(initial)
        fp = encoder.refresh_fingerprint()
        _, hist = train_text_encoder(encoder, bank, texts, labels, class_names,
                                     {**CFG, "epochs": 1}, progress=False, seed=1)
        runs.append(hist)
        assert encoder.fingerprint != fp and not encoder.training
    assert runs[0]["loss"] == runs[1]["loss"]
    assert len(runs[0]["loss"]) == 1 and all(np.isfinite(runs[0]["loss"]))
    assert runs[0]["triplet"][0] > 0
    rebuilt = bank.rebuilt(encoder)
    assert rebuilt.prototypes.shape == bank.prototypes.shape


def test_stage1_epoch_refresh_and_errors(setup):
    encoder, bank, initial = setup
    encoder.load_state_dict(initial)
    texts, labels = _corpus(["walk", "sit"])
    _, hist = train_text_encoder(encoder, bank, texts, labels, ["walk", "sit"],
                                 {**CFG, "epochs": 1, "prototype_refresh": "epoch"},
                                 progress=False)
    assert len(hist["loss"]) == 1
    with pytest.raises(ValueError, match="no prototype"):
        train_text_encoder(encoder, bank, texts, labels, ["walk", "bike"], CFG, progress=False)
    with pytest.raises(ValueError, match="texts but"):
        train_text_encoder(encoder, bank, texts[:1], labels, ["walk", "sit"], CFG,
                           progress=False)


def test_bank_negatives_push_seen_texts_away_from_a_new_class(setup):
    """A class with no texts (a new activity, description only) listed after the seen ones is a
    negative: seen texts end farther from its prototype than when it is left out."""
    import torch.nn.functional as F

    encoder, bank, initial = setup
    texts, labels = _corpus(["walk", "sit"])
    nearest_run = {}
    for against in (["walk", "sit"], ["walk", "sit", "run"]):
        encoder.load_state_dict(initial)
        train_text_encoder(encoder, bank, texts, labels, against, {**CFG, "epochs": 3},
                           progress=False, seed=0)
        protos = F.normalize(bank.prototype_tensor(encoder), dim=-1).detach()
        emb = F.normalize(encoder(texts), dim=-1).detach()
        run = list(bank.class_names).index("run")
        nearest_run[len(against)] = float((emb @ protos[run]).max())
    assert nearest_run[3] < nearest_run[2]
