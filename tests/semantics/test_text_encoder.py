"""TextEncoder on the tiny random BERT: pooling, chunking, identity, persistence, config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lanhar_fl.config import ConfigError
from lanhar_fl.semantics.text_encoder import TextEncoder

LONG = " ".join(f"the signal shows a pattern number {i} with some energy" for i in range(12))


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder.tiny(seed=0)


def test_deterministic_init_and_embedding(encoder):
    other = TextEncoder.tiny(seed=0)
    assert other.fingerprint == encoder.fingerprint
    texts = ["steady rhythm near 2 Hz", "almost no motion"]
    np.testing.assert_array_equal(other.embed(texts), encoder.embed(texts))
    assert TextEncoder.tiny(seed=1).fingerprint != encoder.fingerprint
    out = encoder.embed(texts)
    assert out.shape == (2, encoder.dim) and out.dtype == np.float32 and encoder.dim == 32


def test_mean_pooling_over_attention_mask(encoder):
    text = "vertical impacts at each landing"
    enc = encoder.tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        hidden = encoder.model(**enc).last_hidden_state
    np.testing.assert_allclose(encoder.embed([text])[0], hidden[0].mean(0).numpy(), atol=1e-5)
    # padding (a longer text in the same batch) does not change the embedding
    batched = encoder.embed([text, LONG[:300]], batch_size=8)
    np.testing.assert_allclose(batched[0], encoder.embed([text])[0], atol=1e-5)


def test_long_text_is_chunked_and_weighted_by_tokens():
    enc = TextEncoder.tiny(seed=0, max_length=16, chunk_overlap=4)
    chunks, owners = enc._chunk([LONG, "short"])
    n_tokens = len(enc.tokenizer(LONG, add_special_tokens=False)["input_ids"])
    assert owners.count(0) > 2 and owners.count(1) == 1
    assert all(len(c) <= 16 for c in chunks)
    first, second = chunks[0][1:-1], chunks[1][1:-1]
    assert first[-4:] == second[:4]  # overlapping token chunks
    assert sum(len(c) - 2 for c in chunks[:-1]) - 4 * (owners.count(0) - 1) == n_tokens
    with torch.no_grad():
        pooled = enc._encode_chunks(chunks[:-1])
    w = torch.tensor([len(c) for c in chunks[:-1]], dtype=torch.float32)
    expected = (pooled * w[:, None]).sum(0) / w.sum()
    np.testing.assert_allclose(enc.embed([LONG])[0], expected.numpy(), atol=1e-5)
    with torch.no_grad():  # the differentiable path computes the same function
        np.testing.assert_allclose(enc([LONG])[0].numpy(), expected.numpy(), atol=1e-5)


def test_forward_is_differentiable_and_fingerprint_tracks_training():
    enc = TextEncoder.tiny(seed=0)
    before = enc.fingerprint
    enc.train()
    out = enc(["no rhythm", "strong impacts"])
    assert out.requires_grad and out.shape == (2, 32)
    out.pow(2).sum().backward()
    torch.optim.AdamW(enc.parameters(), lr=1e-3).step()
    assert enc.fingerprint != before
    assert enc.refresh_fingerprint() == enc.fingerprint
    enc.load_state_dict(TextEncoder.tiny(seed=0).state_dict())
    assert enc.fingerprint == before


def test_save_and_load_round_trip(encoder, tmp_path):
    encoder.save_pretrained(tmp_path / "enc")
    assert (tmp_path / "enc" / "model.safetensors").is_file()
    assert not list((tmp_path / "enc").glob("*.bin"))
    loaded = TextEncoder.from_pretrained(tmp_path / "enc")
    assert loaded.fingerprint == encoder.fingerprint
    assert (loaded.max_length, loaded.chunk_overlap) == (encoder.max_length, encoder.chunk_overlap)
    texts = ["moderate energy", LONG]
    np.testing.assert_allclose(loaded.embed(texts), encoder.embed(texts), atol=1e-6)
    via_cfg = TextEncoder.from_config({"name": "path", "path": str(tmp_path / "enc")})
    assert via_cfg.fingerprint == encoder.fingerprint


def test_from_config_errors(tmp_path):
    assert TextEncoder.from_config({"name": "tiny", "hidden_size": 16}).dim == 16
    with pytest.raises(ConfigError, match="text_encoder.path"):
        TextEncoder.from_config({"name": "path"})
    with pytest.raises(ConfigError, match="not a Hugging Face model directory"):
        TextEncoder.from_config({"name": "path", "path": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="unknown encoder"):
        TextEncoder.from_config({"name": "gpt9"})
    with pytest.raises(ConfigError, match="chunk_overlap"):
        TextEncoder.from_config({"name": "tiny", "max_length": 16, "chunk_overlap": 20})


def test_embed_deduplicates_within_a_call(encoder, monkeypatch):
    seen: list[int] = []
    original = encoder._encode_chunks
    monkeypatch.setattr(encoder, "_encode_chunks", lambda c: seen.append(len(c)) or original(c))
    out = encoder.embed(["a", "b", "a", "a"], batch_size=1)
    assert sum(seen) == 2
    np.testing.assert_array_equal(out[0], out[2])
    assert encoder.embed([]).shape == (0, encoder.dim)


def test_cached_frozen_layers_give_the_same_embeddings_and_train_only_the_top():
    import torch

    from lanhar_fl.pipeline.text_side import freeze_lower_layers

    encoder = TextEncoder.tiny(seed=3, num_layers=3, max_length=16, chunk_overlap=4)
    texts = ["short", "a longer text that is split into several overlapping token chunks, "
             "because it has many more words than sixteen tokens can hold at once",
             "short", "another one"]
    plain = encoder.embed(texts)
    freeze_lower_layers(encoder, 1)
    encoder.cache_frozen_layers(2)
    cached = encoder.embed(texts)
    assert np.allclose(plain, cached, atol=1e-5)
    assert len(encoder._prefix_cache) >= 4  # one entry per distinct chunk (2+ for the long)
    loss = encoder(texts[:2]).pow(2).sum()
    loss.backward()
    top, low = encoder.model.encoder.layer[2], encoder.model.encoder.layer[0]
    assert any(p.grad is not None and torch.any(p.grad != 0) for p in top.parameters())
    assert all(p.grad is None for p in low.parameters())
    encoder.cache_frozen_layers(0)
    assert not encoder._prefix_cache


@pytest.mark.parametrize("part", ["ffn", "output"])
def test_cached_top_part_gives_the_same_embeddings_and_trains_only_that_part(part):
    import torch

    from lanhar_fl.pipeline.text_side import freeze_lower_layers

    encoder = TextEncoder.tiny(seed=4, num_layers=3, max_length=16, chunk_overlap=4)
    texts = ["short", "a longer text that is split into several overlapping token chunks, "
             "because it has many more words than sixteen tokens can hold at once"]
    plain = encoder.embed(texts)
    freeze_lower_layers(encoder, 1, part)
    encoder.cache_frozen_layers(2, part)
    assert np.allclose(plain, encoder.embed(texts), atol=1e-5)
    encoder(texts).pow(2).sum().backward()
    top = encoder.model.encoder.layer[2]
    assert any(p.grad is not None and torch.any(p.grad != 0)
               for p in top.output.parameters())
    frozen = [top.attention] + ([top.intermediate] if part == "output" else [])
    assert all(p.grad is None for m in frozen for p in m.parameters())
    encoder.cache_frozen_layers(0)


def test_cached_top_part_needs_one_trainable_layer():
    from lanhar_fl.pipeline.text_side import freeze_lower_layers

    encoder = TextEncoder.tiny(seed=4, num_layers=3)
    with pytest.raises(ConfigError, match="top_part=output needs trainable_layers=1"):
        freeze_lower_layers(encoder, 2, "output")
    with pytest.raises(ConfigError, match="top_part"):
        encoder.cache_frozen_layers(2, "attention")
