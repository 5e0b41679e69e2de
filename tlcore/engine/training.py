"""A plain PyTorch training loop for sequence classification that reads top to bottom.

It reports through a Callback (on_log every step, on_evaluate after every pass, or every few passes of a long
"auto" schedule: see ``plan_schedule``) and stops cooperatively when callback.should_stop() turns True (the
Cancel button).

Speed on a CPU (bench/throughput.py measures it): texts are tokenized once; each batch is padded
only to its own longest text (dynamic padding), and batches are formed from rows of similar
length (length grouping), which cuts the padding from ~45 % of the tokens to ~12 %; AdamW runs as
one fused kernel, ~10x faster than the per-tensor version on a 22M-parameter model; a batch too big
for the activation budget runs in slices; and torch gets only the cores other processes leave free
(``free_cores``, also used by the encoder and the decoder's label scoring).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from ..data import LabeledData
from ..data.labeled import MIN_VAL_ROWS
from .batching import collate, tokenize
from .callbacks import Callback
from .cpu_step import clear_gradients, eager_attention_under_bf16, keep_embedding_gradient, restore_embedding
from .memory import return_freed_memory
from .precision import backward, grad_scaler
from .runtime import free_cores, threads_worth_using


class TrainingOptions(Protocol):
    """What the loop reads from a method's config (``tlcore.methods.base.TrainingConfig`` has all of it)."""

    seed: int
    epochs: int
    lr: float
    batch_size: int
    max_length: int
    weight_decay: float
    warmup_ratio: float
    class_weights: str
    early_stopping: int

# Rows are shuffled, cut into groups of this many batches, and each group is sorted by length before
# it is cut into batches: similar lengths pad little, and every batch still comes from a random group.
LENGTH_GROUP_BATCHES = 8
PREDICT_BATCH_SIZE = 64
# On a CPU a prediction batch also holds at most this many padded tokens: 64 texts of 128 tokens were MiniLM's
# largest batch, ~260 MB of activations under DoRA and the top of a whole run's peak RSS; 2,048 tokens keep it near
# 80 MB, short texts still go 64 at a time, and the 500 test rows of sms_spam took 5.2 s of CPU instead of 7.5 (long
# rows' attention grows with their length squared). A GPU takes PREDICT_BATCH_SIZE rows whatever their length.
PREDICT_MAX_TOKENS = 2048
# Activations kept for the backward pass cost ~32 x 4 bytes per token per (layer x hidden unit) (measured:
# ~2 MB per token on SmolLM2-135M with LoRA). A batch whose padded tokens would need more than the budget runs
# in slices whose gradients add up to the batch's: same update, bounded memory (SmolLM2 stays under 3 GB).
ACTIVATION_BYTES_PER_UNIT = 32 * 4
ACTIVATION_BUDGET_BYTES = 512 * 2**20
# A model whose weights are smaller than the budget gets a budget the size of its weights, but at least this much.
# Every slice reads all the weights again, so slices must not be small next to them: SmolLM2 LoRA (540 MB of weights)
# took 15 % longer per step in slices of 106 tokens than of 213. For MiniLM (91 MB) it is the other way round:
# under 512 MB its longest batches ran whole and held ~400 MB of activations under DoRA, the largest part of a run's
# peak RSS. Slices of 455 tokens (128 MB) cost ~10 % per step on sms_spam's long batches and keep a realistic DoRA run
# near 1.0 GB instead of 1.26 (bench/README.md, "Peak memory of realistic runs"); short texts never slice.
MIN_ACTIVATION_BUDGET_BYTES = 128 * 2**20


