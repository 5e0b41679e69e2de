"""Would sequence packing pay on a CPU? MiniLM's forward + backward on the same texts, padded vs packed.

`.venv/bin/python bench/packing.py [--attention eager|sdpa] [--threads 1] [--dataset rt_polarity]`

Padded is today's loop: 16 texts a batch, length-grouped, each padded to the batch's longest. Packed puts several
texts in one row of at most C tokens (first fit, longest first), with positions restarting at every text and a
block-diagonal attention mask (a text sees only itself), and classifies each text from its own first token: the
same function of each text as the padded model computes. Packed rows pad only to the fullest row, but attention
then runs over C x C scores per row instead of ~L x L per text. Both run in bf16 autocast, interleaved batch by
batch in this process; times are CPU seconds (robust on a shared machine with one thread). The optimizer step is
the same for both and left out.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from train_step import Step, texts_and_labels  # noqa: E402


def packed_inputs(rows: list[dict], lengths: list[int], batch, capacity: int):
    """(input ids, position ids, additive 4-D mask, [(row, first token, text index)]) of ``batch`` packed into
    rows of at most ``capacity`` tokens."""
    import torch

    bins: list[list] = []  # [filled tokens, [text indices]]
    for i in sorted(batch, key=lambda i: -lengths[i]):
        free = next((b for b in bins if b[0] + lengths[i] <= capacity), None)
        if free is None:
            free = [0, []]
            bins.append(free)
        free[0] += lengths[i]
        free[1].append(i)
    width = max(b[0] for b in bins)
    ids = torch.zeros(len(bins), width, dtype=torch.long)
    positions = torch.zeros_like(ids)
    segment = torch.full((len(bins), width), -1)
    firsts = []
    for r, (_, members) in enumerate(bins):
        at = 0
        for k, i in enumerate(members):
            n = lengths[i]
            ids[r, at:at + n] = torch.tensor(rows[i]["input_ids"])
            positions[r, at:at + n] = torch.arange(n)
            segment[r, at:at + n] = k
            firsts.append((r, at, i))
            at += n
    allowed = (segment[:, :, None] == segment[:, None, :]) & (segment[:, :, None] >= 0)
    allowed |= torch.eye(width, dtype=torch.bool)  # a padding position sees itself: no softmax over nothing
    mask = torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min)[:, None]
    return ids, positions, mask, firsts


def packed_loss(step: Step, batch, capacity: int):
    """The classifier's loss on ``batch`` computed on packed rows (BERT-style encoder with a pooler)."""
    import torch

    model = step.model
    body = model.base_model
    ids, positions, mask, firsts = packed_inputs(step.rows, step.lengths, batch, capacity)
    hidden = body.embeddings(input_ids=ids, position_ids=positions)
    for layer in body.encoder.layer:
        hidden = layer(hidden, attention_mask=mask)
        hidden = hidden[0] if isinstance(hidden, tuple) else hidden
    first = hidden[[r for r, _, _ in firsts], [a for _, a, _ in firsts]]
    logits = model.classifier(model.dropout(body.pooler.activation(body.pooler.dense(first))))
    gold = step.gold[[i for _, _, i in firsts]]
    return torch.nn.functional.cross_entropy(logits.float(), gold), ids.numel()


def padded_loss(step: Step, batch):
    import torch

    from tlcore.engine.batching import collate

    inputs = collate(step.tokenizer, [step.rows[i] for i in batch], "cpu")
    logits = step.model(**inputs).logits
    return torch.nn.functional.cross_entropy(logits.float(), step.gold[batch]), inputs["input_ids"].numel()


def measure(attention: str, dataset: str, repeats: int = 2) -> list[dict]:
    import torch

    texts, labels = texts_and_labels(208, dataset)
    step = Step(f"bf16{',eager' if attention == 'eager' else ''}", texts, labels)
    step.model.train()
    grouped = step.batches(len(texts) // 16)
    shuffled = np.random.default_rng(1).permutation(len(texts))
    ungrouped = [shuffled[i:i + 16] for i in range(0, len(shuffled), 16)]  # packing needs no length grouping
    variants = {"padded, length-grouped (today)": lambda b, _: padded_loss(step, b),
                "packed 64, length-grouped": lambda b, _: packed_loss(step, b, 64),
                "packed 128, length-grouped": lambda b, _: packed_loss(step, b, 128),
                "packed 64, random batches": lambda _, r: packed_loss(step, r, 64),
                "packed 128, random batches": lambda _, r: packed_loss(step, r, 128)}
    seconds = {name: 0.0 for name in variants}
    cells = {name: 0 for name in variants}
    for rep in range(repeats + 1):  # the first round warms up
        for batch, other in zip(grouped, ungrouped):
            for name, loss_of in variants.items():
                start = time.process_time()
                with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False):
                    loss, n = loss_of(batch, other)
                loss.backward()
                step.model.zero_grad(set_to_none=True)
                if rep:
                    seconds[name] += time.process_time() - start
                    cells[name] += n
    real = repeats * sum(step.lengths)
    base = seconds["padded, length-grouped (today)"]
    batches = repeats * len(grouped)
    return [{"layout": name, "attention": attention, "cpu_ms_per_batch": 1000 * seconds[name] / batches,
             "vs_today": seconds[name] / base, "token_overhead": cells[name] / real - 1} for name in variants]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attention", default="eager", choices=("eager", "sdpa"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dataset", default="rt_polarity", choices=sorted(common.DATASET_FILES))
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(common.markdown_table(measure(args.attention, args.dataset), [
        ("layout", "layout"), ("attention", "attention"), ("cpu_ms_per_batch", "CPU ms per forward + backward"),
        ("vs_today", "× today"), ("token_overhead", "token slots beyond the real tokens")]))


if __name__ == "__main__":
    main()
