"""Sentence embeddings from an encoder model, the way the model folder says it is used.

A sentence-transformers folder brings its recipe (``tlcore.engine.sentence_config``): pooling, normalisation,
prompt, max length, lower-casing; the vectors equal ``SentenceTransformer(folder).encode(texts, prompt=...,
normalize_embeddings=...)``. A plain transformers folder is mean-pooled and L2-normalised (how all-MiniLM-L6-v2
was trained to be used, so cosine similarity of these vectors is meaningful).

Encoding follows the caller's precision: inside a run's ``compute_in`` (bf16 autocast where it measured faster and
agreeing, tlcore.engine.precision) it runs in bf16, elsewhere in fp32. Vectors are kept in a small in-process cache
keyed by (model, device, max length, recipe, autocast state, text): zero-shot, few-shot and a comparison of methods on
the same test rows encode each text once per process and precision, and an entry never mixes precisions.
"""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import ModelError
from . import embedding_store
from .sentence_config import SentenceConfig, read_sentence_config

# ~4,000 texts of a 384-wide encoder per MB; 50,000 vectors stay under ~120 MB even for 576-wide models.
CACHE_SIZE = 50_000
_cache: OrderedDict[tuple[str, str, int, str, str, str], np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()  # the app may embed from several script threads
_delegate_lock = threading.Lock()  # a SentenceTransformer's max_seq_length is set per call: one call at a time
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


@functools.lru_cache(maxsize=2)
def load_encoder(folder: str, device: str):
    """The bare encoder (no head), in eval mode; cached per process and never mutated."""
    import torch
    from transformers import AutoModel

    from .models import SAFE_LOAD, quiet_transformers

    quiet_transformers()  # no per-load report or progress bar: callers print their own progress
    # fp32 whatever the folder stores (fp16/bf16 folders are common): CPUs train and infer best in fp32.
    model = AutoModel.from_pretrained(folder, dtype=torch.float32, **SAFE_LOAD)
    return model.to(device).eval()


@functools.lru_cache(maxsize=2)
def load_sentence_transformer(folder: str, device: str):
    """A folder whose modules we do not reproduce (Dense, Router, ...), loaded by sentence-transformers itself:
    local files only, never remote code, never pickle weights."""
    import torch
    from sentence_transformers import SentenceTransformer

    from .models import quiet_transformers

    _refuse_pickle_modules(Path(folder))
    quiet_transformers()
    return SentenceTransformer(folder, device=device, local_files_only=True, trust_remote_code=False,
                               model_kwargs={"dtype": torch.float32}).eval()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def embed(texts: Sequence[str], folder: str, device: str = "cpu", batch_size: int = 64,
          max_length: int = 256, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Embed texts as the folder's recipe says (unit vectors unless it says otherwise), shape (n, dim); texts
    seen before in this process, or by an earlier run on this machine (tlcore.engine.embedding_store), are not
    re-encoded. ``max_length`` caps the folder's own cut, never raises it."""
    from .autocast_state import autocast_tag

    recipe = read_sentence_config(folder)
    length = recipe.length(max_length)
    tag = autocast_tag(device)  # "" in fp32, "bf16" inside a bf16 run: vectors of one precision per entry
    unique = list(dict.fromkeys(texts))
    vectors: dict[str, np.ndarray] = {}
    with _cache_lock:
        for text in unique:
            key = (folder, device, length, recipe.key, tag, text)
            if key in _cache:
                _cache.move_to_end(key)
                vectors[text] = _cache[key]
    new = [text for text in unique if text not in vectors]
    stored_in = None
    if new and embedding_store.enabled():  # encoded by an earlier run (another process) of this model and precision
        stored_in = embedding_store.store_folder(folder, recipe.key, length, tag, device)
        found = embedding_store.lookup(stored_in, new)
        with _cache_lock:
            for text, vector in found.items():
                vectors[text] = _cache[(folder, device, length, recipe.key, tag, text)] = vector
        new = [text for text in new if text not in found]
    if new:
        encoded = _encode(new, folder, recipe, device, batch_size, length, progress)
        with _cache_lock:
            for text, vector in zip(new, encoded):
                vectors[text] = _cache[(folder, device, length, recipe.key, tag, text)] = vector.copy()
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        if stored_in is not None:
            embedding_store.save(stored_in, new, encoded)
    elif progress:
        progress(len(texts), len(texts))
    if not texts:
        return np.zeros((0, _dimension(folder, recipe, device)), dtype=np.float32)
    return np.stack([vectors[text] for text in texts])


def _model_folder(folder: str, recipe: SentenceConfig) -> str:
    return str(Path(folder) / recipe.transformer_path) if recipe.transformer_path else folder


def transformer_folder(folder: str) -> str:
    """The folder ``load_encoder`` loads for ``folder`` (its transformer module's, for a sentence-transformers folder
    that keeps it in a subfolder): the same string, so a caller that loads it shares the cached model."""
    return _model_folder(folder, read_sentence_config(folder))


def _dimension(folder: str, recipe: SentenceConfig, device: str) -> int:
    if recipe.delegate:
        return int(load_sentence_transformer(folder, device).get_embedding_dimension())
    return load_encoder(_model_folder(folder, recipe), device).config.hidden_size * len(recipe.modes)


def _encode(texts: Sequence[str], folder: str, recipe: SentenceConfig, device: str, batch_size: int,
            max_length: int, progress: Callable[[int, int], None] | None) -> np.ndarray:
    if recipe.delegate:
        return _encode_with_sentence_transformers(texts, folder, recipe, device, batch_size, max_length, progress)
    from .models import load_tokenizer

    source = _model_folder(folder, recipe)
    return encode_texts(load_encoder(source, device), load_tokenizer(source), texts, recipe, device, batch_size,
                        max_length, progress)


def encode_texts(model, tokenizer, texts: Sequence[str], recipe: SentenceConfig, device: str, batch_size: int,
                 max_length: int, progress: Callable[[int, int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """Run an encoder as ``recipe`` says: prompt, tokenize once, batches of similar token length (they pad
    little), pool, normalise. SetFit calls it on its fine-tuned body. In the caller's precision (autocast state)."""
    import torch

    from .batching import collate, tokenize
    from .runtime import free_cores

    prepared = [recipe.prompt + text for text in texts]
    if recipe.lower_case:  # sentence-transformers lower-cases the whole input, prompt included
        prepared = [text.lower() for text in prepared]
    rows = tokenize(tokenizer, prepared, max_length)
    prompt_length = (_prompt_length(tokenizer, recipe, max_length)
                     if recipe.prompt and not recipe.include_prompt else None)
    order = sorted(range(len(texts)), key=lambda i: len(rows[i]["input_ids"]))
    out = np.zeros((len(texts), model.config.hidden_size * len(recipe.modes)), dtype=np.float32)
    with torch.inference_mode(), free_cores():
        for start in range(0, len(order), batch_size):
            if should_stop and should_stop():
                raise InterruptedError("encoding cancelled")
            batch_ids = order[start:start + batch_size]
            encoded = collate(tokenizer, [rows[i] for i in batch_ids], device)
            hidden = model(**encoded).last_hidden_state
            pooled = pool(hidden, encoded["attention_mask"], recipe.modes, prompt_length)
            if recipe.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=-1)
            out[batch_ids] = pooled.float().cpu().numpy()
            if progress:
                progress(min(start + batch_size, len(order)), len(order))
    return out


def pool(hidden, attention_mask, modes: Sequence[str], prompt_length: int | None = None):
    """One vector per row from token states (batch, tokens, dim): each mode in turn, concatenated; the same
    arithmetic as sentence-transformers' Pooling module (6.x), so the vectors match it to float precision."""
    import torch

    mask = attention_mask
    if prompt_length:  # the prompt's tokens are left out (include_prompt=False); after any left padding
        mask = mask.clone()
        pad = mask.to(torch.int32).argmax(dim=1)
        positions = torch.arange(mask.size(1), device=mask.device).unsqueeze(0)
        mask[positions < (pad + prompt_length).unsqueeze(1)] = 0
    width = hidden.shape[-1]
    out = []
    for mode in modes:
        if mode == "cls":  # the first token that counts (position 0 unless padded on the left)
            first = mask.to(torch.int).argmax(dim=1)
            out.append(torch.gather(hidden, 1, first.view(-1, 1, 1).expand(-1, 1, width)).squeeze(1))
        elif mode == "max":
            keep = mask.unsqueeze(-1).expand_as(hidden).to(hidden.dtype)
            out.append(hidden.masked_fill(keep == 0, float("-inf")).max(dim=1).values)
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            keep = mask.unsqueeze(-1).to(hidden.dtype)
            count = torch.clamp(keep.sum(dim=1), min=1e-9)
            out.append((hidden * keep).sum(dim=1) / (count if mode == "mean" else torch.sqrt(count)))
        elif mode == "weightedmean":  # weights 1, 2, 3, ... from the first real token
            keep = mask.unsqueeze(-1).to(hidden.dtype)
            weights = torch.arange(1, hidden.shape[1] + 1, device=hidden.device, dtype=hidden.dtype).view(1, -1, 1)
            weights = weights - attention_mask.to(torch.int32).argmax(dim=1).view(-1, 1, 1)
            weighted = keep * weights
            out.append((hidden * weighted).sum(dim=1) / torch.clamp(weighted.sum(dim=1), min=1e-9))
        elif mode == "lasttoken":  # the last token that counts (the row's end, whichever side pads)
            length = hidden.shape[1]
            values, indices = mask.flip(1).max(1)
            indices = torch.where(values == 0, length - 1, indices)
            keep = mask.unsqueeze(-1).expand_as(hidden).to(hidden.dtype)
            gather = (length - indices - 1).view(-1, 1, 1).expand(-1, 1, width)
            out.append(torch.gather(hidden * keep, 1, gather).squeeze(1))
        else:
            raise ModelError(f"unknown pooling mode {mode!r}; sentence-transformers knows cls, max, mean, "
                             "mean_sqrt_len_tokens, weightedmean and lasttoken.")
    return torch.cat(out, dim=-1)


def _prompt_length(tokenizer, recipe: SentenceConfig, max_length: int) -> int:
    """The prompt's tokens at the start of each row, without a trailing special token (as sentence-transformers
    counts them)."""
    prompt = recipe.prompt.lower() if recipe.lower_case else recipe.prompt
    ids = tokenizer(prompt, truncation=True, max_length=max_length)["input_ids"]
    return len(ids) - (1 if ids and ids[-1] in tokenizer.all_special_ids else 0)


def _encode_with_sentence_transformers(texts: Sequence[str], folder: str, recipe: SentenceConfig, device: str,
                                       batch_size: int, max_length: int,
                                       progress: Callable[[int, int], None] | None) -> np.ndarray:
    """Modules we do not reproduce: sentence-transformers encodes, in length-sorted chunks for progress (in the
    caller's precision, as ``encode_texts``)."""
    import torch

    from .runtime import free_cores

    model = load_sentence_transformer(folder, device)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), _dimension(folder, recipe, device)), dtype=np.float32)
    with _delegate_lock, torch.inference_mode(), free_cores():
        own = model.max_seq_length
        model.max_seq_length = min(max_length, own) if own else max_length
        try:
            for start in range(0, len(order), batch_size):
                batch_ids = order[start:start + batch_size]
                # prompt= the resolved one, "" included: it overrides the folder's default exactly as chosen
                out[batch_ids] = model.encode([texts[i] for i in batch_ids], prompt=recipe.prompt,
                                              batch_size=batch_size, normalize_embeddings=recipe.normalize,
                                              convert_to_numpy=True, show_progress_bar=False)
                if progress:
                    progress(min(start + batch_size, len(order)), len(order))
        finally:
            model.max_seq_length = own
    return out


def _refuse_pickle_modules(folder: Path) -> None:
    """The root's weights are checked when the model resolves; a module's own weights (a Dense layer's) too."""
    import json

    paths = {str(m.get("path") or "") for m in json.loads((folder / "modules.json").read_text(encoding="utf-8"))}
    for sub in sorted(folder / p for p in paths if p and (folder / p).is_dir()):
        pickles = [p.name for p in sub.iterdir() if p.suffix.lower() in _PICKLE_SUFFIXES]
        if pickles and not any(sub.glob("*.safetensors")):
            raise ModelError(f"the sentence-transformers module {sub.name!r} of {str(folder)!r} holds pickle "
                             f"weights ({', '.join(pickles)}) and no safetensors; only safetensors are loaded, "
                             "because pickle weights can run code. Save the model again with "
                             "SentenceTransformer.save(folder, safe_serialization=True).")