# The "auto" schedule (epochs = 0, early_stopping = -1: the defaults). bench/defaults_grid.py chose these numbers on
# validation rows of the shared datasets, never their test rows (bench/README.md, "Defaults").
# - Enough optimisation steps for small data: the first ~60-step target (3 to 20 passes) left full fine-tuning at
#   51 % on trec at 64 per class, where 10 passes reach 91 %. Passes = AUTO_TARGET_STEPS / steps per pass, at
#   least AUTO_MIN_EPOCHS (large data) and at most AUTO_MAX_EPOCHS (8 rows per class and 2 classes is one step
#   per pass). Worst case of the step target on a 2-core CPU: 64 per class x 6 classes = 384 rows = 24 steps per
#   pass, 13 passes, 312 steps of 16 rows: ~2.5 min of MiniLM full fine-tuning at ~36 examples/s, ~1 min of IA3.
# - Early stopping on the validation split, when it has at least MIN_VAL_ROWS rows (smaller, one row moves the
#   accuracy by more than 3 points and its verdict is noise): evaluated about AUTO_MAX_EVALUATIONS times, it
#   stops after AUTO_PATIENCE evaluations below the best validation accuracy (a tie counts as progress: on a
#   plateau the decaying learning rate still helps) and restores the best evaluation's weights, so a method that
#   has converged, or begins to overfit, stops early. With fewer rows the same passes run to the end.
AUTO_TARGET_STEPS = 300
AUTO_MIN_EPOCHS = 3
AUTO_MAX_EPOCHS = 100
AUTO_MAX_EVALUATIONS = 10
AUTO_PATIENCE = 3
# Early stopping judges on at most this many validation rows (a seeded sample of a larger split): evaluating
# 1,000 rows after every pass would cost more than training 16 rows does.
EVAL_MAX_ROWS = 200


