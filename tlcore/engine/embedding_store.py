"""Sentence vectors kept on disk, so that a text is encoded once per model and precision, not once per run.

Every run is its own process, so the encoder's in-process cache (tlcore.engine.encoders) helps only within one
run or series. An analyst's next click is usually another method on the same rows (few-shot after zero-shot, a
linear probe, a comparison), which would encode the same test rows again: seconds each time on a CPU. Here the
vectors of each (model weights, recipe, length, precision, torch version) live in their own folder under
``cache_dir()/embeddings``, as shard files of (text hash, vector) written atomically, so concurrent runs never see
half a file and never block each other. A changed model file (size or time) gives a new folder.

``TLCORE_EMBEDDING_CACHE=0`` turns it off; ``TLCORE_EMBEDDING_CACHE_DIR`` moves it. Shards are merged when a folder
holds many, and the oldest folders go when all of them together pass ``MAX_BYTES``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Sequence

import numpy as np

MAX_BYTES = 1 << 30  # all folders together; ~700,000 vectors of a 384-wide model
MERGE_AT_SHARDS = 32  # more shards than this in one folder: merged into one when the next is written
_lock = threading.Lock()
_loaded: dict[Path, tuple[float, dict[bytes, np.ndarray]]] = {}  # folder -> (mtime read, hash -> vector)


def enabled() -> bool:
    return os.environ.get("TLCORE_EMBEDDING_CACHE", "1").strip() != "0"


def root() -> Path:
    """``cache_dir()/embeddings``, or ``TLCORE_EMBEDDING_CACHE_DIR``."""
    if os.environ.get("TLCORE_EMBEDDING_CACHE_DIR"):
        return Path(os.environ["TLCORE_EMBEDDING_CACHE_DIR"])
    from .models import cache_dir

    return cache_dir() / "embeddings"


def text_hash(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def store_folder(model_folder: str, recipe_key: str, length: int, precision: str, device: str) -> Path:
    """The folder of one way of embedding: the model's weights (name, size, time of each file), the recipe, the
    cut, the precision (autocast state), the device type and torch's version (kernels change the last bits)."""
    import torch

    folder = Path(model_folder)
    weights = [f"{f.relative_to(folder)}:{f.stat().st_size}:{f.stat().st_mtime_ns}"
               for f in sorted(folder.rglob("*.safetensors"))]  # a sentence-transformers module's too
    key = {"model": str(folder.resolve()), "weights": weights, "recipe": recipe_key, "length": length,
           "precision": precision or "fp32", "device": device.split(":", 1)[0], "torch": torch.__version__}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return root() / digest


def lookup(folder: Path, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """The stored vectors of those ``texts`` that have one."""
    if not enabled() or not folder.is_dir():
        return {}
    stored = _read(folder)
    found = {}
    for text in texts:
        vector = stored.get(text_hash(text))
        if vector is not None:
            found[text] = vector
    return found


def save(folder: Path, texts: Sequence[str], vectors: np.ndarray) -> None:
    """Store new vectors as one shard (best effort: a full or read-only disk costs only the cache)."""
    if not enabled() or not len(texts):
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_shard(folder, [text_hash(t) for t in texts], np.asarray(vectors, dtype=np.float32))
        shards = sorted(folder.glob("*.npz"))
        if len(shards) > MERGE_AT_SHARDS:
            _merge(folder, shards)
        _trim(root(), keep=folder)
    except OSError:
        pass


def _write_shard(folder: Path, hashes: list[bytes], vectors: np.ndarray) -> Path:
    name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
    tmp = folder / f".{name}.tmp.npz"
    np.savez(tmp, hashes=np.frombuffer(b"".join(hashes), dtype="S16"), vectors=vectors)
    target = folder / f"{name}.npz"
    os.replace(tmp, target)  # atomic: readers see a whole shard or none
    return target


def _read(folder: Path) -> dict[bytes, np.ndarray]:
    """Every vector of the folder, re-read when a shard was added since (the folder's mtime changes)."""
    mtime = folder.stat().st_mtime
    with _lock:
        cached = _loaded.get(folder)
        if cached and cached[0] == mtime:
            return cached[1]
    stored: dict[bytes, np.ndarray] = {}
    for shard in sorted(folder.glob("*.npz")):
        try:
            with np.load(shard) as data:
                hashes, vectors = data["hashes"], data["vectors"]
        except (OSError, ValueError, KeyError):  # removed by a merge meanwhile, or damaged: skip it
            continue
        for digest, vector in zip(hashes, vectors):
            stored[bytes(digest)] = vector
    with _lock:
        _loaded[folder] = (mtime, stored)
    return stored


def _merge(folder: Path, shards: list[Path]) -> None:
    """One shard instead of many: written first, then the old ones removed (a reader may briefly see both)."""
    stored = _read(folder)
    if not stored:
        return
    _write_shard(folder, list(stored), np.stack(list(stored.values())))
    for shard in shards:
        shard.unlink(missing_ok=True)


def _trim(base: Path, keep: Path) -> None:
    """Remove the least recently written folders while all of them together exceed MAX_BYTES."""
    folders = [f for f in base.iterdir() if f.is_dir()]
    sizes = {f: sum(s.stat().st_size for s in f.glob("*.npz")) for f in folders}
    total = sum(sizes.values())
    for folder in sorted(folders, key=lambda f: f.stat().st_mtime):
        if total <= MAX_BYTES:
            break
        if folder != keep:
            shutil.rmtree(folder, ignore_errors=True)
            total -= sizes[folder]
