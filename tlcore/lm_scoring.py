"""Classify with a decoder LM by scoring each label's log-likelihood after a prompt.

The prompt is a chat: a system message naming the labels, optional demonstrations as
user/assistant turns (few-shot), then the query. The system message and demonstrations are
the same for every query, so their key/value cache is computed once and reused; each query
is run once and its cache is then shared by all labels (labels are scored as one batch).
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

DEFAULT_INSTRUCTION = ("Classify the text into exactly one of these labels: {labels}. "
                       "Answer with the label only.")


@functools.lru_cache(maxsize=2)
def load_causal_lm(folder: str, device: str):
    """The causal LM in eval mode; cached per process and never mutated."""
    from transformers import AutoModelForCausalLM

    import torch

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(device).eval()


@dataclass
class Demonstration:
    text: str
    label: str


class LabelScorer:
    """Scores ``log p(label | prompt)`` for every label, reusing the shared prompt's KV cache."""

    def __init__(self, folder: str, labels: Sequence[str], device: str = "cpu",
                 instruction: str = DEFAULT_INSTRUCTION, demonstrations: Sequence[Demonstration] = (),
                 max_text_tokens: int = 256, label_texts: dict[str, str] | None = None) -> None:
        import torch

        from .models import load_tokenizer

        self.torch = torch
        self.tokenizer = load_tokenizer(folder)
        self.model = load_causal_lm(folder, device)
        self.device = device
        self.labels = list(labels)
        # What the model is asked to say for each label (a description can stand in for a terse name).
        self.label_texts = [(label_texts or {}).get(label, label) for label in self.labels]
        self.max_text_tokens = max_text_tokens
        self.system = instruction.format(labels=", ".join(self.label_texts))
        self.demonstrations = list(demonstrations)
        self._prefix_ids = self._encode_prefix()
        self._prefix_cache = None
        end = self.tokenizer.eos_token if self.tokenizer.chat_template else "\n"
        self._label_ids = [self.tokenizer(text + end, add_special_tokens=False)["input_ids"]
                           for text in self.label_texts]

    # -- prompt pieces --------------------------------------------------------------------------
    def _messages(self, query: str | None) -> list[dict]:
        messages = [{"role": "system", "content": self.system}]
        for demo in self.demonstrations:
            messages.append({"role": "user", "content": self._user_turn(demo.text)})
            messages.append({"role": "assistant", "content": self.label_texts[self.labels.index(demo.label)]})
        if query is not None:
            messages.append({"role": "user", "content": self._user_turn(query)})
        return messages

    def _user_turn(self, text: str) -> str:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"][: self.max_text_tokens]
        return "Text: " + self.tokenizer.decode(ids).strip()

    def _render(self, query: str | None) -> str:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(self._messages(query), tokenize=False,
                                                      add_generation_prompt=query is not None)
        # Base models without a chat template: plain "Text: ...\nLabel: ..." lines.
        lines = [self.system, ""]
        for demo in self.demonstrations:
            lines += [self._user_turn(demo.text), f"Label: {self.label_texts[self.labels.index(demo.label)]}", ""]
        if query is not None:
            lines += [self._user_turn(query), "Label: "]
        return "\n".join(lines)

    def _encode_prefix(self) -> list[int]:
        return self.tokenizer(self._render(None), add_special_tokens=False)["input_ids"]

    def _query_ids(self, text: str) -> list[int]:
        prefix, full = self._render(None), self._render(text)
        if not full.startswith(prefix):  # a template that rewrites earlier turns: no sharing possible
            raise RuntimeError("chat template does not extend the shared prompt")
        return self.tokenizer(full[len(prefix):], add_special_tokens=False)["input_ids"]

    # -- scoring --------------------------------------------------------------------------------
    def _shared_cache(self):
        torch = self.torch
        if self._prefix_cache is None:
            ids = torch.tensor([self._prefix_ids], device=self.device)
            with torch.inference_mode():
                self._prefix_cache = self.model(input_ids=ids, use_cache=True, logits_to_keep=1).cache
        return self._prefix_cache

    def score(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None,
              should_stop: Callable[[], bool] | None = None, batch_size: int = 8) -> np.ndarray:
        """Sum of label-token log-probabilities, shape (len(texts), len(labels)).

        Queries run in batches on top of the shared prefix cache. Each query is left-padded inside
        its own segment (padding sits between prefix and query, masked out, with explicit position
        ids), so every query ends at the last column and the first label token's distribution is
        the last logit. The labels then run as one batch of (query x label) rows on the repeated cache.
        """
        torch = self.torch
        scores = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad little
        done = 0
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                if should_stop and should_stop():
                    raise InterruptedError("scoring cancelled")
                rows = order[start:start + batch_size]
                scores[rows] = self._score_batch([self._query_ids(texts[i]) for i in rows])
                done += len(rows)
                if progress:
                    progress(done, len(texts))
        return scores

    def _score_batch(self, queries: list[list[int]]) -> np.ndarray:
        torch, device = self.torch, self.device
        n_queries, n_labels = len(queries), len(self.labels)
        prefix_len = len(self._prefix_ids)
        width = max(len(q) for q in queries)
        pad = self.tokenizer.pad_token_id
        query_ids = torch.full((n_queries, width), pad, dtype=torch.long)
        query_mask = torch.zeros((n_queries, width), dtype=torch.long)
        for row, ids in enumerate(queries):
            query_ids[row, width - len(ids):] = torch.tensor(ids)
            query_mask[row, width - len(ids):] = 1
        prefix_mask = torch.ones((n_queries, prefix_len), dtype=torch.long)
        query_pos = prefix_len + (query_mask.cumsum(1) - 1).clamp(min=0)
        cache = copy.deepcopy(self._shared_cache())
        cache.batch_repeat_interleave(n_queries)
        out = self.model(input_ids=query_ids.to(device), cache=cache, use_cache=True, logits_to_keep=1,
                         attention_mask=torch.cat([prefix_mask, query_mask], 1).to(device),
                         position_ids=query_pos.to(device))
        first_logp = torch.log_softmax(out.logits[:, -1].float(), dim=-1).cpu()  # (n_queries, vocab)
        result = np.zeros((n_queries, n_labels), dtype=np.float64)
        for col, ids in enumerate(self._label_ids):
            result[:, col] = first_logp[:, ids[0]].numpy()
        longest = max(len(ids) for ids in self._label_ids)
        if longest == 1:
            return result
        # Later label tokens: one row per (query, label), on the query's cache repeated per label.
        label_ids = torch.full((n_labels, longest - 1), pad, dtype=torch.long)
        label_mask = torch.zeros((n_labels, longest - 1), dtype=torch.long)
        for col, ids in enumerate(self._label_ids):
            label_ids[col, : len(ids) - 1] = torch.tensor(ids[:-1])
            label_mask[col, : len(ids) - 1] = 1
        cache = out.cache
        cache.batch_repeat_interleave(n_labels)
        seen_mask = torch.cat([prefix_mask, query_mask], 1).repeat_interleave(n_labels, 0)
        next_pos = (prefix_len + query_mask.sum(1)).repeat_interleave(n_labels, 0).unsqueeze(1)
        logits = self.model(input_ids=label_ids.repeat(n_queries, 1).to(device), cache=cache,
                            attention_mask=torch.cat([seen_mask, label_mask.repeat(n_queries, 1)], 1).to(device),
                            position_ids=(next_pos + torch.arange(longest - 1)).to(device)).logits
        logp = torch.log_softmax(logits.float(), dim=-1).cpu().view(n_queries, n_labels, longest - 1, -1)
        for col, ids in enumerate(self._label_ids):
            if len(ids) > 1:
                later = torch.tensor(ids[1:])
                picked = logp[:, col, torch.arange(len(ids) - 1), later]  # (n_queries, len-1)
                result[:, col] += picked.sum(1).numpy()
        return result

    def content_free_scores(self) -> np.ndarray:
        """Scores for a content-free input ("N/A"), for contextual calibration."""
        return self.score(["N/A"])[0]


def scores_to_proba(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