def resolve_epochs(epochs: int, n_train: int, batch_size: int) -> int:
    """The number of passes to plan: the configured one, or (0, "auto") enough for ~AUTO_TARGET_STEPS steps."""
    if epochs:
        return epochs
    steps_per_epoch = max(1, -(-n_train // batch_size))
    return min(AUTO_MAX_EPOCHS, max(AUTO_MIN_EPOCHS, -(-AUTO_TARGET_STEPS // steps_per_epoch)))


@dataclass(frozen=True)
class Schedule:
    """How a run trains: passes planned, how often it evaluates, and whether validation can stop it early."""

    epochs: int
    eval_every: int  # passes between evaluations on the validation split (the last pass is always evaluated)
    patience: int  # evaluations without progress before stopping; 0: no early stopping
    kind: str  # "auto-early-stopping", "auto-fixed", "fixed-early-stopping" or "fixed"
    note: str  # one plain sentence for the UI and metrics.json
    judged_on: str = "loss"  # progress is a lower validation loss, or ("accuracy") an as-high-or-higher accuracy


def plan_schedule(epochs: int, early_stopping: int, n_train: int, batch_size: int, n_val: int) -> Schedule:
    """The schedule a run trains with (see the AUTO_* constants).

    ``epochs`` 0 is "auto"; ``early_stopping`` -1 is "auto" (on for an auto schedule when the validation split can
    judge), 0 is off and N >= 1 is a patience of N evaluations on any non-empty validation split.

    Auto judges on validation accuracy, a tie counting as progress; a patience the user sets judges on validation
    loss, as it always did. On the grid (bench/README.md, "Defaults") the loss rises for many passes while the
    accuracy still climbs (the model grows over-confident on the few rows it trains on): stopping on the loss cost
    up to 21 points (subj, LoRA, 8 rows per class) against running the schedule to its end.
    """
    planned = resolve_epochs(epochs, n_train, batch_size)
    steps = planned * max(1, -(-n_train // batch_size))
    passes = f"{planned} passes ({steps} steps of {batch_size} rows)"
    every = 1 if epochs else max(1, planned // AUTO_MAX_EVALUATIONS)  # a long auto schedule evaluates ~10 times
    when = "after every pass" if every == 1 else f"every {every} passes"
    judged = min(n_val, EVAL_MAX_ROWS)
    if early_stopping > 0 and n_val:
        return Schedule(planned, every, early_stopping, "fixed-early-stopping" if epochs else "auto-early-stopping",
                        f"at most {passes}, evaluated {when} on {judged} validation rows; stopped after "
                        f"{early_stopping} evaluation{'s' if early_stopping > 1 else ''} without a lower loss, keeping "
                        "the best evaluation's weights.")
    if epochs:
        return Schedule(planned, every, 0, "fixed", f"{passes}, as set.")
    if early_stopping < 0 and n_val >= MIN_VAL_ROWS:
        return Schedule(planned, every, AUTO_PATIENCE, "auto-early-stopping",
                        f"auto: at most {passes}, evaluated {when} on {judged} validation rows; stopped after "
                        f"{AUTO_PATIENCE} evaluations below the best validation accuracy, keeping the best "
                        "evaluation's weights.", judged_on="accuracy")
    why = ("early stopping is off" if early_stopping == 0 else
           "no validation rows to stop early on" if not n_val else
           f"only {n_val} validation rows, fewer than the {MIN_VAL_ROWS} early stopping needs to judge")
    return Schedule(planned, every, 0, "auto-fixed", f"auto: {passes}, run to the end ({why}).")


# -- the training loop -------------------------------------------------------------------------------

@dataclass
class TrainingResult:
    steps: int
    epochs: int  # planned passes (after resolving "auto")
    epochs_completed: int
    stopped_early: bool  # cancelled before the last epoch
    train_seconds: float
    examples_per_second: float
    early_stopped: bool = False  # stopped because the validation split stopped improving
    best_epoch: int | None = None  # epoch whose weights were kept (early stopping)
    schedule: str = "fixed"  # Schedule.kind: "auto-early-stopping", "auto-fixed", "fixed-early-stopping", "fixed"
    schedule_note: str = ""  # Schedule.note: one plain sentence saying what ran and why
    tokens_seen: int = 0  # non-padding tokens trained on
    tokens_per_second: float = 0.0
    threads: int = 0  # torch threads the steps ran on


def length_grouped_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator,
                           group_batches: int = LENGTH_GROUP_BATCHES) -> list[np.ndarray]:
    """One epoch of batches: shuffled rows, sorted by length within groups, batches in random order."""
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    group = batch_size * group_batches
    batches = []
    for start in range(0, len(order), group):
        chunk = order[start:start + group]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def slice_tokens(model, device: str = "cpu") -> int:
    """How many (padded) tokens one forward/backward slice may hold within the activation budget: on a CPU the
    weights' size between MIN_ACTIVATION_BUDGET_BYTES and ACTIVATION_BUDGET_BYTES, on a CUDA GPU a quarter of its
    free memory (slicing a batch there only adds kernel launches)."""
    config = model.config
    units = getattr(config, "hidden_size", 768) * getattr(config, "num_hidden_layers", 12)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    budget = min(ACTIVATION_BUDGET_BYTES, max(MIN_ACTIVATION_BUDGET_BYTES, weights))
    if device.startswith("cuda"):
        import torch

        budget = max(budget, torch.cuda.mem_get_info(device)[0] // 4)
    return max(64, budget // (ACTIVATION_BYTES_PER_UNIT * units))


def slices(batch: np.ndarray, lengths: Sequence[int], max_tokens: int) -> list[np.ndarray]:
    """Cut a batch into equal slices whose padded size (rows x longest row) fits ``max_tokens``."""
    padded = len(batch) * max(lengths[i] for i in batch)
    parts = min(len(batch), -(-padded // max_tokens))
    return [part for part in np.array_split(batch, parts) if len(part)]


def prediction_batches(lengths: Sequence[int], batch_size: int, max_tokens: int | None) -> list[list[int]]:
    """Row indices, shortest rows first, cut into batches of at most ``batch_size`` rows and (unless None)
    ``max_tokens`` padded tokens; a row longer than ``max_tokens`` is a batch of its own."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    for i in order:  # ascending, so the row being added is the batch's longest
        if batches and len(batches[-1]) < batch_size and (
                max_tokens is None or (len(batches[-1]) + 1) * lengths[i] <= max_tokens):
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def predict_logits(model, tokenizer, texts: Sequence[str], max_length: int, device: str,
                   batch_size: int = PREDICT_BATCH_SIZE, callback: Callback | None = None):
    """Logits for texts, in input order; batches of similar token length so they pad little, within
    PREDICT_MAX_TOKENS on a CPU."""
    import torch

    model.eval()
    rows = tokenize(tokenizer, texts, max_length)
    max_tokens = None if device.startswith("cuda") else PREDICT_MAX_TOKENS
    batches = prediction_batches([len(row["input_ids"]) for row in rows], batch_size, max_tokens)
    out, done = None, 0
    with torch.inference_mode(), free_cores():
        for batch in batches:
            if callback and callback.should_stop():
                raise InterruptedError("prediction cancelled")
            logits = model(**collate(tokenizer, [rows[i] for i in batch], device)).logits.float().cpu()
            if out is None:
                out = torch.zeros((len(texts), logits.shape[1]))
            out[batch] = logits
            done += len(batch)
            if callback:
                callback.on_progress("predicting", done, len(texts))
    return_freed_memory()  # the pass's activations, of many shapes, are free now: ~35 MB off a DoRA run's peak
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


def make_optimizer(params, lr: float, weight_decay: float):
    """AdamW as one fused kernel where torch has it (CPU and CUDA, float weights), else per tensor."""
    import torch

    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):  # e.g. a device or dtype the fused kernel lacks
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def train_classifier(model, tokenizer, train: LabeledData, val: LabeledData, labels: Sequence[str],
                     config: TrainingOptions, callback: Callback, device: str) -> TrainingResult:
    """Fine-tune ``model`` on ``train``, evaluating on ``val`` after every epoch.

    The torch threads are chosen again at the start of every epoch (``thread_budget``): a run that started
    while other work held a core would otherwise keep one thread for all its epochs after the machine became
    idle (two SmolLM2 cells of the method table did, for 20-30 minutes each). ``threads`` in the result is the
    fewest any epoch ran on.

    On a CPU the step keeps the embeddings' gradient between steps and, under bf16, computes attention eagerly
    (tlcore.engine.cpu_step); the model is handed back as it came.
    """
    import torch

    wanted, used = torch.get_num_threads(), []

    def choose_threads() -> None:
        torch.set_num_threads(threads_worth_using(wanted))
        used.append(torch.get_num_threads())

    kept = keep_embedding_gradient(model, device)
    try:
        with eager_attention_under_bf16(model, device):
            result = _train(model, tokenizer, train, val, labels, config, callback, device, choose_threads, kept)
    finally:
        restore_embedding(model, kept)
        torch.set_num_threads(wanted)
    result.threads = min(used, default=wanted)
    return result


def _train(model, tokenizer, train: LabeledData, val: LabeledData, labels: Sequence[str],
           config: TrainingOptions, callback: Callback, device: str,
           choose_threads: Callable[[], None] = lambda: None, kept_gradient=None) -> TrainingResult:
    import torch

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    label_index = {label: i for i, label in enumerate(labels)}
    gold = torch.tensor([label_index[y] for y in train.labels])
    rows = tokenize(tokenizer, train.texts, config.max_length)  # once, not once per epoch
    lengths = [len(row["input_ids"]) for row in rows]
    class_weight = None
    if config.class_weights == "balanced":  # n / (k * count), as scikit-learn's "balanced"
        counts = torch.bincount(gold, minlength=len(labels)).float().clamp(min=1)
        class_weight = (len(gold) / (len(labels) * counts)).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(params, config.lr, config.weight_decay)
    schedule = plan_schedule(config.epochs, config.early_stopping, len(train), config.batch_size, len(val))
    epochs = schedule.epochs
    judge = _judging_rows(val, config.seed)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total_steps = steps_per_epoch * epochs
    warmup = int(total_steps * config.warmup_ratio)

    def lr_factor(step: int) -> float:  # linear warm-up, then linear decay to zero
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    scaler = grad_scaler(device)  # fp16 mixed precision only: scaled losses, so small gradients do not underflow
    max_tokens = slice_tokens(model, device)
    weights = class_weight.cpu()[gold] if class_weight is not None else torch.ones(len(gold))
    callback.on_train_begin(model)
    start = time.perf_counter()
    step, seen, tokens, epochs_done, stopped = 0, 0, 0, 0, False
    best_loss, best_accuracy, best_epoch, best_state, stale = float("inf"), -1.0, None, None, 0
    for epoch in range(epochs):
        choose_threads()
        model.train()
        for batch in length_grouped_batches(lengths, config.batch_size, rng):
            if callback.should_stop():
                stopped = True
                break
            # The batch's (weighted) mean loss, as a sum over slices: each slice's backward adds its share.
            denominator = weights[batch].sum().item()
            loss_value = 0.0
            for part in slices(batch, lengths, max_tokens):
                inputs = collate(tokenizer, [rows[i] for i in part], device)
                logits = model(**inputs).logits
                loss = torch.nn.functional.cross_entropy(logits.float(), gold[part].to(device), weight=class_weight,
                                                         reduction="sum") / denominator
                backward(loss, device, scaler)
                loss_value += loss.item()
            if scaler:
                scaler.unscale_(optimizer)  # clip the true gradients; the scaler skips a step whose are not finite
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            scheduler.step()
            clear_gradients(params, kept_gradient)
            step += 1
            seen += len(batch)
            tokens += sum(lengths[i] for i in batch)
            elapsed = time.perf_counter() - start
            epoch_progress = epoch + (step - epoch * steps_per_epoch) / steps_per_epoch
            callback.on_log({"step": step, "epoch": round(epoch_progress, 4),
                             "total_steps": total_steps, "train_loss": loss_value,
                             "learning_rate": scheduler.get_last_lr()[0], "examples_per_s": seen / elapsed,
                             "tokens_per_s": tokens / elapsed, "tokens": tokens, "elapsed": elapsed})
        if stopped:
            break
        epochs_done = epoch + 1
        if len(judge) and (epochs_done % schedule.eval_every == 0 or epochs_done == epochs):
            val_loss, val_accuracy = evaluate_loss(model, tokenizer, judge, label_index, config.max_length, device)
            callback.on_evaluate({"step": step, "epoch": epochs_done, "total_steps": total_steps,
                                  "val_loss": val_loss, "val_accuracy": val_accuracy,
                                  "elapsed": time.perf_counter() - start})
            if schedule.patience:  # counted in evaluations, which may be several passes apart
                progress = val_accuracy >= best_accuracy if schedule.judged_on == "accuracy" else val_loss < best_loss
                if progress:
                    best_loss, best_accuracy, best_epoch, stale = val_loss, val_accuracy, epochs_done, 0
                    best_state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
                else:
                    stale += 1
                    if stale >= schedule.patience:
                        break
    early_stopped = bool(schedule.patience and best_epoch is not None and best_epoch < epochs_done)
    if early_stopped:  # keep the weights of the best validation epoch
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name in best_state:
                    parameter.copy_(best_state[name])
    seconds = time.perf_counter() - start
    model.eval()
    return TrainingResult(steps=step, epochs=epochs, epochs_completed=epochs_done, stopped_early=stopped,
                          train_seconds=seconds, examples_per_second=seen / seconds if seconds else 0.0,
                          early_stopped=early_stopped, best_epoch=best_epoch if early_stopped else None,
                          tokens_seen=tokens, tokens_per_second=tokens / seconds if seconds else 0.0,
                          schedule=schedule.kind, schedule_note=schedule.note)


def _judging_rows(val: LabeledData, seed: int) -> LabeledData:
    """The validation rows evaluated during training: all of them, or a seeded sample of EVAL_MAX_ROWS."""
    if len(val) <= EVAL_MAX_ROWS:
        return val
    rows = np.sort(np.random.default_rng(seed).choice(len(val), EVAL_MAX_ROWS, replace=False))
    return LabeledData([val.texts[i] for i in rows], [val.labels[i] for i in rows])
