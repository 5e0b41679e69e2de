"""What each speed-up in tlcore's training loop buys, each against the way it replaced, in one process.

Run on its own (`.venv/bin/python bench/speedups.py`, about a minute); bench/README.md has its table.

- Padding: the share of padded tokens in one epoch of batches (batch 16) of real texts (sms_spam, whose
  lengths vary most, and rt_polarity), for plain shuffled batches against ``length_grouped_batches``.
  Padded tokens cost as much compute as real ones.
- AdamW step on every MiniLM weight (22.7 M, full fine-tuning): per-tensor loop, the multi-tensor
  ("foreach") version, and the fused kernel ``make_optimizer`` picks. Median of 20 steps after 3 warm-ups.
- Tokenizing: the training rows once per run (``tokenize`` + ``collate``) against once per batch per epoch
  with padding (the old loop), for 8 epochs of 256 rows.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

BATCH = 16


def padded_share(batches, lengths) -> float:
    real = sum(lengths[i] for batch in batches for i in batch)
    padded = sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)
    return 1 - real / padded


def padding_rows(tokenizer) -> list[dict]:
    import numpy as np

    from tlcore.engine.batching import tokenize
    from tlcore.engine.training import length_grouped_batches

    rows = []
    for dataset in ("sms_spam", "rt_polarity"):
        pool, _ = common.read_dataset(dataset)
        texts = list(pool.text.astype(str).sample(n=1024, random_state=0))
        lengths = [len(row["input_ids"]) for row in tokenize(tokenizer, texts, 128)]
        plain = [np.random.default_rng(s).permutation(len(texts)) for s in range(3)]
        plain_share = statistics.mean(padded_share([p[i:i + BATCH] for i in range(0, len(p), BATCH)], lengths)
                                      for p in plain)
        grouped_share = statistics.mean(
            padded_share(length_grouped_batches(lengths, BATCH, np.random.default_rng(s)), lengths) for s in range(3))
        rows.append({"what": f"padded share of tokens, {dataset} (1,024 texts, batch {BATCH})",
                     "before": f"{plain_share:.0%} (shuffled batches)",
                     "after": f"{grouped_share:.0%} (length-grouped)",
                     "gain": (1 - grouped_share) / (1 - plain_share)})
    return rows


def optimizer_rows() -> list[dict]:
    import torch
    from transformers import AutoModel

    from tlcore.engine.models import model_folder, resolve_model

    model = AutoModel.from_pretrained(str(model_folder(resolve_model("minilm"))))
    params = [p for p in model.parameters()]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    timings = {}
    variants = (("per tensor", {"foreach": False}), ("foreach", {"foreach": True}), ("fused", {"fused": True}))
    for name, kwargs in variants:
        optimizer = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.01, **kwargs)
        times = []
        for step in range(23):
            started = time.perf_counter()
            optimizer.step()
            if step >= 3:
                times.append(time.perf_counter() - started)
        timings[name] = statistics.median(times)
    return [{"what": f"AdamW step, all {sum(p.numel() for p in params) / 1e6:.1f} M MiniLM weights",
             "before": f"{timings['per tensor'] * 1e3:.0f} ms (per tensor); {timings['foreach'] * 1e3:.0f} ms "
                       "(foreach)",
             "after": f"{timings['fused'] * 1e3:.0f} ms (fused)", "gain": timings["per tensor"] / timings["fused"]}]


def tokenize_rows(tokenizer) -> list[dict]:
    from tlcore.engine.batching import collate, tokenize

    pool, _ = common.read_dataset("sms_spam")
    texts = list(pool.text.astype(str).sample(n=256, random_state=1))
    epochs = 8
    started = time.perf_counter()
    for _ in range(epochs):
        for i in range(0, len(texts), BATCH):
            tokenizer(texts[i:i + BATCH], padding=True, truncation=True, max_length=128, return_tensors="pt")
    per_batch = time.perf_counter() - started
    started = time.perf_counter()
    rows = tokenize(tokenizer, texts, 128)
    for _ in range(epochs):
        for i in range(0, len(rows), BATCH):
            collate(tokenizer, rows[i:i + BATCH], "cpu")
    once = time.perf_counter() - started
    return [{"what": f"tokenizing {len(texts)} rows for {epochs} epochs", "before": f"{per_batch:.2f} s (every batch)",
             "after": f"{once:.2f} s (once, then padding)", "gain": per_batch / once}]


def cell(spec: dict) -> dict:
    from tlcore.engine.models import load_tokenizer, model_folder, resolve_model

    tokenizer = load_tokenizer(str(model_folder(resolve_model("minilm"))))
    return {"rows": padding_rows(tokenizer) + optimizer_rows() + tokenize_rows(tokenizer)}


def run(quick: bool = False) -> dict:
    common.say("speedups: padding, optimizer, tokenizing")
    rows = common.run_cell("speedups", {})["rows"]
    table = common.markdown_table(rows, [("what", "what"), ("before", "before"), ("after", "after (tlcore now)"),
                                         ("gain", "× (useful work per unit of time)")])
    return {"name": "speedups", "title": "0. What the training loop's speed-ups buy", "rows": rows, "table": table,
            "targets": []}


if __name__ == "__main__":  # `.venv/bin/python bench/speedups.py`: ~1 min; the table, and results/speedups.json
    import json

    result = run()
    (common.RESULTS / "speedups.json").write_text(json.dumps({**result, "machine": common.machine()}, indent=2))
    print(result["table"])
