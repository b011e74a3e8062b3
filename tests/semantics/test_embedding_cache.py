"""EmbeddingCache: content addressing, persistence across processes, concurrent writers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lanhar_fl.semantics.embedding_cache import EmbeddingCache
from lanhar_fl.semantics.text_encoder import TextEncoder


def _vec(i: int, dim: int = 8) -> np.ndarray:
    return np.arange(dim, dtype=np.float32) + i


def test_keys_are_content_addressed():
    k = EmbeddingCache.key("fp1", "walk")
    assert k == EmbeddingCache.key("fp1", "walk") and len(k) == 64
    assert k != EmbeddingCache.key("fp2", "walk") != EmbeddingCache.key("fp1", "walks")


def test_put_get_stats_and_persistence(tmp_path):
    cache = EmbeddingCache(tmp_path)
    assert cache.put_many({"a": _vec(1), "b": _vec(2)}) == 2
    assert cache.put_many({"a": _vec(99)}) == 0  # first write wins
    hits, missing = cache.get_many(["a", "c", "b"])
    assert missing == ["c"] and set(hits) == {"a", "b"}
    np.testing.assert_array_equal(hits["a"], _vec(1))
    assert (cache.stats.hits, cache.stats.misses, cache.stats.memory_hits) == (2, 1, 2)
    with pytest.raises(ValueError, match="finite"):
        cache.put_many({"x": np.array([np.nan], np.float32)})
    cache.close()
    fresh = EmbeddingCache(tmp_path)  # a new instance reads the file, not memory
    hits, _ = fresh.get_many(["a"])
    np.testing.assert_array_equal(hits["a"], _vec(1))
    assert fresh.stats.memory_hits == 0 and len(fresh) == 2


def test_cache_survives_a_new_process(tmp_path):
    EmbeddingCache(tmp_path).put_many({"k": _vec(7)})
    code = textwrap.dedent(f"""
        from lanhar_fl.semantics.embedding_cache import EmbeddingCache
        hits, missing = EmbeddingCache({str(tmp_path)!r}).get_many(["k", "z"])
        print(float(hits["k"].sum()), missing)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == str(float(_vec(7).sum()))


def test_concurrent_writers_do_not_corrupt(tmp_path):
    code = textwrap.dedent(f"""
        import sys, numpy as np
        from lanhar_fl.semantics.embedding_cache import EmbeddingCache
        me = int(sys.argv[1])
        cache = EmbeddingCache({str(tmp_path)!r}, memory_items=10)
        for start in range(0, 300, 25):  # overlapping key ranges across writers
            keys = range(start + me * 50, start + me * 50 + 25)
            cache.put_many({{f"k{{k}}": np.full(16, k, np.float32) for k in keys}})
            cache.get_many([f"k{{k}}" for k in keys])
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(i)], stderr=subprocess.PIPE)
             for i in range(4)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read().decode()
    cache = EmbeddingCache(tmp_path)
    keys = [f"k{k}" for k in range(0, 450)]
    hits, missing = cache.get_many(keys)
    assert not missing
    assert all(np.array_equal(hits[f"k{k}"], np.full(16, k, np.float32)) for k in range(450))
    assert cache._connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_encoder_never_embeds_a_text_twice(tmp_path, monkeypatch):
    encoder = TextEncoder.tiny(seed=0)
    calls: list[int] = []
    original = encoder._encode_chunks
    monkeypatch.setattr(encoder, "_encode_chunks", lambda c: calls.append(len(c)) or original(c))
    cache = EmbeddingCache(tmp_path)
    first = encoder.embed(["strong impacts", "no rhythm"], cache=cache)
    assert sum(calls) == 2 and cache.stats.misses == 2
    again = EmbeddingCache(tmp_path)  # a new instance, e.g. another process
    second = encoder.embed(["no rhythm", "strong impacts", "new text"], cache=again)
    assert sum(calls) == 3 and again.stats.hits == 2
    np.testing.assert_array_equal(second[[1, 0]], first)


def test_from_config(tmp_path):
    assert EmbeddingCache.from_config({"text_encoder": {"cache": False}, "cache_dir": "x"}) is None
    assert EmbeddingCache.from_config({"text_encoder": {}, "cache_dir": None}) is None
    cache = EmbeddingCache.from_config({"text_encoder": {"cache": True},
                                        "cache_dir": str(tmp_path)})
    assert cache is not None and cache.directory == tmp_path / "embeddings"
