"""Sentence embeddings from an encoder model: mean pooling over tokens, L2-normalised.

This is how all-MiniLM-L6-v2 was trained to be used, so cosine similarity of these vectors is meaningful.
Vectors are kept in a small in-process cache keyed by (model, max length, text): zero-shot, few-shot
and a comparison of methods on the same test rows encode each text once per process.
"""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from typing import Callable, Sequence

import numpy as np

# ~4,000 texts of a 384-wide encoder per MB; 50,000 vectors stay under ~120 MB even for 576-wide models.
CACHE_SIZE = 50_000
_cache: OrderedDict[tuple[str, str, int, str], np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()  # the app may embed from several script threads


@functools.lru_cache(maxsize=2)
def load_encoder(folder: str, device: str):
    """The bare encoder (no head), in eval mode; cached per process and never mutated."""
    import torch
    from transformers import AutoModel

    # fp32 whatever the folder stores (fp16/bf16 folders are common): CPUs train and infer best in fp32.
    model = AutoModel.from_pretrained(folder, dtype=torch.float32)
    return model.to(device).eval()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def embed(texts: Sequence[str], folder: str, device: str = "cpu", batch_size: int = 64,
          max_length: int = 256, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Embed texts as unit vectors, shape (n, hidden); texts seen before in this process are not re-encoded."""
    unique = list(dict.fromkeys(texts))
    vectors: dict[str, np.ndarray] = {}
    with _cache_lock:
        for text in unique:
            key = (folder, device, max_length, text)
            if key in _cache:
                _cache.move_to_end(key)
                vectors[text] = _cache[key]
    new = [text for text in unique if text not in vectors]
    if new:
        encoded = _encode(new, folder, device, batch_size, max_length, progress)
        with _cache_lock:
            for text, vector in zip(new, encoded):
                vectors[text] = _cache[(folder, device, max_length, text)] = vector.copy()
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    elif progress:
        progress(len(texts), len(texts))
    if not texts:
        return np.zeros((0, load_encoder(folder, device).config.hidden_size), dtype=np.float32)
    return np.stack([vectors[text] for text in texts])


def _encode(texts: Sequence[str], folder: str, device: str, batch_size: int, max_length: int,
            progress: Callable[[int, int], None] | None) -> np.ndarray:
    """Run the encoder: tokenize once, batches of similar token length (they pad little), mean-pool."""
    import torch

    from .batching import collate, tokenize
    from .models import load_tokenizer
    from .runtime import free_cores

    tokenizer = load_tokenizer(folder)
    model = load_encoder(folder, device)
    rows = tokenize(tokenizer, texts, max_length)
    order = sorted(range(len(texts)), key=lambda i: len(rows[i]["input_ids"]))
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode(), free_cores():
        for start in range(0, len(order), batch_size):
            batch_ids = order[start:start + batch_size]
            encoded = collate(tokenizer, [rows[i] for i in batch_ids], device)
            hidden = model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[batch_ids] = pooled.float().cpu().numpy()
            if progress:
                progress(min(start + batch_size, len(order)), len(order))
    return out
