"""Classify with a decoder LM by scoring each label's log-likelihood after a prompt.

The prompt is a chat: a system message naming the labels, optional demonstrations as
user/assistant turns (few-shot), then the query. The system message and demonstrations are
the same for every query, so their key/value cache is computed once and reused; each query
is run once and its cache is then shared by all labels (labels are scored as one batch).
``score(..., reuse_prefix=False)`` recomputes the whole prompt for every query instead: same
token ids, same scores within float noise; bench/kv_cache.py measures the difference (~10x
fewer tokens per query with 8 demonstrations).
"""
from __future__ import annotations

import copy
import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .chat_prompts import ChatFormat, continuation_ids

DEFAULT_INSTRUCTION = ("Classify the text into exactly one of these labels: {labels}. "
                       "Answer with the label only.")


@functools.lru_cache(maxsize=2)
def load_causal_lm(folder: str, device: str):
    """The causal LM in eval mode, its output head in fp32 (``keep_head_in_fp32``); cached per process and never mutated
    after this."""
    import torch
    from transformers import AutoModelForCausalLM

    from .models import SAFE_LOAD

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **SAFE_LOAD).to(device).eval()
    keep_head_in_fp32(model)
    return model


def keep_head_in_fp32(model) -> None:
    """Compute the vocabulary logits in fp32 even inside a run's bf16 autocast (the body still runs in bf16).

    Scores are sums of token log-probabilities, read off these logits: in bf16 a logit near 20 is rounded to a
    multiple of 0.125, and over a text's tokens that moved channel scores by up to 0.39 nats and flipped 3 of 40
    calibrated smollm2-135m predictions; with the head in fp32, 0.25 nats and none (yelp, 4 shots). The head is ~20 %
    of the arithmetic when every token is scored."""
    import torch

    head = model.get_output_embeddings()
    if head is None:
        return
    as_loaded = head.forward

    def forward(hidden, *args, **kwargs):
        with torch.autocast(hidden.device.type, enabled=False):
            return as_loaded(hidden.float(), *args, **kwargs)

    head.forward = forward  # this instance only: the weights (tied to the input embeddings or not) are untouched


@dataclass
class Demonstration:
    text: str
    label: str


