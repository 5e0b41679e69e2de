"""The benchmark suite starts, and the speed-ups it guided keep results the same.

- bench/run_all.py answers --help (the suite itself is not part of the tests: it takes ~30 minutes);
- few-shot scoring on the decoder with the shared prompt's KV cache gives the scores of recomputing the
  whole prompt per query, and of a plain forward pass over prompt + label (no cache, no custom mask);
- the training loop's helpers: padding identical to the tokenizer's, length-grouped batches that cover
  every row once and pad less, and a batch run in slices giving the same update as in one piece;
- the encoder's embedding cache returns the vectors it would have computed, without recomputing them.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tlcore
from tlcore.engine.models import load_tokenizer, model_folder, resolve_model

ROOT = Path(__file__).resolve().parents[2]


def folder(name: str) -> str:
    return str(model_folder(resolve_model(name)))


def test_run_all_help_lists_the_benchmarks():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run_all.py"), "--help"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    for word in ("--quick", "--only", "--readme", "throughput", "kv_cache", "accuracy"):
        assert word in proc.stdout


def test_run_all_refuses_an_unknown_benchmark():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run_all.py"), "--only", "speed"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2 and "unknown benchmark(s) speed" in proc.stderr


def test_shared_prompt_cache_scores_like_recomputing_the_prompt(yelp):
    import torch

    from tlcore.engine.decoder_scoring import Demonstration, LabelScorer, load_causal_lm

    decoder = folder("smollm2-135m")
    demos = [Demonstration(t, y) for t, y in zip(yelp.texts[:2], yelp.labels[:2])]
    queries = yelp.texts[10:13] + ["N/A"]
    scorer = LabelScorer(decoder, ["negative", "positive"], demonstrations=demos,
                         label_texts={"negative": "bad review", "positive": "good"})  # labels of 2 and 3 tokens
    cached = scorer.score(queries, batch_size=4)
    recomputed = scorer.score(queries, batch_size=4, reuse_prefix=False)
    assert np.abs(cached - recomputed).max() < 1e-3
    assert (cached.argmax(1) == recomputed.argmax(1)).all()
    assert ((cached - cached.mean(0)).argmax(1) == (recomputed - recomputed.mean(0)).argmax(1)).all()

    # An independent reference: log p(label tokens | prompt) from one plain forward pass per (query, label).
    model = load_causal_lm(decoder, "cpu")
    with torch.inference_mode():
        for row, text in enumerate(queries[:1]):
            context = scorer._prefix_ids + scorer._query_ids(text)
            for col, label_ids in enumerate(scorer._label_ids):
                # logits after the context's last token and after each label token but the last
                logits = model(input_ids=torch.tensor([context + label_ids]), logits_to_keep=len(label_ids) + 1).logits
                logp = torch.log_softmax(logits[0, :-1].float(), -1)
                expected = sum(logp[t, token].item() for t, token in enumerate(label_ids))
                assert cached[row, col] == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("model", ["minilm", "smollm2-135m"])
def test_collate_pads_exactly_like_the_tokenizer(model, yelp):
    from tlcore.engine.batching import collate, tokenize

    tokenizer = load_tokenizer(folder(model))
    texts = yelp.texts[:7]
    ours = collate(tokenizer, tokenize(tokenizer, texts, 32), "cpu")
    theirs = tokenizer(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    assert set(ours) == set(theirs.keys())
    for key in ours:
        assert ours[key].equal(theirs[key]), key


def test_length_grouped_batches_cover_every_row_once_and_pad_less(sms):
    from tlcore.engine.batching import tokenize
    from tlcore.engine.training import length_grouped_batches

    lengths = np.array([len(r["input_ids"]) for r in tokenize(load_tokenizer(folder("minilm")), sms.texts[:300], 128)])

    def padding(batches):
        return 1 - sum(lengths[b].sum() for b in batches) / sum(lengths[b].max() * len(b) for b in batches)

    rng = np.random.default_rng(0)
    grouped = length_grouped_batches(lengths, 16, rng)
    rows = np.concatenate(grouped)
    assert sorted(rows.tolist()) == list(range(300))
    assert [len(b) for b in grouped].count(16) == 8 + 8 + 2  # groups of 128, 128 and 44 rows
    shuffled = np.random.default_rng(0).permutation(300)
    plain = [shuffled[i:i + 16] for i in range(0, 300, 16)]
    assert padding(grouped) < 0.6 * padding(plain)  # measured here: 32 % of the tokens padding instead of 61 %
    assert not np.array_equal(rows, np.concatenate(length_grouped_batches(lengths, 16, rng)))  # reshuffled


def test_a_batch_in_slices_gives_the_same_update(tiny_split, monkeypatch):
    import torch
    from transformers import AutoModelForSequenceClassification

    from tlcore.engine import training
    from tlcore.engine.callbacks import Callback

    encoder = folder("minilm")
    config = tlcore.methods.get_method("full").config_cls(epochs=1, batch_size=8, max_length=32)

    def one_step(max_tokens: int) -> dict:
        torch.manual_seed(0)
        model = AutoModelForSequenceClassification.from_pretrained(
            encoder, num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # deterministic
        monkeypatch.setattr(training, "slice_tokens", lambda model, device="cpu": max_tokens)
        training.train_classifier(model, load_tokenizer(encoder), tiny_split.train, tlcore.data.LabeledData([], []),
                                  tiny_split.labels, config, Callback(), "cpu")
        return {n: p.detach().clone() for n, p in model.named_parameters()}

    whole, sliced = one_step(10_000), one_step(64)  # 64 tokens: the 8 rows run in several slices
    assert training.slices(np.arange(8), [20] * 8, 64) and len(training.slices(np.arange(8), [20] * 8, 64)) == 3
    for name in whole:
        assert torch.allclose(whole[name], sliced[name], atol=1e-5), name


def test_training_chooses_its_threads_again_every_epoch(tiny_split, monkeypatch):
    """A run that starts while another process holds a core must not keep one thread after the core is free."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from tlcore.engine import runtime, training
    from tlcore.engine.callbacks import Callback

    budgets = iter([1, 2, 2])  # busy at the start, idle for the second and third epochs
    monkeypatch.setattr(runtime, "thread_budget", lambda: next(budgets))
    seen: dict[int, set[int]] = {}

    class ThreadsPerEpoch(Callback):
        def on_log(self, event: dict) -> None:
            seen.setdefault(int(event["epoch"] - 1e-9), set()).add(torch.get_num_threads())

    encoder = folder("minilm")
    model = AutoModelForSequenceClassification.from_pretrained(encoder, num_labels=2)
    config = tlcore.methods.get_method("full").config_cls(epochs=3, batch_size=8, max_length=16)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        result = training.train_classifier(model, load_tokenizer(encoder), tiny_split.train,
                                           tlcore.data.LabeledData([], []), tiny_split.labels, config,
                                           ThreadsPerEpoch(), "cpu")
        assert seen == {0: {1}, 1: {2}, 2: {2}}
        assert result.threads == 1 and torch.get_num_threads() == 2  # the fewest; torch's setting restored
    finally:
        torch.set_num_threads(before)


