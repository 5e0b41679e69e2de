"""Domain-adaptive pre-training: continue a base model's own pre-training objective on unlabeled texts of the
user's domain, and save the result as a new local base model that every method can use.

Encoders continue masked-language modelling (15 % of the tokens hidden and predicted from their context, as BERT
was trained); decoders continue next-token prediction. Either every weight trains ("full-weights") or LoRA adapters
do, merged into the weights at the end ("lora-merged"), so the result is always a plain Hugging Face folder.

The bundled minilm folder is a bare BertModel: its masked-LM head was dropped when it became a sentence encoder.
transformers rebuilds the head with its output layer tied to the word embeddings, so only a 384x384 transform, a
LayerNorm and a bias start random. A random transform would push large, meaningless gradients into the encoder in
the first steps, so a new head trains alone first (``head_warmup`` steps, the body frozen), and keeps a larger
learning rate than the body afterwards. Measured on 4,659 SMS texts (bench/adapt.py): the held-out loss falls from
10.9 (chance: ln 30,522 = 10.3, plus a confident random head) to 7.0 in the 40 head steps (the sentence-tuned last
layer keeps only part of each token's identity), then to 5.0 in 300 steps of the body's adaptation.

The saved folder is the base folder with its weights replaced: the same config.json, tokenizer and
sentence-transformers files (so embeddings keep the base's pooling recipe), and every tensor of the base that the
objective does not train (BERT's pooler, a classifier) kept as it was. ``tlcore_adapted.json`` records how it was
made; it is written to a hidden temporary folder beside the target and renamed at the end, so a half-written
model is never listed.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ConfigError, DatasetError, ModelError, ResourceError
from .callbacks import Callback
from .models import ADAPTED_INFO, ModelSpec, adapted_dir, model_folder, parameters_on_disk, resolve_model
from .training import length_grouped_batches, make_optimizer, slice_tokens, slices

ADAPTED_FILE = ADAPTED_INFO  # "tlcore_adapted.json": the catalog lists folders that have one
MODES = ("full-weights", "lora-merged")  # every weight trains / LoRA adapters train and are merged at the end
OBJECTIVES = {"encoder": "masked-lm", "decoder": "causal-lm"}
# Fewer texts than this teach a model nothing about a domain that the data's own labeled rows would not, and the
# held-out loss that shows whether it learned anything would rest on a handful of texts.
MIN_TEXTS = 100
HOLDOUT_MAX = 64  # texts kept out of training to measure the loss before and after (at most 5 % of them)
MIN_CHARACTERS = 3  # shorter texts (after cleaning) are dropped: "ok", "?" teach no domain
MAX_NAME = 80
HEAD_LR = 1e-3
# Files of the base folder that make the adapted folder load like it (weights are written anew; the model card and
# git attributes belong to the base). The sentence-transformers module folders are copied by modules.json.
_SKIP_FILES = re.compile(r".*\.(safetensors|bin|pt|pth|h5|msgpack|onnx|gguf|ckpt)$|.*\.index\.json$|README\.md$"
                         r"|\.gitattributes$")


@dataclass
class AdaptConfig:
    """How a base model continues pre-training. The defaults (40 head steps, then 300 steps of 32 texts: ~2 passes
    over 5,000 texts) took 3.6 min with minilm on a 2-core CPU, 12 min while other jobs shared it (bench/adapt.py)."""

    steps: int = field(default=300, metadata={"help": "Optimisation steps (batches of texts); ignored when epochs "
                                                      "is set.", "min": 1, "max": 1_000_000})
    epochs: int = field(default=0, metadata={"help": "Passes over the texts instead of a number of steps (0: use "
                                                     "steps).", "min": 0, "max": 100})
    lr: float = field(default=0.0, metadata={"help": "Peak learning rate (AdamW, linear warm-up then decay); 0: "
                                                     "5e-5 for full-weights, 5e-4 for lora-merged.",
                                             "min": 0.0, "max": 1.0})
    batch_size: int = field(default=32, metadata={"help": "Texts per step.", "min": 1, "max": 1024})
    max_length: int = field(default=128, metadata={"help": "Tokens per text; longer texts are cut.",
                                                   "min": 8, "max": 8192})
    mask_probability: float = field(default=0.15, metadata={"help": "Masked-LM only: share of tokens hidden and "
                                                                    "predicted (BERT's 15 %).", "min": 0.01,
                                                            "max": 0.5})
    head_warmup: int = field(default=40, metadata={"help": "Masked-LM only: steps that train a new (random) "
                                                           "prediction head alone before the body adapts; not "
                                                           "counted in steps.", "min": 0, "max": 10_000})
    mode: str = field(default="full-weights", metadata={"help": "full-weights: every weight trains. lora-merged: "
                                                                "LoRA adapters train and are merged into the "
                                                                "weights.", "choices": MODES})
    lora_r: int = field(default=16, metadata={"help": "lora-merged only: rank of the adapters.", "min": 1,
                                              "max": 256})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay.", "min": 0.0, "max": 1.0})
    warmup_ratio: float = field(default=0.06, metadata={"help": "Share of steps that warm the learning rate up.",
                                                        "min": 0.0, "max": 0.5})
    seed: int = field(default=0, metadata={"help": "Seed for the held-out texts, shuffling and masking.",
                                           "min": 0, "max": 2**32 - 1})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda, cuda:N or mps."})

    def __post_init__(self) -> None:
        for f in fields(self):
            value, low, high = getattr(self, f.name), f.metadata.get("min"), f.metadata.get("max")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if isinstance(value, float) and not math.isfinite(value):
                    raise ConfigError(f"{f.name} must be a finite number, got {value}.")
                if (low is not None and value < low) or (high is not None and value > high):
                    raise ConfigError(f"{f.name} must be between {low} and {high}, got {value}.")
        self.mode = mode_named(self.mode)

    @property
    def learning_rate(self) -> float:
        return self.lr or (5e-5 if self.mode == MODES[0] else 5e-4)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "AdaptConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown adaptation option {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
        return cls(**values)


def mode_named(text: str) -> str:
    """The mode ``text`` names: its full name or an unambiguous start of it ("full", "lora")."""
    found = [mode for mode in MODES if mode.startswith(str(text).strip().lower())] if str(text).strip() else []
    if len(found) != 1:
        raise ConfigError(f"adaptation mode {text!r} is not one of {', '.join(MODES)} (or a start of one, such "
                          "as full or lora).")
    return found[0]


@dataclass
class AdaptResult:
    """What an adaptation produced (also the content of ``tlcore_adapted.json`` plus the folder)."""

    folder: str
    record: dict

    def to_dict(self) -> dict:
        return {"folder": self.folder, "slug": Path(self.folder).name, **self.record}


# -- checks that need no model ---------------------------------------------------------------------------------

def clean_texts(texts: Sequence) -> list[str]:
    """Texts as training sees them: whitespace collapsed, blanks and near-empty texts dropped, repeats kept once
    (a text repeated 100 times in a ticket queue would otherwise be learned by heart), order kept."""
    cleaned = (" ".join(str(text).split()) for text in texts if text is not None and not _is_missing(text))
    return list(dict.fromkeys(text for text in cleaned if len(text) >= MIN_CHARACTERS))


def _is_missing(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def slug_for(name: str) -> str:
    """The folder name of an adapted model: "minilm + support tickets" -> "minilm-support-tickets"."""
    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")[:MAX_NAME]


def check_name(name: str, root: Path | None = None) -> str:
    """The cleaned name, or ConfigError when it cannot name a new adapted model in ``root``."""
    name = " ".join(str(name).split())
    if not name or len(name) > MAX_NAME:
        raise ConfigError(f"the adapted model needs a name of 1 to {MAX_NAME} characters, got {len(name)}; e.g. "
                          "'minilm + support tickets'.")
    slug = slug_for(name)
    if not slug:
        raise ConfigError(f"the name {name!r} has no letters or digits to make a folder name from; add some.")
    from .models import BUNDLED

    if slug in BUNDLED or name in BUNDLED:
        raise ConfigError(f"{name!r} is the name of a bundled model; give the adapted model a name of its own.")
    if ((root or adapted_dir()) / slug).exists():
        raise ConfigError(f"an adapted model named {name!r} (folder {slug}) already exists in "
                          f"{root or adapted_dir()}; choose another name or delete that folder.")
    return name


def check_adaptable(spec: ModelSpec, folder: str | Path) -> str:
    """The objective the model continues (masked-lm or causal-lm), or ModelError saying why it cannot, read from
    its config.json and tokenizer files, before any weight loads."""
    from transformers.models.auto import modeling_auto

    from .architectures import read_architecture
    from .sentence_config import read_sentence_config

    objective = OBJECTIVES[spec.kind]
    architecture = read_architecture(folder)
    mapping = (modeling_auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES if objective == "masked-lm"
               else modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)
    if architecture.model_type not in mapping:
        raise ModelError(f"{spec.name} ({architecture.described}) cannot continue {objective} pre-training: "
                         f"transformers has no {objective} head for {architecture.model_type!r} models. Adapt a "
                         f"{'BERT-like encoder' if objective == 'masked-lm' else 'causal decoder'} instead.")
    if objective == "masked-lm":
        recipe = read_sentence_config(folder)
        if recipe.transformer_path or recipe.delegate:
            raise ModelError(f"{spec.name} keeps its transformer in a sub-folder or uses sentence-transformers "
                             f"modules beyond pooling ({' -> '.join(recipe.modules)}); adapting it would lose "
                             "them. Adapt a folder whose transformer sits at its top (Transformer -> Pooling).")
        if not _has_mask_token(Path(folder)):
            raise ModelError(f"the tokenizer of {spec.name} has no mask token, which masked-LM pre-training needs.")
    return objective


def _has_mask_token(folder: Path) -> bool:
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        try:
            config = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if config.get("mask_token"):
            return True
        added = config.get("added_tokens_decoder") or {}
        if any("mask" in str(entry.get("content", "")).lower() for entry in added.values()):
            return True
    return False


def check_texts(texts: Sequence) -> list[str]:
    """The cleaned texts, or DatasetError when too few remain."""
    cleaned = clean_texts(texts)
    if len(cleaned) < MIN_TEXTS:
        raise DatasetError(f"domain adaptation needs at least {MIN_TEXTS} distinct texts of {MIN_CHARACTERS} or "
                           f"more characters; found {len(cleaned)} (of {len(texts)} given, after removing blanks "
                           "and repeats). Add more unlabeled texts of your domain (the rest of the queue, older "
                           "reviews, ...).")
    return cleaned


def texts_from_frame(frame, column: str | None = None, name: str = "the texts file") -> list:
    """The column of texts of a table: ``column``, else one named "text", else the one with the longest cells
    (an unlabeled file may have a single column)."""
    columns = [str(c) for c in frame.columns]
    if column is None:
        if not columns:
            raise DatasetError(f"{name} has no columns; give a table with a column of texts.")
        lengths = {c: frame[c].astype(str).str.len().mean() for c in frame.columns}
        column = "text" if "text" in columns else str(max(frame.columns, key=lambda c: lengths[c]))
    if column not in columns:
        raise DatasetError(f"{name} has no column {column!r}; the columns found are: {', '.join(columns)}. "
                           "Choose one with --text-column.")
    return frame[column].tolist()


def plan_steps(config: AdaptConfig, n_train: int) -> int:
    """Optimisation steps of the body (the head warm-up is extra)."""
    if config.epochs:
        return config.epochs * max(1, -(-n_train // config.batch_size))
    return config.steps


# -- adapting ---------------------------------------------------------------------------------------------------

def adapt_model(model: str, texts: Sequence, config: AdaptConfig | None = None, name: str | None = None,
                source: str = "", callback: Callback | None = None, root: str | Path | None = None) -> AdaptResult:
    """Continue pre-training ``model`` (a catalog name or a folder) on ``texts`` and save it as
    ``root/<slug of name>/`` (default ``adapted_dir()``). Cheap checks first (name, texts, the model's
    architecture, memory); ``callback.should_stop()`` cancels (InterruptedError, nothing saved)."""
    config = config or AdaptConfig()
    callback = callback or Callback()
    root = Path(root) if root else adapted_dir()
    spec = resolve_model(model)
    name = check_name(name or default_name(model, source), root)
    cleaned = check_texts(texts)
    folder = model_folder(spec)
    objective = check_adaptable(spec, folder)
    _check_memory(folder, config)
    started = time.time()
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(cleaned))
    n_holdout = min(HOLDOUT_MAX, len(cleaned) // 20)
    held_out = [cleaned[i] for i in order[:n_holdout]]
    train = [cleaned[i] for i in order[n_holdout:]]
    trained = _train(folder, objective, train, held_out, config, callback)
    base = Path(spec.name).name if getattr(spec, "source", "folder") == "folder" and spec.path else spec.name
    record = {"name": name, "base": base, "base_path": str(folder),
              "kind": spec.kind, "objective": objective, "mode": config.mode, "texts": len(train),
              "held_out_texts": len(held_out), "steps": trained["steps"], "head_warmup_steps": trained["head_steps"],
              "final_loss": trained["final_loss"], "held_out_loss": trained["held_out_loss"],
              "seconds": round(time.time() - started, 1), "created": time.time(), "source": source,
              "config": config.to_dict()}
    target = _save(trained["model"], trained["body_prefix"], folder, root, slug_for(name), record)
    return AdaptResult(folder=str(target), record=record)


def default_name(model: str, source: str) -> str:
    """"minilm + support tickets" from the model and the texts' file name."""
    base = Path(model).name if ("/" in model or "\\" in model) else model
    stem = Path(source).stem.replace("_", " ").replace("-", " ").strip() if source else "my texts"
    return f"{base} + {' '.join(stem.split()) or 'my texts'}"[:MAX_NAME]


