"""A standalone copy of one step of tlcore's training loop (tlcore/engine/training.py), with switchable variants.

bench/step_profile.py and bench/step_variants.py time it; nothing in tlcore imports it. It trains MiniLM (or any
encoder of the catalog) through tlcore's own method class, tokenizer, collate, length-grouped batches and fused
AdamW, as ``_train`` does for one slice per batch (MiniLM's batches never need slicing), so a variant's gain here is
the gain the loop would see. The loop itself now keeps the embeddings' gradient and, under bf16, computes attention
eagerly (tlcore.engine.cpu_step): the plain variants here are the step as it was before, for comparison. Variants
(comma-separated flags):

  fp32 | bf16      the precision: bf16 is autocast with cache_enabled=False and the backward outside, as
                   tlcore.engine.precision.compute_in and backward run it
  eager            attention as plain matmul + softmax instead of torch's scaled_dot_product_attention
  keep_emb_grad    the word embeddings' gradient is kept between steps (zeroed, not freed) and filled by a sparse
                   backward: the same dense gradient and AdamW update, without page-faulting 47 MB every step
  freeze_emb       the word embeddings (11.7M of MiniLM's 22.7M weights) do not train: a different model
  trim, trimN      malloc_trim(0) after every step, or every N steps (what returning freed memory to the system
                   costs: the pages it returns are faulted in again by the next step)
  tuned            tlcore.engine.memory.limit_kernel_caches() first (small oneDNN kernel caches), as a run's worker
                   process does; process-wide, so time it with step_variants.py --separate
"""
from __future__ import annotations

import ctypes
import time

import common
import numpy as np

FLAGS = ("fp32", "bf16", "eager", "keep_emb_grad", "freeze_emb", "trim", "tuned")


def parse(variant: str) -> set[str]:
    flags = {f for f in variant.split(",") if f}
    unknown = {f for f in flags - set(FLAGS) if not (f.startswith("trim") and f[4:].isdigit())}
    if unknown:
        raise ValueError(f"unknown variant flag(s) {sorted(unknown)}; choose from {', '.join(FLAGS)}")
    return flags


def texts_and_labels(rows: int, dataset: str = "rt_polarity", skip: int = 0) -> tuple[list[str], list[int]]:
    """``rows`` real, balanced, shuffled texts (seed 0) and their label numbers."""
    if dataset == "rt_polarity":
        frame = common.rt_sample(rows, skip=skip)
    else:
        pool, _ = common.read_dataset(dataset)
        frame = pool.groupby("label").sample(rows // 2, random_state=0).sample(frac=1.0, random_state=0)
    labels = sorted(set(frame.label))
    return list(frame.text), [labels.index(y) for y in frame.label]


class Step:
    """One model with its optimizer, trained one batch at a time in a variant."""

    def __init__(self, variant: str, texts: list[str], labels: list[int], model: str = "minilm",
                 method: str = "full", seed: int = 0) -> None:
        import torch

        from tlcore.engine import resolve_model
        from tlcore.engine.batching import tokenize
        from tlcore.engine.models import model_folder
        from tlcore.engine.training import make_optimizer
        from tlcore.methods import get_method

        self.flags = parse(variant)
        if "tuned" in self.flags:
            from tlcore.engine.memory import limit_kernel_caches

            limit_kernel_caches()  # before the first bf16 matrix product: oneDNN reads its cache size once
        spec, entry = resolve_model(model), get_method(method)
        config = entry.config_cls.from_dict({"epochs": 1, "seed": seed})
        instance = entry.method_cls(config, spec, model_folder(spec), sorted({str(y) for y in labels}))
        self.tokenizer = instance.tokenizer_for(instance.folder)
        self.model = instance.prepare(instance.base_model())
        if "eager" in self.flags:
            self.model.set_attn_implementation("eager")
        torch.manual_seed(seed)  # as _train does: dropout masks follow the seed
        self.rows = tokenize(self.tokenizer, texts, config.max_length)
        self.lengths = [len(row["input_ids"]) for row in self.rows]
        self.gold = torch.tensor(labels)
        self.config, self.rng, self.queue = config, np.random.default_rng(seed), []
        every = [int(f[4:] or 1) for f in self.flags if f.startswith("trim")]
        self.trim_every, self.steps = (every[0] if every else 0), 0
        embedding = self.model.get_input_embeddings()
        if "freeze_emb" in self.flags:
            embedding.weight.requires_grad = False
        self.kept = []
        if "keep_emb_grad" in self.flags:
            embedding.sparse = True  # the backward yields only the rows of this batch's tokens...
            embedding.weight.grad = torch.zeros_like(embedding.weight)  # ...added into a dense gradient kept for good
            self.kept = [embedding.weight]
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(self.params, config.lr, config.weight_decay)
        self.flops_per_token = 6 * sum(p.numel() for name, p in self.model.named_parameters() if "embed" not in name)

    def batches(self, n: int) -> list[np.ndarray]:
        """The next ``n`` batches, as the loop forms them (length-grouped, shuffled with the seed)."""
        from tlcore.engine.training import length_grouped_batches

        while len(self.queue) < n:
            self.queue += length_grouped_batches(self.lengths, self.config.batch_size, self.rng)
        taken, self.queue = self.queue[:n], self.queue[n:]
        return taken

    def run(self, batch: np.ndarray) -> dict:
        """One optimisation step on ``batch``; its loss, real tokens, wall and CPU seconds."""
        import torch
        from torch.profiler import record_function

        from tlcore.engine.batching import collate

        wall, cpu = time.perf_counter(), time.process_time()
        self.model.train()
        with record_function("collate"):  # named for bench/step_profile.py
            inputs = collate(self.tokenizer, [self.rows[i] for i in batch], "cpu")
        mixed = torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False, enabled="bf16" in self.flags)
        with mixed:
            logits = self.model(**inputs).logits
            loss = torch.nn.functional.cross_entropy(logits.float(), self.gold[batch], reduction="sum") / len(batch)
        with torch.autocast("cpu", enabled=False):
            loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        with record_function("zero_grads"):
            for p in self.params:  # as zero_grad(set_to_none=True), except for a kept gradient
                if any(p is kept for kept in self.kept):
                    p.grad.zero_()
                else:
                    p.grad = None
        self.steps += 1
        if self.trim_every and self.steps % self.trim_every == 0:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        return {"loss": loss.item(), "tokens": int(sum(self.lengths[i] for i in batch)),
                "padded": int(inputs["input_ids"].numel()),
                "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}

    def accuracy(self, texts: list[str], labels: list[int]) -> float:
        import torch

        from tlcore.engine.batching import collate, tokenize

        rows = tokenize(self.tokenizer, texts, self.config.max_length)
        self.model.eval()
        with torch.inference_mode():
            predicted = torch.cat([self.model(**collate(self.tokenizer, rows[i:i + 64], "cpu")).logits.argmax(1)
                                   for i in range(0, len(rows), 64)])
        return float((predicted == torch.tensor(labels)).float().mean())