def test_embeddings_are_cached_and_unchanged(yelp, monkeypatch):
    from tlcore.engine import encoders

    encoder = folder("minilm")
    texts = yelp.texts[:6]
    encoders.clear_cache()
    first = encoders.embed(texts, encoder)
    calls = []
    real = encoders._encode
    monkeypatch.setattr(encoders, "_encode", lambda new, *a: calls.append(list(new)) or real(new, *a))
    again = encoders.embed(texts[::-1] + [texts[0]], encoder)
    assert calls == []  # nothing re-encoded, a repeated text included
    assert np.array_equal(again, np.vstack([first[::-1], first[:1]]))
    encoders.embed(texts[:2] + ["a text not seen before"], encoder)
    assert calls == [["a text not seen before"]]
    assert abs(np.linalg.norm(first, axis=1) - 1).max() < 1e-5


def test_thread_budget_leaves_busy_cores_alone_and_never_raises(monkeypatch):
    import os

    import torch

    from tlcore.engine import runtime

    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(runtime, "_busy_elsewhere", lambda window: 3.0)
    assert runtime.thread_budget(max_age=0) == 1
    monkeypatch.setattr(runtime, "_busy_elsewhere", lambda window: 0.2)
    assert runtime.thread_budget(max_age=0) == 4
    monkeypatch.setattr(runtime, "_busy_elsewhere", lambda window: 3.0)
    assert runtime.thread_budget() == 4  # the answer is kept for a while (no sampling on every call)
    monkeypatch.setenv("TLCORE_THREADS", "1")  # forced
    assert runtime.thread_budget() == 1
    before = torch.get_num_threads()
    with runtime.free_cores() as threads:
        assert threads == torch.get_num_threads() == 1
    assert torch.get_num_threads() == before  # restored
    monkeypatch.setenv("TLCORE_THREADS", "64")
    with runtime.free_cores() as threads:
        assert threads == before  # at most torch's own setting
