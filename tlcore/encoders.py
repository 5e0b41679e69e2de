"""Sentence embeddings from an encoder model: mean pooling over tokens, L2-normalised.

This is how all-MiniLM-L6-v2 was trained to be used, so cosine similarity of these vectors is meaningful.
"""
from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np


@functools.lru_cache(maxsize=2)
def load_encoder(folder: str, device: str):
    """The bare encoder (no head), in eval mode; cached per process and never mutated."""
    from transformers import AutoModel

    import torch

    # fp32 whatever the folder stores (fp16/bf16 folders are common): CPUs train and infer best in fp32.
    model = AutoModel.from_pretrained(folder, dtype=torch.float32)
    return model.to(device).eval()


def embed(texts: Sequence[str], folder: str, device: str = "cpu", batch_size: int = 64,
          max_length: int = 256, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Embed texts as unit vectors, shape (n, hidden). Sorted by length so batches pad little."""
    import torch

    from .models import load_tokenizer

    tokenizer = load_tokenizer(folder)
    model = load_encoder(folder, device)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch_ids = order[start:start + batch_size]
            encoded = tokenizer([texts[i] for i in batch_ids], padding=True, truncation=True,
                                max_length=max_length, return_tensors="pt").to(device)
            hidden = model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[batch_ids] = pooled.float().cpu().numpy()
            if progress:
                progress(min(start + batch_size, len(order)), len(order))
    return out