class DecoderScorer(ABC):
    """What both ways of scoring labels with a decoder share (this module's and tlcore.engine.channel_scoring's)."""

    def __init__(self, folder: str, labels: Sequence[str], device: str, demonstrations: Sequence[Demonstration],
                 max_text_tokens: int, label_texts: dict[str, str] | None) -> None:
        import torch

        from .models import load_tokenizer

        self.torch = torch
        self.tokenizer = load_tokenizer(folder)
        self.model = load_causal_lm(folder, device)
        self.device = device
        self.labels = list(labels)
        # What stands for each label in the prompt (a description can stand in for a terse name).
        self.label_texts = [(label_texts or {}).get(label, label) for label in self.labels]
        self.max_text_tokens = max_text_tokens
        self.demonstrations = list(demonstrations)
        self.format = ChatFormat(self.tokenizer)  # the model's own chat layout, when it has one

    @abstractmethod
    def score(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> np.ndarray:
        """Scores of shape (len(texts), len(labels)), log-probability-like; higher means more likely."""

    def content_free_scores(self) -> np.ndarray:
        """Scores for a content-free input ("N/A"), for contextual calibration."""
        return self.score(["N/A"])[0]


class LabelScorer(DecoderScorer):
    """Scores ``log p(label | prompt)`` for every label, reusing the shared prompt's KV cache."""

    def __init__(self, folder: str, labels: Sequence[str], device: str = "cpu",
                 instruction: str = DEFAULT_INSTRUCTION, demonstrations: Sequence[Demonstration] = (),
                 max_text_tokens: int = 256, label_texts: dict[str, str] | None = None) -> None:
        super().__init__(folder, labels, device, demonstrations, max_text_tokens, label_texts)
        self.system = instruction.format(labels=", ".join(self.label_texts))
        self._prefix_text = self._render(None)
        self._prefix_ids = self.tokenizer(self._prefix_text, add_special_tokens=False)["input_ids"]
        self._prefix_cache = None
        self._prefix_precision = ""  # the autocast state it was computed in (its keys are bf16 under bf16)
        # Each label as the answer, up to the template's end of turn, tokenized as it follows a query.
        end = self.format.answer_end if self.format.has_template else "\n"
        context = self._render("N/A")
        self._label_ids = [continuation_ids(self.tokenizer, context, text + end) for text in self.label_texts]

    # -- prompt pieces --------------------------------------------------------------------------
    def _user_turn(self, text: str) -> str:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"][: self.max_text_tokens]
        return "Text: " + self.tokenizer.decode(ids).strip()

    def _render(self, query: str | None) -> str:
        shots = [(self._user_turn(demo.text), self.label_texts[self.labels.index(demo.label)])
                 for demo in self.demonstrations]
        if self.format.has_template:
            return self.format.render(self.system, shots, None if query is None else self._user_turn(query))
        # Base models without a chat template: plain "Text: ...\nLabel: ..." lines.
        lines = [self.system, ""]
        for user, answer in shots:
            lines += [user, f"Label: {answer}", ""]
        if query is not None:
            lines += [self._user_turn(query), "Label: "]
        return self.format.with_bos("\n".join(lines))

    def _query_ids(self, text: str) -> list[int]:
        full = self._render(text)
        if not full.startswith(self._prefix_text):  # a template that rewrites earlier turns: no sharing possible
            raise RuntimeError("chat template does not extend the shared prompt")
        return continuation_ids(self.tokenizer, self._prefix_text, full[len(self._prefix_text):], self._prefix_ids)

    # -- scoring --------------------------------------------------------------------------------
    def _shared_cache(self):
        from .autocast_state import autocast_tag

        torch = self.torch
        precision = autocast_tag(self.device)
        if self._prefix_cache is None or precision != self._prefix_precision:  # one precision per forward pass
            ids = torch.tensor([self._prefix_ids], device=self.device)
            with torch.inference_mode():
                self._prefix_cache = self.model(input_ids=ids, use_cache=True, logits_to_keep=1).cache
            self._prefix_precision = precision
        return self._prefix_cache

    def score(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None,
              should_stop: Callable[[], bool] | None = None, batch_size: int = 8,
              reuse_prefix: bool = True) -> np.ndarray:
        """Sum of label-token log-probabilities, shape (len(texts), len(labels)).

        Queries run in batches on top of the shared prefix cache, in one forward pass per batch:
        each row holds its query (left-padded, so it ends at the same column in every row) and then
        every label's tokens but the last, side by side; an attention mask lets each label's tokens
        see the prefix, the query and that label's earlier tokens only (tree attention), so every
        label is scored without running or copying the query's cache once per label.
        With ``reuse_prefix=False`` the shared prefix is part of every query and nothing is shared
        across queries (the slow reference the cache is checked and measured against).
        """
        from .runtime import free_cores

        torch = self.torch
        reuse_prefix = reuse_prefix and bool(self._prefix_ids)  # '' when the instruction opens the query's turn
        scores = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad little
        done = 0
        with torch.inference_mode(), free_cores():
            for start in range(0, len(order), batch_size):
                if should_stop and should_stop():
                    raise InterruptedError("scoring cancelled")
                rows = order[start:start + batch_size]
                queries = [self._query_ids(texts[i]) for i in rows]
                if not reuse_prefix:
                    queries = [self._prefix_ids + ids for ids in queries]
                scores[rows] = self._score_batch(queries, reuse_prefix)
                done += len(rows)
                if progress:
                    progress(done, len(texts))
        return scores

    def _repeated_prefix(self, n: int):
        return repeat_cache(self._shared_cache(), n)

    def _score_batch(self, queries: list[list[int]], reuse_prefix: bool = True) -> np.ndarray:
        torch, device = self.torch, self.device
        n_queries = len(queries)
        prefix_len = len(self._prefix_ids) if reuse_prefix else 0
        width = max(len(q) for q in queries)
        # Each label's tokens but its last: the logits after token t score label token t + 1.
        segments = [ids[:-1] for ids in self._label_ids]
        total = width + sum(len(seg) for seg in segments)
        ids = torch.full((n_queries, total), self.tokenizer.pad_token_id, dtype=torch.long)
        positions = torch.zeros((n_queries, total), dtype=torch.long)
        # visible[row, i, j]: token i of the row may attend to column j of (prefix + row)
        visible = torch.zeros((n_queries, total, prefix_len + total), dtype=torch.bool)
        visible[:, :, :prefix_len] = True
        causal = torch.ones((width, width), dtype=torch.bool).tril()
        query_len = torch.tensor([len(q) for q in queries])
        for row, q in enumerate(queries):
            first = width - len(q)
            ids[row, first:width] = torch.tensor(q)
            seen = torch.zeros(width, dtype=torch.bool)
            seen[first:] = True
            visible[row, :width, prefix_len:prefix_len + width] = causal & seen
            padding = torch.arange(first)
            visible[row, padding, prefix_len + padding] = True  # padding sees itself: no empty softmax rows
            visible[row, width:, prefix_len:prefix_len + width] = seen  # label tokens see the whole query
            positions[row, :width] = prefix_len + (torch.arange(width) - first).clamp(min=0)
        column = width
        for seg in segments:
            if seg:
                end = column + len(seg)
                ids[:, column:end] = torch.tensor(seg)
                visible[:, column:end, prefix_len + column:prefix_len + end] = torch.ones(
                    (len(seg), len(seg)), dtype=torch.bool).tril()
                positions[:, column:end] = (prefix_len + query_len).unsqueeze(1) + torch.arange(len(seg))
                column = end
        kv_positions = torch.cat([torch.arange(prefix_len).expand(n_queries, -1), positions], 1)
        mask = self._attention_mask(visible, positions, kv_positions)
        cache = self._repeated_prefix(n_queries) if reuse_prefix else None
        kept = total - width + 1  # the query's last position, then every label token
        out = self.model(input_ids=ids.to(device), cache=cache, use_cache=reuse_prefix, logits_to_keep=kept,
                         attention_mask=mask, position_ids=positions.to(device))
        logp = torch.log_softmax(out.logits.float(), dim=-1).cpu()  # (n_queries, kept, vocab)
        result = np.zeros((n_queries, len(self.labels)), dtype=np.float64)
        offset = 1
        for col, label_ids in enumerate(self._label_ids):
            # label token 0 is scored at the query's last position, token t at the label's token t - 1
            at = [0] + list(range(offset, offset + len(label_ids) - 1))
            result[:, col] = logp[:, at, label_ids].sum(1).double().numpy()
            offset += len(label_ids) - 1
        return result

    def _attention_mask(self, visible, positions, kv_positions):
        """The 4-D mask the model gets; models with sliding-window layers also get the windowed one."""
        config = self.model.config
        window = getattr(config, "sliding_window", None)
        full = visible.unsqueeze(1).to(self.device)
        if not window:
            return full
        near = (positions.unsqueeze(2) - kv_positions.unsqueeze(1) < window).unsqueeze(1).to(self.device)
        layer_types = getattr(config, "layer_types", None) or []
        if "sliding_attention" in layer_types:
            return {"full_attention": full, "sliding_attention": full & near}
        return full & near if getattr(config, "use_sliding_window", True) else full

def repeat_cache(shared, n: int):
    """A prompt's key/value cache for a batch of n rows; plain layers are viewed n times, not copied."""
    if all(type(layer).__name__ == "DynamicLayer" for layer in shared.layers):
        cache = copy.copy(shared)
        cache.layers = []
        for layer in shared.layers:  # the model concatenates onto these views, leaving the shared ones intact
            view = copy.copy(layer)
            view.keys = layer.keys.expand(n, -1, -1, -1)
            view.values = layer.values.expand(n, -1, -1, -1)
            cache.layers.append(view)
        return cache
    cache = copy.deepcopy(shared)  # sliding-window or other layer kinds: the generic (copying) way
    cache.batch_repeat_interleave(n)
    return cache
