"""A plain PyTorch training loop for sequence classification that reads top to bottom.

It reports through a Callback (on_log every step, on_evaluate every epoch) and stops
cooperatively when callback.should_stop() turns True (the Cancel button).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .data import LabeledData
from .methods.base import Callback, TrainingConfig, resolve_epochs


@dataclass
class TrainingResult:
    steps: int
    epochs: int  # planned passes (after resolving "auto")
    epochs_completed: int
    stopped_early: bool  # cancelled before the last epoch
    train_seconds: float
    examples_per_second: float
    early_stopped: bool = False  # stopped because validation loss stopped improving
    best_epoch: int | None = None  # epoch whose weights were kept (early stopping)


def _batches(n: int, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def _encode(tokenizer, texts: Sequence[str], max_length: int, device: str):
    # Dynamic padding: each batch is padded only to its own longest text.
    return tokenizer(list(texts), padding=True, truncation=True, max_length=max_length,
                     return_tensors="pt").to(device)


def predict_logits(model, tokenizer, texts: Sequence[str], max_length: int, device: str,
                   batch_size: int = 64, callback: Callback | None = None):
    """Logits for texts, in input order; batches sorted by length so they pad little."""
    import torch

    model.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = None
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            if callback and callback.should_stop():
                raise InterruptedError("prediction cancelled")
            rows = order[start:start + batch_size]
            logits = model(**_encode(tokenizer, [texts[i] for i in rows], max_length, device)).logits.float().cpu()
            if out is None:
                out = torch.zeros((len(texts), logits.shape[1]))
            out[rows] = logits
            if callback:
                callback.on_progress("predicting", min(start + batch_size, len(order)), len(order))
    return out


def evaluate_loss(model, tokenizer, data: LabeledData, label_index: dict[str, int], max_length: int,
                  device: str) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on a labeled split."""
    import torch

    logits = predict_logits(model, tokenizer, data.texts, max_length, device)
    gold = torch.tensor([label_index[y] for y in data.labels])
    loss = torch.nn.functional.cross_entropy(logits, gold).item()
    accuracy = (logits.argmax(1) == gold).float().mean().item()
    return loss, accuracy


def train_classifier(model, tokenizer, train: LabeledData, val: LabeledData, labels: Sequence[str],
                     config: TrainingConfig, callback: Callback, device: str) -> TrainingResult:
    import torch

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    label_index = {label: i for i, label in enumerate(labels)}
    gold = torch.tensor([label_index[y] for y in train.labels])
    class_weight = None
    if config.class_weights == "balanced":  # n / (k * count), as scikit-learn's "balanced"
        counts = torch.bincount(gold, minlength=len(labels)).float().clamp(min=1)
        class_weight = (len(gold) / (len(labels) * counts)).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    epochs = resolve_epochs(config.epochs, len(train), config.batch_size)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total_steps = steps_per_epoch * epochs
    warmup = int(total_steps * config.warmup_ratio)

    def lr_factor(step: int) -> float:  # linear warm-up, then linear decay to zero
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    callback.on_train_begin(model)
    start = time.perf_counter()
    step, seen, epochs_done, stopped = 0, 0, 0, False
    best_loss, best_epoch, best_state, stale = float("inf"), None, None, 0
    for epoch in range(epochs):
        model.train()
        for batch in _batches(len(train), config.batch_size, rng):
            if callback.should_stop():
                stopped = True
                break
            inputs = _encode(tokenizer, [train.texts[i] for i in batch], config.max_length, device)
            logits = model(**inputs).logits
            loss = torch.nn.functional.cross_entropy(logits.float(), gold[batch].to(device), weight=class_weight)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            seen += len(batch)
            elapsed = time.perf_counter() - start
            epoch_progress = epoch + (step - epoch * steps_per_epoch) / steps_per_epoch
            callback.on_log({"step": step, "epoch": round(epoch_progress, 4),
                             "total_steps": total_steps, "train_loss": loss.item(),
                             "learning_rate": scheduler.get_last_lr()[0], "examples_per_s": seen / elapsed,
                             "elapsed": elapsed})
        if stopped:
            break
        epochs_done = epoch + 1
        if len(val):
            val_loss, val_accuracy = evaluate_loss(model, tokenizer, val, label_index, config.max_length, device)
            callback.on_evaluate({"step": step, "epoch": epochs_done, "total_steps": total_steps,
                                  "val_loss": val_loss, "val_accuracy": val_accuracy,
                                  "elapsed": time.perf_counter() - start})
            if config.early_stopping:
                if val_loss < best_loss:
                    best_loss, best_epoch, stale = val_loss, epochs_done, 0
                    best_state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
                else:
                    stale += 1
                    if stale >= config.early_stopping:
                        break
    early_stopped = bool(config.early_stopping and best_epoch is not None and best_epoch < epochs_done)
    if early_stopped:  # keep the weights of the best validation epoch
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name in best_state:
                    parameter.copy_(best_state[name])
    seconds = time.perf_counter() - start
    model.eval()
    return TrainingResult(steps=step, epochs=epochs, epochs_completed=epochs_done, stopped_early=stopped,
                          train_seconds=seconds, examples_per_second=seen / seconds if seconds else 0.0,
                          early_stopped=early_stopped, best_epoch=best_epoch if early_stopped else None)