def _check_memory(folder: Path, config: AdaptConfig) -> None:
    from .resources import estimate_memory

    params = parameters_on_disk(folder) or 0
    trainable = params if config.mode == MODES[0] else params // 50
    estimate = estimate_memory(params, trainable)
    if not estimate.fits:
        raise ResourceError(estimate.message("adapting this model").replace(
            "method that trains fewer weights (linear-probe, LoRA)", "the lora-merged mode"))


def _load(folder: Path, objective: str, config: AdaptConfig, device: str):
    """(model, tokenizer, head parameters that start random, the body's attribute name)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    from .models import SAFE_LOAD, quiet_transformers

    quiet_transformers()
    torch.manual_seed(config.seed)  # the new head's initialisation
    auto = AutoModelForMaskedLM if objective == "masked-lm" else AutoModelForCausalLM
    model, info = auto.from_pretrained(str(folder), dtype=torch.float32, output_loading_info=True, **SAFE_LOAD)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))  # our own copy: its padding side is changed below
    tokenizer.padding_side = "right"  # causal LM: positions count from the first token
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    prefix = model.base_model_prefix
    missing = set(info.get("missing_keys") or ())
    new_head = [p for n, p in model.named_parameters() if n in missing and not n.startswith(f"{prefix}.")]
    return model.to(device), tokenizer, new_head, prefix


def _with_lora(model, prefix: str, config: AdaptConfig, head: list):
    """The model with LoRA adapters on every linear layer of its body (never the output head); a new head stays
    trainable."""
    import torch
    from peft import LoraConfig, get_peft_model

    targets = [name for name, module in model.named_modules()
               if isinstance(module, torch.nn.Linear) and name.startswith(f"{prefix}.")]
    wrapped = get_peft_model(model, LoraConfig(r=config.lora_r, lora_alpha=2 * config.lora_r, lora_dropout=0.0,
                                               target_modules=targets))
    for parameter in head:
        parameter.requires_grad_(True)
    return wrapped


def _train(folder: Path, objective: str, train: list[str], held_out: list[str], config: AdaptConfig,
           callback: Callback) -> dict:
    import torch

    from .batching import tokenize
    from .models import choose_device
    from .runtime import threads_worth_using

    device = choose_device(config.device)
    model, tokenizer, head, prefix = _load(folder, objective, config, device)
    rows = tokenize(tokenizer, _with_eos(train, tokenizer, objective), config.max_length)
    held = tokenize(tokenizer, _with_eos(held_out, tokenizer, objective), config.max_length)
    lengths = [len(row["input_ids"]) for row in rows]
    loss_of = _LossFunction(model, tokenizer, objective, prefix, config, device)
    if config.mode == MODES[1]:
        model = _with_lora(model, prefix, config, head)
    head_steps = config.head_warmup if (objective == "masked-lm" and head) else 0
    steps = plan_steps(config, len(rows))
    total = head_steps + steps
    rng = np.random.default_rng(config.seed + 1)
    batches: list[np.ndarray] = []
    wanted = torch.get_num_threads()
    adapt_params = [p for p in model.parameters() if p.requires_grad]  # all weights, or LoRA + a new head
    held_out_loss = {"before": loss_of.held_out(model, held)}
    callback.on_evaluate({"step": 0, "total_steps": total, "val_loss": held_out_loss["before"], "elapsed": 0.0})
    callback.on_train_begin(model)
    start, step, tokens, last_loss = time.perf_counter(), 0, 0, float("nan")
    try:
        for phase, phase_steps in (("after_head_warmup", head_steps), ("after", steps)):
            if not phase_steps:
                continue
            # The head warm-up trains the new head alone (the body frozen, so it gets no gradient to keep).
            params = head if phase == "after_head_warmup" else adapt_params
            trainable = {id(p) for p in params}
            for parameter in model.parameters():
                parameter.requires_grad_(id(parameter) in trainable)
            model.zero_grad(set_to_none=True)
            # A new head keeps its own, larger learning rate throughout: it starts far from any optimum; the body
            # moves gently, so that it keeps what it knows.
            head_ids = {id(p) for p in head}
            groups = [{"params": [p for p in params if id(p) in head_ids], "lr": HEAD_LR, "weight_decay": 0.0},
                      {"params": [p for p in params if id(p) not in head_ids], "lr": config.learning_rate}]
            optimizer = make_optimizer([g for g in groups if g["params"]], config.learning_rate, config.weight_decay)
            warmup = int(phase_steps * config.warmup_ratio)
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s, n=phase_steps, w=warmup: (
                (s + 1) / w if s < w else max(0.0, (n - s) / max(1, n - w))))
            model.train()
            for _ in range(phase_steps):
                if step % 50 == 0:  # the cores other processes leave free, chosen again now and then
                    torch.set_num_threads(threads_worth_using(wanted))
                if callback.should_stop():
                    raise InterruptedError("adaptation cancelled")
                if not batches:
                    batches = length_grouped_batches(lengths, config.batch_size, rng)
                batch = batches.pop()
                last_loss = loss_of.step(model, [rows[i] for i in batch], params, lengths, batch)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                tokens += sum(lengths[i] for i in batch)
                elapsed = time.perf_counter() - start
                callback.on_log({"step": step, "total_steps": total,
                                 "phase": "head" if phase == "after_head_warmup" else "adapt",
                                 "train_loss": last_loss, "learning_rate": scheduler.get_last_lr()[-1],
                                 "tokens": tokens, "tokens_per_s": tokens / elapsed, "elapsed": elapsed,
                                 "epoch": round(step * config.batch_size / max(1, len(rows)), 4)})
            held_out_loss[phase] = loss_of.held_out(model, held)
            callback.on_evaluate({"step": step, "total_steps": total, "val_loss": held_out_loss[phase],
                                  "elapsed": time.perf_counter() - start})
    finally:
        torch.set_num_threads(wanted)
    model.eval()
    if config.mode == MODES[1]:
        model = model.merge_and_unload()  # LoRA folded into the weights: a plain model every method can load
    return {"model": model, "body_prefix": prefix, "steps": steps, "head_steps": head_steps,
            "final_loss": last_loss, "held_out_loss": {k: round(v, 4) for k, v in held_out_loss.items()}}


def _with_eos(texts: list[str], tokenizer, objective: str) -> list[str]:
    """A decoder also learns where a text ends."""
    if objective == "causal-lm" and tokenizer.eos_token:
        return [text + tokenizer.eos_token for text in texts]
    return texts


class _LossFunction:
    """The objective's loss of a batch: mean cross-entropy over its target tokens (masked tokens, or every next
    token), summed over slices that fit the activation budget."""

    def __init__(self, model, tokenizer, objective: str, prefix: str, config: AdaptConfig, device: str) -> None:
        import torch

        self.tokenizer, self.objective, self.prefix, self.config, self.device = (
            tokenizer, objective, prefix, config, device)
        self.max_tokens = slice_tokens(model, device)
        self.generator = torch.Generator().manual_seed(config.seed + 2)
        self.special = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
        self.vocab = len(tokenizer)

    def _pad(self, rows: list[dict]) -> dict:
        import torch

        width = max(len(row["input_ids"]) for row in rows)
        batch = {}
        for key in rows[0]:
            fill = self.tokenizer.pad_token_id if key == "input_ids" else 0
            batch[key] = torch.tensor([row[key] + [fill] * (width - len(row[key])) for row in rows])
        return batch

    def _targets(self, batch: dict, generator) -> dict:
        """Inputs and labels (-100 where nothing is predicted). Masked LM: of the tokens picked, 80 % become the
        mask token, 10 % a random token, 10 % stay (BERT's recipe, so the model cannot rely on seeing [MASK])."""
        import torch

        ids = batch["input_ids"]
        real = batch["attention_mask"].bool()
        if self.objective == "causal-lm":
            return {**batch, "labels": ids.masked_fill(~real, -100)}
        candidates = real & ~torch.isin(ids, self.special)
        picked = (torch.rand(ids.shape, generator=generator) < self.config.mask_probability) & candidates
        labels = ids.masked_fill(~picked, -100)
        roll = torch.rand(ids.shape, generator=generator)
        masked = ids.masked_fill(picked & (roll < 0.8), self.tokenizer.mask_token_id)
        swap = picked & (roll >= 0.8) & (roll < 0.9)
        masked = torch.where(swap, torch.randint(self.vocab, ids.shape, generator=generator), masked)
        return {**batch, "input_ids": masked, "labels": labels}

    def _loss_sum(self, model, inputs: dict):
        """(summed cross-entropy, number of target tokens)."""
        import torch

        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        labels = inputs.pop("labels")
        if self.objective == "causal-lm":
            logits = model(**inputs).logits[:, :-1]
            labels = labels[:, 1:]
            keep = labels != -100
            return (torch.nn.functional.cross_entropy(logits[keep].float(), labels[keep], reduction="sum"),
                    int(keep.sum()))
        keep = labels != -100
        inner = model.get_base_model() if hasattr(model, "get_base_model") else model
        if hasattr(inner, "cls"):  # BERT family: the head only on masked tokens, ~7x less vocabulary projection
            hidden = getattr(inner, self.prefix)(**inputs).last_hidden_state
            logits = inner.cls(hidden[keep])
        else:
            logits = model(**inputs).logits[keep]
        return torch.nn.functional.cross_entropy(logits.float(), labels[keep], reduction="sum"), int(keep.sum())

    def step(self, model, rows: list[dict], params: list, lengths, batch) -> float:
        """Forward and backward one batch (in slices); returns its mean loss. The optimizer step is the caller's."""
        import torch

        targets = self._targets(self._pad(rows), self.generator)
        count = int((targets["labels"] != -100).sum())
        if self.objective == "causal-lm":  # the first token of each text is never a target
            count = int((targets["labels"][:, 1:] != -100).sum())
        total = 0.0
        position = {int(i): k for k, i in enumerate(batch)}
        for part in slices(batch, lengths, self.max_tokens):
            index = torch.tensor([position[int(i)] for i in part])
            piece = {k: v[index] for k, v in targets.items()}
            width = int(piece["attention_mask"].sum(1).max())
            piece = {k: v[:, :width] for k, v in piece.items()}
            loss, _ = self._loss_sum(model, piece)
            loss = loss / max(1, count)
            loss.backward()
            total += loss.item()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        return total

    def held_out(self, model, rows: list[dict]) -> float:
        """Mean loss on the held-out texts, with the same masks every time (a fixed generator): before and after
        are comparable."""
        import torch

        if not rows:
            return float("nan")
        model.eval()
        generator = torch.Generator().manual_seed(self.config.seed + 3)
        total, count = 0.0, 0
        with torch.inference_mode():
            for start in range(0, len(rows), 16):
                loss, n = self._loss_sum(model, self._targets(self._pad(rows[start:start + 16]), generator))
                total, count = total + loss.item(), count + n
        model.train()
        return total / max(1, count)


# -- saving -----------------------------------------------------------------------------------------------------

def _save(model, prefix: str, base: Path, root: Path, slug: str, record: dict) -> Path:
    """The base folder with the adapted weights, written beside the target and renamed into place."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    state = model.state_dict()
    tensors, replaced, kept = {}, 0, 0
    for file in sorted(base.glob("*.safetensors")):
        with safe_open(str(file), "pt") as handle:
            for key in handle.keys():
                original = handle.get_tensor(key)
                adapted = state.get(key) if key in state else state.get(f"{prefix}.{key}")
                if adapted is not None and tuple(adapted.shape) == tuple(original.shape):
                    tensors[key] = adapted.detach().to("cpu", original.dtype).contiguous().clone()
                    replaced += 1
                else:  # a tensor the objective does not train (BERT's pooler, a classifier): kept as it was
                    tensors[key] = original
                    kept += 1
    if replaced < 0.8 * (replaced + kept):
        raise ModelError(f"only {replaced} of the {replaced + kept} tensors of {base} matched the adapted model's; "
                         "its weights are named in a way this adaptation does not know, so nothing was saved.")
    root.mkdir(parents=True, exist_ok=True)
    target = root / slug
    if target.exists():
        raise ConfigError(f"an adapted model folder {target} appeared while this one trained; nothing was replaced. "
                          "Run again with another name.")
    tmp = Path(tempfile.mkdtemp(prefix=f".{slug}-", dir=root))
    try:
        for item in base.iterdir():
            if item.is_file() and not _SKIP_FILES.match(item.name):
                shutil.copy2(item, tmp / item.name)
        for sub in _module_folders(base):
            shutil.copytree(base / sub, tmp / sub)
        save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "README.md").write_text(_model_card(record), encoding="utf-8")
        # The record last: a listing that does not skip hidden folders sees it only once everything else is there.
        (tmp / ADAPTED_FILE).write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp's folder is private; the model folder is as readable as the cache
        os.replace(tmp, target)  # atomic: the folder appears whole or not at all
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _module_folders(base: Path) -> list[str]:
    """The sentence-transformers module folders modules.json names (1_Pooling, 2_Normalize, ...)."""
    try:
        modules = json.loads((base / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    found = [str(m.get("path") or "") for m in modules if isinstance(m, dict)]
    return [p for p in found if p and (base / p).is_dir() and ".." not in Path(p).parts]


def _model_card(record: dict) -> str:
    losses = record["held_out_loss"]
    return (f"# {record['name']}\n\n{record['base']} continued with {record['objective']} pre-training "
            f"({record['mode']}) on {record['texts']} texts of `{record['source'] or 'the user'}` for "
            f"{record['steps']} steps, by TransferLab (`tlcore adapt`). Held-out loss on {record['held_out_texts']} "
            f"texts: {', '.join(f'{k} {v}' for k, v in losses.items())}.\n\nLoad it like its base: "
            "`AutoModel.from_pretrained(folder)` or `SentenceTransformer(folder)` for an encoder, "
            "`AutoModelForCausalLM.from_pretrained(folder)` for a decoder.\n")


def read_adapted(folder: str | Path) -> dict | None:
    """The record of an adapted model folder, or None when it is not one (or its record is damaged)."""
    try:
        record = json.loads((Path(folder) / ADAPTED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
