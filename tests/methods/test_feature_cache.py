"""The linear probe's feature cache on disk: reused, repaired when damaged, and kept under its size cap."""
from __future__ import annotations

import hashlib
import time

import numpy as np

from tlcore.engine.encoders import embed
from tlcore.engine.models import model_folder, resolve_model
from tlcore.methods import linear_probe
from tlcore.methods.linear_probe import FeatureCache


def _file(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest() + ".npy"


def test_the_cache_is_reused_repaired_and_evicts_the_least_recently_used(sms, tmp_path, monkeypatch):
    monkeypatch.setenv("TLCORE_CACHE", str(tmp_path))
    folder = model_folder(resolve_model("minilm"))
    first, second = list(sms.texts[:6]), list(sms.texts[6:12])
    cache = FeatureCache(folder, max_length=64)
    expected = embed(first + second, str(folder), "cpu", max_length=64)

    assert np.allclose(cache.get(first, "cpu", None), expected[:6], atol=1e-5)
    assert {path.name for path in cache.root.glob("*.npy")} == {_file(text) for text in first}
    one_file = (cache.root / _file(first[0])).stat().st_size

    time.sleep(0.05)  # file times tick coarsely (a few ms): keep each step's uses apart
    (cache.root / _file(first[5])).write_bytes(b"\x93NUMPY half-written")  # a crash's leftover is recomputed
    assert np.allclose(cache.get(first, "cpu", None), expected[:6], atol=1e-5)

    time.sleep(0.05)
    cache.get(first[:3], "cpu", None)  # the oldest files, used again: now the most recently used
    time.sleep(0.05)
    monkeypatch.setattr(linear_probe, "FEATURE_CACHE_BYTES", 9 * one_file)
    assert np.allclose(cache.get(second, "cpu", None), expected[6:], atol=1e-5)
    # 12 written, room for 9: the three least recently used go, not the three written first.
    assert {path.name for path in cache.root.glob("*.npy")} == {_file(text) for text in first[:3] + second}
    assert np.allclose(FeatureCache(folder, 64).get(first, "cpu", None), expected[:6], atol=1e-5)
