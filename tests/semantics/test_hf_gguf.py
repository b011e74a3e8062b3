"""interpreter=hf from a GGUF file: a tiny random llama the test writes with the gguf package
(a dev extra, with accelerate), so no model is downloaded."""

from __future__ import annotations

import numpy as np
import pytest

from lanhar_fl.config import ConfigError
from lanhar_fl.semantics.interpreters import build_interpreter
from lanhar_fl.semantics.interpreters.base import InterpreterError
from lanhar_fl.semantics.interpreters.loading import LOADS, load, resolve
from lanhar_fl.semantics.validation import Validator, check_structure

HIDDEN, HEADS, LAYERS, FFN = 16, 2, 1, 32


def write_tiny_gguf(path) -> None:
    """A 1-layer llama with a byte-level vocabulary (256 bytes + <|im_end|>), float32 weights."""
    import gguf
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    tokens = list(bytes_to_unicode().values()) + ["Ġt", "<|im_end|>"]
    types = [1] * (len(tokens) - 1) + [3]  # 1 normal, 3 control
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(LAYERS)
    writer.add_context_length(512)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(HIDDEN // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(["Ġ t"])
    writer.add_eos_token_id(len(tokens) - 1)
    writer.add_pad_token_id(len(tokens) - 1)
    rng = np.random.default_rng(0)

    def w(*shape):
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    writer.add_tensor("token_embd.weight", w(len(tokens), HIDDEN))
    writer.add_tensor("output_norm.weight", np.ones(HIDDEN, np.float32))
    writer.add_tensor("output.weight", w(len(tokens), HIDDEN))
    for i in range(LAYERS):
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"blk.{i}.{name}.weight", w(HIDDEN, HIDDEN))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", w(FFN, HIDDEN))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", w(FFN, HIDDEN))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", w(HIDDEN, FFN))
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(HIDDEN, np.float32))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(HIDDEN, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    path = tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf"
    write_tiny_gguf(path)
    return path


def test_gguf_file_or_its_folder_loads_once_and_writes_seven_sections(tiny_gguf):
    row = {"acc_mag_mean": 1.5, "jerk_rms": 40.0, "dominant_freq": 1.8}
    cfg = {"name": "hf", "model_path": str(tiny_gguf), "device": "cpu", "max_line_tokens": 6}
    before = LOADS["count"]
    first = build_interpreter(cfg)
    assert first.model_id.startswith("tiny-llama@")
    text = first.generate(row, {})
    assert check_structure(text) == [] and len(text.split("\n")) == 7
    assert Validator().validate(text, row) == [], text  # numbers and words constrained
    again = build_interpreter({**cfg, "model_path": str(tiny_gguf.parent)})  # folder, one .gguf
    assert again.model is first.model  # loaded once per process, reused
    assert LOADS["count"] == before + 1
    assert again.generate(row, {}) == text  # greedy: same window, same text


def test_model_path_errors_name_the_setting(tmp_path, tiny_gguf):
    with pytest.raises(ConfigError, match="interpreter.model_path.*no config.json, no .gguf"):
        resolve(tmp_path)
    (tmp_path / "a.gguf").write_bytes(tiny_gguf.read_bytes())
    (tmp_path / "b.gguf").write_bytes(tiny_gguf.read_bytes())
    with pytest.raises(ConfigError, match="several .gguf files"):
        resolve(tmp_path)
    assert resolve(tmp_path / "a.gguf").gguf_file == "a.gguf"


def test_pickled_weights_are_never_loaded(tmp_path, tiny_lm):
    """A model folder holding only a pickled ``pytorch_model.bin`` is refused, not unpickled."""
    import shutil

    import torch
    from transformers import AutoModelForCausalLM

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_lm, folder)
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    torch.save(AutoModelForCausalLM.from_pretrained(tiny_lm).state_dict(),
               folder / "pytorch_model.bin")  # what a hostile folder would hold
    assert (folder / "pytorch_model.bin").is_file()
    with pytest.raises(InterpreterError, match="cannot load the model"):
        load(folder, device="cpu")
