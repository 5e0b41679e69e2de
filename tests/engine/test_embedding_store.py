"""Sentence vectors kept on disk between runs (tlcore.engine.embedding_store): a text is encoded once per model,
recipe, cut and precision; anything that changes the vectors gives another folder."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from tlcore.engine import embedding_store, encoders

TEXTS = ["the food was great", "service was slow and rude", "not bad at all", "I would not go back"]


@pytest.fixture()
def store_on(tmp_path, monkeypatch):
    """The store switched on, in a folder of this test's own; the in-process cache empty."""
    monkeypatch.setenv("TLCORE_EMBEDDING_CACHE", "1")
    monkeypatch.setattr(embedding_store, "root", lambda: tmp_path / "embeddings")
    encoders.clear_cache()
    yield tmp_path / "embeddings"
    encoders.clear_cache()


@pytest.fixture()
def encoded(monkeypatch):
    """The texts the encoder really ran on, call by call."""
    calls: list[list[str]] = []
    real = encoders._encode

    def spy(texts, *args, **kwargs):
        calls.append(list(texts))
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(encoders, "_encode", spy)
    return calls


def test_a_later_process_reuses_the_vectors_and_encodes_only_new_texts(store_on, encoded, tiny_st_encoder):
    folder = str(tiny_st_encoder)
    first = encoders.embed(TEXTS, folder)
    assert encoded == [TEXTS]
    encoders.clear_cache()  # what a new run's process starts with
    again = encoders.embed(TEXTS[::-1] + ["a new text"], folder)
    assert encoded == [TEXTS, ["a new text"]]
    assert np.array_equal(again[:4], first[::-1])  # bit for bit the vectors encoded before
    encoders.clear_cache()
    assert np.array_equal(encoders.embed(["a new text"], folder), again[4:])
    assert len(encoded) == 2


def test_precision_cut_and_changed_weights_each_get_their_own_vectors(store_on, encoded, tiny_st_encoder, tmp_path):
    import torch

    encoders.embed(TEXTS, str(tiny_st_encoder))
    encoders.clear_cache()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        encoders.embed(TEXTS, str(tiny_st_encoder))
    encoders.clear_cache()
    encoders.embed(TEXTS, str(tiny_st_encoder), max_length=8)
    assert len(encoded) == 3  # bf16 and a shorter cut never take the fp32 vectors

    copy = tmp_path / "copy"
    shutil.copytree(tiny_st_encoder, copy)
    encoders.clear_cache()
    encoders.embed(TEXTS, str(copy))
    encoders.clear_cache()
    encoders.embed(TEXTS, str(copy))
    assert len(encoded) == 4  # the copy's vectors are stored once...
    weights = next(copy.rglob("*.safetensors"))
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    encoders.clear_cache()
    encoders.embed(TEXTS, str(copy))
    assert len(encoded) == 5  # ...and encoded again once its weights file changed


def test_switched_off_nothing_is_written(tmp_path, monkeypatch, encoded, tiny_st_encoder):
    monkeypatch.setenv("TLCORE_EMBEDDING_CACHE", "0")
    monkeypatch.setattr(embedding_store, "root", lambda: tmp_path / "embeddings")
    encoders.clear_cache()
    encoders.embed(TEXTS, str(tiny_st_encoder))
    encoders.clear_cache()
    encoders.embed(TEXTS, str(tiny_st_encoder))
    assert len(encoded) == 2 and not (tmp_path / "embeddings").exists()


def test_shards_merge_damage_is_skipped_and_old_folders_go(store_on, monkeypatch):
    one, two = store_on / "one", store_on / "two"
    monkeypatch.setattr(embedding_store, "MERGE_AT_SHARDS", 3)
    for i in range(5):
        embedding_store.save(one, [f"text {i}"], np.full((1, 4), i, dtype=np.float32))
    assert len(list(one.glob("*.npz"))) <= 3
    found = embedding_store.lookup(one, [f"text {i}" for i in range(5)] + ["never stored"])
    assert sorted(found) == [f"text {i}" for i in range(5)] and found["text 3"].tolist() == [3.0] * 4

    (one / "0-broken.npz").write_bytes(b"not a zip file")
    os.utime(one, None)
    assert len(embedding_store.lookup(one, ["text 1"])) == 1  # a damaged shard costs only its own vectors

    monkeypatch.setattr(embedding_store, "MAX_BYTES", 1)
    os.utime(one, (1, 1))  # written long ago
    embedding_store.save(two, ["fresh"], np.ones((1, 4), dtype=np.float32))
    assert not one.exists() and embedding_store.lookup(two, ["fresh"])
