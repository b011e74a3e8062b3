"""Text-side artefacts travel as records and come back byte-identical; a hostile server's
digests, version strings, file names, tampered content and oversized artefacts are refused and
leave nothing on disk, inside the cache or outside it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, MetricRecord, RecordDict
from safetensors.numpy import save_file

from client import artifacts as phone_artifacts
from lanhar_fl.federated import schema
from lanhar_fl.federated.artifacts import (
    DIGEST_KEY,
    ArtifactLimits,
    ArtifactRejected,
    content_digest,
    pack_saved,
    record_digest,
    text_version,
    unpack,
)
from lanhar_fl.federated.audit import reply_violations
from lanhar_fl.semantics.label_bank import LabelBank
from lanhar_fl.semantics.text_encoder import TextEncoder


def _tree(path: Path) -> set[str]:
    """Every file and folder under ``path`` (relative), to compare before/after."""
    return {p.relative_to(path).as_posix() for p in path.rglob("*")}


def _small(folder: Path) -> None:
    save_file({"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, str(folder / "a.safetensors"))
    (folder / "sub").mkdir()
    (folder / "sub" / "b.json").write_text('{"k": 1}\n')


def _message(arrays: ArrayRecord, meta: ConfigRecord) -> RecordDict:
    return RecordDict({schema.LABEL_BANK: arrays, schema.LABEL_BANK_META: meta})


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "phone" / "cache" / "artifacts"


def test_encoder_and_bank_round_trip(tmp_path, root):
    encoder = TextEncoder.tiny(seed=3)
    bank = LabelBank.build(encoder, {"walk": ["steady steps"], "sit": ["no motion at all"]})
    enc_arrays, enc_meta = pack_saved(encoder.save_pretrained, encoder.fingerprint)
    bank_arrays, bank_meta = pack_saved(bank.save, bank.fingerprint)
    records = {schema.TEXT_ENCODER: enc_arrays, schema.TEXT_ENCODER_META: enc_meta,
               schema.LABEL_BANK: bank_arrays, schema.LABEL_BANK_META: bank_meta}
    version = text_version(records)
    phone_artifacts.receive(RecordDict(records), root)
    top = {p.name for p in root.iterdir()}  # the two digests, no temporary folder left
    assert top == {record_digest(enc_meta), record_digest(bank_meta)}
    assert version == f"{record_digest(enc_meta)}:{record_digest(bank_meta)}"
    text = phone_artifacts.resolve(version, root)
    assert text.encoder.fingerprint == encoder.fingerprint
    texts = ["a short text", "another, longer text about rhythm at 1.8 Hz"]
    np.testing.assert_allclose(text.encoder.embed(texts), encoder.embed(texts), atol=1e-6)
    assert text.bank.fingerprint == bank.fingerprint
    np.testing.assert_array_equal(text.bank.prototypes, bank.prototypes)


def test_digest_is_the_content_hash_of_what_travels(tmp_path):
    arrays, meta = pack_saved(_small, "model-fp")
    digest = record_digest(meta)
    assert len(digest) == 64 and digest == content_digest(arrays, meta)
    again_arrays, again_meta = pack_saved(_small, "another model fp")
    assert record_digest(again_meta) == digest  # the model fingerprint is metadata only
    changed = ConfigRecord({**dict(meta.items()), "sub/b.json": '{"k": 2}\n'})
    assert content_digest(arrays, changed) != digest


@pytest.mark.parametrize("claimed", ["../../x/sitecustomize", "../../../outside", "/tmp/abs",
                                     "..", "", "A" * 64, "0" * 63, "0" * 65, "g" * 64,
                                     "0" * 64 + "/../../outside"])
def test_traversal_digest_is_refused_and_nothing_is_written(tmp_path, root, claimed):
    arrays, meta = pack_saved(_small, "fp")
    hostile = ConfigRecord({**dict(meta.items()), DIGEST_KEY: claimed})
    before = _tree(tmp_path)
    with pytest.raises(ArtifactRejected, match="64 lowercase hex"):
        phone_artifacts.receive(_message(arrays, hostile), root)
    assert _tree(tmp_path) == before  # not even the cache folder was created


def test_artifact_without_digest_is_refused(tmp_path, root):
    arrays, meta = pack_saved(_small, "../../../outside")  # old style: only a fingerprint
    legacy = ConfigRecord({k: v for k, v in meta.items() if k != DIGEST_KEY})
    with pytest.raises(ArtifactRejected, match="no content digest"):
        phone_artifacts.receive(_message(arrays, legacy), root)
    assert _tree(tmp_path) == set()


@pytest.mark.parametrize("version,negatives", [
    ("../../x/sitecustomize:../../y", None),
    ("../../../outside", None),
    ("{good}:../../evil_bank", None),
    ("{good}:{good}", "../../evil_bank"),
    ("{good}:{good}/../../../evil_bank", None),
])
def test_traversal_version_string_is_refused_before_any_path(tmp_path, root, version, negatives):
    good = "0" * 64
    evil = tmp_path / "phone" / "evil_bank"  # a real bank that a traversal would load
    LabelBank.build(TextEncoder.tiny(seed=1), {"walk": ["steps"]}).save(evil)
    before = _tree(tmp_path)
    with pytest.raises(ArtifactRejected, match="64 lowercase hex|digest"):
        phone_artifacts.resolve(version.format(good=good), root, negatives)
    assert _tree(tmp_path) == before


def test_tampered_artifact_is_refused_and_nothing_stays(tmp_path, root):
    arrays, meta = pack_saved(_small, "fp")
    digest = record_digest(meta)
    text_changed = ConfigRecord({**dict(meta.items()), "sub/b.json": '{"k": 666}\n'})
    array_changed = ArrayRecord({"a.safetensors::w": Array(np.zeros((2, 3), np.float32))})
    extra_file = ConfigRecord({**dict(meta.items()), "sub/c.txt": "planted"})
    for hostile_arrays, hostile_meta in ((arrays, text_changed), (array_changed, meta),
                                         (arrays, extra_file)):
        with pytest.raises(ArtifactRejected, match=f"artefact {digest}: content hashes to"):
            phone_artifacts.receive(_message(hostile_arrays, hostile_meta), root)
        assert _tree(tmp_path) == {"phone", "phone/cache", "phone/cache/artifacts"}
    phone_artifacts.receive(_message(arrays, meta), root)  # the genuine one still goes in
    assert _tree(root) == {digest, f"{digest}/a.safetensors", f"{digest}/sub",
                           f"{digest}/sub/b.json"}


def test_limits_refuse_large_and_many_file_artifacts_before_writing(tmp_path, root):
    arrays, meta = pack_saved(_small, "fp")
    size = sum(len(a.data) for a in arrays.values()) + len(meta["sub/b.json"].encode())
    with pytest.raises(ArtifactRejected, match=f"{size} bytes, more than the limit of {size - 1}"):
        phone_artifacts.receive(_message(arrays, meta), root, ArtifactLimits(max_bytes=size - 1))
    with pytest.raises(ArtifactRejected, match="2 files, more than the limit of 1"):
        phone_artifacts.receive(_message(arrays, meta), root, ArtifactLimits(max_files=1))
    many = ConfigRecord({f"f{i}.txt": "x" for i in range(ArtifactLimits().max_files + 1)})
    many[DIGEST_KEY] = content_digest(ArrayRecord(), many)
    with pytest.raises(ArtifactRejected, match="257 files"):
        phone_artifacts.receive(_message(ArrayRecord(), many), root)  # the default limits
    assert _tree(tmp_path) == set()
    phone_artifacts.receive(_message(arrays, meta), root, ArtifactLimits(max_bytes=size,
                                                                         max_files=2))
    assert (root / record_digest(meta) / "sub" / "b.json").read_text() == '{"k": 1}\n'


@pytest.mark.parametrize("name", ["../outside.txt", "../../outside.txt", "/tmp/outside.txt",
                                  "sub/../../outside.txt", "."])
def test_escaping_file_names_are_refused(tmp_path, name):
    texts = ConfigRecord({"__fingerprint__": "x", name: "pwned"})
    texts[DIGEST_KEY] = content_digest(ArrayRecord(), texts)  # a consistent hostile artefact
    with pytest.raises(ArtifactRejected, match="escapes"):
        unpack(ArrayRecord(), texts, tmp_path / "dest")
    assert _tree(tmp_path) == {"dest"}


def test_tensor_and_text_files_cannot_pose_as_each_other(tmp_path):
    texts = ConfigRecord({"model.safetensors": "not tensors"})
    texts[DIGEST_KEY] = content_digest(ArrayRecord(), texts)
    with pytest.raises(ArtifactRejected, match="not a text file"):
        unpack(ArrayRecord(), texts, tmp_path / "dest")
    arrays = ArrayRecord({"config.json::w": Array(np.zeros(2, np.float32))})
    meta = ConfigRecord({DIGEST_KEY: content_digest(arrays, ConfigRecord())})
    with pytest.raises(ArtifactRejected, match="not in a .safetensors file"):
        unpack(arrays, meta, tmp_path / "dest")
    assert _tree(tmp_path) == set()


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


def test_a_phone_process_that_loses_the_unpack_race_uses_the_winners_folder(tmp_path, root,
                                                                            monkeypatch):
    """Two of a phone's processes unpack the same artefact at once: the other one renames its
    copy into place just before this one does (after any existence check), so this rename
    fails (ENOTEMPTY); this one keeps the winner's folder, removes its copy and does not fail."""
    import shutil

    src = tmp_path / "src"
    src.mkdir()
    _small(src)
    arrays, meta = pack_saved(lambda folder: shutil.copytree(src, folder, dirs_exist_ok=True),
                              "x")
    digest = record_digest(meta)
    rename = Path.rename

    def lose_the_race(self: Path, target):
        if self.name.startswith(".unpack-"):
            shutil.copytree(self, root / digest)  # the other process renames first
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", lose_the_race)
    folder = unpack(arrays, meta, root)
    assert folder == root / digest and _tree(folder) == _tree(src)
    assert {p.name for p in root.iterdir()} == {digest}  # no temporary folder left
