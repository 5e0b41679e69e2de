"""Two changes to a training step on a CPU that the step's profile showed were worth their lines (bench/README.md,
"Why MFU misses"; bench/step_variants.py measured them in a copy of the step):

- **The word embeddings' gradient is kept between steps.** A dense gradient of a 30k-word vocabulary is 47 MB for
  MiniLM, allocated fresh by every backward pass and page-faulted in (5.7 % of a bf16 step). Kept, and filled by a
  sparse backward (only the rows of the batch's tokens), it holds the same numbers: AdamW's update is unchanged.
  4 % off a step.
- **Attention runs as plain matrix products while training under bf16 autocast.** torch's fused attention took
  longer there than the eager form (5-6 % of a step); the model goes back to its own attention afterwards, so
  prediction and export are untouched.

A GPU gets neither: it has no page faults to save, and its fused attention is the fast one.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

from .autocast_state import autocast_tag, device_type


def keep_embedding_gradient(model, device: str):
    """On a CPU, make the trainable input embedding's backward sparse into a dense gradient kept for good; return
    that weight (None when nothing changed: a GPU, frozen or tied embeddings, a layer that is not nn.Embedding)."""
    import torch

    if device_type(device) != "cpu":
        return None
    embedding = model.get_input_embeddings()
    if not isinstance(embedding, torch.nn.Embedding) or not embedding.weight.requires_grad or embedding.sparse:
        return None
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if output is not None and getattr(output, "weight", None) is embedding.weight:
        return None  # tied to the output layer, whose dense gradient would add into the same buffer
    if embedding.max_norm is not None:
        return None  # renormalising rows in the forward pass is not what this was measured on
    embedding.sparse = True
    embedding.weight.grad = torch.zeros_like(embedding.weight)
    return embedding.weight


def clear_gradients(params: Sequence, kept=None) -> None:
    """What ``optimizer.zero_grad(set_to_none=True)`` does, except that a kept gradient is zeroed in place."""
    for parameter in params:
        if kept is not None and parameter is kept:
            parameter.grad.zero_()
        else:
            parameter.grad = None


def restore_embedding(model, kept) -> None:
    """Undo ``keep_embedding_gradient``: a dense backward again, no gradient held."""
    if kept is None:
        return
    model.get_input_embeddings().sparse = False
    kept.grad = None


@contextlib.contextmanager
def eager_attention_under_bf16(model, device: str) -> Iterator[None]:
    """Train with eager attention while bf16 autocast is on for a CPU and the model uses torch's fused attention."""
    config = getattr(model, "config", None)
    current = getattr(config, "_attn_implementation", None)
    switch = (device_type(device) == "cpu" and autocast_tag(device) == "bf16" and current == "sdpa"
              and hasattr(model, "set_attn_implementation"))
    if switch:
        try:
            model.set_attn_implementation("eager")
        except (ValueError, NotImplementedError):  # an architecture without the eager form keeps its own
            switch = False
    try:
        yield
    finally:
        if switch:
            model.set_attn_implementation(current)
