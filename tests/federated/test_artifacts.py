"""Text-side artefacts travel as records and come back byte-identical; hostile names refused."""

from __future__ import annotations

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, MetricRecord, RecordDict

from lanhar_fl.federated import schema
from lanhar_fl.federated.artifacts import pack_saved, unpack_directory
from lanhar_fl.federated.audit import reply_violations
from lanhar_fl.semantics.label_bank import LabelBank
from lanhar_fl.semantics.text_encoder import TextEncoder


def test_encoder_and_bank_round_trip(tmp_path):
    encoder = TextEncoder.tiny(seed=3)
    bank = LabelBank.build(encoder, {"walk": ["steady steps"], "sit": ["no motion at all"]})
    enc_arrays, enc_meta = pack_saved(encoder.save_pretrained, encoder.fingerprint)
    bank_arrays, bank_meta = pack_saved(bank.save, bank.fingerprint)
    unpack_directory(enc_arrays, enc_meta, tmp_path / "enc")
    unpack_directory(bank_arrays, bank_meta, tmp_path / "bank")
    received = TextEncoder.from_pretrained(tmp_path / "enc")
    assert received.fingerprint == encoder.fingerprint
    texts = ["a short text", "another, longer text about rhythm at 1.8 Hz"]
    np.testing.assert_allclose(received.embed(texts), encoder.embed(texts), atol=1e-6)
    loaded = LabelBank.load(tmp_path / "bank")
    assert loaded.fingerprint == bank.fingerprint
    np.testing.assert_array_equal(loaded.prototypes, bank.prototypes)


def test_escaping_file_names_are_refused(tmp_path):
    texts = ConfigRecord({"__fingerprint__": "x", "../outside.txt": "pwned"})
    with pytest.raises(ValueError, match="escapes"):
        unpack_directory(ArrayRecord(), texts, tmp_path / "dest")
    assert not (tmp_path / "outside.txt").exists()


def _reply(**records) -> RecordDict:
    return RecordDict(records)


def test_audit_accepts_arrays_and_scalars_only():
    shapes = {"w": (2, 3)}
    ok = _reply(arrays=ArrayRecord({"w": Array(np.zeros((2, 3), np.float32))}),
                metrics=MetricRecord({schema.NUM_EXAMPLES: 4, "train-loss": 0.5}))
    assert reply_violations(ok, shapes, is_train=True) == []
    leaky = _reply(arrays=ArrayRecord({"w": Array(np.zeros((2, 3), np.float32)),
                                       "embeddings": Array(np.zeros((4, 8), np.float32))}),
                   metrics=MetricRecord({schema.NUM_EXAMPLES: 4}),
                   texts=ConfigRecord({"t0": "Strength: strong ..."}))
    problems = " ".join(reply_violations(leaky, shapes, is_train=True))
    assert "texts" in problems and "embeddings" in problems
    odd_metric = _reply(metrics=MetricRecord({schema.NUM_EXAMPLES: 4, "feature-0": 1.0}))
    assert reply_violations(odd_metric, shapes, is_train=False)
    wrong_shape = _reply(arrays=ArrayRecord({"w": Array(np.zeros((3, 3), np.float32))}),
                         metrics=MetricRecord({schema.NUM_EXAMPLES: 4}))
    assert "shape" in " ".join(reply_violations(wrong_shape, shapes, is_train=True))
